"""``run-lambda-local``: run layers and a function as Lambda lays them out, under the RIE.

Exit codes: 0 the invoke answered (or serving was ended by SIGINT, SIGTERM or SIGHUP);
1 the invoke answered with a function error; 2 bad command line (a missing --event file
too, and --os-userland with another machine's code); 3 Lambda would refuse these inputs
(more than five layers, over 250 MB unzipped, no bootstrap, an unsafe zip, inputs of two
architectures), a port already in use, or this machine cannot sandbox (not root) or run
the inputs' architecture (no qemu-user, no binfmt_misc, no RIE built for it); 4 the RIE
failed to start or died while serving; 128+N a one-shot run stopped by signal N. Whatever
ends the run, every process it started is ended and the temporary root and log are removed
(unless --keep-root).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import stat
import sys
import tempfile
import time
import zipfile
import zlib
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from ..packaging.checks import ENVIRONMENT_LIMIT, SYNC_PAYLOAD_LIMIT, BuildError, bundled_elf_files, check_tree
from ..packaging.function_zip import check_function, lambda_refuses_handler
from ..packaging.options import host_arch
from ..packaging.zipper import UnsafeZip, write_zip
from .emulation import ELF_HEADER_PREFIX, EmulationUnavailable, elf_arch, emulator_name, ensure_emulation
from .emulation import is_program_or_library
from .rie import RieFailed, RieNotFound, find_rie
from .image_root import UnsafeImage, image_architecture, unpack_image
from .sandbox import Sandbox, SandboxError, function_log, lay_out, make_root, os_userland_refusal

EPILOG = """\
The root holds /opt (the layers, extracted in order) and /var/task (the function), both
read-only, a sized /tmp, a minimal /dev, the sandbox's own /proc, and the RIE at
/var/rapid; nothing else. The RIE runs there as Lambda runs code: as uid 993 with no
capabilities, in new PID, mount and IPC namespaces, in a memory cgroup capped at
--memory, with Lambda's default PATH and LD_LIBRARY_PATH, finding /var/task/bootstrap or
/opt/bootstrap as Lambda does. Needs root, as Docker would. Nothing outlives the run.

The architecture is the inputs': the one their ELF files are built for (an image's, its
config's). arm64 code on an x86_64 machine runs under qemu-user (binfmt_misc; qemu is
registered if need be, with the F flag, as root), with the arm64 RIE that
scripts/install-rie.sh builds into .tools/bin/arm64, in the same sandbox.

examples:
  run-lambda-local --layer build/runtime.zip --function build/function.zip \\
      --handler app.handler --event event.json
  echo '{"name": "COBOL"}' | run-lambda-local --layer build/cobol.zip --function build/payroll.zip
  run-lambda-local --layer build/runtime.zip --function build/function.zip --serve --port 9000
  run-lambda-local --image build/app.tar --event event.json

With --image, the root is the image's layers applied in order (whiteouts honoured, nothing
written outside the root whatever the layers hold), read-only, with the same /tmp, /dev,
/proc, user, namespaces and cgroup; the RIE runs the image's Entrypoint with its Cmd (or
--handler) in its WorkingDir, with its Env under --env.
"""


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="run-lambda-local", formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=EPILOG,
                                description="Lay out up to five layer zips and a function zip as Lambda does, run "
                                            "them under the real Runtime Interface Emulator, and invoke them.")
    p.add_argument("--layer", type=Path, action="append", default=[], metavar="ZIP|DIR",
                   help="a layer zip, extracted into /opt in the order given (at most 5); a directory is zipped "
                        "first, with make-runtime-layer's checks")
    p.add_argument("--function", type=Path, metavar="ZIP|DIR",
                   help="the function zip, extracted into /var/task; a directory is zipped first, as "
                        "make-function-zip would")
    p.add_argument("--image", type=Path, metavar="ARCHIVE|DIR",
                   help="a function image instead of layers and a function: an oci-archive or OCI layout (as "
                        "make-runtime-image writes), unpacked into the root, run with its Entrypoint, Cmd, Env and "
                        "WorkingDir; image functions take no layers")
    p.add_argument("--handler", help="_HANDLER, the function's Handler setting: MODULE.FUNCTION or a program's "
                                     "command line (the bootstrap-sdk runtime needs one; a bootstrap of your own "
                                     "may not); with --image, it replaces the image's Cmd, as the function's "
                                     "ImageConfig Command does")
    p.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                   help="a variable of the function's environment (repeatable; at most 4 KB in all, as Lambda)")
    p.add_argument("--timeout", type=int, default=3, metavar="S",
                   help="function timeout in seconds, 1-900 (default 3, as Lambda's)")
    p.add_argument("--memory", type=int, default=128, metavar="MB",
                   help="memory size in MB, 128-10240 (default 128, as Lambda's): a hard cap")
    p.add_argument("--ephemeral-storage", type=int, default=512, metavar="MB",
                   help="size of /tmp in MB, 512-10240 (default 512, as Lambda's)")
    p.add_argument("--os-userland", action="store_true",
                   help="bind this machine's /usr, /bin and /lib read-only into the root, for a bootstrap that "
                        "needs /bin/sh as provided.al2023 offers (looser than Lambda: another glibc)")
    p.add_argument("--event", metavar="FILE", help="invoke once with this event ('-': stdin; default: stdin "
                                                   "unless --serve)")
    p.add_argument("--serve", action="store_true", help="keep serving invokes until interrupted")
    p.add_argument("--port", type=int, default=0, help="with --serve: the invoke port on 127.0.0.1, 1-65535 "
                                                       "(default: a free one)")
    p.add_argument("--root", type=Path, help="lay the root out here, a new or empty directory, kept afterwards "
                                             "(default: a temporary directory)")
    p.add_argument("--keep-root", action="store_true", help="do not delete the root afterwards")
    p.add_argument("--quiet", action="store_true", help="do not print the function's log to stderr")
    return p


class Interrupted(Exception):
    """SIGTERM or SIGHUP arrived: unwind so that every clean-up runs."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _raise_interrupted(signum: int, frame: object) -> None:
    raise Interrupted(signum)


