"""The local loop is Lambda, and safe for the host: each fidelity point and each attack.

A real runtime layer and a probe function run under the real RIE in the sandbox; the
probe reports what it can see and do. run-lambda-local is run as a user runs it, and
signalled as a terminal or a process manager would signal it.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
import zipfile
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Dict, Iterator, List, Tuple

import pytest

from bootstrap_sdk.local.rie import Invoker, free_port
from bootstrap_sdk.local.sandbox import Sandbox, SandboxError, lay_out
from bootstrap_sdk.packaging import cli

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the sandbox needs root (namespaces, mounts, cgroups)")

HERE = Path(__file__).parent
RUN_LAMBDA_LOCAL = str(Path(sys.executable).parent / "run-lambda-local")


def _cli(function, argv: List[str]) -> Tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = function(argv)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def zips(tmp_path_factory) -> Dict[str, Path]:
    """A runtime-only layer and the probe function, built as a user builds them."""
    tmp = tmp_path_factory.mktemp("sandbox-zips")
    tmp.chmod(0o755)
    code, _, err = _cli(cli.make_runtime_layer, ["-o", str(tmp / "runtime.zip"), "-q"])
    assert code == 0, err
    code, _, err = _cli(cli.make_function_zip, [str(HERE / "sandbox_functions"), "-o", str(tmp / "probe.zip"), "-q"])
    assert code == 0, err
    return {"layer": tmp / "runtime.zip", "function": tmp / "probe.zip"}


@pytest.fixture(scope="module")
def root(zips, tmp_path_factory) -> Path:
    return lay_out(tmp_path_factory.mktemp("sandbox") / "root", [zips["layer"]], zips["function"])


@pytest.fixture
def sandbox(root) -> Iterator[Sandbox]:
    with Sandbox(root, {"_HANDLER": "probe.handler"}, timeout_s=60) as started:
        yield started


def probe(box: Sandbox, action: str, **event: object) -> dict:
    result = box.invoke(json.dumps(dict(event, action=action)).encode())
    assert result.status == 200, result
    return result.json()  # type: ignore[return-value]


def _mounts_under(path: Path) -> List[str]:
    with open("/proc/self/mountinfo") as handle:
        return [line for line in handle if str(path) in line]


def _in_pid_namespace(inode: int) -> List[int]:
    """Host pids of processes in the PID namespace with this inode."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat("/proc/%s/ns/pid" % entry).st_ino == inode:
                    found.append(int(entry))
            except OSError:
                pass
    return found


# -- Lambda's process model -------------------------------------------------------------------

def test_function_runs_unprivileged_without_capabilities(sandbox):
    me = probe(sandbox, "whoami")
    assert (me["uid"], me["euid"], me["gid"], me["groups"]) == (993, 993, 990, [])
    assert me["cwd"] == "/var/task"
    assert set(me["caps"].values()) == {"0000000000000000"}, me["caps"]  # bounding set too
    assert me["no_new_privs"] == "1"
    assert me["memory_size"] == "128"


def test_only_tmp_is_writable(sandbox):
    assert probe(sandbox, "writes") == {
        "/var/task/x": "Read-only file system", "/opt/x": "Read-only file system", "/x": "Read-only file system",
        "/var/x": "Read-only file system", "/tmp/x": "written", "/dev/x": "Read-only file system",
        "/proc/x": "No such file or directory"}


def test_dev_is_minimal_and_works(sandbox):
    dev = probe(sandbox, "dev")
    assert dev["entries"] == ["fd", "full", "null", "random", "stderr", "stdin", "stdout", "urandom", "zero"]
    assert dev["random_bytes"] == 16


def test_host_processes_are_invisible(sandbox):
    seen = probe(sandbox, "procs")
    assert len(seen) <= 4, seen  # the RIE, the runtime, and nothing of the host
    assert "1" in seen and "aws-lambda-rie" in seen["1"]
    assert not [cmd for cmd in seen.values() if "pytest" in cmd]


def test_tmp_has_its_size_and_does_not_count_as_memory(root):
    """512 MB of /tmp is usable at 128 MB of memory, as on Lambda, and not a byte more."""
    with Sandbox(root, {"_HANDLER": "probe.handler"}, timeout_s=120) as box:
        filled = probe(box, "fill_tmp")
    assert filled["error"] == "No space left on device"
    assert 512 <= filled["size_mb"] <= 540 and 505 <= filled["written_mb"] <= 540, filled


