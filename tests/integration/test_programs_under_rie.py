"""The executable adapter under the real RIE, with real programs: shell, C and COBOL."""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import time
from pathlib import Path
from typing import Dict, List

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from harness import multi_concurrency_wrapper, overlapping_invokes, runtime_pid

PROGRAMS = Path(__file__).parent / "programs"
LIMIT = 6 * 1024 * 1024 + 100


@pytest.fixture(scope="session")
def bin_dir(functions_dir: Path) -> Path:
    """The test programs in the function code's bin/, C and COBOL compiled here and now."""
    target = functions_dir / "bin"
    target.mkdir(exist_ok=True)
    for source in PROGRAMS.iterdir():
        if source.suffix in (".sh", ".py"):
            shutil.copy2(source, target / source.name)
        elif source.suffix == ".c":
            subprocess.run(["gcc", "-O2", "-Wall", "-o", str(target / source.stem), str(source)], check=True)
        elif source.suffix == ".cob":
            if shutil.which("cobc") is None:
                pytest.fail("cobc (GnuCOBOL) is missing: scripts/setup.sh installs Debian's gnucobol3")
            subprocess.run(["cobc", "-x", "-o", str(target / source.stem), str(source)], check=True,
                           cwd=str(target))
    (target / "not_executable.sh").write_text("#!/bin/sh\necho never\n")
    (target / "not_executable.sh").chmod(0o644)
    for path in target.iterdir():
        if path.name != "not_executable.sh":
            path.chmod(0o755)
    return target


def _children(pid: int) -> List[int]:
    found: List[int] = []
    for task in os.listdir("/proc/%d/task" % pid):
        found += [int(p) for p in Path("/proc/%d/task/%s/children" % (pid, task)).read_text().split()]
    return found


def _alive(pid: int) -> bool:
    """True for a running process; a zombie (exited, not reaped) counts as alive too."""
    return os.path.exists("/proc/%d" % pid)


# -- stdio mode --------------------------------------------------------------------------

def test_stdio_mode_returns_stdout(start_runtime, bin_dir):
    runtime = start_runtime("bin/cat")
    assert runtime.invoke(b'{"a": 1}').body == b'{"a": 1}'
    assert runtime.invoke(b"").body == b""


def test_binary_output_is_returned_byte_for_byte(start_runtime, bin_dir):
    runtime = start_runtime("bin/binary.sh")
    assert runtime.invoke(b"{}").body == b"\x00\x01\x02\xff\xfe\n\r"


def test_program_gets_context_env_and_a_clean_workdir(start_runtime, bin_dir):
    runtime = start_runtime("bin/env.sh", AWS_ACCESS_KEY_ID="AKIAEXAMPLE", AWS_SECRET_ACCESS_KEY="secret",
                            AWS_SESSION_TOKEN="token", COB_FILE_PATH="/var/task/data")
    first = runtime.invoke(b"{}").body.decode().splitlines()
    workdir, env = first[0], dict(line.split("=", 1) for line in first[1:] if "=" in line)
    assert workdir == env["LAMBDA_INVOKE_DIR"] == env["TMPDIR"] and workdir.startswith("/tmp/invoke-")
    deadline = time.monotonic() + 5  # removed just after the response is posted
    while os.path.exists(workdir) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not os.path.exists(workdir), "the per-invoke directory is removed afterwards"
    assert len(env["LAMBDA_REQUEST_ID"]) == 36
    assert env["LAMBDA_FUNCTION_ARN"].endswith(":function:under-test")
    deadline, remaining = int(env["LAMBDA_DEADLINE_MS"]), int(env["LAMBDA_REMAINING_MS"])
    assert 0 < remaining <= 300000 and deadline > time.time() * 1000
    assert env["AWS_ACCESS_KEY_ID"] == "AKIAEXAMPLE" and env["AWS_SESSION_TOKEN"] == "token"
    assert env["COB_FILE_PATH"] == "/var/task/data" and env["AWS_LAMBDA_FUNCTION_NAME"] == "under-test"
    assert "AWS_LAMBDA_RUNTIME_API" not in env and "_HANDLER" not in env
    second = runtime.invoke(b"{}").body.decode().splitlines()
    assert second[0] != workdir