def zipped(path: Path, kind: str, scratch: Path, arch: Optional[str] = None) -> Path:
    """``path`` itself if it is a zip; a directory zipped into ``scratch`` with the checks
    of make-function-zip (``kind`` "function") or of a layer's tree (bootstrap optional:
    another layer or the function may bring it), for ``arch`` (default this machine's).
    Refusals raise BuildError; warnings are printed."""
    if not path.is_dir():
        return path
    arch = arch or host_arch()
    if kind == "function":
        findings = check_function(path, "provided.al2023", arch)
    else:
        findings = check_tree(path, arch, "provided.al2023", bundled_elf_files(path), needs_bootstrap=False)
    findings.errors[:] = ["--%s %s: %s" % (kind, path, problem) for problem in findings.errors]
    findings.raise_if_failed()
    for warning in findings.warnings:
        print("run-lambda-local: warning: --%s %s: %s" % (kind, path, warning), file=sys.stderr)
    output = scratch / ("%s-%d.zip" % (kind, len(list(scratch.iterdir()))))
    write_zip(path, output)
    return output


# -- which architecture ------------------------------------------------------------------

ELF_MIN_SIZE = 64  # an ELF header's size: anything shorter is no program


def _archs_of(found: Dict[str, str], arch: Optional[str], name: str) -> None:
    """The first file of each architecture, a program rather than a library when there is one
    (the better evidence to name: users know their programs, rarely their libraries)."""
    if arch is not None and (arch not in found or (".so" in found[arch] and ".so" not in name)):
        found[arch] = name


def zip_archs(path: Path) -> Dict[str, str]:
    """The architectures of the ELF programs and libraries in a zip, each with the first
    member that says so; read from each member's first bytes, nothing extracted. An
    unreadable zip gives none (laying it out says what is wrong with it)."""
    found: Dict[str, str] = {}
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                kind = stat.S_IFMT(info.external_attr >> 16)
                if info.is_dir() or info.file_size < ELF_MIN_SIZE or kind not in (0, stat.S_IFREG):
                    continue
                with archive.open(info) as member:
                    header = member.read(ELF_HEADER_PREFIX)
                if is_program_or_library(header):
                    _archs_of(found, elf_arch(header), info.filename)
    except (OSError, zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError, ValueError):
        return found
    return found


def dir_archs(path: Path) -> Dict[str, str]:
    """As ``zip_archs``, for a directory's regular files (symlinks never followed)."""
    found: Dict[str, str] = {}
    for base, dirs, files in os.walk(path):
        dirs.sort()
        for name in sorted(files):
            full = os.path.join(base, name)
            try:
                if not stat.S_ISREG(os.lstat(full).st_mode) or os.lstat(full).st_size < ELF_MIN_SIZE:
                    continue
                with open(full, "rb") as handle:
                    header = handle.read(ELF_HEADER_PREFIX)
            except OSError:
                continue
            if is_program_or_library(header):
                _archs_of(found, elf_arch(header), os.path.relpath(full, path))
    return found


