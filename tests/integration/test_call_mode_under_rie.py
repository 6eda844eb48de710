"""Call mode under the real RIE: COBOL subprograms CALLed in the warm host, the runtime
unprivileged over code it cannot write, as on Lambda.

The host is compiled here by the packaging code that make-runtime-layer uses, into the
test layer's private bin (where the runtime looks first); the subprograms are compiled
with ``cobc -m -debug`` from tests/integration/call_programs and examples/cobol/src.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from decimal import Decimal
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from bootstrap_sdk.packaging.call_host import HOST_NAME, build_host
from harness import multi_concurrency_wrapper, overlapping_invokes, runtime_pid

HERE = Path(__file__).parent
CALL_PROGRAMS = HERE / "call_programs"
EXAMPLE = HERE.parents[1] / "examples" / "cobol"
ACTIONS_USING = "in:ACTREQ.cpy out:ACTOUT.cpy"


@pytest.fixture(scope="session")
def call_host(runtime_root: Path, rie_binary: str) -> Path:
    """cobol-call-host in the test layer's private bin, as make-runtime-layer places it."""
    target = runtime_root / "bin" / HOST_NAME
    build_host(target)
    target.chmod(0o755)
    return target


@pytest.fixture(scope="session")
def call_root(runtime_root: Path, call_host: Path) -> Path:
    """The function code: the subprograms as modules (cobc -m), their copybooks beside them."""
    if shutil.which("cobc") is None:
        pytest.fail("cobc (GnuCOBOL) is missing: scripts/setup.sh installs Debian's gnucobol3")
    root = runtime_root / "call-task"
    root.mkdir(mode=0o755)
    for source in CALL_PROGRAMS.glob("*.cpy"):
        shutil.copy(source, root / source.name)
    for source in (EXAMPLE / "copybooks").glob("*.cpy"):
        shutil.copy(source, root / source.name)
    sources = sorted(CALL_PROGRAMS.glob("*.cob")) + [EXAMPLE / "src" / "PAYCALC.cob", EXAMPLE / "src" / "PAYROLL.cob"]
    for source in sources:
        subprocess.run(["cobc", "-m", "-debug", "-I", str(source.parent), "-I", str(EXAMPLE / "copybooks"), "-o",
                        str(root / (source.stem + ".so")), str(source)], check=True, cwd=str(root))
    for path in root.iterdir():
        path.chmod(0o644)
    shutil.copy(runtime_root / "functions" / "bootstrap", root / "bootstrap")  # /var/task/bootstrap, for the
    (root / "bootstrap").chmod(0o755)  # RIE's multi-concurrency mode, which looks only there and in /opt
    return root


@pytest.fixture
def actions(start_runtime, call_root: Path):
    return start_runtime("ACTIONS", task_root=str(call_root), BOOTSTRAP_SDK_EXEC_MODE="call",
                         BOOTSTRAP_SDK_EXEC_USING=ACTIONS_USING, AWS_LAMBDA_FUNCTION_TIMEOUT="3",
                         BOOTSTRAP_SDK_EXEC_MARGIN_MS="1000")


def act(runtime: Any, action: str, amount: str = "0") -> Dict[str, Any]:
    return runtime.invoke(('{"action": "%s", "amount": %s}' % (action, amount)).encode()).json()


def host_pids(runtime: Any) -> List[int]:
    """The runtime's children that are the host (there is one while it lives)."""
    parent = runtime_pid(runtime)
    found = []
    for task in os.listdir("/proc/%d/task" % parent):
        for pid in Path("/proc/%d/task/%s/children" % (parent, task)).read_text().split():
            if HOST_NAME.encode() in Path("/proc/%s/cmdline" % pid).read_bytes():
                found.append(int(pid))
    return found


def served_after(runtime: Any) -> None:
    """The invoke after a failure is served, by a live host."""
    assert act(runtime, "DOUBLE", "21.25")["doubled"] == 42.5
    assert len(host_pids(runtime)) == 1


# -- the happy path -------------------------------------------------------------------------

def test_records_go_in_and_come_back_through_the_linkage_section(actions):
    """A COMP-3 amount in, COMP-3 and binary fields out, through one warm host."""
    first = act(actions, "DOUBLE", "-123.45")
    assert first == {"result": "DOUBLE", "doubled": -246.9, "request_id": "", "counted": 0}
    pid = host_pids(actions)
    second = act(actions, "DOUBLE", "99999.99")
    assert second["doubled"] == 199999.98
    assert host_pids(actions) == pid, "the same host served both invokes"


