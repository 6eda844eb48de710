"""The benchmark's contenders, for benchmarks/harness.py.

Each runtime contender is prepared once (``PREPARERS``: build or find what it needs, or
raise ``NotRunnable`` saying what is missing) into a ``Ready``: how to launch a fresh RIE
running it, its deployable package's zipped size, and the line RESULTS.md shows for how it
was started. The executable adapter's rows (``adapter_rows``) pair a program run by this
runtime under the RIE with the same program run directly by this process.

Everything runs under the pinned RIE through ``bootstrap_sdk.local.rie.Rie`` (the layer
and the COBOL example in ``bootstrap_sdk.local.sandbox.Sandbox``); nothing goes through
a shell.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bootstrap_sdk.local.rie import InvokeResult, Rie  # noqa: E402
from bootstrap_sdk.local.sandbox import Sandbox, lay_out  # noqa: E402
from bootstrap_sdk.packaging.bootstrap_file import write_bootstrap  # noqa: E402
from bootstrap_sdk.packaging.zipper import write_zip  # noqa: E402

BENCH = ROOT / ".tools" / "bench"
SHELL_PEER = ROOT / "benchmarks" / "peers" / "shell"
PYTHON_PEER = ROOT / "benchmarks" / "peers" / "python" / "floor.py"
ECHO = ROOT / "scripts" / "bench_functions" / "echo.py"
PROGRAMS = ROOT / "tests" / "integration" / "programs"
COBOL = ROOT / "examples" / "cobol"
# The interpreter the runtime-only layer bundles (and build_peers.sh's awslambdaric uses).
PYTHON = os.environ.get("BENCH_PYTHON", "/usr/bin/python3.11")
VENV_BIN = Path(sys.executable).parent  # make-runtime-layer, make-function-zip
TIMEOUT_S = "60"
LAYER_MEMORY_MB = 1024  # the sandbox's memory cap for the layer contender (never reached)


class NotRunnable(Exception):
    """A contender's prerequisite is missing; the message says which."""


class WrongAnswer(Exception):
    """A contender answered an invoke wrongly: the benchmark stops."""


# -- running instances ---------------------------------------------------------------------