def input_archs(path: Path) -> Dict[str, str]:
    return dir_archs(path) if path.is_dir() else zip_archs(path)


def detect_arch(inputs: Sequence[Tuple[str, Dict[str, str]]]) -> str:
    """The one architecture of the inputs (``(label, input_archs)`` pairs): the one their
    ELF files are built for; an input without any takes the others'; none at all, this
    machine's. Inputs of different architectures raise BuildError, a problem for each
    input that disagrees, naming the files that show it."""
    problems = []
    for label, found in inputs:
        if len(found) > 1:
            problems.append("%s holds programs for %s: Lambda runs a function on one architecture" % (
                label, " and for ".join("%s (%s)" % (arch, name) for arch, name in sorted(found.items()))))
    settled = [(label, found) for label, found in inputs if len(found) == 1]
    if settled:
        first_label, first = settled[0]
        (first_arch, first_name), = first.items()
        for label, found in settled[1:]:
            (arch, name), = found.items()
            if arch != first_arch:
                problems.append("%s is %s (%s) but %s is %s (%s): Lambda runs a function on one architecture; "
                                "build them all for one (make-runtime-layer/make-function-zip --arch)"
                                % (first_label, first_arch, first_name, label, arch, name))
    if problems:
        raise BuildError(problems)
    every = {arch for _, found in inputs for arch in found}
    return every.pop() if every else host_arch()


def _inputs_arch(args: argparse.Namespace) -> str:
    """The architecture of what run-lambda-local is to run, from the inputs alone."""
    if args.image is not None:
        found = image_architecture(args.image)
        if found is None:
            return host_arch()  # unreadable: unpack_image says why
        if found not in ("x86_64", "arm64"):
            raise SandboxError("--image %s is for linux/%s: Lambda runs functions on x86_64 (amd64) or arm64"
                               % (args.image, found))
        return found
    inputs = [("--layer %s" % layer, input_archs(layer)) for layer in args.layer]
    if args.function is not None:
        inputs.append(("--function %s" % args.function, input_archs(args.function)))
    return detect_arch(inputs)


def _emulated_what(args: argparse.Namespace, arch: str) -> str:
    if args.image is not None:
        return "%s image" % arch
    parts = (["layers" if len(args.layer) > 1 else "layer"] if args.layer else []) + (
        ["function"] if args.function is not None else [])
    return "%s %s" % (arch, " and ".join(parts) or "code")


def _env(args: argparse.Namespace) -> Dict[str, str]:
    env = {"AWS_LAMBDA_FUNCTION_NAME": "local", "AWS_REGION": "us-east-1"}
    if args.handler:
        env["_HANDLER"] = args.handler
    own = 0
    for item in args.env:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise UsageError("--env %r: expected NAME=VALUE (one variable an --env; repeat it for more)" % item)
        problem = env_name_problem(name)
        if problem:
            raise UsageError("--env %s: %s" % (name, problem))
        env[name] = value
        own += len(name.encode()) + len(value.encode())
    if own > ENVIRONMENT_LIMIT:
        raise SandboxError("--env: %d bytes of environment variables, over Lambda's %d" % (own, ENVIRONMENT_LIMIT))
    return env


class UsageError(Exception):
    pass


# Names Lambda keeps for itself: a function's configuration may not set them.
RESERVED_VARIABLES = frozenset({
    "_HANDLER", "_X_AMZN_TRACE_ID", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE", "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR",
})


def env_name_problem(name: str) -> Optional[str]:
    """Why Lambda would refuse ``name`` as an environment variable of the function, or None."""
    if name in RESERVED_VARIABLES:
        hint = " (use --handler)" if name == "_HANDLER" else ""
        return "Lambda reserves this name and refuses to set it%s" % hint
    if not (name[:1].isascii() and name[:1].isalpha() and len(name) >= 2
            and all(c.isascii() and (c.isalnum() or c == "_") for c in name)):
        return ("Lambda refuses this name: a variable's name is a letter followed by letters, digits and "
                "underscores ([a-zA-Z][a-zA-Z0-9_]+)")
    return None


class LogPrinter:
    """Prints the function's log to stderr as it grows, as Lambda's log stream shows it."""

    def __init__(self, path: Path, sandbox: Sandbox, quiet: bool) -> None:
        self.path = path
        self.sandbox = sandbox
        self.quiet = quiet
        self.seen = 0

    def flush(self) -> None:
        if self.quiet:
            return
        with open(self.path, "rb") as handle:
            handle.seek(self.seen)
            text = handle.read()
        complete = text.rfind(b"\n") + 1  # a partial last line waits for the next round
        self.seen += complete
        for line in function_log(text[:complete].decode(errors="replace"), self.sandbox.max_memory_used_mb()):
            print(line, file=sys.stderr, flush=True)


