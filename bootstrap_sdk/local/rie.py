"""Run a runtime under the real Runtime Interface Emulator and invoke it.

Used by the tests, the benchmarks and the main job alike: start ``aws-lambda-rie`` on
free loopback ports with a bootstrap, wait until it listens, invoke it over one
keep-alive connection, and stop it without leaving a process behind.
"""

from __future__ import annotations

import base64
import http.client
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import IO, Any, Dict, List, Mapping, Optional, Sequence, Tuple

from ..packaging.options import host_arch
from .emulation import ELF_HEADER_PREFIX, ELF_MACHINES, elf_machine

INVOKE_PATH = "/2015-03-31/functions/function/invocations"
RIE_NAME = "aws-lambda-rie"
REPO_ROOT = Path(__file__).resolve().parents[2]


class RieNotFound(RuntimeError):
    pass


class RieFailed(RuntimeError):
    """The RIE exited before it listened, or never listened."""


def find_rie(arch: Optional[str] = None) -> str:
    """The RIE built for ``arch`` (default: this machine's). For this machine's architecture:
    ``$BOOTSTRAP_SDK_RIE``, the project's ``.tools/bin``, or ``aws-lambda-rie`` on PATH. For
    arm64 on another machine: ``$BOOTSTRAP_SDK_RIE_ARM64`` or ``.tools/bin/arm64`` (never
    PATH, which holds this machine's); it runs under qemu-user, as the function does. A
    binary built for another machine is refused, saying so: it would fail with ENOEXEC."""
    want = arch or host_arch()
    tools = REPO_ROOT / ".tools" / "bin"
    if want == host_arch():
        candidates = [os.environ.get("BOOTSTRAP_SDK_RIE", ""), str(tools / RIE_NAME), shutil.which(RIE_NAME) or ""]
        looked = "$BOOTSTRAP_SDK_RIE, %s and PATH" % candidates[1]
    elif want == "arm64":
        candidates = [os.environ.get("BOOTSTRAP_SDK_RIE_ARM64", ""), str(tools / "arm64" / RIE_NAME)]
        looked = "$BOOTSTRAP_SDK_RIE_ARM64 and %s" % candidates[1]
    else:
        raise RieNotFound("no aws-lambda-rie for %s on this %s machine: run %s code on a %s machine"
                          % (want, host_arch(), want, want))
    for candidate in candidates:
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            _check_rie_arch(candidate, want)
            return candidate
    raise RieNotFound("aws-lambda-rie%s not found (looked at %s); install it with scripts/install-rie.sh%s"
                      % ("" if want == host_arch() else " for " + want, looked,
                         "" if want == host_arch() else ", which builds it for arm64 too"))


def _check_rie_arch(path: str, arch: str) -> None:
    """An ELF RIE must be built for ``arch`` (a wrapper script is let through, as before)."""
    try:
        with open(path, "rb") as handle:
            header = handle.read(ELF_HEADER_PREFIX)
    except OSError as exc:
        raise RieNotFound("%s: %s" % (path, exc.strerror)) from None
    machine = elf_machine(header)
    if machine is not None and ELF_MACHINES.get(machine) != arch:
        built = ELF_MACHINES.get(machine, "ELF machine %d" % machine)
        raise RieNotFound("%s is built for %s, not %s: the RIE must be built for the function's architecture; "
                          "scripts/install-rie.sh builds it for x86_64 into .tools/bin and for arm64 into "
                          ".tools/bin/arm64" % (path, built, arch))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_in_use(port: int) -> bool:
    """True when something already listens on (or holds) 127.0.0.1:port."""
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


class InvokeResult:
    __slots__ = ("status", "headers", "body", "seconds")

    def __init__(self, status: int, headers: Dict[str, str], body: bytes, seconds: float) -> None:
        self.status = status
        self.headers = headers
        self.body = body
        self.seconds = seconds

    def json(self) -> object:
        import json

        return json.loads(self.body)

    def __repr__(self) -> str:
        return "InvokeResult(status=%d, body=%r)" % (self.status, self.body[:200])