def test_each_invoke_sees_its_own_request_id_and_working_directory(actions):
    """LAMBDA_REQUEST_ID is set per invoke in the host's environment."""
    ids = [act(actions, "ENV")["request_id"] for _ in range(2)]
    assert ids[0] != ids[1] and all(len(i) == 36 and i.count("-") == 4 for i in ids)
    assert all(i in actions.log() for i in ids), "the ids are the invokes' own, as logged"
    spawned = act(actions, "SPAWN")
    assert spawned["request_id"].startswith("/tmp/invoke-"), "the subprogram ran in the invoke's directory"


def test_an_invoke_starts_from_the_hosts_first_environment(actions):
    """What one invoke's subprogram SET ENVIRONMENT is gone for the next, as in a new process."""
    assert act(actions, "SETENV")["result"] == "SETENV"
    assert act(actions, "GETENV")["request_id"] == ""
    assert act(actions, "ENV")["request_id"], "the invoke's own variables are still set"


def _resident_kib(pid: int) -> int:
    for line in Path("/proc/%d/status" % pid).read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS for %d" % pid)


def test_neither_the_host_nor_the_runtime_grows_with_invokes(start_runtime, call_root):
    """Each invoke brings its own request id, deadline and trace id: a host that kept them
    (as glibc's setenv keeps every value it was given) would grow ~300 bytes an invoke and
    end in an out-of-memory kill after a few hundred thousand."""
    runtime = start_runtime("COUNTER", task_root=str(call_root), BOOTSTRAP_SDK_EXEC_MODE="call",
                            BOOTSTRAP_SDK_EXEC_USING="inout:COUNTER.cpy")
    invoker = runtime.rie.invoker()
    for _ in range(1000):
        invoker.invoke(b'{"calls": 0}')
    (host,) = host_pids(runtime)
    parent = runtime_pid(runtime)
    before = {pid: _resident_kib(pid) for pid in (host, parent)}
    for _ in range(6000):
        assert invoker.invoke(b'{"calls": 0}').body == b'{"calls": 1}'
    assert host_pids(runtime) == [host]
    grew = {pid: _resident_kib(pid) - kib for pid, kib in before.items()}
    assert grew[host] < 512, "the host grew by %d KiB over 6,000 invokes" % grew[host]
    assert grew[parent] < 1024, "the runtime grew by %d KiB over 6,000 invokes" % grew[parent]


def test_what_the_subprogram_starts_does_not_outlive_the_invoke(actions):
    """CALL 'SYSTEM' leaving a background sleep: it is ended before the response."""
    act(actions, "DOUBLE")
    before = set(host_pids(actions))
    act(actions, "SPAWN")
    runtime = runtime_pid(actions)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        sleeps = [pid for pid in os.listdir("/proc") if pid.isdigit() and _is_sleep_30(pid)]
        if not sleeps:
            break
        time.sleep(0.02)
    assert not sleeps, "the subprogram's background sleep survived the invoke"
    assert set(host_pids(actions)) == before, "the host itself lives on"
    assert runtime


def test_what_the_subprogram_starts_gets_none_of_the_hosts_pipes(actions):
    """A shell started by CALL 'SYSTEM' has no fd 3 or 4: it can neither forge a reply
    nor hold the protocol's pipes open."""
    assert act(actions, "FDS")["counted"] == 0
    served_after(actions)


def _is_sleep_30(pid: str) -> bool:
    try:
        return Path("/proc/%s/cmdline" % pid).read_bytes() == b"sleep\x0030\x00"
    except OSError:
        return False


def test_display_goes_to_the_log_not_the_response(actions):
    """stdout is the program's chatter: logged with the request id, never mixed into records."""
    result = actions.invoke(b'{"action": "SHOUT", "amount": 0}')
    assert result.json()["result"] == "SHOUT"
    assert "ACTIONS: A LINE ON STDOUT" in actions.log()


def test_return_code_is_the_invokes_error_with_this_invokes_stderr(actions):
    """RETURN-CODE 4 → Executable.ReturnCode4, the message ending with what it said."""
    act(actions, "SHOUT")
    error = act(actions, "RC")
    assert error["errorType"] == "Executable.ReturnCode4"
    assert error["errorMessage"] == "ACTIONS returned RETURN-CODE 4; stderr ends:\nACTIONS: LEDGER CLOSED"
    served_after(actions)