def test_ephemeral_storage_sets_tmp_size(root):
    with Sandbox(root, {"_HANDLER": "probe.handler"}, ephemeral_storage_mb=1024, timeout_s=60) as box:
        filled = probe(box, "fill_tmp", limit_mb=600)
    assert filled["error"] is None and filled["written_mb"] == 600 and 1024 <= filled["size_mb"] <= 1070


def test_memory_cap_kills_as_lambda_does_and_the_next_invoke_starts_fresh(root):
    with Sandbox(root, {"_HANDLER": "probe.handler"}, memory_mb=128, timeout_s=60) as box:
        first = probe(box, "whoami")
        killed = box.invoke(b'{"action": "eat", "mb": 400}').json()
        assert killed["errorType"] == "Runtime.OutOfMemory", killed
        assert "signal: killed" in killed["errorMessage"]
        assert probe(box, "whoami") == first, "a fresh runtime serves the next invoke"
        used = box.max_memory_used_mb()
        assert used is not None and 100 <= used <= 128
    with Sandbox(root, {"_HANDLER": "probe.handler"}, memory_mb=512, timeout_s=60) as box:
        assert probe(box, "eat", mb=200) == {"ate_mb": 200}
        assert probe(box, "whoami")["memory_size"] == "512"


def test_a_daemon_the_function_starts_dies_with_the_sandbox(root):
    box = Sandbox(root, {"_HANDLER": "probe.handler"}, timeout_s=60).start()
    try:
        assert probe(box, "daemon")["daemon"] > 1
        assert box.rie.process is not None
        pid_ns = os.stat("/proc/%d/ns/pid" % box.rie.runtime_pids()[0]).st_ino
        assert len(_in_pid_namespace(pid_ns)) >= 3  # the RIE, the runtime, the daemon
        assert box.cgroup is not None
        cgroups = [path for _, path in box.cgroup.paths.values()]
        assert cgroups
    finally:
        box.stop()
    assert _in_pid_namespace(pid_ns) == []
    assert _mounts_under(root) == [], "no mount of the sandbox is left on the host"
    assert [path for path in cgroups if os.path.exists(path)] == []


def test_processes_and_open_files_are_limited_as_on_lambda(root):
    """1,024 processes and threads, 1,024 file descriptors: a fork bomb stays inside."""
    with Sandbox(root, {"_HANDLER": "probe.handler"}, memory_mb=1024, timeout_s=60) as box:
        threads = probe(box, "threads")
        files = probe(box, "open_files")
        assert probe(box, "whoami")["uid"] == 993, "the runtime serves on"
    assert threads["error"] is not None and 900 <= threads["started"] < 1024, threads
    assert files == {"highest_fd": 1023, "error": "Too many open files"}


def test_lambdas_ranges_are_enforced(root):
    for kwargs, message in [({"memory_mb": 127}, "--memory 127 is outside Lambda's range 128-10240"),
                            ({"memory_mb": 10_241}, "--memory 10241"),
                            ({"ephemeral_storage_mb": 511}, "--ephemeral-storage 511 is outside"),
                            ({"timeout_s": 901}, "--timeout 901 is outside Lambda's range 1-900"),
                            ({"timeout_s": 0}, "--timeout 0")]:
        with pytest.raises(SandboxError, match=message):
            Sandbox(root, {}, **kwargs)  # type: ignore[arg-type]


# -- run-lambda-local: reports, refusals and nothing left behind ---------------------------------

def _run(argv: List[str], tmpdir: Path, **kwargs: object) -> subprocess.CompletedProcess:
    env = dict(os.environ, TMPDIR=str(tmpdir))
    return subprocess.run([RUN_LAMBDA_LOCAL] + argv, capture_output=True, text=True, env=env, **kwargs)  # type: ignore


def _scratch(tmp_path: Path) -> Path:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    return scratch


