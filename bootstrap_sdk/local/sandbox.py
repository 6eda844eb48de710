"""A Lambda-shaped root, and the real RIE running in it as Lambda runs code. No Docker.

``lay_out`` extracts up to five layer zips (in order, later ones over earlier ones) and
the function zip into a fresh directory (``zipper.extract``: nothing can land outside it);
``Sandbox`` runs the real RIE there through ``jail``:

    /opt, /var/task   the layers and the function, read-only (the whole root is read-only)
    /tmp              empty, writable, sized by ``ephemeral_storage_mb`` (512 MB by default)
    /dev              null, zero, full, random, urandom and the stdio links; nothing else
    /proc             the sandbox's own PID namespace: no host process is visible
    /var/rapid/aws-lambda-rie   the RIE itself (Lambda's own init lives in /var/rapid)

and no /usr, /lib or /bin, so a layer that leans on the build host's libraries or on an
OS userland fails here as it would on Lambda without one. The RIE and everything it
starts run as uid 993 / gid 990 (the RIE's own choice for an unprivileged runtime), with
no capabilities and ``no_new_privs``, inside a memory cgroup capped at ``memory_mb``; the
RIE finds /var/task/bootstrap, then /opt/bootstrap, as Lambda does, with Lambda's default
PATH and LD_LIBRARY_PATH. When the sandbox stops, its PID namespace goes with it.

Needs root (namespaces, mounts, cgroups), as Docker would.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import IO, Dict, List, Mapping, Optional, Sequence, Tuple

from ..packaging.checks import (LAMBDA_LD_LIBRARY_PATH, LAMBDA_PATH, MAX_LAYERS, UNZIPPED_LIMIT, megabytes,
                               shebang_interpreter)
from ..packaging.options import host_arch
from ..packaging.zipper import LinkEscape, extract, resolve_inside, unzipped_size
from . import jail
from .cgroup import CgroupUnavailable, SandboxCgroup, cgroup_name
from .emulation import ensure_emulation
from .rie import InvokeResult, Rie, find_rie, port_in_use

RIE_IN_ROOT = "/" + jail.RIE_IN_ROOT
SANDBOX_UID, SANDBOX_GID = 993, 990
MEMORY_RANGE = (128, 10_240)          # MB, Lambda's memory sizes
EPHEMERAL_RANGE = (512, 10_240)       # MB, Lambda's /tmp sizes
TIMEOUT_RANGE = (1, 900)              # seconds, Lambda's function timeouts
MAX_PROCESSES = 1024                  # Lambda's limit on processes and threads
MAX_OPEN_FILES = 1024                 # Lambda's limit on file descriptors
RIE_READY_SECONDS = 15.0              # until the RIE listens
EMULATED_RIE_READY_SECONDS = 120.0    # the same under qemu-user, where a Go program starts far slower


class SandboxError(Exception):
    pass


def check_inputs(layers: Sequence[Path], function: Optional[Path]) -> int:
    """Lambda's own refusals, before anything is extracted; the total unzipped size."""
    if len(layers) > MAX_LAYERS:
        raise SandboxError("%d layers: a function can use at most %d" % (len(layers), MAX_LAYERS))
    total = 0
    for path in list(layers) + ([function] if function else []):
        if not path.is_file():
            raise SandboxError("%s: %s" % (path, "not a zip file" if path.exists() else "no such file"))
        total += unzipped_size(path)
    if total > UNZIPPED_LIMIT:
        raise SandboxError("function and layers unzip to %s, over Lambda's %s limit"
                           % (megabytes(total), megabytes(UNZIPPED_LIMIT)))
    return total


def make_root(root: Path) -> Path:
    """A fresh root: a directory that does not exist yet or is empty (never one whose
    contents could lead the extraction elsewhere)."""
    if root.is_symlink() or (root.exists() and (not root.is_dir() or any(root.iterdir()))):
        raise SandboxError("%s is not a new, empty directory: the layers and the function are laid out "
                           "fresh each time (remove it, or give another --root)" % root)
    for name in ("opt", "var/task", "tmp"):
        (root / name).mkdir(parents=True, exist_ok=True)
    for name in ("", "opt", "var", "var/task"):
        os.chmod(root / name, 0o755)
    os.chmod(root / "tmp", 0o1777)
    return root


