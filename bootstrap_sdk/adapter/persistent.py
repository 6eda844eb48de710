"""Persistent mode: one long-lived program serves many invokes over NDJSON on stdin/stdout.

The protocol is newline-delimited JSON, one object per line each way:

    runtime → program   {"id": REQUEST_ID, "deadline_ms": N, "function_arn": S, "trace_id": S,
                         "workdir": DIR, "event": <the event as JSON>}
                        (an event that is not JSON comes as "event_base64" instead)
    program → runtime   {"id": REQUEST_ID, "response": <any JSON value>}
                     or {"id": REQUEST_ID, "response_base64": "<bytes, base64>"}
                     or {"id": REQUEST_ID, "error": {"type": "Category.Reason", "message": "..."}}

Why lines of JSON rather than length prefixes: every language, shell tools with ``jq``
included, can read and write a line; a stray debug ``printf`` on stdout cannot desync
the stream (a line that is not a reply to the current request is logged and skipped);
the envelope carries the request id, so a reply to the wrong request is detected; and
bytes still travel, as base64. stderr goes to the logs line by line, as in the other modes.

A program that dies is restarted on the next invoke; the invoke in flight gets an error.
"""

from __future__ import annotations

import binascii
import os
import select
import time

from .. import json_text
from ..errors import FunctionError
from . import child_process
from .child_process import LineSplitter

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

_READ_SIZE = 65536
_DRAIN_LIMIT = 1 << 20  # of a dead program's stderr: its last lines, not an escaped writer's flood


def encode_request(request_id: str, body: bytes, context: Mapping[str, Any]) -> bytes:
    envelope: Dict[str, Any] = {"id": request_id}
    envelope.update(context)
    try:
        envelope["event"] = json_text.loads(body)
    except ValueError:
        envelope["event_base64"] = binascii.b2a_base64(body, newline=False).decode("ascii")
    return json_text.dumps(envelope, separators=(",", ":")).encode("utf-8") + b"\n"


def decode_reply(line: bytes) -> Optional[Dict[str, Any]]:
    """The reply object, or None for a line that is not one (program chatter)."""
    try:
        reply = json_text.loads(line)
    except ValueError:
        return None
    return reply if isinstance(reply, dict) and "id" in reply else None