def test_report_line_says_what_memory_was_used(zips, tmp_path):
    event = tmp_path / "event.json"
    event.write_text('{"action": "whoami"}')
    done = _run(["--layer", str(zips["layer"]), "--function", str(zips["function"]), "--handler", "probe.handler",
                 "--memory", "256", "--event", str(event)], _scratch(tmp_path))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["memory_size"] == "256"
    report = [line for line in done.stderr.splitlines() if line.startswith("REPORT")]
    assert report and "Memory Size: 256 MB" in report[0]
    used = int(report[0].split("Max Memory Used: ")[1].split()[0])
    assert 5 <= used < 256, report  # measured, not the RIE's copy of the memory size


def test_missing_event_file_is_a_usage_error_before_anything_starts(zips, tmp_path):
    scratch = _scratch(tmp_path)
    done = _run(["--layer", str(zips["layer"]), "--event", str(tmp_path / "nope.json")], scratch)
    assert done.returncode == 2
    assert "--event %s: No such file or directory" % (tmp_path / "nope.json") in done.stderr
    assert "Traceback" not in done.stderr and os.listdir(scratch) == []


def test_a_port_in_use_is_refused_before_anything_starts(zips, tmp_path):
    scratch = _scratch(tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        done = _run(["--layer", str(zips["layer"]), "--function", str(zips["function"]), "--handler",
                     "probe.handler", "--serve", "--port", str(port)], scratch, timeout=60)
    assert done.returncode == 3, done.stderr
    assert "127.0.0.1:%d is already in use" % port in done.stderr
    assert "serving" not in done.stderr and "panic" not in done.stderr
    assert os.listdir(scratch) == []


def _left_behind(scratch: Path) -> List[str]:
    """What a run could leave: files in its TMPDIR, mounts of it, processes in its root."""
    deadline = time.monotonic() + 5  # processes being killed take a moment to go
    while _pids_in(scratch) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = ["file %s" % name for name in os.listdir(scratch)]
    left += ["mount %s" % line.split()[4] for line in _mounts_under(scratch)]
    left += ["process %d %r" % (pid, _cmdline(pid)[:120]) for pid in _pids_in(scratch)]
    return left


def _cmdline(pid: int) -> bytes:
    try:
        return Path("/proc/%d/cmdline" % pid).read_bytes()
    except OSError:
        return b""


def _wait_for_log(process: subprocess.Popen, needle: str, timeout: float = 60) -> str:
    seen = ""
    deadline = time.monotonic() + timeout
    assert process.stderr is not None
    while needle not in seen and time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            break
        seen += line
    assert needle in seen, seen
    return seen


@contextmanager
def _running(zips: Dict[str, Path], scratch: Path, *extra: str) -> Iterator[subprocess.Popen]:
    """run-lambda-local on the probe, TMPDIR in ``scratch``; killed at the end if still running."""
    process = subprocess.Popen(
        [RUN_LAMBDA_LOCAL, "--layer", str(zips["layer"]), "--function", str(zips["function"]), "--handler",
         "probe.handler"] + list(extra),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ, TMPDIR=str(scratch)))
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@contextmanager
def _serving(zips: Dict[str, Path], scratch: Path, *extra: str) -> Iterator[Tuple[subprocess.Popen, Invoker]]:
    port = free_port()
    with _running(zips, scratch, "--serve", "--port", str(port), *extra) as process:
        _wait_for_log(process, "serving: curl")
        yield process, Invoker(port)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_a_signal_mid_invoke_leaves_nothing_behind(zips, tmp_path, signum):
    scratch = _scratch(tmp_path)
    event = tmp_path / "event.json"
    event.write_text('{"action": "sleep", "seconds": 60}')
    with _running(zips, scratch, "--timeout", "120", "--event", str(event)) as process:
        deadline = time.monotonic() + 60
        while not any(b"bootstrap" in _cmdline(pid) for pid in _pids_in(scratch)):
            assert time.monotonic() < deadline and process.poll() is None, "the runtime never started"
            time.sleep(0.05)
        time.sleep(0.3)  # the invoke is under way
        process.send_signal(signum)
        assert process.wait(30) == 128 + signum
        assert "stopped by %s" % signal.Signals(signum).name in (process.stderr.read() if process.stderr else "")
    assert _left_behind(scratch) == []