def lay_out(root: Path, layers: Sequence[Path], function: Optional[Path]) -> Path:
    check_inputs(layers, function)
    make_root(root)
    for layer in layers:
        extract(layer, root / "opt", tree_root=root)
    if function is not None:
        extract(function, root / "var" / "task", tree_root=root)
    return root


def _inside(root: Path, path: str) -> Optional[Path]:
    """Where ``path`` (absolute, as the sandbox sees it) lies on the host, following links
    only inside ``root``; None when it would leave it."""
    try:
        return root.joinpath(*resolve_inside(root, (), path))
    except LinkEscape:
        return None


def bootstrap_in(root: Path, os_userland: bool = False) -> str:
    for candidate in ("/var/task/bootstrap", "/opt/bootstrap"):
        host = _inside(root, candidate)
        if host is not None and host.is_file():
            if not host.stat().st_mode & 0o001:
                raise SandboxError("%s is not executable by others (mode %o): Lambda runs it as another user "
                                   "and fails with Runtime.InvalidEntrypoint; chmod 755 it"
                                   % (candidate, host.stat().st_mode & 0o7777))
            if not os_userland:
                _check_interpreter(root, candidate, host)
            return candidate
    raise SandboxError("neither /var/task/bootstrap nor /opt/bootstrap exists: Lambda would fail with "
                       "Runtime.InvalidEntrypoint")


def entrypoint_in(root: Path, entrypoint: str, os_userland: bool = False) -> str:
    """An image's entrypoint, checked as Lambda would run it: an absolute path to a file
    everyone may execute, inside the image, whose ``#!`` interpreter is there too."""
    host = _inside(root, entrypoint) if entrypoint.startswith("/") else None
    if host is None or not host.is_file():
        raise SandboxError("the image's entrypoint %s is not a file of the image: Lambda would fail with "
                           "Runtime.InvalidEntrypoint" % entrypoint)
    if host.stat().st_mode & 0o111 != 0o111:
        raise SandboxError("the image's entrypoint %s is not executable by everyone (mode %o): Lambda would fail "
                           "with Runtime.InvalidEntrypoint" % (entrypoint, host.stat().st_mode & 0o7777))
    if not os_userland:
        _check_interpreter(root, entrypoint, host)
    return entrypoint


def _check_interpreter(root: Path, name: str, host: Path) -> None:
    """A ``#!`` line whose interpreter the root lacks fails with a bare ENOENT: say why instead."""
    interpreter = shebang_interpreter(host)
    if interpreter is None:
        return
    found = _inside(root, interpreter) if interpreter.startswith("/") else None
    if found is None or not found.is_file():
        raise SandboxError(
            "%s starts with '#!%s', which is not in this root. provided.al2023 ships a small OS userland "
            "(/bin/sh, curl, coreutils), so it may work on Lambda; the sandbox holds only /opt and /var/task. "
            "Bundle the interpreter in a layer, or run with --os-userland to borrow this machine's /usr, /bin "
            "and /lib (read-only; looser than Lambda: this machine's glibc is not provided.al2023's)"
            % (name, interpreter))


def os_userland_refusal(arch: str) -> str:
    return ("--os-userland with %s code: this machine's /usr, /bin and /lib are %s, so their programs and "
            "libraries cannot serve %s code; bundle what the bootstrap needs in a layer instead"
            % (arch, host_arch(), arch))


def sandbox_env(env: Mapping[str, str]) -> Dict[str, str]:
    full = {"PATH": LAMBDA_PATH, "LD_LIBRARY_PATH": LAMBDA_LD_LIBRARY_PATH, "LAMBDA_TASK_ROOT": "/var/task",
            "LAMBDA_RUNTIME_DIR": "/var/runtime", "LANG": "en_US.UTF-8", "TZ": ":UTC"}
    full.update(env)
    return full


def _in_range(what: str, value: int, bounds: Tuple[int, int]) -> int:
    low, high = bounds
    if not low <= value <= high:
        raise SandboxError("%s %d is outside Lambda's range %d-%d" % (what, value, low, high))
    return value