def test_each_invoke_starts_in_an_empty_directory_and_litter_is_removed(start_runtime, bin_dir):
    runtime = start_runtime("bin/litter.sh")
    assert runtime.invoke(b"{}").body == b""
    assert runtime.invoke(b"{}").body == b"", "the second invoke's directory is empty too"
    prefix = "invoke-%d." % runtime_pid(runtime)

    def littered() -> List[str]:
        found = []
        for name in os.listdir("/tmp"):
            try:
                if name.startswith(prefix) and os.listdir(os.path.join("/tmp", name)):
                    found.append(name)
            except FileNotFoundError:  # removed while we looked
                pass
        return found

    deadline = time.monotonic() + 5  # the janitor removes it just after the response is posted
    while littered() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not littered(), "no littered directory is left"


def test_credentials_can_be_withheld(start_runtime, bin_dir):
    runtime = start_runtime("bin/env.sh", AWS_ACCESS_KEY_ID="AKIAEXAMPLE", AWS_SECRET_ACCESS_KEY="secret",
                            BOOTSTRAP_SDK_EXEC_CREDENTIALS="0")
    lines = runtime.invoke(b"{}").body.decode().splitlines()
    assert not [line for line in lines if line.startswith(("AWS_ACCESS_KEY_ID=", "AWS_SECRET_ACCESS_KEY="))]


def test_arguments_are_split_without_a_shell(start_runtime, bin_dir, tmp_path):
    marker = tmp_path / "should-not-exist"
    # Were this ever given to a shell, the ; would run touch.
    runtime = start_runtime("bin/upper_args.sh '%s' '; touch %s'" % ("x y", marker),
                            BOOTSTRAP_SDK_EXEC_MODE="stdio")
    error = runtime.invoke(b"{}").json()
    assert error["errorType"] == "Executable.ExitCode2"  # tr could not open "x y"
    assert not marker.exists()


def test_non_zero_exit_is_an_error_naming_the_code_with_the_stderr_tail(start_runtime, bin_dir):
    runtime = start_runtime("bin/exit3.sh")
    error = runtime.invoke(b"{}").json()
    assert error["errorType"] == "Executable.ExitCode3"
    assert error["errorMessage"] == ("exit3.sh exited with code 3; stderr ends:\n"
                                     "reading ledger\nledger corrupt at record 7")
    log = runtime.log()
    assert "\t%s\treading ledger" % error["requestId"] in log, "stderr reaches the log with the request id"


def test_death_by_signal_names_the_signal(start_runtime, bin_dir):
    runtime = start_runtime("bin/segv.sh")
    error = runtime.invoke(b"{}").json()
    assert error["errorType"] == "Executable.SIGSEGV"
    assert "killed by SIGSEGV" in error["errorMessage"] and "about to crash" in error["errorMessage"]


def test_output_over_6_mb_is_an_error_before_anything_is_posted(start_runtime, bin_dir):
    runtime = start_runtime("bin/big.sh")
    error = runtime.invoke(b"{}").json()
    assert error["errorType"] == "Executable.ResponseTooLarge"
    assert "more than %d bytes" % LIMIT in error["errorMessage"]
    assert "over the Runtime API's limit" not in runtime.log(), "nothing oversized reached the Runtime API"


def test_stderr_is_logged_line_by_line_while_the_program_runs(start_runtime, bin_dir):
    runtime = start_runtime("bin/stderr_stream.sh")
    assert runtime.invoke(b"{}").body == b"done\n"
    lines = [line for line in runtime.log().splitlines() if "step " in line]
    assert len(lines) == 2 and lines[0].endswith("step 1 of 2") and lines[1].endswith("step 2 of 2")
    stamps = [line.split("\t")[1] for line in lines]
    assert stamps[0] < stamps[1], "each line was logged when written, not at the end"