def main(argv: Optional[List[str]] = None) -> int:
    args = parser().parse_args(argv)
    if args.port and not args.serve:
        parser().error("--port is for --serve (a one-shot invoke needs no port)")
    if not 0 <= args.port <= 65535:
        parser().error("--port %d: a port is 1-65535" % args.port)
    previous = {signum: signal.signal(signum, _raise_interrupted) for signum in (signal.SIGTERM, signal.SIGHUP)}
    root = args.root or Path(tempfile.mkdtemp(prefix="lambda-root-"))
    log_path = Path(tempfile.mkstemp(prefix="run-lambda-local-", suffix=".log")[1])
    scratch = Path(tempfile.mkdtemp(prefix="run-lambda-local-zips-"))
    try:
        env = _env(args)
        if args.image is not None:
            _refuse_with_image(args)
        elif "_HANDLER" not in env:
            print("run-lambda-local: warning: no --handler: _HANDLER is empty, and the "
                  "bootstrap-sdk runtime then fails init with Runtime.MalformedHandlerName; a bootstrap of your "
                  "own may not need one", file=sys.stderr)
        elif lambda_refuses_handler(env["_HANDLER"]):
            print("run-lambda-local: warning: --handler %r: Lambda refuses a Handler with white space or over 128 "
                  "characters; this runs here, but on Lambda name the program alone and give its arguments in "
                  "BOOTSTRAP_SDK_EXEC_ARGS" % env["_HANDLER"], file=sys.stderr)
        event = _read_event(args)
        arch = _inputs_arch(args)
        rie: Optional[str] = None
        if arch != host_arch():
            if args.os_userland:
                raise UsageError(os_userland_refusal(arch))
            rie = find_rie(arch)  # before anything is laid out: a missing one is said at once
            ensure_emulation(arch)
            print("run-lambda-local: %s: running under %s emulation (binfmt_misc): slower than on Lambda, and "
                  "qemu's own memory counts toward --memory" % (_emulated_what(args, arch), emulator_name(arch)),
                  file=sys.stderr, flush=True)
        command: List[str] = []
        workdir = "/var/task"
        if args.image is not None:
            command, workdir = _lay_out_image(args, root, scratch, env, arch)
        else:
            layers = [zipped(layer, "layer", scratch, arch) for layer in args.layer]
            function = zipped(args.function, "function", scratch, arch) if args.function else None
            lay_out(root, layers, function)
        with open(log_path, "wb") as log:
            sandbox = Sandbox(root, env, log=log, rie=rie, port=args.port if args.serve else 0,
                              memory_mb=args.memory, ephemeral_storage_mb=args.ephemeral_storage,
                              timeout_s=args.timeout, os_userland=args.os_userland, command=command,
                              workdir=workdir, arch=arch)
            printer = LogPrinter(log_path, sandbox, args.quiet)
            with sandbox:
                if args.serve:
                    return _serve(sandbox, printer)
                assert event is not None
                result = sandbox.invoke(event)
                time.sleep(0.05)  # let the runtime's last log lines land
                printer.flush()
        sys.stdout.buffer.write(result.body + (b"" if result.body.endswith(b"\n") else b"\n"))
        sys.stdout.flush()
        explained = _explain(result.status, result.body)
        if explained:
            print("run-lambda-local: %s" % explained, file=sys.stderr)
        return 1 if result.status != 200 or _is_error(result.body) or explained else 0
    except UsageError as exc:
        print("run-lambda-local: error: %s" % exc, file=sys.stderr)
        return 2
    except (SandboxError, UnsafeZip, UnsafeImage, RieNotFound, EmulationUnavailable) as exc:
        print("run-lambda-local: error: %s" % exc, file=sys.stderr)
        return 3
    except BuildError as exc:
        for problem in exc.problems:
            print("run-lambda-local: error: %s" % problem, file=sys.stderr)
        return 3
    except RieFailed as exc:
        print("run-lambda-local: error: %s" % exc, file=sys.stderr)
        for line in log_path.read_text(errors="replace").splitlines()[-20:]:
            print("  " + line, file=sys.stderr)
        return 4
    except (Interrupted, KeyboardInterrupt) as exc:
        signum = exc.signum if isinstance(exc, Interrupted) else signal.SIGINT
        print("run-lambda-local: stopped by %s" % signal.Signals(signum).name, file=sys.stderr)
        return 0 if args.serve else 128 + signum
    finally:
        for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
            signal.signal(signum, signal.SIG_IGN)  # a second signal must not cut the clean-up short
        log_path.unlink()
        shutil.rmtree(scratch, ignore_errors=True)
        if not args.keep_root and args.root is None:
            shutil.rmtree(root, ignore_errors=True)
        elif args.keep_root:
            print("run-lambda-local: the root is kept in %s" % root, file=sys.stderr)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _refuse_with_image(args: argparse.Namespace) -> None:
    if args.layer:
        raise UsageError("--layer with --image: Lambda refuses layers on a function packaged as an image (its "
                         "package type is Image); put what the layer holds into the image "
                         "(make-runtime-image --include/--executable)")
    if args.function:
        raise UsageError("--function with --image: an image function's code is in the image (/var/task)")
    if args.os_userland:
        raise UsageError("--os-userland with --image: an image brings its own userland (make-runtime-image --base)")