def test_an_invalid_event_names_the_field_and_calls_nothing(actions):
    """The codec refuses before the CALL."""
    error = actions.invoke(b'{"action": "DOUBLE", "amount": "lots"}').json()
    assert error["errorType"] == "Copybook.InvalidEvent" and "amount" in error["errorMessage"]
    error = actions.invoke(b'[1, 2]').json()
    assert error["errorType"] == "Copybook.InvalidEvent" and "ACT-REQ" in error["errorMessage"]


# -- state ------------------------------------------------------------------------------------

@pytest.mark.parametrize("state, expected", [("fresh", [1, 1, 1]), ("kept", [1, 2, 3])])
def test_working_storage_is_fresh_by_default_and_kept_on_request(start_runtime, call_root, state, expected):
    """CANCEL after each CALL gives a new process's WORKING-STORAGE; kept keeps it."""
    env = {"BOOTSTRAP_SDK_EXEC_STATE": state} if state == "kept" else {}
    runtime = start_runtime("COUNTER", task_root=str(call_root), BOOTSTRAP_SDK_EXEC_MODE="call",
                            BOOTSTRAP_SDK_EXEC_USING="inout:COUNTER.cpy", **env)
    assert [runtime.invoke(b'{"calls": 0}').json()["calls"] for _ in range(3)] == expected


# -- crashes: each its errorType, the next invoke a fresh host -----------------------------------

def test_sigsegv_fails_that_invoke_and_a_fresh_host_serves_the_next(actions):
    act(actions, "DOUBLE")
    before = host_pids(actions)
    error = act(actions, "SEGV")
    assert error["errorType"] == "Executable.SIGSEGV"
    assert error["errorMessage"].startswith("ACTIONS crashed inside the CALL: its host was killed by SIGSEGV")
    assert "ACTIONS: ABOUT TO CRASH" in error["errorMessage"]
    served_after(actions)
    assert host_pids(actions) != before


def test_a_libcob_runtime_error_is_named(actions):
    error = act(actions, "SUBSCR")
    assert error["errorType"] == "Executable.CobolRuntimeError"
    assert "subscript of 'WS-ITEM' out of bounds: 7" in error["errorMessage"]
    served_after(actions)


def test_a_call_to_a_missing_program_is_a_runtime_error(actions):
    error = act(actions, "MISSING")
    assert error["errorType"] == "Executable.CobolRuntimeError"
    assert "module 'NOSUCHPROG' not found" in error["errorMessage"]
    served_after(actions)


def test_stop_run_inside_the_subprogram_is_named(actions):
    error = act(actions, "STOPRUN")
    assert error["errorType"] == "Executable.StopRun"
    assert "exited with code 12" in error["errorMessage"] and "GOBACK" in error["errorMessage"]
    assert "ACTIONS: STOPPING THE RUN" in error["errorMessage"]
    served_after(actions)


def test_a_hang_is_stopped_before_the_deadline(actions):
    error = act(actions, "HANG")
    assert error["errorType"] == "Executable.Timeout", "the adapter answered, not the RIE"
    assert "ACTIONS: HANGING" in error["errorMessage"]
    served_after(actions)
    assert "Task timed out" not in actions.log()


def test_a_linkage_record_longer_than_its_copybook_is_caught_at_its_first_byte(start_runtime, call_root):
    """OVERRUN's record is 4,008 bytes, SMALL.cpy says 8: byte 9 is past the guard."""
    runtime = start_runtime("OVERRUN", task_root=str(call_root), BOOTSTRAP_SDK_EXEC_MODE="call",
                            BOOTSTRAP_SDK_EXEC_USING="inout:SMALL.cpy")
    error = runtime.invoke(b'{"tag": "A"}').json()
    assert error["errorType"] == "Executable.ParameterOverrun"
    assert "touched byte 9 of USING parameter 1 (inout:SMALL.cpy, 8 bytes)" in error["errorMessage"]


def test_sigterm_ends_the_host(actions):
    act(actions, "DOUBLE")
    host = host_pids(actions)[0]
    actions.stop()
    deadline = time.monotonic() + 5
    while os.path.exists("/proc/%d" % host) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not os.path.exists("/proc/%d" % host)