def test_hanging_program_is_killed_before_the_deadline_and_the_next_invoke_is_served(start_runtime, bin_dir):
    runtime = start_runtime("bin/hang.sh", AWS_LAMBDA_FUNCTION_TIMEOUT="3", BOOTSTRAP_SDK_EXEC_MARGIN_MS="1000")
    result = runtime.invoke(b"{}")
    error = result.json()
    assert error["errorType"] == "Executable.Timeout", "the adapter answered, not the RIE's timeout"
    assert "stopped 1000 ms before the invoke's deadline" in error["errorMessage"]
    assert "started, now hanging" in error["errorMessage"]
    pid = runtime_pid(runtime)
    assert _children(pid) == [], "the hung program and its sleep are gone"
    assert "Task timed out" not in runtime.log()


def test_no_orphan_or_zombie_survives_an_invoke(start_runtime, bin_dir):
    runtime = start_runtime("bin/orphan.sh")
    pids = runtime.invoke(b"{}").json()
    for pid in pids.values():
        deadline = time.monotonic() + 5
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not _alive(pid), "pid %d (%s) survived the invoke" % (pid, pids)
    assert _children(runtime_pid(runtime)) == []


# -- file mode ---------------------------------------------------------------------------

def test_file_mode_through_env_vars(start_runtime, bin_dir):
    runtime = start_runtime("bin/upper_file.sh", BOOTSTRAP_SDK_EXEC_MODE="file")
    assert runtime.invoke(b'{"name": "ada"}').body == b'{"NAME": "ADA"}'
    assert "stdout is logged in file mode" in runtime.log()


def test_file_mode_through_arguments(start_runtime, bin_dir):
    runtime = start_runtime("bin/upper_args.sh {input} {output}", BOOTSTRAP_SDK_EXEC_MODE="file")
    assert runtime.invoke(b"grace hopper").body == b"GRACE HOPPER"


def test_file_mode_without_output_is_an_error(start_runtime, bin_dir):
    runtime = start_runtime("bin/no_output.sh", BOOTSTRAP_SDK_EXEC_MODE="file")
    error = runtime.invoke(b"{}").json()
    assert error["errorType"] == "Executable.NoOutput"
    assert "LAMBDA_RESPONSE_FILE=/tmp/invoke-" in error["errorMessage"]


# -- COBOL -------------------------------------------------------------------------------

def test_cobol_stdio_program(start_runtime, bin_dir):
    runtime = start_runtime("bin/greet")
    assert runtime.invoke(b"GRACE\n").body == b"HELLO, GRACE!\n"
    error = runtime.invoke(b"\n").json()
    assert error["errorType"] == "Executable.ExitCode4"
    assert "GREET: no name given" in error["errorMessage"]
    assert runtime.invoke(b"ADA\n").body == b"HELLO, ADA!\n"


def test_cobol_file_mode_program_with_assign_names(start_runtime, bin_dir):
    runtime = start_runtime("bin/greetf", BOOTSTRAP_SDK_EXEC_MODE="file",
                            BOOTSTRAP_SDK_EXEC_INPUT="EVENTIN", BOOTSTRAP_SDK_EXEC_OUTPUT="EVENTOUT")
    assert runtime.invoke(b"ADA").body.rstrip() == b"HELLO, ADA!"


# -- persistent mode ---------------------------------------------------------------------

def test_persistent_mode_serves_many_invokes_from_one_process(start_runtime, bin_dir):
    runtime = start_runtime("bin/persistent.py", BOOTSTRAP_SDK_EXEC_MODE="persistent")
    first = runtime.invoke(b'{"n": 1}').json()
    second = runtime.invoke(b'{"n": 2}').json()
    assert first["echo"] == {"n": 1} and second["echo"] == {"n": 2}
    assert first["pid"] == second["pid"]
    assert first["workdir_exists"] and first["has_deadline"]


def test_persistent_mode_binary_errors_and_chatter(start_runtime, bin_dir):
    runtime = start_runtime("bin/persistent.py", BOOTSTRAP_SDK_EXEC_MODE="persistent")
    assert runtime.invoke(b'{"binary": 256}').body == bytes(range(256))
    error = runtime.invoke(b'{"error": "account 42 is closed"}').json()
    assert (error["errorType"], error["errorMessage"]) == ("Ledger.Closed", "account 42 is closed")
    assert runtime.invoke(b'{"chatter": true, "n": 3}').json()["echo"]["n"] == 3
    assert "not a reply, just chatter" in runtime.log()
    assert runtime.invoke(b"not json at all").json()["echo"] == {}


