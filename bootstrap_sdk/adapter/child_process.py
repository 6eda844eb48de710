"""Run a program as a child: its own process group, a deadline, nothing left behind.

``os.posix_spawn`` (vfork-fast, no ``subprocess`` import) starts the program in a new
process group with default signal dispositions (Python ignores SIGPIPE; a legacy program
expects to die of it). One ``poll`` loop feeds stdin, collects stdout up to a limit, and
hands stderr on line by line while the program runs; a pidfd tells when it exits.

"No orphan survives an invoke": when the program ends, its whole process group is
killed, and the runtime — a child subreaper where the kernel allows — kills and reaps
any descendant that escaped the group (``setsid``) and was re-parented to it.
"""

from __future__ import annotations

import errno
import os
import select
import signal
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable, Dict, Iterable, List, Mapping, Optional, Set

    LineSink = Callable[[str], None]

_READ_SIZE = 65536
_STDERR_TAIL_LINES = 20
_STDERR_TAIL_CHARS = 4000
_DEFAULT_SIGNALS = (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGCHLD)

# Exit statuses reaped by sweep() for children that someone else is waiting on.
_reaped: Dict[int, int] = {}


class SpawnError(Exception):
    """The program could not be started at all."""


def become_subreaper() -> bool:
    """Adopt orphaned descendants (PR_SET_CHILD_SUBREAPER), so they can be reaped here."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(36, 1, 0, 0, 0)) == 0  # PR_SET_CHILD_SUBREAPER = 36
    except (ImportError, OSError, AttributeError):
        return False


def spawn(argv: List[str], env: Mapping[str, str], cwd: Optional[str],
          stdin: int, stdout: int, stderr: int) -> int:
    """Start ``argv`` in a new process group with the given fds as 0, 1 and 2."""
    actions = [(os.POSIX_SPAWN_DUP2, stdin, 0), (os.POSIX_SPAWN_DUP2, stdout, 1), (os.POSIX_SPAWN_DUP2, stderr, 2)]
    previous = None
    if cwd is not None:  # posix_spawn has no chdir action before Python 3.13: switch around it
        previous = os.getcwd()
        os.chdir(cwd)
    try:
        return os.posix_spawn(argv[0], argv, env, file_actions=actions, setpgroup=0,
                              setsigdef=_DEFAULT_SIGNALS, setsigmask=())
    except OSError as exc:
        raise SpawnError("cannot start %s: %s" % (argv[0], exc.strerror or exc)) from None
    finally:
        if previous is not None:
            os.chdir(previous)


def open_pidfd(pid: int) -> Optional[int]:
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None  # old kernel or Python: poll falls back to short ticks


def kill_group(pgid: int, sig: int = signal.SIGKILL) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def wait_exit(pid: int, timeout: Optional[float] = None) -> Optional[int]:
    """The wait status of ``pid`` once it has exited; None if still running after ``timeout``."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        if pid in _reaped:
            return _reaped.pop(pid)
        try:
            done, status = os.waitpid(pid, 0 if deadline is None else os.WNOHANG)
        except ChildProcessError:
            return _reaped.pop(pid, 0)
        if done:
            return status
        if deadline is not None and time.monotonic() >= deadline:
            return None
        time.sleep(0.002)


def terminate(pid: int, grace: float) -> int:
    """TERM the process group, KILL it after ``grace`` seconds; the leader's wait status."""
    kill_group(pid, signal.SIGTERM)
    status = wait_exit(pid, grace)
    kill_group(pid, signal.SIGKILL)
    if status is None:
        status = wait_exit(pid)
    return status if status is not None else 0


def _children() -> Set[int]:
    found: Set[int] = set()
    try:
        tasks = os.listdir("/proc/self/task")
    except OSError:
        return found
    for task in tasks:
        try:
            with open("/proc/self/task/%s/children" % task, "rb") as handle:
                found.update(int(pid) for pid in handle.read().split())
        except (OSError, ValueError):
            continue
    return found


def sweep(keep: Iterable[int] = ()) -> List[int]:
    """Kill and reap every child of this process but ``keep``; return their pids."""
    spared = set(keep)
    killed = [pid for pid in _children() if pid not in spared]
    for pid in killed:
        kill_group(pid)
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    for pid in killed:
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass
    reap(spared)
    return killed


def reap(spared: Iterable[int] = ()) -> None:
    """Collect exited children; a spared child's status is kept for ``wait_exit``."""
    spared = set(spared)
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if not pid:
            break
        if pid in spared:
            _reaped[pid] = status


def terminate_children(grace: float) -> None:
    """At shutdown: TERM every child's process group, KILL what is left after ``grace``."""
    children = _children()
    for pid in children:
        kill_group(pid, signal.SIGTERM)
        try:
            os.kill(pid, signal.SIGTERM)
        except (ProcessLookupError, PermissionError):
            pass
    deadline = time.monotonic() + grace
    while children and time.monotonic() < deadline:
        time.sleep(0.005)
        children &= _children()
        for pid in list(children):
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                done = pid
            if done:
                children.discard(pid)
    sweep()


def describe_status(status: int) -> str:
    if os.WIFSIGNALED(status):
        return "killed by %s" % signal_name(os.WTERMSIG(status))
    return "exited with code %d" % os.WEXITSTATUS(status)


def signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return "signal %d" % number


class LineSplitter:
    """Turns a byte stream into lines for ``sink``; keeps a tail for error messages."""

    def __init__(self, sink: LineSink) -> None:
        self.sink = sink
        self.pending = b""
        self.tail: List[str] = []

    def feed(self, data: bytes) -> None:
        lines = (self.pending + data).split(b"\n")
        self.pending = lines.pop()
        if len(self.pending) > _READ_SIZE:  # a very long line without newline: pass it on as is
            lines.append(self.pending)
            self.pending = b""
        for line in lines:
            self._emit(line)

    def close(self) -> None:
        if self.pending:
            self._emit(self.pending)
            self.pending = b""

    def _emit(self, raw: bytes) -> None:
        line = raw.decode("utf-8", "replace").rstrip()  # COBOL pads DISPLAY lines with spaces
        self.tail.append(line)
        if len(self.tail) > _STDERR_TAIL_LINES:
            del self.tail[0]
        self.sink(line)

    def tail_text(self) -> str:
        text = "\n".join(self.tail)
        return text[-_STDERR_TAIL_CHARS:]


class Outcome:
    """How one run ended."""

    __slots__ = ("status", "timed_out", "overflow", "stdout", "stderr_tail", "seconds")

    def __init__(self) -> None:
        self.status = 0
        self.timed_out = False
        self.overflow = False
        self.stdout = b""
        self.stderr_tail = ""
        self.seconds = 0.0


def run(argv: List[str], env: Mapping[str, str], cwd: Optional[str], stdin_data: bytes,
        kill_at: float, stdout_limit: int, on_stderr_line: LineSink, grace: float = 0.2,
        keep: Iterable[int] = ()) -> Outcome:
    """Run a program to completion or to ``kill_at`` (a ``time.monotonic()`` value)."""
    started = time.monotonic()
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    try:
        pid = spawn(argv, env, cwd, in_r, out_w, err_w)
    except SpawnError:
        for fd in (in_r, in_w, out_r, out_w, err_r, err_w):
            os.close(fd)
        raise
    for fd in (in_r, out_w, err_w):
        os.close(fd)
    outcome = Outcome()
    stderr = LineSplitter(on_stderr_line)
    stdout_parts: List[bytes] = []
    stdout_size = 0
    pidfd = open_pidfd(pid)
    poller = select.poll()
    readers = {out_r, err_r}
    for fd in readers:
        os.set_blocking(fd, False)
        poller.register(fd, select.POLLIN)
    pending = memoryview(stdin_data)
    if pending:
        os.set_blocking(in_w, False)
        poller.register(in_w, select.POLLOUT)
    else:
        os.close(in_w)
        in_w = -1
    if pidfd is not None:
        poller.register(pidfd, select.POLLIN)
    status: Optional[int] = None
    try:
        while readers or status is None:
            now = time.monotonic()
            if now >= kill_at and not outcome.timed_out and status is None:
                outcome.timed_out = True
                status = terminate(pid, min(grace, max(0.0, kill_at - started)))
                kill_at = now + grace  # drain what is left, briefly
            elif outcome.timed_out and now >= kill_at:
                break  # a descendant outside the group holds the pipes open: sweep() ends it
            wait_ms = max(0, int((kill_at - now) * 1000) + 1)
            if pidfd is None and status is None:
                wait_ms = min(wait_ms, 10)
            events = poller.poll(wait_ms)
            for fd, event in events:
                if fd == pidfd:
                    poller.unregister(pidfd)
                    status = wait_exit(pid)
                    # The leader is gone: end whatever it left in its group, so that
                    # pipes a background child inherited reach EOF.
                    kill_group(pid)
                elif fd == in_w:
                    try:
                        written = os.write(in_w, pending[:_READ_SIZE])
                        pending = pending[written:]
                    except BlockingIOError:
                        continue
                    except OSError as exc:  # EPIPE: the program stopped reading; that is its choice
                        if exc.errno not in (errno.EPIPE, errno.EBADF):
                            raise
                        pending = pending[:0]
                    if not pending:
                        poller.unregister(in_w)
                        os.close(in_w)
                        in_w = -1
                else:
                    try:
                        data = os.read(fd, _READ_SIZE)
                    except BlockingIOError:
                        continue
                    if not data:
                        poller.unregister(fd)
                        readers.discard(fd)
                        continue
                    if fd == err_r:
                        stderr.feed(data)
                    elif not outcome.overflow:
                        stdout_size += len(data)
                        if stdout_size > stdout_limit:
                            outcome.overflow = True
                            stdout_parts = []
                            kill_group(pid)
                        else:
                            stdout_parts.append(data)
            if pidfd is None and status is None:
                done, raw = os.waitpid(pid, os.WNOHANG)
                if done:
                    status = raw
                    kill_group(pid)
    finally:
        for fd in (in_w, out_r, err_r, pidfd if pidfd is not None else -1):
            if fd >= 0:
                os.close(fd)
        if status is None:
            status = terminate(pid, 0)
        kill_group(pid)
        sweep(keep)
    stderr.close()
    outcome.status = status
    outcome.stdout = b"".join(stdout_parts)
    outcome.stderr_tail = stderr.tail_text()
    outcome.seconds = time.monotonic() - started
    return outcome
