"""Hostile programs behind the adapter, under the real RIE, the runtime unprivileged.

Each test is the attack: a descendant that escapes twice and holds stdout, a response
"file" that is a FIFO or a link to /dev/zero, a program that swaps its working directory
for a symlink, the directories a runtime killed mid-invoke left behind. Each asserts the
clear answer, the next invoke served, and nothing left behind.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import List

import pytest

from harness import UNPRIVILEGED, runtime_pid

FAST = {"AWS_LAMBDA_FUNCTION_TIMEOUT": "10"}  # a hang shows up as a timeout, quickly


def _program(task: Path, name: str, text: str) -> str:
    path = task / name
    path.write_text(text)
    path.chmod(0o755)
    return name


def _processes_with(marker: str) -> List[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if marker.encode() in Path("/proc", entry, "cmdline").read_bytes():
                    found.append(int(entry))
            except OSError:
                pass
    return found


@pytest.fixture
def task(tmp_path: Path) -> Path:
    root = tmp_path / "task"
    root.mkdir()
    root.chmod(0o755)
    return root


def test_a_twice_escaped_descendant_holding_stdout_is_gone_before_the_response(start_runtime, task):
    # P starts A in a new session; A starts B in yet another; both keep P's stdout open.
    marker = "31.%d" % os.getpid()
    name = _program(task, "escape.sh", "#!/bin/sh\nsetsid sh -c 'setsid sleep %s & exec sleep %s' &\n"
                    "sleep 0.1\necho answered\n" % (marker, marker))
    runtime = start_runtime(name, task_root=str(task), **FAST)
    result = runtime.invoke(b"{}")
    assert result.body == b"answered\n", "the exit is the end of the output: answered, not timed out"
    assert _processes_with(marker) == [], "both escaped generations are gone once the answer is out"
    assert runtime.invoke(b"{}").body == b"answered\n"
    assert _processes_with(marker) == []


WRITER = """
import sys, time
for _ in range(20000):
    sys.stdout.write("%s\\n")
    sys.stdout.flush()
    time.sleep(0.0001)