def _ext4_image(path: Path, size_mb: int) -> Optional[Path]:
    """A sparse, empty ext4 image for /tmp (a few ms); None where this machine cannot make one."""
    mkfs = shutil.which("mkfs.ext4") or shutil.which("mkfs.ext4", path="/usr/sbin:/sbin")
    if mkfs is None or not os.path.exists("/dev/loop-control"):
        return None
    with open(path, "wb") as handle:  # ext4's own metadata takes ~2%: /tmp then holds at least size_mb
        handle.truncate((size_mb + size_mb // 32 + 8) * 1024 * 1024)
    done = subprocess.run([mkfs, "-q", "-F", "-m", "0", "-O", "^has_journal", "-E",
                           "nodiscard,lazy_itable_init=1", str(path)],
                          stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if done.returncode != 0:
        path.unlink()
        return None
    return path


class Sandbox:
    """The RIE, in a Lambda-shaped jail over ``root``, serving invokes on a loopback port.

    ``memory_mb`` caps the whole sandbox (128-10,240), ``ephemeral_storage_mb`` sizes /tmp
    (512-10,240), ``timeout_s`` is the function timeout (1-900; default: ``env``'s
    AWS_LAMBDA_FUNCTION_TIMEOUT, else the RIE's 300). ``warnings`` lists where this machine
    makes the sandbox less faithful (no memory cgroup, /tmp in memory).

    ``arch`` ("x86_64" or "arm64"; default this machine's) is the function's architecture:
    for another machine's, the RIE built for it runs, with everything it starts, under
    qemu-user (``emulation.ensure_emulation``, which raises EmulationUnavailable when this
    machine cannot), in the same jail.
    """

    def __init__(self, root: Path, env: Optional[Mapping[str, str]] = None, log: Optional[IO[bytes]] = None,
                 rie: Optional[str] = None, port: int = 0, memory_mb: int = 128, ephemeral_storage_mb: int = 512,
                 timeout_s: Optional[int] = None, os_userland: bool = False,
                 command: Optional[Sequence[str]] = None, workdir: str = "/var/task",
                 arch: Optional[str] = None) -> None:
        if os.geteuid() != 0:
            raise SandboxError("the local loop needs root: it builds namespaces, mounts and a cgroup, as Docker would")
        self.arch = arch or host_arch()
        self.emulated = self.arch != host_arch()
        if self.emulated and os_userland:
            raise SandboxError(os_userland_refusal(self.arch))
        if root.is_symlink():
            raise SandboxError("%s is a symlink: give the sandbox root itself" % root)
        self.root = root.resolve()
        self.memory_mb = _in_range("--memory", memory_mb, MEMORY_RANGE)
        self.ephemeral_storage_mb = _in_range("--ephemeral-storage", ephemeral_storage_mb, EPHEMERAL_RANGE)
        full_env = dict(env or {})
        if timeout_s is not None:
            full_env["AWS_LAMBDA_FUNCTION_TIMEOUT"] = str(_in_range("--timeout", timeout_s, TIMEOUT_RANGE))
        full_env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] = str(self.memory_mb)
        self.os_userland = os_userland
        if port and port_in_use(port):
            raise SandboxError("127.0.0.1:%d is already in use: choose another --port" % port)
        self.port = port
        self.host_rie = rie or find_rie(self.arch)
        if self.emulated:
            ensure_emulation(self.arch)
        try:
            jail.prepare_root(str(self.root), self.host_rie, userland=os_userland)
        except jail.UnsafeRoot as exc:
            raise SandboxError(str(exc)) from None
        if command:  # an image: its entrypoint and Cmd, in its working directory
            self.bootstrap = entrypoint_in(self.root, command[0], os_userland)
            found = _inside(self.root, workdir)
            if found is None or not found.is_dir():
                raise SandboxError("the image's WorkingDir %s is not a directory of the image" % workdir)
        else:
            self.bootstrap = bootstrap_in(self.root, os_userland)
        self.command = list(command or [])
        self.workdir = workdir
        self.env = sandbox_env(full_env)
        self.log = log
        self.warnings: List[str] = []
        self.cgroup: Optional[SandboxCgroup] = None
        self._scratch: Optional[str] = None
        self._oom_seen = 0
        self._peak_mb: Optional[int] = None
        self.rie: Rie = Rie(self.command, env=self.env, log=log, rie=RIE_IN_ROOT, port=port)

    def start(self) -> "Sandbox":
        self._scratch = tempfile.mkdtemp(prefix="lambda-sandbox-")
        try:
            spec = self._spec()
            self.rie.wrapper = jail.command(spec, [])
            self.rie.cwd = str(Path(__file__).resolve().parents[2])
            self.rie.start(ready_timeout=EMULATED_RIE_READY_SECONDS if self.emulated else RIE_READY_SECONDS)
        except BaseException:
            self.stop()
            raise
        return self

    def _spec(self) -> Dict[str, object]:
        assert self._scratch is not None
        try:
            self.cgroup = SandboxCgroup.create(cgroup_name(os.path.basename(self._scratch)),
                                               self.memory_mb * 1024 * 1024, MAX_PROCESSES)
            self.warnings += ["limits not set here: %s" % w for w in self.cgroup.warnings]
        except CgroupUnavailable as exc:
            self.warnings.append("no cgroup (%s): memory and processes are not capped" % exc)
        if self.cgroup is not None and not self.cgroup.caps_memory:
            self.warnings.append("memory is not capped: a function can use more than --memory here")
        image = _ext4_image(Path(self._scratch) / "tmp.ext4", self.ephemeral_storage_mb)
        if image is None:
            self.warnings.append("/tmp is a tmpfs (no mkfs.ext4 or loop device here): what the function writes "
                                 "there counts toward --memory, unlike on Lambda")
        for warning in self.warnings:
            print("sandbox: warning: %s" % warning, file=sys.stderr)
        return {"root": str(self.root), "rie": self.host_rie, "uid": SANDBOX_UID, "gid": SANDBOX_GID,
                "tmp_mb": self.ephemeral_storage_mb, "tmp_image": str(image) if image else None,
                "cgroup_procs": self.cgroup.procs if self.cgroup else [], "userland": self.os_userland,
                "max_open_files": MAX_OPEN_FILES,
                "parent": os.getpid(), "chdir": self.workdir}

    def invoke(self, payload: bytes = b"{}", **options: object) -> InvokeResult:
        """Invoke once; a runtime the memory cap killed is reported as Lambda reports it."""
        result = self.rie.invoke(payload, **options)
        if self.out_of_memory_since_last_look():
            result.body = out_of_memory_body(result.body)
        return result

    def out_of_memory_since_last_look(self) -> bool:
        """Whether the memory cap has killed a process since the last call."""
        kills = self.cgroup.oom_kills() if self.cgroup else 0
        seen, self._oom_seen = self._oom_seen, kills
        return kills > seen

    def max_memory_used_mb(self) -> Optional[int]:
        """The sandbox's peak memory so far, as Lambda's REPORT line gives it (still known after stop)."""
        peak = self.cgroup.peak_bytes() if self.cgroup else None
        if peak is not None:
            self._peak_mb = -(-peak // (1024 * 1024))
        return self._peak_mb

    def stop(self) -> None:
        try:
            self.rie.stop()
        finally:
            if self.cgroup is not None:
                self.max_memory_used_mb()
                self.cgroup.remove()
                self.cgroup = None
            if self._scratch is not None:
                shutil.rmtree(self._scratch, ignore_errors=True)
                self._scratch = None

    def __enter__(self) -> "Sandbox":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def function_log(text: str, max_memory_used_mb: Optional[int] = None) -> List[str]:
    """The lines of the RIE's output that Lambda's log stream would hold: the RIE's own
    lines dropped, and the REPORT line's "Max Memory Used" as the sandbox measured it (the
    RIE repeats the memory size there)."""
    lines = []
    for line in text.splitlines():
        if "(rapid)" in line or line.startswith("time="):
            continue
        if line.startswith("REPORT RequestId:") and max_memory_used_mb is not None:
            line = re.sub(r"Max Memory Used: \d+ MB", "Max Memory Used: %d MB" % max_memory_used_mb, line)
        lines.append(line)
    return lines


def out_of_memory_body(body: bytes) -> bytes:
    """The RIE's "Runtime exited ... signal: killed" answer, as Lambda gives it after an OOM kill."""
    try:
        error = json.loads(body)
    except ValueError:
        error = None
    if not isinstance(error, dict) or error.get("errorType") not in ("Runtime.ExitError", "Runtime.Unknown", None):
        return body
    error["errorType"] = "Runtime.OutOfMemory"
    return json.dumps(error).encode()