def _lay_out_image(args: argparse.Namespace, root: Path, scratch: Path, env: Dict[str, str],
                   arch: str) -> Tuple[List[str], str]:
    """Unpack the image into the root; the command the RIE runs (Entrypoint, then --handler
    or the Cmd) and the working directory. ``env`` gets the image's Env under the --env."""
    make_root(root)
    config = unpack_image(args.image, root, scratch, arch)
    handler = env.pop("_HANDLER", None)
    command = config.entrypoint + ([handler] if handler is not None else config.cmd)
    if not command:
        raise SandboxError("--image %s has neither Entrypoint nor Cmd: Lambda would fail with "
                           "Runtime.InvalidEntrypoint" % args.image)
    mine = dict(env)
    env.clear()
    env.update(config.env)
    env.update(mine)
    return command, config.working_dir


def _read_event(args: argparse.Namespace) -> Optional[bytes]:
    """The event, read before anything is laid out: a missing file is a usage error, not a traceback."""
    if args.serve:
        if args.event is not None:
            raise UsageError("--event and --serve exclude each other: with --serve, invoke the printed URL")
        return None
    try:
        if args.event in (None, "-"):
            if sys.stdin.isatty():
                print("run-lambda-local: reading the event from stdin (end it with Ctrl-D), or pass --event FILE",
                      file=sys.stderr, flush=True)
            event = sys.stdin.buffer.read(SYNC_PAYLOAD_LIMIT + 1)
        else:
            with open(args.event, "rb") as handle:
                event = handle.read(SYNC_PAYLOAD_LIMIT + 1)
    except OSError as exc:
        raise UsageError("--event %s: %s" % (args.event, exc.strerror)) from None
    if len(event) > SYNC_PAYLOAD_LIMIT:
        raise SandboxError("the event is over Lambda's %d-byte limit for a synchronous invoke: Lambda answers "
                           "413 RequestEntityTooLargeException (the RIE would cut it silently)" % SYNC_PAYLOAD_LIMIT)
    return event


def _explain(status: int, body: bytes) -> Optional[str]:
    """What an answer the RIE gives in its own words means on Lambda (None: nothing to add)."""
    if body.startswith(b"Task timed out after"):
        return ("the function timed out (--timeout %s): Lambda answers that invoke with an error"
                % body[len(b"Task timed out after "):].split(b" ")[0].decode(errors="replace"))
    if status == 502 and not body.strip():
        return ("the runtime exited during init without reporting an error (Lambda answers Runtime.ExitError): "
                "see the log above for what it printed")
    return None


def _is_error(body: bytes) -> bool:
    try:
        value = json.loads(body)
    except ValueError:
        return False
    return isinstance(value, dict) and "errorType" in value and ("errorMessage" in value or len(value) <= 4)


def _serve(sandbox: Sandbox, printer: LogPrinter) -> int:
    print("serving: curl -d '{}' http://127.0.0.1:%d/2015-03-31/functions/function/invocations"
          % sandbox.rie.invoke_port, file=sys.stderr, flush=True)
    process = sandbox.rie.process
    while process is not None and process.poll() is None:
        time.sleep(0.2)
        printer.flush()
        if sandbox.out_of_memory_since_last_look():
            # Callers talk to the RIE directly: its answer says Runtime.ExitError.
            print("run-lambda-local: the function went past --memory %d MB and was killed: Lambda answers "
                  "that invoke with Runtime.OutOfMemory" % sandbox.memory_mb, file=sys.stderr, flush=True)
    printer.flush()
    raise RieFailed("the RIE exited (status %s) while serving" % (process.returncode if process else None))