def _proc_field(pid: int, name: str) -> Optional[str]:
    try:
        with open("/proc/%d/status" % pid) as handle:
            for line in handle:
                if line.startswith(name + ":"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        return None
    return None


@dataclass
class Instance:
    """A started RIE (on the host or in the sandbox) serving one contender."""

    rie: Rie
    stop: Callable[[], object]

    def invoke(self, payload: bytes) -> InvokeResult:
        return self.rie.invoke(payload, timeout=120.0)

    def runtime_pid(self) -> Optional[int]:
        """The runtime process: the RIE's own child (in the sandbox too: its PIDs are the
        host's in /proc); None before the first invoke (the RIE starts it lazily)."""
        for pid in self.rie.runtime_pids():
            parent = _proc_field(pid, "PPid")
            if parent is not None and _proc_field(int(parent), "Name") == "aws-lambda-rie":
                return pid
        return None

    def peak_rss_mb(self) -> float:
        """VmHWM of the runtime process, in MB (2**20 bytes)."""
        pid = self.runtime_pid()
        value = _proc_field(pid, "VmHWM") if pid is not None else None
        if value is None:
            raise WrongAnswer("%s: no runtime process (or no VmHWM) under the RIE" % self.rie.bootstrap)
        return int(value.split()[0]) / 1024


def host_instance(bootstrap: Sequence[str], env: Mapping[str, str], cwd: Path) -> Instance:
    rie = Rie(list(bootstrap), env=env, cwd=str(cwd)).start()
    return Instance(rie, rie.stop)


def lambda_env(handler: str, task_root: Path) -> Dict[str, str]:
    return {"_HANDLER": handler, "LAMBDA_TASK_ROOT": str(task_root), "AWS_LAMBDA_FUNCTION_TIMEOUT": TIMEOUT_S}


# -- answers -------------------------------------------------------------------------------

Check = Callable[[bytes], Optional[str]]  # the response body -> what is wrong with it, or None


def same_bytes(expected: bytes) -> Check:
    def check(body: bytes) -> Optional[str]:
        return None if body == expected else "body differs from the expected bytes"
    return check


def same_json(expected: Any, parse_float: Callable[[str], Any] = float) -> Check:
    def check(body: bytes) -> Optional[str]:
        try:
            value = json.loads(body, parse_float=parse_float)
        except ValueError:
            return "body is not JSON"
        return None if value == expected else "body is JSON, but not equal to the expected value"
    return check


def checked(name: str, result: InvokeResult, check: Check) -> InvokeResult:
    problem = "HTTP %d" % result.status if result.status != 200 else check(result.body)
    if problem is not None:
        raise WrongAnswer("%s answered wrongly (%s): %r" % (name, problem, result.body[:300]))
    return result


# -- measurement sources -------------------------------------------------------------------


class Probe:
    """One thing to time, once per round: ``once`` returns seconds, after checking the answer."""

    name = ""

    def once(self) -> float:
        raise NotImplementedError

    def close(self) -> None:
        pass


class InvokeProbe(Probe):
    """An invoke of a running contender through its RIE, timed by the client (``Invoker``)."""

    def __init__(self, name: str, instance: Instance, event: bytes, check: Check, owns: bool = False) -> None:
        self.name, self.instance, self.event, self.check = name, instance, event, check
        self.owns = owns  # close() stops the instance

    def once(self) -> float:
        return checked(self.name, self.instance.invoke(self.event), self.check).seconds

    def close(self) -> None:
        if self.owns:
            self.instance.stop()


class SpawnProbe(Probe):
    """The program exec'd directly: posix_spawn, the input on stdin, stdout read to its end, waited for."""

    def __init__(self, name: str, argv: List[str], stdin: bytes, env: Mapping[str, str],
                 expected: Optional[bytes] = None) -> None:
        if len(stdin) >= 65536:
            raise ValueError("the input must fit in a pipe: it is written before stdout is read")
        self.name, self.argv, self.stdin, self.env = name, argv, stdin, dict(env)
        self.expected = expected if expected is not None else self.run()[0]

    def run(self) -> Tuple[bytes, float]:
        started = time.perf_counter()
        in_r, in_w = os.pipe()
        out_r, out_w = os.pipe()
        pid = os.posix_spawn(self.argv[0], self.argv, self.env,
                             file_actions=[(os.POSIX_SPAWN_DUP2, in_r, 0), (os.POSIX_SPAWN_DUP2, out_w, 1)])
        os.close(in_r)
        os.close(out_w)
        os.write(in_w, self.stdin)
        os.close(in_w)
        chunks = []
        while True:
            data = os.read(out_r, 65536)
            if not data:
                break
            chunks.append(data)
        os.close(out_r)
        _, status = os.waitpid(pid, 0)
        seconds = time.perf_counter() - started
        if status != 0:
            raise WrongAnswer("%s: %s exited with status %d" % (self.name, self.argv[0], status))
        return b"".join(chunks), seconds

    def once(self) -> float:
        output, seconds = self.run()
        if output != self.expected:
            raise WrongAnswer("%s: the program's output changed: %r" % (self.name, output[:300]))
        return seconds


class LineProbe(Probe):
    """A running program sent one line and read one line back (persistent mode, directly)."""

    def __init__(self, name: str, argv: List[str], line: bytes, expected: bytes, env: Mapping[str, str]) -> None:
        self.name, self.line, self.expected = name, line, expected
        in_r, self.stdin = os.pipe()
        out_r, out_w = os.pipe()
        self.pid = os.posix_spawn(argv[0], argv, dict(env),
                                  file_actions=[(os.POSIX_SPAWN_DUP2, in_r, 0), (os.POSIX_SPAWN_DUP2, out_w, 1)])
        os.close(in_r)
        os.close(out_w)
        self.stdout = os.fdopen(out_r, "rb")

    def once(self) -> float:
        started = time.perf_counter()
        os.write(self.stdin, self.line)
        reply = self.stdout.readline()
        seconds = time.perf_counter() - started
        if reply != self.expected:
            raise WrongAnswer("%s: wrong reply line %r" % (self.name, reply[:300]))
        return seconds

    def close(self) -> None:
        os.close(self.stdin)
        self.stdout.close()
        os.waitpid(self.pid, 0)


class CallProbe(Probe):
    """A COBOL entry CALLed in a warm cobol-call-host driven directly: one request frame
    (the records, already encoded) written, the reply frame read (templates/cobol_call_host.c)."""

    def __init__(self, name: str, host: str, entry: str, env: Mapping[str, str], sizes: List[int],
                 records: bytes) -> None:
        from bootstrap_sdk.adapter import child_process
        from bootstrap_sdk.adapter.cobol_call import READY, REQUEST, REQUEST_MAGIC, SETUP, SETUP_MAGIC

        self.name = name
        request_r, self.requests = os.pipe()
        self.replies, reply_w = os.pipe()
        devnull = os.open(os.devnull, os.O_RDWR)
        try:
            self.pid = child_process.spawn([host, entry, "fresh"], env, None, devnull, devnull, 2,
                                           extra=((request_r, 3), (reply_w, 4)))
        finally:
            for fd in (request_r, reply_w, devnull):
                os.close(fd)
        os.write(self.requests, SETUP.pack(SETUP_MAGIC, len(sizes)) + b"".join(
            size.to_bytes(4, sys.byteorder) for size in sizes))
        kind, _, _, message, _ = self._reply()
        if kind != READY:
            raise NotRunnable("%s did not start: %s" % (host, message))
        self.frame = REQUEST.pack(REQUEST_MAGIC, 0, 0, len(records)) + records
        self.expected: Optional[bytes] = None
        self.expected = self._call()

    def _read(self, count: int) -> bytes:
        data = b""
        while len(data) < count:
            chunk = os.read(self.replies, count - len(data))
            if not chunk:
                raise WrongAnswer("%s: the host ended" % self.name)
            data += chunk
        return data

    def _reply(self) -> Tuple[int, int, int, str, bytes]:
        from bootstrap_sdk.adapter.cobol_call import REPLY, REPLY_MAGIC

        magic, kind, code, _, call_ns, message_length, data_length = REPLY.unpack(self._read(REPLY.size))
        if magic != REPLY_MAGIC:
            raise WrongAnswer("%s: not a reply frame" % self.name)
        message = self._read(message_length).decode("utf-8", "replace")
        return kind, code, call_ns, message, self._read(data_length)

    def _call(self) -> bytes:
        from bootstrap_sdk.adapter.cobol_call import RETURNED

        os.write(self.requests, self.frame)
        kind, code, _, message, data = self._reply()
        if kind != RETURNED or code != 0:
            raise WrongAnswer("%s: frame kind %d, RETURN-CODE %d %s" % (self.name, kind, code, message))
        return data

    def once(self) -> float:
        started = time.perf_counter()
        data = self._call()
        seconds = time.perf_counter() - started
        if data != self.expected:
            raise WrongAnswer("%s: the records returned changed" % self.name)
        return seconds

    def close(self) -> None:
        os.close(self.requests)
        os.close(self.replies)
        os.waitpid(self.pid, 0)


# -- the runtime contenders ----------------------------------------------------------------


@dataclass
class Ready:
    """A contender ready to launch: ``launch`` starts a fresh RIE (which starts the runtime
    lazily, on the first invoke)."""

    name: str
    launch: Callable[[], Instance]
    reencodes: bool  # answers with its own encoding of the event's JSON: checked by JSON equality
    package_bytes: int
    package_note: str
    started_as: str


@dataclass
class Workspace:
    """The temporary directory the contenders are prepared in, and what they share."""

    path: Path
    cache: Dict[str, Any] = field(default_factory=dict)


def _need_python() -> str:
    if not os.access(PYTHON, os.X_OK):
        raise NotRunnable("no interpreter at %s (BENCH_PYTHON)" % PYTHON)
    return PYTHON


def _run(argv: List[str], what: str, cwd: Optional[Path] = None) -> None:
    done = subprocess.run(argv, cwd=str(cwd) if cwd else None, stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        raise NotRunnable("%s failed (exit %d): %s" % (what, done.returncode,
                                                       done.stdout.decode(errors="replace").strip()[-1500:]))


def _zip_size(work: Workspace, name: str, files: Mapping[str, Path]) -> int:
    """Zipped size of ``files`` (name in the zip -> source), with the packager's zip writer."""
    staging = work.path / "zips" / name
    staging.mkdir(parents=True)
    for arcname, source in files.items():
        target = staging / arcname
        if source.is_dir():
            shutil.copytree(source, target, symlinks=True, ignore=shutil.ignore_patterns(".stamp"))
        else:
            shutil.copy2(source, target)
    output = work.path / "zips" / (name + ".zip")
    write_zip(staging, output)
    return output.stat().st_size


def our_package(work: Workspace) -> Tuple[Path, Path]:
    """The runtime-only layer (make-runtime-layer) and a function zip holding echo.py."""
    if "package" not in work.cache:
        layer, function_zip, code = work.path / "runtime.zip", work.path / "function.zip", work.path / "function"
        code.mkdir()
        shutil.copy(ECHO, code / "echo.py")
        _run([str(VENV_BIN / "make-runtime-layer"), "-q", "-o", str(layer), "--python", _need_python()],
             "make-runtime-layer")
        _run([str(VENV_BIN / "make-function-zip"), str(code), "-o", str(function_zip), "--handler", "echo.handler",
              "-q"], "make-function-zip")
        work.cache["package"] = (layer, function_zip)
    package: Tuple[Path, Path] = work.cache["package"]
    return package


def _our_package_size(work: Workspace) -> Tuple[int, str]:
    layer, function_zip = our_package(work)
    return (layer.stat().st_size + function_zip.stat().st_size,
            "runtime-only layer %d + function zip %d" % (layer.stat().st_size, function_zip.stat().st_size))


def prepare_ours(work: Workspace) -> Ready:
    python = _need_python()
    # Compiled beforehand, so that no start is charged for compiling the runtime.
    _run([python, "-m", "compileall", "-q", "bootstrap_sdk"], "compileall bootstrap_sdk", cwd=ROOT)
    task = work.path / "task-host"
    task.mkdir()
    shutil.copy(ECHO, task / "echo.py")
    _run([python, "-m", "compileall", "-q", str(task)], "compileall echo.py")
    bootstrap = write_bootstrap(work.path / "bootstrap-sdk", python=python, sys_path=[str(ROOT)])
    size, note = _our_package_size(work)
    return Ready("bootstrap-sdk", lambda: host_instance([str(bootstrap)], lambda_env("echo.handler", task), task),
                 True, size, note + " (the same package as the layer row)",
                 "bootstrap from `write_bootstrap(python=%r, sys_path=[repo root])`: `#!%s -IS`, then "
                 "`bootstrap_sdk.entry.run()`; bootstrap_sdk's and echo.py's .pyc compiled beforehand "
                 "(`%s -m compileall`); `_HANDLER=echo.handler`, `LAMBDA_TASK_ROOT` a temporary copy of "
                 "scripts/bench_functions/echo.py" % (python, python, python))


def prepare_layer(work: Workspace) -> Ready:
    if os.geteuid() != 0:
        raise NotRunnable("not root: the sandbox builds namespaces, mounts and a cgroup")
    layer, function_zip = our_package(work)
    root = lay_out(work.path / "layer-root", [layer], function_zip)
    env = {"_HANDLER": "echo.handler", "AWS_LAMBDA_FUNCTION_TIMEOUT": TIMEOUT_S}

    def launch() -> Instance:
        sandbox = Sandbox(root, env, memory_mb=LAYER_MEMORY_MB).start()
        return Instance(sandbox.rie, sandbox.stop)

    size, note = _our_package_size(work)
    return Ready("bootstrap-sdk (layer)", launch, True, size, note,
                 "`make-runtime-layer -q --python %s` + `make-function-zip` of echo.py, laid out by `lay_out` and "
                 "run in `Sandbox` (uid 993, read-only /opt and /var/task, memory cap %d MB): the RIE finds "
                 "/opt/bootstrap (the bundled interpreter, `-IS`); `_HANDLER=echo.handler`, "
                 "`LAMBDA_TASK_ROOT=/var/task`"
                 % (PYTHON, LAYER_MEMORY_MB))


def prepare_awslambdaric(work: Workspace) -> Ready:
    task = BENCH / "awslambdaric"
    bootstrap = task / "bootstrap"
    if not (os.access(bootstrap, os.X_OK) and (task / "echo.py").is_file()):
        raise NotRunnable("peer not built (%s): run benchmarks/build_peers.sh" % bootstrap)
    version = sorted(p.name for p in task.glob("awslambdaric-*.dist-info"))
    size = _zip_size(work, "awslambdaric", {p.name: p for p in task.iterdir() if p.name != ".stamp"})
    exec_line = [line for line in bootstrap.read_text().splitlines() if "exec" in line]
    return Ready("awslambdaric", lambda: host_instance([str(bootstrap)], lambda_env("echo.handler", task), task),
                 True, size, "the function directory (%s, its deps, echo.py) zipped; it still needs a Python, which "
                 "provided.al2023 does not have" % (version[0].replace(".dist-info", "") if version else "?"),
                 "`.tools/bench/awslambdaric/bootstrap` (`#!/bin/sh`): `%s`; `_HANDLER=echo.handler`, "
                 "`LAMBDA_TASK_ROOT=.tools/bench/awslambdaric`"
                 % (exec_line[0].strip() if exec_line else "?"))


def _go(name: str, title: str, what: str) -> Callable[[Workspace], Ready]:
    def prepare(work: Workspace) -> Ready:
        binary = BENCH / "go" / name
        if not os.access(binary, os.X_OK):
            raise NotRunnable("peer not built (%s): run benchmarks/build_peers.sh" % binary)
        size = _zip_size(work, name, {"bootstrap": binary})
        return Ready(title, lambda: host_instance([str(binary)], lambda_env("bootstrap", binary.parent),
                                                   binary.parent),
                     name == "lambda-decoded", size, "the static binary, as `bootstrap`, zipped",
                     "`.tools/bench/go/%s` exec'd by the RIE as the bootstrap: %s; `LAMBDA_TASK_ROOT=.tools/bench/go`"
                     % (name, what))
    return prepare


def prepare_shell(work: Workspace) -> Ready:
    curl = shutil.which("curl")
    if curl is None or not os.access("/bin/sh", os.X_OK):
        raise NotRunnable("needs /bin/sh and curl on PATH")
    size = _zip_size(work, "shell", {"bootstrap": SHELL_PEER / "bootstrap", "function.sh": SHELL_PEER / "function.sh"})
    return Ready("shell + curl", lambda: host_instance([str(SHELL_PEER / "bootstrap")],
                                                       lambda_env("function.handler", SHELL_PEER), SHELL_PEER),
                 False, size, "bootstrap + function.sh zipped (uses the /bin/sh and curl of provided.al2023)",
                 "`benchmarks/peers/shell/bootstrap` (`#!/bin/sh`, curl per request, `%s`); "
                 "`_HANDLER=function.handler`, `LAMBDA_TASK_ROOT=benchmarks/peers/shell`" % curl)


def prepare_python_floor(work: Workspace) -> Ready:
    python = _need_python()
    bootstrap = work.path / "python-floor"
    bootstrap.write_text("#!%s -IS\n%s" % (python, PYTHON_PEER.read_text()))
    bootstrap.chmod(0o755)
    size = _zip_size(work, "python-floor", {"bootstrap": bootstrap})
    return Ready("python floor", lambda: host_instance([str(bootstrap)], lambda_env("floor", PYTHON_PEER.parent),
                                                       PYTHON_PEER.parent),
                 False, size, "the bootstrap zipped (needs a Python, which provided.al2023 has not)",
                 "`benchmarks/peers/python/floor.py` under `#!%s -IS`: the Go floor's loop on `_socket` and "
                 "`posix` alone (no JSON, nothing imported): the interpreter's own price" % python)


PREPARERS: Dict[str, Callable[[Workspace], Ready]] = {
    "bootstrap-sdk": prepare_ours,
    "bootstrap-sdk (layer)": prepare_layer,
    "awslambdaric": prepare_awslambdaric,
    "aws-lambda-go": _go("lambda-decoded", "aws-lambda-go",
                         "aws-lambda-go, `lambda.Start` with the event decoded into `interface{}` and re-encoded"),
    "aws-lambda-go (RawMessage)": _go("lambda-raw", "aws-lambda-go (RawMessage)",
                                      "aws-lambda-go, `lambda.Start` with the event as `json.RawMessage`"),
    "go floor": _go("floor", "go floor", "a standard-library pass-through loop (no JSON): the least the RIE allows"),
    "python floor": prepare_python_floor,
    "shell + curl": prepare_shell,
}
NAMES = list(PREPARERS)


# -- the executable adapter ----------------------------------------------------------------


@dataclass
class AdapterRow:
    program: str
    mode: str
    event: str  # which event, for the table
    event_bytes: bytes
    through: Probe  # the program served by this runtime under the RIE
    direct: Probe  # the same program exec'd (or sent a line, or CALLed) by the harness itself
    where: str


def c_rows(work: Workspace, event: bytes) -> List[AdapterRow]:
    """cat.c in stdio mode and echo_persistent.c in persistent mode, under this runtime on the host."""
    python = _need_python()
    if shutil.which("gcc") is None:
        raise NotRunnable("gcc not found: the C programs are compiled here")
    task = work.path / "task-c"
    (task / "bin").mkdir(parents=True)
    for name in ("cat", "echo_persistent"):
        _run(["gcc", "-O2", "-o", str(task / "bin" / name), str(PROGRAMS / (name + ".c"))], "gcc " + name)
    bootstrap = write_bootstrap(work.path / "bootstrap-adapter", python=python, sys_path=[str(ROOT)])
    base = lambda_env("bin/cat", task)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    where = "host: `write_bootstrap` (`#!%s -IS`), `_HANDLER=bin/NAME`; direct: the same binary" % python
    opened: List[Probe] = []
    try:
        cat = InvokeProbe("cat (adapter)", host_instance([str(bootstrap)], base, task), event, same_bytes(event),
                          owns=True)
        opened.append(cat)
        persistent = InvokeProbe(
            "echo_persistent (adapter)", host_instance([str(bootstrap)], dict(
                base, _HANDLER="bin/echo_persistent", BOOTSTRAP_SDK_EXEC_MODE="persistent"), task),
            event, same_json(json.loads(event)), owns=True)
        opened.append(persistent)
        line = LineProbe("echo_persistent (direct)", [str(task / "bin" / "echo_persistent")],
                         b'{"id":"bench","event":' + event + b"}\n", b'{"id":"bench","response":' + event + b"}\n",
                         env)
        opened.append(line)
        return [AdapterRow("C cat.c", "stdio", "100 B", event, cat,
                           SpawnProbe("cat (direct)", [str(task / "bin" / "cat")], event, env, expected=event), where),
                AdapterRow("C echo_persistent.c", "persistent", "100 B", event, persistent, line,
                           where.replace("`;", "`, `BOOTSTRAP_SDK_EXEC_MODE=persistent`;", 1))]
    except BaseException:
        for probe in opened:
            probe.close()
        raise


def cobol_rows(work: Workspace) -> List[AdapterRow]:
    """The COBOL example's PAYROLL (stdio, cobcrun) and PAYCALC (call mode) in the sandbox,
    as scripts/bench_cobol.py runs them; directly on the host with the same modules."""
    if os.geteuid() != 0:
        raise NotRunnable("not root: the COBOL example runs in the sandbox")
    cobcrun = shutil.which("cobcrun")
    if cobcrun is None:
        raise NotRunnable("cobcrun not found (GnuCOBOL: scripts/setup.sh installs it)")
    if str(COBOL) not in sys.path:
        sys.path.insert(0, str(COBOL))  # run.py imports build.py by that name, as scripts/bench_cobol.py does
    build = importlib.import_module("build")  # examples/cobol/build.py
    run = importlib.import_module("run")  # examples/cobol/run.py

    from bootstrap_sdk.copybook import CallParameters, Copybook, RecordCodec
    from bootstrap_sdk.packaging.call_host import HOST_NAME, build_host

    try:
        built = build.build(work.path / "cobol")
    except build.BuildFailed as exc:
        raise NotRunnable("examples/cobol/build.py: %s" % exc) from None
    function_dir = Path(built["function_dir"])
    root = lay_out(work.path / "cobol-root", [built["layer"]], built["function"])
    event = (COBOL / "events" / "good-week.json").read_bytes()
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    where = "sandbox (examples/cobol/build.py's layer and function); direct: on the host, "
    opened: List[Probe] = []
    try:
        # PAYROLL: one PAYREQ record on stdin, one PAYOUT record on stdout.
        payroll = run.function_config("payroll")
        codec = RecordCodec(Copybook.load(str(function_dir / payroll["BOOTSTRAP_SDK_EXEC_INPUT_COPYBOOK"])),
                            Copybook.load(str(function_dir / payroll["BOOTSTRAP_SDK_EXEC_OUTPUT_COPYBOOK"])), b"\n")
        args = [str(function_dir) + "/" if word == "/var/task/" else word
                for word in payroll["BOOTSTRAP_SDK_EXEC_ARGS"].split()]
        spawned = SpawnProbe("PAYROLL (direct)", [cobcrun] + args, codec.encode_event(event)[0], env)
        through = InvokeProbe("PAYROLL (adapter)", _sandbox(root, payroll), event,
                              same_json(codec.decode_output(spawned.expected, 1), Decimal), owns=True)
        opened.append(through)
        rows = [AdapterRow("COBOL PAYROLL", "stdio (cobcrun)", "good-week.json", event, through, spawned,
                           where + "`%s -M FUNCTION_DIR/ PAYROLL` fed the PAYREQ record encoded beforehand" % cobcrun)]
        # PAYCALC: CALLed with PAY-IN and PAY-OUT in a warm host.
        paycalc = run.function_config("paycalc")
        parameters = CallParameters([(direction, Copybook.load(str(function_dir / path))) for direction, path in (
            word.split(":", 1) for word in paycalc["BOOTSTRAP_SDK_EXEC_USING"].split())])
        host = work.path / "host" / HOST_NAME
        host.parent.mkdir()
        build_host(host)
        call = CallProbe("PAYCALC (direct)", str(host), paycalc["_HANDLER"],
                         dict(env, COB_LIBRARY_PATH=str(function_dir)), parameters.sizes,
                         parameters.encode_event(event))
        opened.append(call)
        assert call.expected is not None
        through = InvokeProbe("PAYCALC (adapter)", _sandbox(root, paycalc), event,
                              same_json(parameters.decode_outputs(call.expected), Decimal), owns=True)
        rows.append(AdapterRow("COBOL PAYCALC", "call", "good-week.json", event, through, call,
                               where + "a request frame to a warm cobol-call-host (compiled against the host's "
                               "libcob), PAY-IN encoded beforehand"))
        return rows
    except BaseException:
        for probe in opened:
            probe.close()
        raise


def _sandbox(root: Path, env: Mapping[str, str]) -> Instance:
    sandbox = Sandbox(root, env).start()
    return Instance(sandbox.rie, sandbox.stop)