class PersistentProgram:
    """The long-lived program of one runtime process (each worker has its own)."""

    def __init__(self, argv: List[str], env: Mapping[str, str], cwd: str, max_line: int,
                 stderr_sink: Callable[[str], None]) -> None:
        self.argv = argv
        self.env = env
        self.cwd = cwd
        self.max_line = max_line
        self.stderr_sink = stderr_sink
        self.stderr = LineSplitter(stderr_sink)
        self.chatter: Optional[LineSplitter] = None  # the program's stdout, when replies come elsewhere
        self.pid = 0
        self.owner = 0  # the process that started it (a forked worker starts its own)
        # Requests go to _stdin and replies come from _stdout: the program's stdin and stdout
        # here, other pipes in a subclass (whose program's stdout is then _chatter).
        self._stdin = self._stdout = self._stderr = self._chatter = self._pidfd = -1
        self._buffer = bytearray()
        self._poller: Optional[select.poll] = None

    @property
    def running(self) -> bool:
        return self.pid != 0 and self.owner == os.getpid()

    def start(self) -> None:
        piped = child_process.spawn_piped(self.argv, self.env, self.cwd)
        self._watch(piped.pid, piped.stdin, piped.stdout, piped.stderr)

    def _watch(self, pid: int, requests: int, replies: int, stderr: int, chatter: int = -1,
               chatter_sink: Optional[Callable[[str], None]] = None) -> None:
        """Take charge of a started program and this side's (non-blocking) ends of its pipes."""
        self.pid = pid
        self.owner = os.getpid()
        self.stderr = LineSplitter(self.stderr_sink)  # an error quotes this instance's lines only
        self.chatter = LineSplitter(chatter_sink) if chatter >= 0 and chatter_sink is not None else None
        self._stdin, self._stdout, self._stderr, self._chatter = requests, replies, stderr, chatter
        pidfd = child_process.open_pidfd(self.pid)
        self._pidfd = pidfd if pidfd is not None else -1
        self._buffer.clear()
        self._poller = select.poll()
        for fd in (replies, stderr, chatter):
            if fd >= 0:
                self._poller.register(fd, select.POLLIN)
        if self._pidfd >= 0:
            self._poller.register(self._pidfd, select.POLLIN)

    def stop(self, grace: float) -> Optional[int]:
        """Terminate the program (TERM, then KILL after ``grace``); its wait status."""
        if not self.running:
            self.pid = 0
            return None
        status = child_process.terminate(self.pid, grace)
        self._forget()
        return status

    def _forget(self) -> None:
        for fd in (self._stdin, self._stdout, self._stderr, self._chatter, self._pidfd):
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self._stdin = self._stdout = self._stderr = self._chatter = self._pidfd = -1
        self.pid = 0
        self.stderr.close()
        if self.chatter is not None:
            self.chatter.close()

    def _died(self, status: int) -> FunctionError:
        # Whatever noticed the death first (stdout's EOF, a broken stdin, the pidfd), the
        # last stderr lines may still sit in the pipe: read them before the tail is taken.
        self._drain()
        self._forget()
        error_type, description = child_process.status_error(status)
        tail = self.stderr.tail_text()
        return FunctionError("persistent program %s while serving this invoke; it is restarted for the next "
                             "one%s" % (description, "; stderr ends:\n" + tail if tail else ""), error_type)

    def invoke(self, request: bytes, request_id: str, kill_at: float, on_chatter: Callable[[str], None],
               grace: float = 0.2) -> Any:
        """Send one request and wait for its reply (for this class, the line carrying ``request_id``)."""
        if not self.running:
            self.start()
        assert self._poller is not None
        pending = memoryview(request)
        try:  # most requests fit the pipe: write at once, poll only for the rest
            pending = pending[os.write(self._stdin, pending):]
        except (BlockingIOError, BrokenPipeError):
            pass  # a broken pipe shows up again in _step, with the program's exit status
        if pending:
            self._poller.register(self._stdin, select.POLLOUT)
        try:
            while True:
                reply = self._take_reply(request_id, on_chatter)
                if reply is not None:
                    return reply
                pending = self._step(pending, kill_at, grace)
        finally:
            if self._stdin >= 0 and self._poller is not None:
                try:
                    self._poller.unregister(self._stdin)
                except KeyError:
                    pass

    def _take_reply(self, request_id: str, on_chatter: Callable[[str], None]) -> Any:
        """The reply to ``request_id`` if the buffer holds it; other lines are chatter."""
        end = self._buffer.find(b"\n")
        while end >= 0:
            if end > self.max_line:  # however the pipe chunked it, the line is too long
                self._too_long()
            line = bytes(self._buffer[:end])
            del self._buffer[: end + 1]
            reply = decode_reply(line)
            if reply is not None and reply.get("id") == request_id:
                return reply
            if line.strip():
                on_chatter(line.decode("utf-8", "replace"))
            end = self._buffer.find(b"\n")
        if len(self._buffer) > self.max_line:
            self._too_long()
        return None

    def _too_long(self) -> None:
        self.stop(0)
        raise FunctionError("persistent program's reply line exceeds %d bytes; it is restarted"
                            % self.max_line, "Executable.ResponseTooLarge")

    def _step(self, pending: memoryview, kill_at: float, grace: float) -> memoryview:
        """Wait for one round of I/O: write what is pending, read what is there."""
        assert self._poller is not None
        now = time.monotonic()
        if now >= kill_at:
            raise self._timed_out(self.stop(grace) or 0)
        wait_ms = int((kill_at - now) * 1000) + 1
        if self._pidfd < 0:
            wait_ms = min(wait_ms, 10)
        for fd, _ in self._poller.poll(wait_ms):
            if fd == self._stdin:
                try:
                    written = os.write(fd, pending[:_READ_SIZE])
                    pending = pending[written:]
                except BlockingIOError:
                    continue
                except BrokenPipeError:
                    raise self._died(self._exit_status(grace))
                if not pending:
                    self._poller.unregister(fd)
            elif fd == self._stdout or fd == self._stderr or fd == self._chatter:
                try:
                    data = os.read(fd, _READ_SIZE)
                except BlockingIOError:
                    continue
                if fd != self._stdout:
                    splitter = self.stderr if fd == self._stderr else self.chatter
                    if data and splitter is not None:
                        splitter.feed(data)
                    elif not data:
                        self._poller.unregister(fd)
                elif data:
                    self._buffer += data
                else:
                    self._poller.unregister(fd)
                    raise self._died(self._exit_status(grace))
            elif fd == self._pidfd:
                raise self._died(child_process.wait_exit(self.pid) or 0)
        if self._pidfd < 0:
            done, status = os.waitpid(self.pid, os.WNOHANG)
            if done:
                raise self._died(status)
        return pending

    def _timed_out(self, status: int) -> FunctionError:
        return FunctionError("persistent program gave no reply before the deadline margin; it was %s and is "
                             "restarted for the next invoke" % child_process.describe_status(status),
                             "Executable.Timeout")

    def _exit_status(self, grace: float) -> int:
        """The wait status of a program that closed stdout or stdin: it is on its way out.

        It gets ``grace`` seconds to end by itself, its stderr read meanwhile (its last
        words come after the pipe that gave it away closed), and is then terminated.
        """
        give_up = time.monotonic() + grace
        while True:
            status = child_process.wait_exit(self.pid, 0)
            if status is not None:
                return status
            left = give_up - time.monotonic()
            if left <= 0:
                return child_process.terminate(self.pid, grace)
            ready = select.select([self._stderr], [], [], min(left, 0.01))[0] if self._stderr >= 0 else []
            if ready:
                self._read_lines(self._stderr, self.stderr, _READ_SIZE)

    def _drain(self) -> None:
        """Read what a dead program left in its pipes (its last stderr lines matter).

        Bounded: a descendant that escaped the group may still hold the pipes and write.
        """
        self._read_lines(self._stderr, self.stderr, _DRAIN_LIMIT)
        self.stderr.close()
        if self.chatter is not None:
            self._read_lines(self._chatter, self.chatter, _DRAIN_LIMIT)
            self.chatter.close()

    @staticmethod
    def _read_lines(fd: int, splitter: LineSplitter, limit: int) -> None:
        """Read what ``fd`` holds now (non-blocking), up to ``limit`` bytes, into ``splitter``."""
        taken = 0
        while taken < limit and fd >= 0:
            try:
                data = os.read(fd, _READ_SIZE)
            except OSError:
                return
            if not data:
                return
            taken += len(data)
            splitter.feed(data)


def reply_body(reply: Dict[str, Any]) -> Tuple[Optional[bytes], Optional[Tuple[str, str]]]:
    """(response bytes, None) or (None, (error type, message)) from a reply object."""
    error = reply.get("error")
    if error is not None:
        if isinstance(error, dict):
            return None, (str(error.get("type") or "Executable.Error"), str(error.get("message") or ""))
        return None, ("Executable.Error", str(error))
    if "response_base64" in reply:
        try:
            return binascii.a2b_base64(reply["response_base64"]), None
        except (binascii.Error, TypeError) as exc:
            return None, ("Executable.ProtocolError", "response_base64 is not base64: %s" % exc)
    if "response" in reply:
        return json_text.dumps(reply["response"]).encode("utf-8"), None
    return None, ("Executable.ProtocolError", "reply has none of response, response_base64, error: %r"
                  % sorted(reply))
