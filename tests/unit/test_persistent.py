"""persistent: the NDJSON protocol with a long-lived program, its replies, its chatter,
its death, its deadline and its over-long lines."""

from __future__ import annotations

import base64
import json
import os
import sys
import time
from pathlib import Path
from typing import Iterator, List

import pytest

from children import alive
from bootstrap_sdk.adapter.child_process import SpawnError
from bootstrap_sdk.adapter.persistent import PersistentProgram, decode_reply, encode_request, reply_body
from bootstrap_sdk.errors import FunctionError

ENV = {"PATH": "/usr/bin:/bin", "LC_ALL": "C"}

# A program speaking the protocol; what it does is chosen by the event.
PROGRAM = r'''
import base64, json, os, sys, time

sys.stderr.write("ready %d\n" % os.getpid())
sys.stderr.flush()
for line in sys.stdin:
    request = json.loads(line)
    event = request.get("event")
    if not isinstance(event, dict):
        event = {"raw": event, "b64": request.get("event_base64")}
    if "stderr" in event:
        sys.stderr.write(event["stderr"] + "\n")
        sys.stderr.flush()
    if "exit" in event:
        sys.exit(event["exit"])
    if event.get("kill9"):
        os.kill(os.getpid(), 9)
    if "sleep" in event:
        time.sleep(event["sleep"])
    for text in event.get("chatter", []):
        sys.stdout.write(text + "\n")
    if event.get("wrong_id"):
        sys.stdout.write(json.dumps({"id": "not-" + request["id"], "response": "stale"}) + "\n")
    if "partial" in event:  # a long line that never ends
        sys.stdout.write("x" * event["partial"])
        sys.stdout.flush()
        time.sleep(30)
    if "pad" in event:
        reply = {"id": request["id"], "response": "p" * event["pad"]}
    else:
        reply = {"id": request["id"], "response": {"event": event, "pid": os.getpid(),
                                                   "keys": sorted(request)}}
    sys.stdout.write(json.dumps(reply) + "\n")
    sys.stdout.flush()
'''


@pytest.fixture
def program_path(tmp_path: Path) -> str:
    path = tmp_path / "program.py"
    path.write_text(PROGRAM)
    return str(path)


class Started:
    def __init__(self, program_path: str, cwd: str) -> None:
        self.stderr: List[str] = []
        self.chatter: List[str] = []
        self.programs: List[PersistentProgram] = []
        self.path = program_path
        self.cwd = cwd

    def program(self, max_line: int = 1 << 22) -> PersistentProgram:
        program = PersistentProgram([sys.executable, "-I", self.path], ENV, self.cwd, max_line, self.stderr.append)
        self.programs.append(program)
        return program

    def invoke(self, program: PersistentProgram, event: object, request_id: str = "req-1",
               seconds: float = 5.0) -> dict:
        request = encode_request(request_id, json.dumps(event).encode(), {"deadline_ms": 1})
        return program.invoke(request, request_id, time.monotonic() + seconds, self.chatter.append, grace=0.2)


@pytest.fixture
def started(program_path: str, tmp_path: Path) -> Iterator[Started]:
    helper = Started(program_path, str(tmp_path))
    try:
        yield helper
    finally:
        for program in helper.programs:
            program.stop(0)


# -- the protocol's pure parts -----------------------------------------------------------

def test_encode_request_carries_a_json_event_as_json():
    line = encode_request("id-1", b'{"a": [1, "two\\nlines"]}', {"deadline_ms": 42, "workdir": "/tmp/w"})
    assert line.endswith(b"\n") and line.count(b"\n") == 1, "one line, whatever the event holds"
    envelope = json.loads(line)
    assert envelope == {"id": "id-1", "deadline_ms": 42, "workdir": "/tmp/w", "event": {"a": [1, "two\nlines"]}}


@pytest.mark.parametrize("body", [b"\xff\x00binary\n", b"not json", b"", b'{"cut": '])
def test_encode_request_carries_other_bytes_as_base64(body):
    envelope = json.loads(encode_request("id-2", body, {}))
    assert "event" not in envelope
    assert base64.b64decode(envelope["event_base64"]) == body


@pytest.mark.parametrize("line, expected", [
    (b'{"id": "r", "response": 1}', {"id": "r", "response": 1}),
    (b"a debug printf", None),
    (b'{"response": 1}', None),
    (b'["id", "r"]', None),
    (b"", None),
])
def test_decode_reply_tells_replies_from_chatter(line, expected):
    assert decode_reply(line) == expected