def _descendants(pid: int) -> List[int]:
    """Every process below ``pid`` (from /proc), deepest last."""
    children: Dict[int, List[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry, "rb") as handle:
                stat = handle.read().decode("latin-1")
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    found: List[int] = []
    queue = [pid]
    while queue:
        for child in children.get(queue.pop(), []):
            found.append(child)
            queue.append(child)
    return found


class Rie:
    """One ``aws-lambda-rie`` process running ``bootstrap`` (argv list) on loopback."""

    def __init__(
        self,
        bootstrap: Sequence[str],
        env: Optional[Mapping[str, str]] = None,
        cwd: Optional[str] = None,
        log: Optional[IO[bytes]] = None,
        rie: Optional[str] = None,
        wrapper: Sequence[str] = (),
        port: int = 0,
        user: Optional[Tuple[int, int]] = None,
    ) -> None:
        self.bootstrap = list(bootstrap)
        if self.bootstrap and "/" not in self.bootstrap[0] and os.path.isfile(self.bootstrap[0]):
            # The RIE execs its bootstrap argument, which looks a bare name up on PATH:
            # `bootstrap` in the current directory means ./bootstrap, as the caller meant.
            self.bootstrap[0] = os.path.abspath(self.bootstrap[0])
        self.requested_port = port
        self.env = dict(env or {})
        self.cwd = cwd
        self.log = log
        self.rie = rie or find_rie()
        self.wrapper = list(wrapper)
        self.user = user  # (uid, gid): run the RIE, and so the runtime, unprivileged
        self.api_port = 0
        self.invoke_port = 0
        self.process: Optional[subprocess.Popen[bytes]] = None
        self._invoker: Optional[Invoker] = None

    # -- life cycle --------------------------------------------------------------------
    def start(self, ready_timeout: float = 15.0) -> "Rie":
        self.api_port, self.invoke_port = free_port(), self.requested_port or free_port()
        argv = self.wrapper + [
            self.rie,
            "--runtime-api-address", "127.0.0.1:%d" % self.api_port,
            "--runtime-interface-emulator-address", "127.0.0.1:%d" % self.invoke_port,
            "--log-level", "info",
        ] + self.bootstrap
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "AWS_LAMBDA_FUNCTION_TIMEOUT": "300"}
        env.update(self.env)
        self.process = subprocess.Popen(
            argv, env=env, cwd=self.cwd, stdin=subprocess.DEVNULL,
            stdout=self.log if self.log is not None else subprocess.DEVNULL, stderr=subprocess.STDOUT,
            start_new_session=True,
            user=self.user[0] if self.user else None, group=self.user[1] if self.user else None,
            extra_groups=[] if self.user else None,
        )
        deadline = time.monotonic() + ready_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RieFailed("aws-lambda-rie exited with status %s before listening (its log says why)"
                                % self.process.returncode)
            try:
                socket.create_connection(("127.0.0.1", self.invoke_port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.005)
        self.stop()
        raise RieFailed("aws-lambda-rie did not listen on 127.0.0.1:%d within %.0f s"
                           % (self.invoke_port, ready_timeout))

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> Optional[int]:
        """Stop the RIE (it shuts the runtime down), then make sure nothing is left."""
        if self._invoker is not None:
            self._invoker.close()
            self._invoker = None
        if self.process is None:
            return None
        leftovers = _descendants(self.process.pid)
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for pid in leftovers + _descendants(self.process.pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        return self.process.returncode

    def __enter__(self) -> "Rie":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def runtime_pids(self) -> List[int]:
        return _descendants(self.process.pid) if self.process else []

    # -- invoking ----------------------------------------------------------------------
    def invoker(self) -> "Invoker":
        """A client with a connection of its own (one per concurrent caller)."""
        return Invoker(self.invoke_port)

    def invoke(self, payload: bytes = b"{}", **options: Any) -> InvokeResult:
        """POST one event over this RIE's shared keep-alive connection (see Invoker.invoke)."""
        if self._invoker is None:
            self._invoker = self.invoker()
        return self._invoker.invoke(payload, **options)


class Invoker:
    """Invokes one RIE over one keep-alive HTTP connection, as a caller of Lambda would."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._conn: Optional[http.client.HTTPConnection] = None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def invoke(
        self,
        payload: bytes = b"{}",
        client_context: Optional[str] = None,
        trace_id: Optional[str] = None,
        tenant_id: Optional[str] = None,
        timeout: float = 330.0,
        fresh_connection: bool = False,
    ) -> InvokeResult:
        """POST one event; ``client_context`` is JSON text (sent base64, as Lambda does)."""
        headers = {"Content-Type": "application/json"}
        if client_context is not None:
            headers["X-Amz-Client-Context"] = base64.b64encode(client_context.encode()).decode()
        if trace_id is not None:
            headers["X-Amzn-Trace-Id"] = trace_id
        if tenant_id is not None:
            headers["X-Amz-Tenant-Id"] = tenant_id
        if fresh_connection or self._conn is None:
            self.close()
            self._conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        started = time.perf_counter()
        try:
            self._conn.request("POST", INVOKE_PATH, body=payload, headers=headers)
            response = self._conn.getresponse()
            body = response.read()
        except (OSError, http.client.HTTPException):
            self.close()
            raise
        seconds = time.perf_counter() - started
        return InvokeResult(response.status, {k.lower(): v for k, v in response.getheaders()}, body, seconds)