def test_persistent_crash_fails_the_invoke_in_flight_and_restarts(start_runtime, bin_dir):
    runtime = start_runtime("bin/persistent.py", BOOTSTRAP_SDK_EXEC_MODE="persistent")
    before = runtime.invoke(b"{}").json()["pid"]
    error = runtime.invoke(b'{"crash": true}').json()
    assert error["errorType"] == "Executable.ExitCode7"
    assert "crashing as asked" in error["errorMessage"] and "restarted" in error["errorMessage"]
    after = runtime.invoke(b"{}").json()["pid"]
    assert after != before
    assert not _alive(before)


def test_persistent_timeout_kills_and_restarts(start_runtime, bin_dir):
    runtime = start_runtime("bin/persistent.py", BOOTSTRAP_SDK_EXEC_MODE="persistent",
                            AWS_LAMBDA_FUNCTION_TIMEOUT="2", BOOTSTRAP_SDK_EXEC_MARGIN_MS="700")
    before = runtime.invoke(b"{}").json()["pid"]
    error = runtime.invoke(b'{"sleep": 30}').json()
    assert error["errorType"] == "Executable.Timeout"
    assert runtime.invoke(b"{}").json()["pid"] != before
    assert not _alive(before)


def test_persistent_program_that_cannot_start_is_an_init_error(start_runtime, bin_dir):
    runtime = start_runtime("bin/not_executable.sh", BOOTSTRAP_SDK_EXEC_MODE="persistent")
    result = runtime.invoke(b"{}")
    assert result.status == 502
    assert result.json()["errorType"] == "Runtime.ExecutableNotExecutable"


# -- init errors and shutdown --------------------------------------------------------------

@pytest.mark.parametrize("handler, env, error_type, message", [
    ("bin/not_executable.sh", {}, "Runtime.ExecutableNotExecutable", "is not executable (mode 644)"),
    ("bin/missing", {"BOOTSTRAP_SDK_EXEC_MODE": "stdio"}, "Runtime.ExecutableNotFound", "Program 'bin/missing' not found"),
    ("bin/cat 'unbalanced", {}, "Runtime.MalformedHandlerName", "No closing quotation"),
    ("bin/cat", {"BOOTSTRAP_SDK_EXEC_MODE": "batch"}, "Runtime.InvalidExecutableMode", "expected one of stdio, file, persistent"),
    ("bin/cat", {"BOOTSTRAP_SDK_EXEC_MARGIN_MS": "soon"}, "Runtime.InvalidExecutableConfig", "not a number"),
])
def test_bad_executable_handler_is_an_init_error(start_runtime, bin_dir, handler, env, error_type, message):
    result = start_runtime(handler, **env).invoke(b"{}")
    assert result.status == 502
    assert result.json()["errorType"] == error_type
    assert message in result.json()["errorMessage"]


def test_sigterm_terminates_a_program_in_flight(start_runtime, bin_dir, tmp_path):
    import threading

    pidfile = tmp_path / "hang.pid"
    runtime = start_runtime("bin/hang.sh", HANG_PIDFILE=str(pidfile))
    invoker = runtime.rie.invoker()
    threading.Thread(target=lambda: _ignore_errors(invoker.invoke, b"{}"), daemon=True).start()
    deadline = time.monotonic() + 10
    while not pidfile.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    program = int(pidfile.read_text())
    assert _alive(program)
    runtime.stop()
    assert not _alive(program)
    assert "SIGTERM received" in runtime.log()


def _ignore_errors(call, *args):
    try:
        call(*args)
    except Exception:
        pass