def test_multi_concurrency_gives_each_worker_its_own_host(start_runtime, call_root):
    """Three overlapping invokes, three workers, three hosts: a host serves one CALL at a time."""
    runtime = start_runtime("ACTIONS", wrapper=multi_concurrency_wrapper(call_root), task_root="/var/task",
                            BOOTSTRAP_SDK_EXEC_MODE="call", BOOTSTRAP_SDK_EXEC_USING=ACTIONS_USING,
                            AWS_LAMBDA_MAX_CONCURRENCY="3")
    results = overlapping_invokes(runtime, b'{"action": "SLOWPID", "amount": 0}', 3)
    assert len(results) == 3 and all(r.get("result") == "SLOWPID" for r in results), results
    pids = {r["request_id"] for r in results}
    assert len(pids) == 3, "each overlapping invoke was CALLed in a host of its own: %s" % pids
    for pid in pids:
        assert HOST_NAME.encode() in Path("/proc/%d/cmdline" % int(pid)).read_bytes()


# -- bad configuration fails init --------------------------------------------------------------

@pytest.mark.parametrize("handler, env, error_type, message", [
    ("NOSUCH", {"BOOTSTRAP_SDK_EXEC_USING": ACTIONS_USING}, "Runtime.CobolEntryNotFound",
     "module 'NOSUCH' not found"),
    ("lib/NOSUCH.so", {"BOOTSTRAP_SDK_EXEC_USING": ACTIONS_USING}, "Runtime.CobolEntryNotFound", "NOSUCH.so not found"),
    ("ACTIONS", {"BOOTSTRAP_SDK_EXEC_USING": "input:ACTREQ.cpy"}, "Runtime.InvalidExecutableConfig",
     "the direction one of in, out, inout"),
    ("ACTIONS", {}, "Runtime.InvalidExecutableConfig", "call mode needs BOOTSTRAP_SDK_EXEC_USING"),
    ("ACTIONS", {"BOOTSTRAP_SDK_EXEC_USING": "in:NOPE.cpy"}, "Runtime.InvalidExecutableConfig", "NOPE.cpy"),
    ("ACTIONS", {"BOOTSTRAP_SDK_EXEC_USING": ACTIONS_USING, "BOOTSTRAP_SDK_EXEC_ARGS": "-x"},
     "Runtime.InvalidExecutableConfig", "BOOTSTRAP_SDK_EXEC_ARGS applies to a program, not to call mode"),
    ("PAY CALC", {"BOOTSTRAP_SDK_EXEC_USING": ACTIONS_USING}, "Runtime.MalformedHandlerName",
     "does not name a COBOL entry"),
])
def test_bad_call_configuration_is_an_init_error(start_runtime, call_root, handler, env, error_type, message):
    result = start_runtime(handler, task_root=str(call_root), BOOTSTRAP_SDK_EXEC_MODE="call", **env).invoke(b"{}")
    assert result.status == 502
    assert result.json()["errorType"] == error_type
    assert message in result.json()["errorMessage"]


@pytest.mark.parametrize("absolute", [False, True])
def test_a_module_path_names_the_entry(start_runtime, call_root, absolute):
    """_HANDLER as the module's path (relative to the task root, or absolute): the entry is its stem."""
    handler = str(call_root / "COUNTER.so") if absolute else "COUNTER.so"
    runtime = start_runtime(handler, task_root=str(call_root), BOOTSTRAP_SDK_EXEC_MODE="call",
                            BOOTSTRAP_SDK_EXEC_USING="inout:COUNTER.cpy")
    assert runtime.invoke(b'{"calls": 0}').json() == {"calls": 1}


# -- the differential: PAYCALC in call mode answers as PAYROLL in stdio mode ------------------------

@pytest.fixture
def payroll_pair(start_runtime, call_root) -> Iterator[Dict[str, Any]]:
    cobcrun = shutil.which("cobcrun")
    assert cobcrun, "cobcrun (GnuCOBOL) is missing"
    stdio = start_runtime(cobcrun, task_root=str(call_root), BOOTSTRAP_SDK_EXEC_MODE="stdio",
                          BOOTSTRAP_SDK_EXEC_ARGS="-M %s/ PAYROLL" % call_root,
                          BOOTSTRAP_SDK_EXEC_INPUT_COPYBOOK="PAYREQ.cpy", BOOTSTRAP_SDK_EXEC_OUTPUT_COPYBOOK="PAYOUT.cpy")
    call = start_runtime("PAYCALC", task_root=str(call_root), BOOTSTRAP_SDK_EXEC_MODE="call",
                         BOOTSTRAP_SDK_EXEC_USING="in:PAYIN.cpy out:PAYOUT.cpy")
    yield {"stdio": stdio, "call": call}