@pytest.mark.parametrize("reply, expected", [
    ({"id": "r", "response": {"a": [1, 2]}}, (json.dumps({"a": [1, 2]}).encode(), None)),
    ({"id": "r", "response": None}, (b"null", None)),
    ({"id": "r", "response_base64": base64.b64encode(bytes(range(256))).decode()}, (bytes(range(256)), None)),
    ({"id": "r", "error": {"type": "Ledger.Closed", "message": "closed"}}, (None, ("Ledger.Closed", "closed"))),
    ({"id": "r", "error": {"message": "no type"}}, (None, ("Executable.Error", "no type"))),
    ({"id": "r", "error": "just text"}, (None, ("Executable.Error", "just text"))),
    ({"id": "r", "error": {"type": "E.T"}, "response": 1}, (None, ("E.T", ""))),
])
def test_reply_body(reply, expected):
    assert reply_body(reply) == expected


@pytest.mark.parametrize("reply", [{"id": "r", "response_base64": "abc"}, {"id": "r", "response_base64": 12},
                                   {"id": "r"}, {"id": "r", "result": 1}])
def test_reply_body_of_a_malformed_reply_is_a_protocol_error(reply):
    body, error = reply_body(reply)
    assert body is None and error is not None and error[0] == "Executable.ProtocolError"


# -- a real program ----------------------------------------------------------------------

def test_replies_come_back_to_their_request_from_one_process(started):
    program = started.program()
    first = started.invoke(program, {"n": 1}, "req-a")
    second = started.invoke(program, {"n": 2}, "req-b")
    assert first["id"] == "req-a" and first["response"]["event"] == {"n": 1}
    assert second["id"] == "req-b" and second["response"]["event"] == {"n": 2}
    assert first["response"]["pid"] == second["response"]["pid"] == program.pid
    assert "deadline_ms" in first["response"]["keys"], "the context travels in the envelope"
    assert started.chatter == []


def test_binary_events_reach_the_program_as_base64(started):
    program = started.program()
    body = b"\x00\xffnot json"
    reply = program.invoke(encode_request("req-1", body, {}), "req-1", time.monotonic() + 5, started.chatter.append)
    assert base64.b64decode(reply["response"]["event"]["b64"]) == body


def test_chatter_on_stdout_is_handed_on_and_skipped(started):
    program = started.program()
    reply = started.invoke(program, {"chatter": ["debug: starting", "", "   ", '{"not": "a reply"}']})
    assert reply["id"] == "req-1"
    assert started.chatter == ["debug: starting", '{"not": "a reply"}'], "blank lines are dropped"


def test_a_reply_to_another_request_is_skipped(started):
    program = started.program()
    reply = started.invoke(program, {"wrong_id": True}, "req-7")
    assert reply["id"] == "req-7" and reply["response"] != "stale"
    assert [json.loads(line)["id"] for line in started.chatter] == ["not-req-7"]


def test_stderr_lines_reach_the_sink(started):
    program = started.program()
    started.invoke(program, {"stderr": "working on it   "})
    assert started.stderr == ["ready %d" % program.pid, "working on it"]


def test_a_large_request_and_reply_go_through(started):
    program = started.program()
    payload = "z" * (3 << 20)  # far more than a pipe holds
    reply = started.invoke(program, {"payload": payload})
    assert reply["response"]["event"]["payload"] == payload


@pytest.mark.parametrize("event, error_type, description", [
    ({"stderr": "disk on fire", "exit": 7}, "Executable.ExitCode7", "exited with code 7"),
    ({"stderr": "disk on fire", "kill9": True}, "Executable.SIGKILL", "killed by SIGKILL"),
])
def test_a_program_that_dies_mid_request_fails_it_and_is_restarted(started, event, error_type, description):
    program = started.program()
    first_pid = started.invoke(program, {"n": 1})["response"]["pid"]
    with pytest.raises(FunctionError) as caught:
        started.invoke(program, event, "req-2")
    assert caught.value.error_type == error_type
    message = str(caught.value)
    assert "disk on fire" in message, "its last stderr lines are in the message"
    assert description in message
    assert not program.running
    assert not alive(first_pid), "the dead program was reaped"
    again = started.invoke(program, {"n": 3}, "req-3")
    assert again["id"] == "req-3"
    assert again["response"]["pid"] == program.pid != first_pid


def test_a_program_that_exits_before_reading_fails_the_invoke(tmp_path, started):
    script = tmp_path / "quits.sh"
    script.write_text("#!/bin/sh\necho 'no protocol here' >&2\nexit 4\n")
    script.chmod(0o755)
    program = PersistentProgram([str(script)], ENV, str(tmp_path), 1 << 20, started.stderr.append)
    started.programs.append(program)
    with pytest.raises(FunctionError) as caught:
        program.invoke(encode_request("r", b"{}", {}), "r", time.monotonic() + 5, started.chatter.append)
    assert caught.value.error_type == "Executable.ExitCode4"
    assert "no protocol here" in str(caught.value)


