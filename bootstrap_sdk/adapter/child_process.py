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
    from typing import Callable, Dict, Iterable, List, Mapping, Optional, Set, Tuple

    LineSink = Callable[[str], None]

_READ_SIZE = 65536
_STDERR_TAIL_LINES = 20
_STDERR_TAIL_CHARS = 4000
_SWEEP_ROUNDS = 64  # generations of escaped descendants ended per sweep
_DEFAULT_SIGNALS = (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGCHLD)

# Exit statuses reaped by sweep() for children that someone else is waiting on.
_reaped: Dict[int, int] = {}
# (pid, fd) of this process's main thread's children list, for strays().
_children_file: Tuple[int, int] = (0, -1)


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
          stdin: int, stdout: int, stderr: int, extra: Iterable[Tuple[int, int]] = ()) -> int:
    """Start ``argv`` in a new process group with the given fds as 0, 1 and 2, and each
    ``(fd, number)`` of ``extra`` as that number."""
    actions: List[Tuple[int, ...]] = [(os.POSIX_SPAWN_DUP2, stdin, 0), (os.POSIX_SPAWN_DUP2, stdout, 1), (os.POSIX_SPAWN_DUP2, stderr, 2)]
    extra = list(extra)
    if extra:  # through fds no source uses, so that one's target never overwrites another's source
        base = max([stdin, stdout, stderr] + [fd for fd, _ in extra] + [number for _, number in extra]) + 1
        actions += [(os.POSIX_SPAWN_DUP2, fd, base + i) for i, (fd, _) in enumerate(extra)]
        actions += [(os.POSIX_SPAWN_DUP2, base + i, number) for i, (_, number) in enumerate(extra)]
        actions += [(os.POSIX_SPAWN_CLOSE, base + i) for i in range(len(extra))]
    previous = None
    if cwd is not None:  # posix_spawn has no chdir action before Python 3.13: switch around it
        previous = os.getcwd()
        try:
            os.chdir(cwd)
        except OSError as exc:
            raise SpawnError("cannot start %s in %s: %s" % (argv[0], cwd, exc.strerror or exc)) from None
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
    """Kill and reap every child of this process but ``keep``; return their pids.

    Killing an escaped child re-parents its own escaped children (a second ``setsid``)
    to this subreaper, so the sweep goes on, one generation a round, until no child is
    left: none of them outlives the invoke's response. The rounds are bounded, so a
    descendant that forks faster than it is killed cannot hold the runtime here.
    """
    spared = set(keep)
    killed: List[int] = []
    for _ in range(_SWEEP_ROUNDS):
        found = [pid for pid in _children() if pid not in spared]
        if not found:
            break
        for pid in found:
            kill_group(pid)
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        for pid in found:
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
        killed.extend(found)
    reap(spared)
    return killed


def strays(keep: Iterable[int] = ()) -> bool:
    """Is any child of this process alive but ``keep``? Cheaper than ``sweep`` when none is.

    Only the main thread's list is read: the runtime spawns from it, and the kernel
    re-parents orphans to a subreaper's main thread while it lives.
    """
    global _children_file
    pid = os.getpid()
    try:
        if _children_file[0] != pid:  # opened once per process (a forked worker opens its own)
            _children_file = (pid, os.open("/proc/self/task/%d/children" % pid, os.O_RDONLY | os.O_CLOEXEC))
        found = os.pread(_children_file[1], 65536, 0).split()
    except OSError:
        return True  # cannot tell: let sweep() look
    spared = {str(pid).encode() for pid in keep}
    return any(pid not in spared for pid in found)


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


class Piped:
    """A started program and this side's ends of its stdin, stdout and stderr (non-blocking)."""

    __slots__ = ("pid", "stdin", "stdout", "stderr")

    def __init__(self, pid: int, stdin: int, stdout: int, stderr: int) -> None:
        self.pid = pid
        self.stdin = stdin
        self.stdout = stdout
        self.stderr = stderr


def spawn_piped(argv: List[str], env: Mapping[str, str], cwd: Optional[str]) -> Piped:
    """Start ``argv`` (see ``spawn``) with pipes for its stdin, stdout and stderr."""
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    try:
        pid = spawn(argv, env, cwd, in_r, out_w, err_w)
    except SpawnError:
        for fd in (in_w, out_r, err_r):
            os.close(fd)
        raise
    finally:
        for fd in (in_r, out_w, err_w):
            os.close(fd)
    for fd in (in_w, out_r, err_r):
        os.set_blocking(fd, False)
    return Piped(pid, in_w, out_r, err_r)


def status_error(status: int) -> Tuple[str, str]:
    """A program's wait status as (errorType, what happened): the mapping every mode uses.

    ``Executable.SIGSEGV`` / "killed by SIGSEGV" for a signal, ``Executable.ExitCode3`` /
    "exited with code 3" for an exit code.
    """
    if os.WIFSIGNALED(status):
        name = signal_name(os.WTERMSIG(status))
        return "Executable." + name, "killed by " + name
    code = os.WEXITSTATUS(status)
    return "Executable.ExitCode%d" % code, "exited with code %d" % code


def describe_status(status: int) -> str:
    return status_error(status)[1]


