"""call mode against a cobol-call-host that misbehaves: fake hosts (small Python scripts
speaking, or mis-speaking, the frame protocol on fds 3 and 4) drive CallHost and
CallHandler through faults the real host cannot be made to produce: no READY, broken
frames, frames cut into pieces, deaths with and without last words, silence, chatter."""

from __future__ import annotations

import json
import os
import sys
import textwrap
import time
import tracemalloc
from pathlib import Path
from typing import Any, Iterator, List

import pytest

from handler_harness import stopped_after
from bootstrap_sdk.adapter import cobol_call
from bootstrap_sdk.adapter.cobol_call import HOST_NAME, MAX_MESSAGE, CallHandler
from bootstrap_sdk.context import Context, FunctionInfo, Invocation
from bootstrap_sdk.errors import FunctionError, InitError
from bootstrap_sdk.settings import Settings

ENTRY = "PAYCALC"
COPYBOOK = "       01  REC.\n           05  NAME PIC X(4).\n           05  QTY  PIC 9(3).\n"
SIZE = 7  # REC's length: NAME (4) and QTY (3)

# What every fake host starts with: the protocol's frames, helpers to read a request and
# send a reply, and its pid appended to STATE/pids (one line per host process started).
PROLOGUE = '''\
#!{python}
import os, resource, signal, struct, sys, time

REQUEST = struct.Struct("=IIII")
REPLY = struct.Struct("=IIiIQII")
REQUEST_MAGIC, REPLY_MAGIC = 0x51435342, 0x52435342
READY, RETURNED, INIT_FAILED, EXITED, OVERRUN, BAD_REQUEST = range(6)
STATE = {state!r}
assert sys.argv[1:] == ["{entry}", "fresh"], sys.argv
TOTAL = {size}
resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # a fake that kills itself leaves no core file

with open(os.path.join(STATE, "pids"), "a") as handle:
    handle.write("%d\\n" % os.getpid())


def write_all(fd, data):
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def read_exact(length):
    data = b""
    while len(data) < length:
        chunk = os.read(3, length - len(data))
        if not chunk:
            sys.exit(0)  # the runtime closed the request pipe: it is done with this host
        data += chunk
    return data


def request():
    """The next CALL's records (the working directory and variables are read and dropped)."""
    magic, dir_length, env_length, data_length = REQUEST.unpack(read_exact(REQUEST.size))
    assert magic == REQUEST_MAGIC and data_length == TOTAL, (magic, data_length)
    read_exact(dir_length + env_length)
    return read_exact(data_length)


def frame(kind, code=0, detail=0, message=b"", data=b"", magic=REPLY_MAGIC, message_length=None,
          data_length=None):
    return REPLY.pack(magic, kind, code, detail, 4242, len(message) if message_length is None else message_length,
                      len(data) if data_length is None else data_length) + message + data


def send(*args, **kwargs):
    write_all(4, frame(*args, **kwargs))


def answer(record):
    """A well-behaved host's work: NAME reversed, QTY plus one (so the answer is the host's)."""
    return record[:4][::-1] + b"%03d" % (int(record[4:7]) + 1)


def serve(misbehave=None):
    """READY, then answer every CALL; a record whose NAME is not GOOD goes to misbehave."""
    send(READY)
    while True:
        record = request()
        if misbehave is not None and record[:4] != b"GOOD":
            misbehave(record)
        else:
            send(RETURNED, data=answer(record))


# The setup frame the runtime sends first: one parameter, REC.
magic, count = struct.unpack("=II", read_exact(8))
assert magic == 0x53435342 and struct.unpack("=%dI" % count, read_exact(4 * count)) == (TOTAL,), "setup"
'''