def test_sigterm_terminates_running_programs(start_runtime, bin_dir):
    runtime = start_runtime("bin/persistent.py", BOOTSTRAP_SDK_EXEC_MODE="persistent")
    program = runtime.invoke(b"{}").json()["pid"]
    runtime_process = runtime_pid(runtime)
    runtime.stop()
    assert not _alive(program) and not _alive(runtime_process)
    assert "SIGTERM received" in runtime.log()


# -- soak and properties -------------------------------------------------------------------

def _open_files(pid: int) -> List[str]:
    targets = []
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            targets.append("%s -> %s" % (fd, os.readlink("/proc/%d/fd/%s" % (pid, fd))))
        except FileNotFoundError:  # closed while we looked
            pass
    return sorted(targets)


def _resources(pid: int) -> Dict[str, object]:
    """The runtime's open files, children and RSS once it is idle between invokes.

    The response reaches the test before the runtime's janitor thread has finished removing
    the invoke's directory (it holds a directory fd for a moment), so wait until three
    readings 20 ms apart agree. A real leak stays and still shows.
    """
    readings: List[List[str]] = []
    for _ in range(100):
        readings = (readings + [_open_files(pid)])[-3:]
        if len(readings) == 3 and readings[0] == readings[1] == readings[2]:
            break
        time.sleep(0.02)
    status = Path("/proc/%d/status" % pid).read_text()
    rss = int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:")))
    return {"fds": readings[-1], "children": len(_children(pid)), "rss_kb": rss}


@pytest.mark.parametrize("handler, mode", [("bin/cat", "stdio"), ("bin/echo_persistent", "persistent")])
def test_soak_1000_invokes_without_growth(start_runtime, bin_dir, handler, mode):
    runtime = start_runtime(handler, BOOTSTRAP_SDK_EXEC_MODE=mode)
    payload = json.dumps({"record": "x" * 500}).encode()
    for _ in range(100):
        assert runtime.invoke(payload).body == payload
    pid = runtime_pid(runtime)
    before = _resources(pid)
    for _ in range(1000):
        assert runtime.invoke(payload).body == payload
    after = _resources(pid)
    assert after["fds"] == before["fds"], (before, after)
    assert after["children"] == before["children"], (before, after)
    assert int(after["rss_kb"]) - int(before["rss_kb"]) < 1024, (before, after)


@given(payload=st.binary(max_size=4096) | st.builds(lambda n, s: random.Random(s).randbytes(n),
                                                     st.integers(0, LIMIT), st.integers()))
@example(payload=b"")
@example(payload=bytes(range(256)) * 4)
@example(payload=random.Random(3).randbytes(LIMIT))
@settings(max_examples=60)
def test_cat_behind_the_adapter_returns_any_payload_byte_for_byte(start_runtime, bin_dir, payload):
    cache = start_runtime.__dict__.setdefault("cache", {})
    if "cat" not in cache:
        cache["cat"] = start_runtime("bin/cat")
    result = cache["cat"].invoke(payload)
    assert result.status == 200
    assert result.body == payload


def test_errors_reach_the_caller_as_json(start_runtime, bin_dir):
    """Adapter errors carry the managed runtime's shape and no Python stack of the SDK."""
    error = start_runtime("bin/exit3.sh").invoke(b"{}").json()
    assert set(error) == {"errorMessage", "errorType", "requestId", "stackTrace"}
    assert not any("bootstrap_sdk" in line for line in error["stackTrace"])


@pytest.mark.skipif(os.geteuid() != 0, reason="the RIE's multi-concurrency mode needs root")
def test_multi_concurrency_gives_each_worker_its_own_persistent_program(start_runtime, functions_dir, bin_dir):
    runtime = start_runtime("bin/persistent.py", wrapper=multi_concurrency_wrapper(functions_dir), task_root="/var/task",
                            BOOTSTRAP_SDK_EXEC_MODE="persistent", AWS_LAMBDA_MAX_CONCURRENCY="3")
    results = overlapping_invokes(runtime, b'{"sleep": 1}', 3)
    assert len(results) == 3 and all("pid" in r for r in results), results  # type: ignore[operator]
    # Three invokes that overlapped in time were served by three workers, each with its program.
    assert len({r["pid"] for r in results}) == 3  # type: ignore[index]