def run(argv: List[str], env: Mapping[str, str], cwd: Optional[str], stdin_data: bytes,
        kill_at: float, stdout_limit: int, on_stderr_line: LineSink, grace: float = 0.2,
        keep: Iterable[int] = ()) -> Outcome:
    """Run a program to completion or to ``kill_at`` (a ``time.monotonic()`` value).

    On return nothing of it is left: its group is killed and every other child of this
    process but ``keep`` is swept.
    """
    started = time.monotonic()
    watch = _Watch(spawn_piped(argv, env, cwd), stdin_data, stdout_limit, on_stderr_line)
    try:
        watch.until(kill_at, grace, started)
    finally:
        watch.close()
        if watch.status is None:
            watch.status = terminate(watch.pid, 0)
        kill_group(watch.pid)
        sweep(keep)
    return watch.outcome(time.monotonic() - started)


class _Watch:
    """One ``poll`` loop over a running program: feeds stdin, collects stdout and stderr."""

    def __init__(self, piped: Piped, stdin_data: bytes, stdout_limit: int, on_stderr_line: LineSink) -> None:
        self.pid = piped.pid
        self.stdin, self.out, self.err = piped.stdin, piped.stdout, piped.stderr
        self.stderr = LineSplitter(on_stderr_line)
        self.stdout_parts: List[bytes] = []
        self.stdout_size = 0
        self.stdout_limit = stdout_limit
        self.status: Optional[int] = None
        self.timed_out = self.overflow = False
        self.pidfd = open_pidfd(self.pid)
        self.poller = select.poll()
        self.readers = {self.out, self.err}
        for fd in self.readers:
            self.poller.register(fd, select.POLLIN)
        self.pending = memoryview(stdin_data)
        if self.pending:
            self.poller.register(self.stdin, select.POLLOUT)
        else:
            self._close_stdin()
        if self.pidfd is not None:
            self.poller.register(self.pidfd, select.POLLIN)

    def until(self, kill_at: float, grace: float, started: float) -> None:
        """Serve the pipes until the program has exited and they are drained, or time is up.

        Once the program is gone (its group killed with it), only a descendant that left
        the group can hold its pipes open: the program's exit is the end of its output,
        so they are drained for at most ``grace`` seconds after it, however much the
        holder still writes; sweep() then ends the holder. Past ``kill_at`` nothing waits
        longer than the grace to end the program plus the grace to drain its pipes.
        """
        drain_by: Optional[float] = None  # set when the program is gone
        while self.readers or self.status is None:
            now = time.monotonic()
            if self.status is None and now >= kill_at:
                self.timed_out = True
                self._forget_pidfd()  # terminate() reaps it: the pidfd has nothing more to say
                self.status = terminate(self.pid, min(grace, max(0.0, kill_at - started)))
                now = time.monotonic()
            if self.status is not None and drain_by is None:
                drain_by = now + grace
            if drain_by is not None and now >= drain_by:
                return
            until = kill_at if drain_by is None else drain_by
            wait_ms = max(0, int((until - now) * 1000) + 1)
            if self.pidfd is None and self.status is None:
                wait_ms = min(wait_ms, 10)
            events = self.poller.poll(wait_ms)
            for fd, _ in events:
                if fd == self.pidfd:
                    self._forget_pidfd()
                    if self.status is None:
                        self._exited(wait_exit(self.pid) or 0)  # no timeout: never None
                elif fd == self.stdin:
                    self._feed_stdin()
                else:
                    self._read(fd)
            if self.pidfd is None and self.status is None:
                done, raw = os.waitpid(self.pid, os.WNOHANG)
                if done:
                    self._exited(raw)

    def _forget_pidfd(self) -> None:
        if self.pidfd is not None:
            try:
                self.poller.unregister(self.pidfd)
            except KeyError:
                pass
            os.close(self.pidfd)
            self.pidfd = None

    def _exited(self, status: int) -> None:
        self.status = status
        # The leader is gone: end whatever it left in its group, so that pipes a
        # background child inherited reach EOF.
        kill_group(self.pid)

    def _feed_stdin(self) -> None:
        try:
            written = os.write(self.stdin, self.pending[:_READ_SIZE])
            self.pending = self.pending[written:]
        except BlockingIOError:
            return
        except OSError as exc:  # EPIPE: the program stopped reading; that is its choice
            if exc.errno not in (errno.EPIPE, errno.EBADF):
                raise
            self.pending = self.pending[:0]
        if not self.pending:
            self.poller.unregister(self.stdin)
            self._close_stdin()

    def _close_stdin(self) -> None:
        os.close(self.stdin)
        self.stdin = -1

    def _read(self, fd: int) -> None:
        try:
            data = os.read(fd, _READ_SIZE)
        except BlockingIOError:
            return
        if not data:
            self.poller.unregister(fd)
            self.readers.discard(fd)
        elif fd == self.err:
            self.stderr.feed(data)
        elif not self.overflow:
            self.stdout_size += len(data)
            if self.stdout_size > self.stdout_limit:
                self.overflow = True
                self.stdout_parts = []
                kill_group(self.pid)
            else:
                self.stdout_parts.append(data)

    def close(self) -> None:
        for fd in (self.stdin, self.out, self.err, self.pidfd if self.pidfd is not None else -1):
            if fd >= 0:
                os.close(fd)
        self.stdin = -1

    def outcome(self, seconds: float) -> Outcome:
        self.stderr.close()
        outcome = Outcome()
        outcome.status = self.status if self.status is not None else 0
        outcome.timed_out = self.timed_out
        outcome.overflow = self.overflow
        outcome.stdout = b"".join(self.stdout_parts)
        outcome.stderr_tail = self.stderr.tail_text()
        outcome.seconds = seconds
        return outcome