def cents(low: int, high: int, places: int = 2) -> st.SearchStrategy[Decimal]:
    return st.integers(low, high).map(lambda n: Decimal(n).scaleb(-places))


def weeks(blank_ids: bool, lowest_rate: int, adjustments: "tuple[int, int]", days: "tuple[int, int]", tenths: int):
    """Weeks the copybooks can carry, within the bounds given."""
    return st.fixed_dictionaries({
        "emp_id": st.text("ABCDE0123456789" + (" " if blank_ids else ""), min_size=0 if blank_ids else 1,
                          max_size=6),
        "emp_name": st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ .'-", max_size=24),
        "hourly_rate": cents(lowest_rate, 99999),
        "tax_rate": cents(0, 999, 3),
        "adjustment": cents(*adjustments),
        "ytd_gross": cents(0, 999999999),
        "days_worked": st.integers(*days),
        "hours": st.lists(cents(0, tenths, 1), max_size=7),
    })


paid_weeks = weeks(False, 1, (-99999, 999999), (1, 7), 240)  # what PAYROLL pays: most of the examples
any_weeks = weeks(True, 0, (-9999999, 9999999), (0, 9), 300)  # anything the copybooks carry: rejections and abends too


def _body(week: Dict[str, Any]) -> bytes:
    parts = []
    for key, value in week.items():
        if isinstance(value, list):
            parts.append('"%s": [%s]' % (key, ", ".join(str(v) for v in value)))
        elif isinstance(value, str):
            parts.append('"%s": %s' % (key, json.dumps(value)))
        else:
            parts.append('"%s": %s' % (key, value))
    return ("{" + ", ".join(parts) + "}").encode()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(week=st.one_of(paid_weeks, any_weeks))
@example(week={"emp_id": "E00017", "emp_name": "ADA LOVELACE", "hourly_rate": Decimal("31.40"),
               "tax_rate": Decimal("0.185"), "adjustment": Decimal(0), "ytd_gross": Decimal("40112.80"),
               "days_worked": 5, "hours": [Decimal("8.0"), Decimal("8.0"), Decimal("7.5"), Decimal("8.0")]})
@example(week={"emp_id": "E00123", "emp_name": "ALAN TURING", "hourly_rate": Decimal("27.00"),
               "tax_rate": Decimal("0.200"), "adjustment": Decimal(0), "ytd_gross": Decimal("1000.00"),
               "days_worked": 0, "hours": [Decimal("8.0")]})
def test_paycalc_in_call_mode_answers_as_payroll_in_stdio_mode(payroll_pair, week):
    """The same week through both: the same JSON when PAYROLL pays; when PAYROLL rejects
    (RETURN-CODE 8, the reason on stderr), PAYCALC returns that status and message in
    PAY-OUT; when PAYROLL abends (16), PAYCALC returns RETURN-CODE 16 with the same words."""
    body = _body(week)
    stdio = payroll_pair["stdio"].invoke(body)
    call = payroll_pair["call"].invoke(body)
    stdio_answer, call_answer = stdio.json(), call.json()
    event(stdio_answer.get("errorType", "paid"))
    if "errorType" not in stdio_answer:
        assert call.body == stdio.body
        return
    if stdio_answer["errorType"] == "Executable.ExitCode8":
        status, message = call_answer["status"], call_answer["message"]
        assert status != "OK"
        assert ("REJECTED %s %s" % (status, message)) in stdio_answer["errorMessage"]
        return
    if stdio_answer["errorType"] == "Executable.ExitCode16":
        assert call_answer["errorType"] == "Executable.ReturnCode16"
        assert stdio_answer["errorMessage"].split("stderr ends:\n")[1] == \
            call_answer["errorMessage"].split("stderr ends:\n")[1]
        return
    # An event the codec refuses is refused the same way by both (PAYREQ and PAYIN share their fields).
    assert stdio_answer["errorType"] == call_answer["errorType"] == "Copybook.InvalidEvent", (stdio_answer, call_answer)
    assert stdio_answer["errorMessage"] == call_answer["errorMessage"]