def _pids_in(scratch: Path) -> List[int]:
    """Processes running in a sandbox whose root lies under ``scratch`` (their /proc/PID/root)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.readlink("/proc/%s/root" % entry).startswith(str(scratch)):
                    found.append(int(entry))
            except OSError:
                pass
    return found


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_serve_ends_cleanly_on_a_signal(zips, tmp_path, signum):
    scratch = _scratch(tmp_path)
    with _serving(zips, scratch) as (process, invoker):
        assert invoker.invoke(b'{"action": "daemon"}').json()["daemon"] > 1
        assert _pids_in(scratch), "the sandbox runs"
        process.send_signal(signum)
        assert process.wait(30) == 0
    assert _left_behind(scratch) == []


def test_killing_run_lambda_local_outright_still_ends_the_sandbox(zips, root, tmp_path):
    """SIGKILL cannot be caught: the parent-death signal ends the sandbox all the same, and
    the cgroup it could not remove is reclaimed by the next sandbox."""
    scratch = _scratch(tmp_path)
    with _serving(zips, scratch) as (process, invoker):
        invoker.invoke(b'{"action": "daemon"}')
        mine = [path for path in _sandbox_cgroups() if "-%d-" % process.pid in path]
        assert mine
        process.kill()
        process.wait()
        deadline = time.monotonic() + 10
        while _pids_in(scratch) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _pids_in(scratch) == []
    assert all(os.path.exists(path) for path in mine), "left behind by the killed run"
    deadline = time.monotonic() + 10  # the kernel empties a cgroup a moment after its last process exits
    while any(Path(path, "cgroup.procs").read_text().strip() for path in mine) and time.monotonic() < deadline:
        time.sleep(0.05)
    for _ in range(5):  # a cgroup just emptied may refuse rmdir for a moment: the next sandbox tries again
        with Sandbox(root, {"_HANDLER": "probe.handler"}):
            if not any(os.path.exists(path) for path in mine):
                break
        time.sleep(0.2)
    assert not any(os.path.exists(path) for path in mine), "reclaimed by a later sandbox"


def _sandbox_cgroups() -> List[str]:
    """Every sandbox cgroup on this machine (v1 and v2 hierarchies)."""
    found = []
    for base, dirs, _ in os.walk("/sys/fs/cgroup"):
        found += [os.path.join(base, d) for d in dirs if d.startswith("bootstrap-sdk-")]
        dirs[:] = [d for d in dirs if not d.startswith("bootstrap-sdk-")]
    return found


# -- a bootstrap that needs an OS userland ----------------------------------------------------------

def _shell_bootstrap_function(tmp_path: Path) -> Path:
    source = tmp_path / "shell-function"
    source.mkdir()
    (source / "bootstrap").write_text("#!/bin/sh\n# provided.al2023 has /bin/sh; the sandbox has not\n"
                                      "exec /opt/bootstrap\n")
    (source / "bootstrap").chmod(0o755)
    (source / "probe.py").write_text((HERE / "sandbox_functions" / "probe.py").read_text())
    code, _, err = _cli(cli.make_function_zip, [str(source), "-o", str(tmp_path / "shell.zip"), "-q"])
    assert code == 0, err
    assert "warning: bootstrap starts with '#!/bin/sh': provided.al2023 has it" in err  # said at build time
    assert "--os-userland" in err
    return tmp_path / "shell.zip"


def test_a_shell_bootstrap_gets_a_clear_message_and_a_way_to_run(zips, tmp_path):
    function = _shell_bootstrap_function(tmp_path)
    argv = ["--layer", str(zips["layer"]), "--function", str(function), "--handler", "probe.handler",
            "--event", "-"]
    refused = _run(argv, _scratch(tmp_path), input='{"action": "whoami"}')
    assert refused.returncode == 3
    assert "/var/task/bootstrap starts with '#!/bin/sh', which is not in this root" in refused.stderr
    assert "--os-userland" in refused.stderr and "Traceback" not in refused.stderr
    scratch = tmp_path / "again"
    scratch.mkdir()
    done = _run(argv + ["--os-userland"], scratch, input='{"action": "whoami"}')
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["uid"] == 993


# -- hostile zips through run-lambda-local ----------------------------------------------------------

def _zip(path: Path, entries: List[Tuple[str, int, bytes]]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, mode, data in entries:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.create_system = 3
            info.external_attr = mode << 16
            archive.writestr(info, data)
    return path


def test_a_symlink_across_layers_cannot_write_outside(zips, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "sentinel").write_text("untouched")
    first = _zip(tmp_path / "l1.zip", [("lib", stat.S_IFLNK | 0o777, str(outside).encode())])
    second = _zip(tmp_path / "l2.zip", [("lib/pwned", stat.S_IFREG | 0o4755, b"#!/bin/sh\n")])
    scratch = _scratch(tmp_path)
    done = _run(["--layer", str(zips["layer"]), "--layer", str(first), "--layer", str(second), "--function",
                 str(zips["function"]), "--handler", "probe.handler", "--event", "/dev/null"], scratch)
    assert done.returncode == 3, done.stderr
    assert "Traceback" not in done.stderr
    assert "l2.zip: entry 'lib/pwned' goes through the symlink 'lib'" in done.stderr
    assert sorted(os.listdir(outside)) == ["sentinel"]
    assert (outside / "sentinel").read_text() == "untouched"
    assert os.listdir(scratch) == []


def test_setuid_bits_never_reach_the_root(zips, tmp_path):
    layer = _zip(tmp_path / "suid.zip", [("bin/", stat.S_IFDIR | 0o755, b""),
                                         ("bin/tool", stat.S_IFREG | 0o6755, b"#!/bin/false\n")])
    root = lay_out(tmp_path / "root", [zips["layer"], layer], zips["function"])
    mode = (root / "opt" / "bin" / "tool").stat().st_mode
    assert stat.S_IMODE(mode) == 0o755


def test_a_root_with_symlinked_mount_points_is_refused_untouched(root, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir(mode=0o700)
    for name in ("tmp", "dev", "proc", "var/rapid"):
        hostile = tmp_path / ("root-" + name.replace("/", "-"))
        shutil.copytree(root, hostile, symlinks=True, ignore=shutil.ignore_patterns("dev", "proc", "rapid"))
        target = hostile / name
        if target.exists():
            shutil.rmtree(target)
        target.symlink_to(outside)
        with pytest.raises(SandboxError, match="is a symlink"):
            Sandbox(hostile, {"_HANDLER": "probe.handler"})
        assert stat.S_IMODE(outside.stat().st_mode) == 0o700 and os.listdir(outside) == []


def test_layout_only_into_a_new_or_empty_directory(zips, tmp_path):
    used = tmp_path / "used"
    used.mkdir()
    (used / "opt").symlink_to(tmp_path)
    with pytest.raises(SandboxError, match="not a new, empty directory"):
        lay_out(used, [zips["layer"]], zips["function"])
    done = _run(["--layer", str(zips["layer"]), "--root", str(used), "--event", "/dev/null"], _scratch(tmp_path))
    assert done.returncode == 3 and "not a new, empty directory" in done.stderr
    assert (used / "opt").is_symlink(), "a root the user gave is never removed"


def test_serve_reports_an_oom_kill_and_a_dead_rie(zips, tmp_path):
    scratch = _scratch(tmp_path)
    with _serving(zips, scratch, "--timeout", "60") as (process, invoker):
        assert "signal: killed" in invoker.invoke(b'{"action": "eat", "mb": 400}').json()["errorMessage"]
        _wait_for_log(process, "went past --memory 128 MB and was killed")
        rie = [pid for pid in _pids_in(scratch) if b"aws-lambda-rie" in _cmdline(pid)]
        assert rie
        os.kill(rie[0], signal.SIGKILL)  # the RIE dies under the server
        assert process.wait(30) == 4
        assert "the RIE exited" in (process.stderr.read() if process.stderr else "")
    assert _left_behind(scratch) == []


def test_lambdas_refusals_of_big_events_and_environments(zips, tmp_path):
    base = ["--layer", str(zips["layer"]), "--function", str(zips["function"]), "--handler", "probe.handler"]
    scratch = _scratch(tmp_path)
    big = _run(base + ["--event", "-"], scratch, input="x" * (6_291_456 + 1))
    assert big.returncode == 3 and "over Lambda's 6291456-byte limit" in big.stderr and "413" in big.stderr
    env = _run(base + ["--event", "/dev/null", "--env", "BIG=" + "y" * 4094], scratch)
    assert env.returncode == 3 and "4097 bytes of environment variables, over Lambda's 4096" in env.stderr
    assert os.listdir(scratch) == [], "refused before anything was laid out"