class Harness:
    """Fake hosts in tmp_path/bin (first on PATH), and CallHandlers that use them."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp = tmp_path
        self.bin = tmp_path / "bin"
        self.state = tmp_path / "state"
        self.task_root = tmp_path / "task"
        self.workdir = tmp_path / "work"
        for directory in (self.bin, self.state, self.task_root, self.workdir):
            directory.mkdir()
        (self.task_root / "REC.cpy").write_text(COPYBOOK)
        self.handlers: List[CallHandler] = []

    def fake(self, body: str) -> None:
        """Install the fake host: the prologue, then ``body`` (module-level code)."""
        path = self.bin / HOST_NAME
        path.write_text(PROLOGUE.format(python=sys.executable, state=str(self.state), entry=ENTRY, size=SIZE)
                        + "\n" + textwrap.dedent(body))
        path.chmod(0o755)

    def handler(self, start: bool = True, **extra: str) -> CallHandler:
        environ = {
            "PATH": "%s%s%s" % (self.bin, os.pathsep, os.environ.get("PATH", "/usr/bin:/bin")),
            "LAMBDA_TASK_ROOT": str(self.task_root),
            "_HANDLER": ENTRY,
            "BOOTSTRAP_SDK_EXEC_MODE": "call",
            "BOOTSTRAP_SDK_EXEC_USING": "inout:REC.cpy",
            "BOOTSTRAP_SDK_EXEC_WORKDIR": str(self.workdir),
            "AWS_LAMBDA_FUNCTION_TIMEOUT": "30",
        }
        environ.update(extra)
        settings = Settings(environ)
        assert settings.problems == []
        handler = CallHandler(settings.handler, str(self.task_root), settings.executable, environ)
        assert handler.host.argv[0] == str(self.bin / HOST_NAME)  # the fake, not a real host somewhere
        self.handlers.append(handler)
        if start:
            handler.start()
        return handler

    @staticmethod
    def context(seconds: float) -> Context:
        headers = {"lambda-runtime-aws-request-id": "r1",
                   "lambda-runtime-deadline-ms": str(int(time.time() * 1000 + seconds * 1000))}
        return Context(Invocation(headers, b""), FunctionInfo("f"))

    def invoke(self, handler: CallHandler, name: str = "GOOD", qty: int = 5, seconds: float = 5.0) -> Any:
        """One invoke as the loop makes it (after_invoke whatever happened); the response as JSON."""
        event = json.dumps({"name": name, "qty": qty}).encode()
        try:
            return json.loads(handler(event, self.context(seconds)))
        finally:
            handler.after_invoke()

    def error(self, handler: CallHandler, name: str, seconds: float = 5.0) -> FunctionError:
        with pytest.raises(FunctionError) as caught:
            self.invoke(handler, name, seconds=seconds)
        return caught.value

    def pids(self) -> List[int]:
        path = self.state / "pids"
        return [int(line) for line in path.read_text().split()] if path.exists() else []


@pytest.fixture
def harness(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    yield from stopped_after(Harness(tmp_path), monkeypatch)


def gone(pid: int) -> bool:
    """Neither running nor a zombie: the process has been reaped."""
    return not os.path.exists("/proc/%d" % pid)


def served_by_a_fresh_host(harness: Harness, handler: CallHandler, before: List[int]) -> None:
    """The next invoke gets a real answer from a new host process; the old ones are reaped."""
    assert harness.invoke(handler, "GOOD", 5) == {"name": "DOOG", "qty": 6}
    pids = harness.pids()
    assert len(pids) == len(before) + 1 and pids[-1] not in before
    assert handler.host.pid == pids[-1]
    assert all(gone(pid) for pid in before)


# -- the start ---------------------------------------------------------------------------

def test_the_well_behaved_fake_answers_every_invoke_from_one_host(harness):
    """The control: a fake that behaves is started once and answers each CALL itself."""
    harness.fake("serve()\n")
    handler = harness.handler()
    assert harness.invoke(handler, "ABCD", 5) == {"name": "DCBA", "qty": 6}
    assert harness.invoke(handler, "WXYZ", 41) == {"name": "ZYXW", "qty": 42}
    assert harness.pids() == [handler.host.pid]
    assert handler.call_ns == 4242


def test_a_host_that_exits_at_once_fails_init_quoting_its_stderr(harness):
    """A host that dies before READY (its loader's complaint on stderr) is Runtime.CallHostFailed quoting it."""
    harness.fake('''\
        sys.stderr.write("cobol-call-host: error while loading shared libraries: libcob.so.4: "
                         "cannot open shared object file: No such file or directory\\n")
        sys.exit(127)
    ''')
    with pytest.raises(InitError) as caught:
        harness.handler()
    assert caught.value.error_type == "Runtime.CallHostFailed"
    message = str(caught.value)
    assert "libcob.so.4: cannot open shared object file: No such file or directory" in message
    assert "ended before it was ready" in message and "exited with code 127" in message
    assert all(gone(pid) for pid in harness.pids())


def test_init_failed_is_cobol_entry_not_found_with_the_library_path(harness):
    """An INIT_FAILED frame fails init as Runtime.CobolEntryNotFound with its message and COB_LIBRARY_PATH."""
    harness.fake('''\
        send(INIT_FAILED, message=b"libcob: error: module 'PAYCALC' not found")
        sys.exit(1)
    ''')
    with pytest.raises(InitError) as caught:
        harness.handler(COB_LIBRARY_PATH="/opt/cobol/lib")
    assert caught.value.error_type == "Runtime.CobolEntryNotFound"
    message = str(caught.value)
    assert "libcob: error: module 'PAYCALC' not found" in message
    assert "COB_LIBRARY_PATH=%s%s/opt/cobol/lib" % (harness.task_root, os.pathsep) in message
    assert all(gone(pid) for pid in harness.pids())


def test_a_host_never_ready_fails_init_in_time_and_leaves_no_process(harness, monkeypatch):
    """A host that never sends READY (and ignores SIGTERM) fails init after START_TIMEOUT and is reaped."""
    monkeypatch.setattr(cobol_call, "START_TIMEOUT", 0.5)
    harness.fake('''\
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        time.sleep(60)
    ''')
    started = time.monotonic()
    with pytest.raises(InitError) as caught:
        harness.handler()
    took = time.monotonic() - started
    assert caught.value.error_type == "Runtime.CallHostFailed"
    assert "not ready in time" in str(caught.value)
    assert 0.4 < took < 3.0
    [pid] = harness.pids()
    assert gone(pid)


# -- malformed frames --------------------------------------------------------------------

def test_a_reply_with_a_bad_magic_is_a_protocol_error_and_a_fresh_host_follows(harness):
    """A reply frame with the wrong magic is Executable.ProtocolError; the next invoke gets a new host."""
    harness.fake('''\
        serve(lambda record: send(RETURNED, data=answer(record), magic=0xDEADBEEF))
    ''')
    handler = harness.handler()
    error = harness.error(handler, "BADM")
    assert error.error_type == "Executable.ProtocolError"
    assert "malformed reply frame" in str(error) and "fresh host" in str(error)
    served_by_a_fresh_host(harness, handler, harness.pids())


@pytest.mark.parametrize("data_length", [1, SIZE - 1, SIZE + 1, 1 << 30, 0xFFFFFFFF])
def test_a_data_length_other_than_the_records_is_refused_at_once(harness, data_length):
    """A data length neither 0 nor the records' total is a ProtocolError at once: no waiting, no huge buffer."""
    harness.fake('''\
        def misbehave(record):
            send(RETURNED, data_length=%d)  # the header only: the data never comes
            time.sleep(60)

        serve(misbehave)
    ''' % data_length)
    handler = harness.handler()
    tracemalloc.start()
    try:
        started = time.monotonic()
        error = harness.error(handler, "HUGE", seconds=10.0)
        took = time.monotonic() - started
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert error.error_type == "Executable.ProtocolError"
    assert "malformed reply frame" in str(error)
    assert took < 2.0  # not the 9.5 s to the deadline margin
    assert peak < 16 << 20
    served_by_a_fresh_host(harness, handler, harness.pids())


@pytest.mark.parametrize("message_length", [MAX_MESSAGE + 1, 0xFFFFFFFF])
def test_a_message_longer_than_the_limit_is_refused_at_once(harness, message_length):
    """A message length over 65536 is a ProtocolError at once, before any of the message is awaited."""
    harness.fake('''\
        def misbehave(record):
            send(RETURNED, message_length=%d, data=answer(record))
            time.sleep(60)

        serve(misbehave)
    ''' % message_length)
    handler = harness.handler()
    started = time.monotonic()
    error = harness.error(handler, "LONG", seconds=10.0)
    assert time.monotonic() - started < 2.0
    assert error.error_type == "Executable.ProtocolError"
    assert "malformed reply frame" in str(error)
    served_by_a_fresh_host(harness, handler, harness.pids())


def test_a_message_of_exactly_the_limit_is_accepted(harness):
    """The limit is inclusive: a RETURNED frame with a 65536-byte message (more than a pipe holds) is read whole."""
    harness.fake('''\
        serve(lambda record: send(RETURNED, message=b"m" * 65536, data=answer(record)))
    ''')
    handler = harness.handler()
    assert harness.invoke(handler, "EDGE", 7) == {"name": "EGDE", "qty": 8}
    assert harness.invoke(handler, "EDGE", 8) == {"name": "EGDE", "qty": 9}
    assert len(harness.pids()) == 1


def test_a_reply_in_small_pieces_with_pauses_is_reassembled(harness):
    """READY and RETURNED sent a few bytes at a time (headers cut mid-field), with pauses, still make the answer."""
    harness.fake('''\
        def trickle(data):
            cuts = [0, 1, 3, 8, 13, 16, 24, 31, 32, 34, 37, 40, len(data)]
            for start, end in zip(cuts, cuts[1:]):
                if start < len(data):
                    write_all(4, data[start:end])
                    time.sleep(0.02)

        trickle(frame(READY))
        while True:
            record = request()
            trickle(frame(RETURNED, message=b"cut!", data=answer(record)))
    ''')
    handler = harness.handler()
    assert harness.invoke(handler, "SLOW", 1) == {"name": "WOLS", "qty": 2}
    assert harness.invoke(handler, "SLOW", 2) == {"name": "WOLS", "qty": 3}
    assert len(harness.pids()) == 1


# -- the host ends inside the CALL -------------------------------------------------------

DEATHS = {
    "libcob runtime error": ('''\
        send(EXITED, message=b"libcob: error: subscript of 'ITEMS' out of bounds: 12")
        sys.exit(1)
    ''', "Executable.CobolRuntimeError",
        ["stopped on a libcob runtime error: libcob: error: subscript of 'ITEMS' out of bounds: 12",
         "exited with code 1"]),
    "stop run": ('''\
        send(EXITED)
        sys.exit(12)
    ''', "Executable.StopRun", ["STOP RUN", "exited with code 12"]),
    "overrun": ('''\
        send(OVERRUN, code=0, detail=4)
        os.kill(os.getpid(), signal.SIGSEGV)
        time.sleep(10)
    ''', "Executable.ParameterOverrun", ["touched byte 5 of USING parameter 1 (inout:REC.cpy, 7 bytes)"]),
    "killed": ('''\
        os.kill(os.getpid(), signal.SIGKILL)
    ''', "Executable.SIGKILL", ["crashed inside the CALL", "killed by SIGKILL"]),
}


@pytest.mark.parametrize("death", sorted(DEATHS))
def test_a_host_that_ends_inside_the_call_is_named_and_replaced(harness, death):
    """EXITED (with and without message), OVERRUN + SIGSEGV and a bare SIGKILL each give their errorType."""
    body, error_type, words = DEATHS[death]
    harness.fake("def misbehave(record):\n" + textwrap.indent(textwrap.dedent(body), "    ") + "\n\nserve(misbehave)\n")
    handler = harness.handler()
    error = harness.error(handler, "DIE!")
    assert error.error_type == error_type
    for word in words:
        assert word in str(error)
    assert "fresh host serves the next invoke" in str(error)
    served_by_a_fresh_host(harness, handler, harness.pids())


def test_a_host_that_never_answers_is_stopped_before_the_deadline(harness):
    """A CALL never answered (SIGTERM ignored) is Executable.Timeout before the deadline; a new host follows."""
    harness.fake('''\
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        serve(lambda record: time.sleep(60))
    ''')
    handler = harness.handler()
    started = time.monotonic()
    error = harness.error(handler, "HANG", seconds=1.5)
    took = time.monotonic() - started
    assert error.error_type == "Executable.Timeout"
    assert "did not return before the deadline margin" in str(error) and "killed by SIGKILL" in str(error)
    assert 0.9 < took < 1.5
    served_by_a_fresh_host(harness, handler, harness.pids())


def test_a_return_code_quotes_that_invokes_stderr_only(harness):
    """RETURN-CODE 8 is Executable.ReturnCode8 ending with the stderr of that invoke, not of the start or earlier."""
    harness.fake('''\
        os.write(2, b"host starting\\n")

        def misbehave(record):
            if record[:4] == b"ERR1":
                os.write(2, b"first invoke line\\n")
            elif record[:4] == b"ERR2":
                os.write(2, b"second invoke line A\\nsecond invoke line B\\n")
            send(RETURNED, code=8, data=record)

        serve(misbehave)
    ''')
    handler = harness.handler()
    first = harness.error(handler, "ERR1")
    assert first.error_type == "Executable.ReturnCode8"
    assert str(first) == "%s returned RETURN-CODE 8; stderr ends:\nfirst invoke line" % ENTRY
    second = harness.error(handler, "ERR2")
    assert second.error_type == "Executable.ReturnCode8"
    assert str(second).endswith("; stderr ends:\nsecond invoke line A\nsecond invoke line B")
    assert "first" not in str(second) and "starting" not in str(second)
    quiet = harness.error(handler, "ERR3")
    assert str(quiet) == "%s returned RETURN-CODE 8" % ENTRY
    assert len(harness.pids()) == 1


def test_chatter_on_the_hosts_stdout_does_not_disturb_the_answer(harness):
    """DISPLAY output on fd 1 (more than a pipe holds, a frame look-alike among it) is logged, not parsed."""
    harness.fake('''\
        os.write(1, b"DISPLAY before READY\\n")

        def misbehave(record):
            lines = b"".join(b"CHATTER %05d\\n" % i for i in range(12000))
            write_all(1, frame(RETURNED, data=b"XXXX999") + b"\\n" + lines)
            send(RETURNED, data=answer(record))

        serve(misbehave)
    ''')
    handler = harness.handler(start=False)
    logged: List[str] = []
    handler.host.stdout_sink = logged.append
    handler.start()
    assert harness.invoke(handler, "TALK", 3) == {"name": "KLAT", "qty": 4}
    assert logged[0] == "DISPLAY before READY"
    assert logged[-12000:] == ["CHATTER %05d" % i for i in range(12000)]
    assert harness.invoke(handler, "GOOD", 1) == {"name": "DOOG", "qty": 2}
    assert len(harness.pids()) == 1


# -- a host out of step: the invoke that finds it out does not pay, the next gets a fresh host ---

def test_bad_request_then_exit_is_a_protocol_error_and_the_next_invoke_gets_a_fresh_host(harness):
    """A BAD_REQUEST answer (the real host then exits 2) fails that invoke only; the next one gets a new host."""
    harness.fake('''\
        def misbehave(record):
            send(BAD_REQUEST, message=b"cannot enter the invoke's working directory")
            sys.exit(2)

        serve(misbehave)
    ''')
    handler = harness.handler()
    error = harness.error(handler, "BADR")
    assert error.error_type == "Executable.ProtocolError"
    assert "frame kind 5: cannot enter the invoke's working directory" in str(error)
    served_by_a_fresh_host(harness, handler, harness.pids())


def test_a_frame_of_the_wrong_kind_never_lets_its_call_answer_the_next_invoke(harness):
    """After READY in answer to a CALL (then that CALL's RETURNED), the next invoke gets its own answer."""
    harness.fake('''\
        def misbehave(record):
            send(READY)
            send(RETURNED, data=answer(record))

        serve(misbehave)
    ''')
    handler = harness.handler()
    error = harness.error(handler, "STAL")
    assert error.error_type == "Executable.ProtocolError"
    assert "frame kind 0" in str(error)
    assert harness.invoke(handler, "GOOD", 5) == {"name": "DOOG", "qty": 6}  # not STAL's {"LATS", 6}


def test_a_second_returned_for_one_call_never_answers_the_next_invoke(harness):
    """A host that answers one CALL twice does not make the next invoke return the previous invoke's records."""
    harness.fake('''\
        def misbehave(record):
            send(RETURNED, data=answer(record))
            time.sleep(0.05)
            send(RETURNED, data=answer(record))

        serve(misbehave)
    ''')
    handler = harness.handler()
    assert harness.invoke(handler, "DUPL", 1) == {"name": "LPUD", "qty": 2}
    time.sleep(0.2)  # the extra frame is in the pipe before the next invoke
    before = harness.pids()
    assert harness.invoke(handler, "GOOD", 5) == {"name": "DOOG", "qty": 6}, "a fresh host answered, not the stale frame"
    assert harness.pids() != before


def test_a_host_that_died_between_invokes_is_replaced_for_the_next_one(harness):
    """A host that exits after its reply (as the real one does if it cannot fchdir back) spares the next invoke."""
    harness.fake('''\
        def misbehave(record):
            send(RETURNED, data=answer(record))
            sys.exit(2)

        serve(misbehave)
    ''')
    handler = harness.handler()
    assert harness.invoke(handler, "BYE!", 1) == {"name": "!EYB", "qty": 2}
    time.sleep(0.2)  # the host is gone before the next invoke arrives
    served_by_a_fresh_host(harness, handler, harness.pids())