sys.stdout.write("STILL-HERE\\n")
"""


def test_an_escaped_descendant_that_keeps_writing_cannot_hold_the_invoke(start_runtime, task):
    # It writes a line every 0.1 ms or so (the pipe never falls quiet) for about 3 s,
    # then says so: were the runtime to read on past the program's exit while data comes,
    # those last words would be in the answer.
    marker = "flood%d" % os.getpid()
    (task / "writer.py").write_text(WRITER % marker)
    name = _program(task, "flood.sh", "#!/bin/sh\nsetsid %s %s/writer.py &\nsleep 0.1\necho answered\n"
                    % (sys.executable, task))
    runtime = start_runtime(name, task_root=str(task), AWS_LAMBDA_FUNCTION_TIMEOUT="30")
    for _ in range(2):  # answered, and the next invoke served the same way
        body = runtime.invoke(b"{}").body
        assert b"answered\n" in body
        assert b"STILL-HERE" not in body, "the program's exit is the end of its output"
        assert _processes_with(str(task / "writer.py")) == []


@pytest.mark.parametrize("make, kind", [
    ('mkfifo "$LAMBDA_RESPONSE_FILE"', "a FIFO"),
    ('ln -s /dev/zero "$LAMBDA_RESPONSE_FILE"', "a symlink"),
    ('ln -s "$LAMBDA_EVENT_FILE" "$LAMBDA_RESPONSE_FILE"', "a symlink"),
    ('mkdir "$LAMBDA_RESPONSE_FILE"', "a directory"),
])
def test_file_mode_reads_only_a_regular_response_file(start_runtime, task, make, kind):
    name = _program(task, "trick.sh", "#!/bin/sh\n%s\n" % make)
    runtime = start_runtime(name, task_root=str(task), BOOTSTRAP_SDK_EXEC_MODE="file", **FAST)
    for _ in range(2):  # refused at once (a FIFO would block, /dev/zero never end), then served again
        error = runtime.invoke(b"{}").json()
        assert error["errorType"] == "Executable.InvalidOutputFile"
        assert kind in error["errorMessage"] and "LAMBDA_RESPONSE_FILE=" in error["errorMessage"]


def test_file_mode_stops_reading_at_the_limit_whatever_the_file_claims(start_runtime, task):
    name = _program(task, "huge.sh", "#!/bin/sh\ntruncate -s 7M \"$LAMBDA_RESPONSE_FILE\"\n")
    runtime = start_runtime(name, task_root=str(task), BOOTSTRAP_SDK_EXEC_MODE="file", **FAST)
    error = runtime.invoke(b"{}").json()
    assert error["errorType"] == "Executable.ResponseTooLarge"


def test_a_program_that_swaps_its_directory_for_a_symlink_cannot_get_anything_emptied(start_runtime, task,
                                                                                         tmp_path):
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "ledger.dat").write_text("keep me")
    (precious / "sub").mkdir()
    (precious / "sub" / "more").write_text("me too")
    for path in (precious, precious / "sub", precious / "ledger.dat", precious / "sub" / "more"):
        os.chown(path, *UNPRIVILEGED)  # the runtime's own user: it could empty them, if it followed the link
    name = _program(task, "swap.sh", "#!/bin/sh\nmv \"$LAMBDA_INVOKE_DIR\" \"$LAMBDA_INVOKE_DIR.moved\"\n"
                    "ln -s %s \"$LAMBDA_INVOKE_DIR\"\nrm -rf \"$LAMBDA_INVOKE_DIR.moved\"\necho swapped\n" % precious)
    runtime = start_runtime(name, task_root=str(task), **FAST)
    assert runtime.invoke(b"{}").body == b"swapped\n"
    assert runtime.invoke(b"{}").body == b"swapped\n"  # by now the janitor has dealt with the first
    time.sleep(0.2)  # and with the second
    assert (precious / "ledger.dat").read_text() == "keep me"
    assert (precious / "sub" / "more").read_text() == "me too"


def test_directories_left_by_a_runtime_killed_mid_invoke_are_removed_at_init(start_runtime, task, tmp_path):
    workdir_root = tmp_path / "workdirs"
    workdir_root.mkdir()
    os.chown(workdir_root, *UNPRIVILEGED)
    name = _program(task, "slow.sh", "#!/bin/sh\nmkdir -p \"$LAMBDA_INVOKE_DIR/ro/deeper\"\n"
                    "echo data > \"$LAMBDA_INVOKE_DIR/ro/deeper/f\"\nchmod 500 \"$LAMBDA_INVOKE_DIR/ro/deeper\" "
                    "\"$LAMBDA_INVOKE_DIR/ro\"\necho started > %s/started\nsleep 30\n" % tmp_path)
    first = start_runtime(name, task_root=str(task), BOOTSTRAP_SDK_EXEC_WORKDIR=str(workdir_root), **FAST)
    thread = threading.Thread(target=_swallow, args=(first.rie.invoker(),), daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not (tmp_path / "started").exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    left = os.listdir(workdir_root)
    assert len(left) == 1
    # The runtime dies mid-invoke, with no chance to clean up (an out-of-memory kill, a reset).
    os.kill(runtime_pid(first), signal.SIGKILL)
    for pid in _processes_with("slow.sh"):  # its program, orphaned now, and the program's sleep
        os.killpg(pid, signal.SIGKILL)
    first.stop()
    assert os.listdir(workdir_root) == left, "what the killed runtime was using is still there"
    second = start_runtime("/bin/echo served", task_root=str(task), BOOTSTRAP_SDK_EXEC_WORKDIR=str(workdir_root),
                           **FAST)
    assert second.invoke(b"{}").body == b"served\n"
    assert not os.path.lexists(workdir_root / left[0]), "removed at init, read-only directories and all"
    assert "that a runtime killed mid-invoke left" in second.log()


def _swallow(invoker: object) -> None:
    try:
        invoker.invoke(b"{}")  # type: ignore[attr-defined]
    except Exception:
        pass  # the runtime it waits on is killed: no answer is expected


def test_an_executable_named_like_a_python_file_is_run_as_a_program(start_runtime, task):
    name = _program(task, "report.py", "#!/bin/sh\necho 'a report, by a program'\n")
    runtime = start_runtime(name, task_root=str(task), **FAST)
    assert runtime.invoke(b"{}").body == b"a report, by a program\n"


COPYBOOK = """       01  REC.
           05  R-NAME    PIC X(5).
           05  R-AMOUNT  PIC 9(3)V99.