def test_a_program_that_does_not_answer_in_time_is_stopped_and_restarted(started):
    program = started.program()
    first_pid = started.invoke(program, {"n": 1})["response"]["pid"]
    with pytest.raises(FunctionError) as caught:
        started.invoke(program, {"sleep": 30}, "req-slow", seconds=0.3)
    assert caught.value.error_type == "Executable.Timeout"
    assert "SIGTERM" in str(caught.value)
    assert not program.running and not alive(first_pid)
    assert started.invoke(program, {"n": 2}, "req-next")["response"]["pid"] != first_pid


def test_an_over_long_reply_line_is_refused_and_the_program_stopped(started):
    program = started.program(max_line=100000)
    first_pid = started.invoke(program, {"n": 1})["response"]["pid"]
    with pytest.raises(FunctionError) as caught:
        started.invoke(program, {"partial": 300000})
    assert caught.value.error_type == "Executable.ResponseTooLarge"
    assert "100000" in str(caught.value)
    assert not program.running and not alive(first_pid)


def test_a_long_reply_arriving_in_pieces_is_refused(started):
    program = started.program(max_line=100000)
    with pytest.raises(FunctionError) as caught:
        started.invoke(program, {"pad": 300000})
    assert caught.value.error_type == "Executable.ResponseTooLarge"


def test_a_complete_reply_line_over_max_line_is_refused(started):
    program = started.program(max_line=500)
    started.invoke(program, {"n": 1})  # started and ready: the reply below comes in one write
    with pytest.raises(FunctionError) as caught:
        started.invoke(program, {"pad": 2000}, "req-2")
    assert caught.value.error_type == "Executable.ResponseTooLarge"


def test_stop_ends_the_program_and_reports_its_status(started):
    program = started.program()
    pid = started.invoke(program, {"n": 1})["response"]["pid"]
    status = program.stop(1.0)
    assert status is not None and os.WIFSIGNALED(status) and os.WTERMSIG(status) == 15
    assert not program.running and not alive(pid)
    assert program.stop(1.0) is None, "stopping a stopped program is a no-op"


def test_stop_kills_a_program_that_ignores_sigterm(tmp_path, started):
    script = tmp_path / "stubborn.sh"
    ready = tmp_path / "ready"
    script.write_text('#!/bin/sh\ntrap "" TERM\necho > "%s"\nwhile :; do sleep 1; done\n' % ready)
    script.chmod(0o755)
    program = PersistentProgram([str(script)], ENV, str(tmp_path), 1 << 20, started.stderr.append)
    started.programs.append(program)
    program.start()
    deadline = time.monotonic() + 5
    while not ready.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    status = program.stop(0.1)
    assert status is not None and os.WIFSIGNALED(status) and os.WTERMSIG(status) == 9


def test_a_program_that_cannot_start_is_a_spawn_error(tmp_path, started):
    program = PersistentProgram([str(tmp_path / "missing")], ENV, str(tmp_path), 1 << 20, started.stderr.append)
    with pytest.raises(SpawnError):
        program.invoke(encode_request("r", b"{}", {}), "r", time.monotonic() + 5, started.chatter.append)
    assert not program.running


def _script(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    path.chmod(0o755)
    return str(path)


def test_last_words_after_closing_stdout_end_the_error_message(tmp_path, started):
    """stdout closes first, stderr speaks after: the message ends with what it said last."""
    path = _script(tmp_path, "closes.sh", "#!/bin/sh\nread line\necho 'first words' >&2\nexec 1>&-\n"
                   "sleep 0.05\necho 'last words: ledger locked' >&2\nexit 9\n")
    program = PersistentProgram([path], ENV, str(tmp_path), 1 << 20, started.stderr.append)
    started.programs.append(program)
    with pytest.raises(FunctionError) as caught:
        program.invoke(encode_request("r", b"{}", {}), "r", time.monotonic() + 5, started.chatter.append)
    assert caught.value.error_type == "Executable.ExitCode9", "it exited by itself: not terminated"
    assert str(caught.value).endswith("first words\nlast words: ledger locked")


def test_the_stderr_tail_holds_only_the_dying_instances_lines(tmp_path, started):
    path = _script(tmp_path, "dies.sh", "#!/bin/sh\necho \"instance $$ starts\" >&2\nread line\n"
                   "echo \"instance $$ dies\" >&2\nexit 3\n")
    program = PersistentProgram([path], ENV, str(tmp_path), 1 << 20, started.stderr.append)
    started.programs.append(program)
    messages = []
    for attempt in range(2):
        with pytest.raises(FunctionError) as caught:
            program.invoke(encode_request("r%d" % attempt, b"{}", {}), "r%d" % attempt, time.monotonic() + 5,
                           started.chatter.append)
        messages.append(str(caught.value))
    first_pid = messages[0].split("instance ")[1].split()[0]
    second_pid = messages[1].split("instance ")[1].split()[0]
    assert first_pid != second_pid
    assert "instance %s" % first_pid not in messages[1], "an earlier, dead instance's lines stay out"
    assert messages[1].endswith("instance %s starts\ninstance %s dies" % (second_pid, second_pid))