"""


@pytest.fixture
def records_task(task: Path) -> Path:
    (task / "REC.cpy").write_text(COPYBOOK)
    (task / "REC.cpy").chmod(0o644)
    return task


def _records_runtime(start_runtime, task: Path, program: str, **env: str):
    name = _program(task, "records.sh", "#!/bin/sh\n" + program + "\n")
    return start_runtime(name, task_root=str(task), BOOTSTRAP_SDK_EXEC_INPUT_COPYBOOK="REC.cpy",
                         BOOTSTRAP_SDK_EXEC_OUTPUT_COPYBOOK="REC.cpy", **FAST, **env)


def test_a_program_that_writes_no_record_for_one_is_invalid_output(start_runtime, records_task):
    runtime = _records_runtime(start_runtime, records_task, "cat > /dev/null")
    error = runtime.invoke(b'{"name": "ADA", "amount": 1.5}').json()
    assert error["errorType"] == "Copybook.InvalidOutput"
    assert "wrote no record" in error["errorMessage"]


def test_a_one_for_one_batch_that_loses_a_record_is_invalid_output(start_runtime, records_task):
    runtime = _records_runtime(start_runtime, records_task, "head -n 2", BOOTSTRAP_SDK_EXEC_RECORDS="one-for-one")
    batch = b'[{"name": "A", "amount": 1}, {"name": "B", "amount": 2}, {"name": "C", "amount": 3}]'
    error = runtime.invoke(batch).json()
    assert error["errorType"] == "Copybook.InvalidOutput"
    assert "3 records in, 2 out" in error["errorMessage"]
    assert runtime.invoke(batch[:-1] + b', {"name": "D", "amount": 4}]').json()["errorType"] == \
        "Copybook.InvalidOutput", "served again, and checked again"


def test_a_lying_output_record_is_refused_naming_its_field(start_runtime, records_task):
    # "12  " in PIC 9(3)V99 used to read as 120.00 (spaces taken for zeros).
    runtime = _records_runtime(start_runtime, records_task, "cat > /dev/null; printf 'ADA  12   \\n'")
    error = runtime.invoke(b'{"name": "ADA", "amount": 1.5}').json()
    assert error["errorType"] == "Copybook.InvalidOutput"
    assert "amount" in error["errorMessage"]
    lenient = _records_runtime(start_runtime, records_task, "cat > /dev/null; printf 'ADA       \\n'",
                               BOOTSTRAP_SDK_EXEC_BLANK_NUMBERS="zero")
    assert lenient.invoke(b'{"name": "ADA", "amount": 1.5}').json() == {"name": "ADA", "amount": 0}


def test_a_hostile_number_is_refused_naming_its_field(start_runtime, records_task):
    runtime = _records_runtime(start_runtime, records_task, "cat")
    for number in (b"1e999999999", b"1e-999999999", b"1e999990", b"9" * 5000):
        error = runtime.invoke(b'{"name": "ADA", "amount": ' + number + b'}').json()
        assert error["errorType"] == "Copybook.InvalidEvent", number[:20]
        assert "amount" in error["errorMessage"]
    assert runtime.invoke(b'{"name": "ADA", "amount": 1.5}').json() == {"name": "ADA", "amount": 1.5}
