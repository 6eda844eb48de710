"""call mode's pure-Python pieces: BOOTSTRAP_SDK_EXEC_USING/STATE, the call-mode checks of
misapplied_settings, CallParameters, _HANDLER → entry, find_host, and spawn's extra fds."""

from __future__ import annotations

import fcntl
import json
import os
import re
import select
from decimal import Decimal
from pathlib import Path

import pytest

from bootstrap_sdk.adapter import child_process, cobol_call
from bootstrap_sdk.adapter.cobol_call import HOST_NAME, entry_and_library_path, find_host
from bootstrap_sdk.adapter.executable import misapplied_settings
from bootstrap_sdk.copybook import CallParameters, Copybook, RecordError
from bootstrap_sdk.errors import MALFORMED_HANDLER_NAME, InitError
from bootstrap_sdk.settings import INVALID_EXECUTABLE_CONFIG, Settings

COPYBOOKS = Path(__file__).resolve().parents[2] / "examples" / "cobol" / "copybooks"
PAYIN = Copybook.load(str(COPYBOOKS / "PAYIN.cpy"))
PAYOUT = Copybook.load(str(COPYBOOKS / "PAYOUT.cpy"))
REQ_A = Copybook.parse("""\
       01  REQ-A.
           05  A-CODE          PIC X(3).
           05  A-QTY           PIC 9(2).
""")
REQ_B = Copybook.parse("""\
       01  REQ-B.
           05  B-FLAG          PIC X.
           05  B-AMT           PIC S9(3) COMP-3.
           05  B-COUNT         PIC 9(3) COMP-3.
""")
PROGRAM_SETTINGS = ("BOOTSTRAP_SDK_EXEC_ARGS", "BOOTSTRAP_SDK_EXEC_INPUT", "BOOTSTRAP_SDK_EXEC_OUTPUT",
                    "BOOTSTRAP_SDK_EXEC_INPUT_COPYBOOK", "BOOTSTRAP_SDK_EXEC_OUTPUT_COPYBOOK",
                    "BOOTSTRAP_SDK_EXEC_RECORDS")
# A PAYIN event and its record, laid out by hand from PAYIN.cpy.
PAYIN_EVENT = {"emp_id": "E00042", "emp_name": "ADA LOVELACE", "hourly_rate": "25.50", "tax_rate": "0.215",
               "adjustment": "12.34", "ytd_gross": "1234.56", "days_worked": 5,
               "hours": ["8.0", "7.5", "8", "0", "0", "0", "0"]}
PAYIN_RECORD = (b"E00042" + b"ADA LOVELACE" + b" " * 12 + b"02550" + b"215" + b"0001234"
                + bytes.fromhex("000123456C") + b"5" + b"080" + b"075" + b"080" + b"000" * 4)
# PAYOUT as INITIALIZE leaves it: X fields spaces, DISPLAY numbers zeros, COMP-3 zero with sign C.
PAYOUT_BLANK = (b" " * 6 + b" " * 2 + b"0000" + b"0000" + b"0" * 8 + bytes.fromhex("000000000C") + b"0" * 8
                + bytes.fromhex("00000000000C") + b"0000" + b" " * 30)
# A PAYOUT record as a program would leave it, and what it means.
PAYOUT_RECORD = (b"E00042" + b"OK" + b"0400" + b"0015" + b"00102000" + bytes.fromhex("000021930C") + b"00080070"
                 + bytes.fromhex("00000225456C") + b"0800" + b"PAID".ljust(30))
PAYOUT_VALUE = {"emp_id": "E00042", "status": "OK", "regular_hours": Decimal("40.0"),
                "overtime_hours": Decimal("1.5"), "gross_pay": Decimal("1020.00"), "tax": Decimal("219.30"),
                "net_pay": Decimal("800.70"), "ytd_gross": Decimal("2254.56"), "avg_daily_hours": Decimal("8.00"),
                "message": "PAID"}


def _exec(**environ: str):
    """ExecSettings and the problems recorded, as the runtime reads them from an environment."""
    settings = Settings(environ)
    return settings.executable, settings.problems


def _body(value: object) -> bytes:
    return json.dumps(value).encode()


# -- settings ----------------------------------------------------------------------------

def test_using_items_split_on_spaces_and_commas_with_directions_normalised_in_order():
    """USING keeps every item's order; in/out/inout take any case and in-out means inout."""
    exe, problems = _exec(BOOTSTRAP_SDK_EXEC_USING=" IN:a.cpy, Out:dir/b.cpy,in-out:c.cpy\tINOUT:d.cpy  OUT:e.cpy")
    assert exe.using == [("in", "a.cpy"), ("out", "dir/b.cpy"), ("inout", "c.cpy"), ("inout", "d.cpy"),
                         ("out", "e.cpy")]
    assert problems == []


@pytest.mark.parametrize("bad", ["noColon.cpy", "in:", "input:x.cpy", ":x.cpy", "both:x.cpy"])
def test_a_malformed_using_item_is_a_problem_naming_it_and_is_left_out(bad):
    """Each malformed item is refused as InvalidExecutableConfig, by name; the good ones are kept."""
    exe, problems = _exec(BOOTSTRAP_SDK_EXEC_USING="in:a.cpy %s out:b.cpy" % bad)
    assert exe.using == [("in", "a.cpy"), ("out", "b.cpy")]
    assert len(problems) == 1
    error_type, message = problems[0]
    assert error_type == INVALID_EXECUTABLE_CONFIG
    assert "BOOTSTRAP_SDK_EXEC_USING" in message and repr(bad) in message


def test_every_malformed_using_item_is_reported_in_order():
    """Three bad items give three problems, in the order written."""
    _, problems = _exec(BOOTSTRAP_SDK_EXEC_USING="x in:ok.cpy input:y.cpy,out:")
    assert [error_type for error_type, _ in problems] == [INVALID_EXECUTABLE_CONFIG] * 3
    assert [bad in message for (_, message), bad in zip(problems, ["'x'", "'input:y.cpy'", "'out:'"])] == [True] * 3


@pytest.mark.parametrize("value, expected", [("", "fresh"), ("fresh", "fresh"), ("kept", "kept"),
                                             (" KEPT ", "kept")])
def test_state_fresh_or_kept(value, expected):
    """BOOTSTRAP_SDK_EXEC_STATE takes fresh (the default) or kept, in any case."""
    exe, problems = _exec(BOOTSTRAP_SDK_EXEC_STATE=value)
    assert exe.state == expected and problems == []


def test_a_bad_state_is_refused():
    """Any other STATE is an InvalidExecutableConfig problem naming the variable and the value."""
    exe, problems = _exec(BOOTSTRAP_SDK_EXEC_STATE="sticky")
    assert len(problems) == 1
    assert problems[0][0] == INVALID_EXECUTABLE_CONFIG
    assert "BOOTSTRAP_SDK_EXEC_STATE" in problems[0][1] and "sticky" in problems[0][1]
    assert exe.state == "fresh"


@pytest.mark.parametrize("value", ["call", "CALL", " Call "])
def test_exec_mode_call_is_accepted(value):
    """EXEC_MODE=call is a mode of its own, set explicitly."""
    exe, problems = _exec(BOOTSTRAP_SDK_EXEC_MODE=value)
    assert (exe.mode, exe.mode_set, problems) == ("call", True, [])


# -- misapplied_settings -----------------------------------------------------------------

def test_call_mode_with_using_and_its_own_settings_is_clean():
    """USING, STATE and the shared settings pass in call mode (and plain stdio passes too)."""
    exe, _ = _exec(BOOTSTRAP_SDK_EXEC_MODE="call", BOOTSTRAP_SDK_EXEC_USING="in:a.cpy out:b.cpy",
                   BOOTSTRAP_SDK_EXEC_STATE="kept", BOOTSTRAP_SDK_EXEC_BLANK_NUMBERS="zero",
                   BOOTSTRAP_SDK_EXEC_WORKDIR="/tmp/w", BOOTSTRAP_SDK_EXEC_MARGIN_MS="300",
                   BOOTSTRAP_SDK_EXEC_CREDENTIALS="0")
    assert misapplied_settings(exe, []) == []
    assert misapplied_settings(_exec(BOOTSTRAP_SDK_EXEC_MODE="stdio")[0], ["prog"]) == []


@pytest.mark.parametrize("names", [(name,) for name in PROGRAM_SETTINGS] + [PROGRAM_SETTINGS])
def test_call_mode_refuses_program_settings_each_named_in_one_message(names):
    """ARGS, INPUT, OUTPUT, both copybooks, RECORDS: refused in call mode, exactly those given named, at once."""
    environ = {name: "batch" if name.endswith("RECORDS") else "x" for name in names}
    exe, _ = _exec(BOOTSTRAP_SDK_EXEC_MODE="call", BOOTSTRAP_SDK_EXEC_USING="in:a.cpy", **environ)
    problems = misapplied_settings(exe, [])
    assert len(problems) == 1 and "call mode" in problems[0]
    assert set(re.findall(r"BOOTSTRAP_SDK_EXEC_[A-Z_]+", problems[0])) & set(PROGRAM_SETTINGS) == set(names)


@pytest.mark.parametrize("using", [None, "", "nonsense"])
def test_call_mode_without_using_is_refused(using):
    """Call mode with no (or no well-formed) USING parameter is a problem that names USING."""
    exe, _ = _exec(BOOTSTRAP_SDK_EXEC_MODE="call", **({} if using is None else {"BOOTSTRAP_SDK_EXEC_USING": using}))
    problems = misapplied_settings(exe, [])
    assert len(problems) == 1 and "BOOTSTRAP_SDK_EXEC_USING" in problems[0]


@pytest.mark.parametrize("mode", [None, "stdio", "file", "persistent"])
@pytest.mark.parametrize("names", [("BOOTSTRAP_SDK_EXEC_USING",), ("BOOTSTRAP_SDK_EXEC_STATE",),
                                   ("BOOTSTRAP_SDK_EXEC_USING", "BOOTSTRAP_SDK_EXEC_STATE")])
def test_call_settings_outside_call_mode_are_refused(mode, names):
    """USING or STATE in any other mode (the default stdio too) is refused, each named."""
    values = {"BOOTSTRAP_SDK_EXEC_USING": "in:a.cpy", "BOOTSTRAP_SDK_EXEC_STATE": "kept"}
    mode_setting = {} if mode is None else {"BOOTSTRAP_SDK_EXEC_MODE": mode}
    exe, _ = _exec(**mode_setting, **{name: values[name] for name in names})
    problems = misapplied_settings(exe, [])
    assert len(problems) == 1 and "BOOTSTRAP_SDK_EXEC_MODE=call" in problems[0]
    assert all(name in problems[0] for name in names)


# -- CallParameters ----------------------------------------------------------------------

def test_blank_is_spaces_zoned_zeros_and_packed_zero_with_its_sign_nibble():
    """Copybook.blank: X → spaces, 9 → '0's, S9 COMP-3 → ...0C, unsigned COMP-3 → ...0F."""
    assert (PAYIN.record_length, len(PAYIN_RECORD), PAYOUT.record_length, len(PAYOUT_RECORD)) == (72, 72, 77, 77)
    assert PAYOUT.blank() == PAYOUT_BLANK
    assert REQ_B.blank() == b" " + bytes.fromhex("000C") + bytes.fromhex("000F")


def test_one_in_one_out_encodes_the_event_then_the_out_records_blank():
    """One input: the event is its object, the out record follows blank; the response is the out object."""
    params = CallParameters([("in", PAYIN), ("out", PAYOUT)])
    assert params.sizes == [72, 77]
    assert params.encode_event(_body(PAYIN_EVENT)) == PAYIN_RECORD + PAYOUT_BLANK
    assert params.decode_outputs(PAYIN_RECORD + PAYOUT_RECORD) == PAYOUT_VALUE


def test_decode_outputs_refuses_data_of_the_wrong_length():
    """Parameters one byte short or long are a RecordError on 'output' giving both sizes."""
    params = CallParameters([("in", PAYIN), ("out", PAYOUT)])
    for data in (PAYIN_RECORD + PAYOUT_RECORD[:-1], PAYIN_RECORD + PAYOUT_RECORD + b" "):
        with pytest.raises(RecordError) as caught:
            params.decode_outputs(data)
        assert caught.value.field == "output"
        assert str(len(data)) in caught.value.message and "149" in caught.value.message


ONE_IN = CallParameters([("in", PAYIN), ("out", PAYOUT)])
TWO_IN = CallParameters([("in", REQ_A), ("in", REQ_B)])
GOOD_A, GOOD_B = {"code": "AB", "qty": 3}, {"flag": "Y", "amt": 1, "count": 0}


@pytest.mark.parametrize("params, body, field, words", [
    pytest.param(ONE_IN, b"[1, 2]", "event", ["PAY-IN"], id="one-in-list"),
    pytest.param(ONE_IN, b'"E00042"', "event", ["PAY-IN"], id="one-in-text"),
    pytest.param(ONE_IN, _body(dict(PAYIN_EVENT, emp_id="E0000042")), "emp_id", ["too many"], id="one-in-field"),
    pytest.param(CallParameters([("in", REQ_A)]), b'{"code": "AB", "qty": 3, "code": "ZZ"}', "code", ["twice"],
                 id="one-in-key-twice"),
    pytest.param(TWO_IN, b"[]", "event", ["req_a", "req_b"], id="two-in-list"),
    pytest.param(TWO_IN, _body({"req_a": GOOD_A}), "req_b", ["missing"], id="two-in-missing"),
    pytest.param(TWO_IN, _body({"req_a": GOOD_A, "req_b": GOOD_B, "pay_in": {}}), "event",
                 ["pay_in", "req_a", "req_b"], id="two-in-unknown"),
    pytest.param(TWO_IN, _body({"req_a": GOOD_A, "req_b": dict(GOOD_B, amt=1000)}), "req_b.amt", ["fit"],
                 id="two-in-field"),
    pytest.param(TWO_IN, _body({"req_a": {"code": "AB", "qty": 3, "qty ": 4}, "req_b": GOOD_B}), "req_a",
                 ["qty "], id="two-in-unknown-field"),
])
def test_event_errors_name_the_record_member_or_field(params, body, field, words):
    """A bad event is a RecordError on 'event', the missing member, or the field's path (member first)."""
    with pytest.raises(RecordError) as caught:
        params.encode_event(body)
    assert caught.value.field == field
    assert [word for word in words if word not in caught.value.message] == []


def test_several_inputs_a_member_given_twice_is_refused():
    """A member given twice at the top of the event is refused, as a field given twice is."""
    body = (b'{"req_a": {"code": "AB", "qty": 3}, "req_b": {"flag": "Y", "amt": 1, "count": 0},'
            b' "req_a": {"code": "ZZ", "qty": 9}}')
    with pytest.raises(RecordError) as caught:
        TWO_IN.encode_event(body)
    assert caught.value.field == "req_a" and "given twice" in caught.value.message


def test_inout_is_encoded_from_the_event_and_decoded_back():
    """An inout parameter is both the event's record and the response's."""
    params = CallParameters([("inout", REQ_A)])
    assert params.encode_event(_body({"code": "XY", "qty": 42})) == b"XY 42"
    assert params.decode_outputs(b"ZZZ07") == {"code": "ZZZ", "qty": Decimal(7)}


def test_inout_beside_an_in_is_a_member_of_the_event_and_the_whole_response():
    """in + inout: two event members, one output (so an unkeyed response)."""
    params = CallParameters([("in", REQ_B), ("inout", REQ_A)])
    event = {"req_b": {"flag": "N", "amt": 5, "count": 100}, "req_a": {"code": "Q", "qty": 1}}
    record_b = b"N" + bytes.fromhex("005C") + bytes.fromhex("100F")
    assert params.encode_event(_body(event)) == record_b + b"Q  01"
    assert params.decode_outputs(record_b + b"R  99") == {"code": "R", "qty": Decimal(99)}


def test_several_outputs_are_keyed_by_their_01_names():
    """Two outputs come back as an object with a member per output record."""
    params = CallParameters([("out", REQ_A), ("out", REQ_B)])
    assert params.encode_event(b"ignored: nothing is read") == b" " * 3 + b"00" + REQ_B.blank()
    data = b"ABC12" + b"Y" + bytes.fromhex("123D") + bytes.fromhex("045F")
    assert params.decode_outputs(data) == {"req_a": {"code": "ABC", "qty": Decimal(12)},
                                           "req_b": {"flag": "Y", "amt": Decimal(-123), "count": Decimal(45)}}


def test_several_outputs_a_bad_field_is_named_with_its_member():
    """A corrupt packed field in the second output is named req_b.amt."""
    params = CallParameters([("out", REQ_A), ("out", REQ_B)])
    with pytest.raises(RecordError) as caught:
        params.decode_outputs(b"ABC12" + b"Y" + bytes.fromhex("1A2C") + bytes.fromhex("045F"))
    assert caught.value.field == "req_b.amt"


def test_no_outputs_means_a_null_response():
    """With only inputs, decode_outputs gives None."""
    params = CallParameters([("in", REQ_A)])
    assert params.outputs == []
    assert params.decode_outputs(b"AB 03") is None


def test_name_clashes():
    """Two inputs (or outputs) with one 01 name clash; an input and an output do not."""
    assert CallParameters([("in", REQ_A), ("in", REQ_A)]).name_clashes() == ["req_a"]
    assert CallParameters([("inout", REQ_A), ("in", REQ_A)]).name_clashes() == ["req_a"]
    assert CallParameters([("out", REQ_B), ("inout", REQ_B), ("in", REQ_A)]).name_clashes() == ["req_b"]
    assert CallParameters([("in", REQ_A), ("out", REQ_A), ("in", REQ_B)]).name_clashes() == []


def test_an_unknown_direction_is_refused():
    """CallParameters takes only in, out and inout."""
    with pytest.raises(ValueError):
        CallParameters([("input", REQ_A)])


# -- entry_and_library_path --------------------------------------------------------------

def test_an_entry_name_is_found_on_the_task_root_then_the_given_path():
    """PAYCALC: the task root first, then the path's other directories, once each."""
    entry, path = entry_and_library_path("PAYCALC", "/var/task", "/opt/lib:/var/task::/usr/lib/cob")
    assert entry == "PAYCALC"
    assert path.split(os.pathsep) == ["/var/task", "/opt/lib", "/usr/lib/cob"]
    assert entry_and_library_path("PAYCALC", "/var/task", "") == ("PAYCALC", "/var/task")


def test_a_module_path_names_its_stem_and_puts_its_directory_first(tmp_path):
    """lib/PAYCALC.so: entry PAYCALC, its directory first; a module not there is CobolEntryNotFound."""
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "PAYCALC.so").write_bytes(b"\x7fELF")
    entry, path = entry_and_library_path("lib/PAYCALC.so", str(tmp_path), "/opt/lib")
    assert entry == "PAYCALC"
    assert path.split(os.pathsep) == [str(tmp_path / "lib"), "/opt/lib"]
    with pytest.raises(InitError) as caught:
        entry_and_library_path("lib/PAYROLL.so", str(tmp_path), "")
    assert caught.value.error_type == "Runtime.CobolEntryNotFound"
    assert str(tmp_path / "lib" / "PAYROLL.so") in caught.value.message


@pytest.mark.parametrize("handler", ["PAY CALC", "", "   ", "-X", "_X", "A" * 32, "a;b", "PAY.CALC", "PAYÇ"])
def test_a_malformed_entry_name_is_refused(handler):
    """Spaces, emptiness, a leading - or _, over 31 characters, punctuation: MalformedHandlerName."""
    with pytest.raises(InitError) as caught:
        entry_and_library_path(handler, "/var/task", "")
    assert caught.value.error_type == MALFORMED_HANDLER_NAME


@pytest.mark.parametrize("handler", ["A" * 31, "PAY-CALC_2", "paycalc"])
def test_well_formed_entry_names_are_taken_as_they_are(handler):
    """Up to 31 letters, digits, hyphens and underscores are an entry name."""
    assert entry_and_library_path(handler, "/var/task", "") == (handler, "/var/task")


# -- find_host ---------------------------------------------------------------------------

def _private_host() -> Path:
    """The layer's private bin: adapter/ → bootstrap_sdk/ (the package) → two levels above it."""
    return Path(os.path.abspath(cobol_call.__file__)).parents[3] / "bin" / HOST_NAME


@pytest.fixture
def no_private_host() -> None:
    """Skip when the checkout has a private host, which find_host returns before anything on PATH."""
    if os.path.exists(_private_host()):
        pytest.skip("%s exists in this checkout: find_host would return it before PATH" % _private_host())


def _host_file(directory: Path, mode: int) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / HOST_NAME
    path.write_text("#!/bin/sh\n")
    path.chmod(mode)
    return path


def test_find_host_finds_an_executable_on_path(tmp_path, no_private_host):
    """The first executable cobol-call-host on PATH is the host."""
    first = _host_file(tmp_path / "a", 0o755)
    _host_file(tmp_path / "b", 0o755)
    path = os.pathsep.join([str(tmp_path / "empty"), str(tmp_path / "a"), str(tmp_path / "b")])
    assert find_host(path) == str(first)


def test_find_host_skips_a_file_that_is_not_executable(tmp_path, no_private_host):
    """A non-executable (or directory) cobol-call-host is passed over for a later one."""
    _host_file(tmp_path / "plain", 0o644)
    (tmp_path / "dir" / HOST_NAME).mkdir(parents=True)
    good = _host_file(tmp_path / "good", 0o755)
    path = os.pathsep.join(str(tmp_path / d) for d in ("plain", "dir", "good"))
    assert find_host(path) == str(good)
    assert find_host(os.pathsep.join(str(tmp_path / d) for d in ("plain", "dir"))) is None


def test_find_host_is_none_when_absent(tmp_path, monkeypatch, no_private_host):
    """Nowhere on PATH (an empty entry is not the working directory): None."""
    _host_file(tmp_path, 0o755)
    monkeypatch.chdir(tmp_path)
    assert find_host("") is None
    assert find_host(os.pathsep + str(tmp_path / "nothing") + os.pathsep) is None


# -- spawn's extra fds -------------------------------------------------------------------

def _high(fd: int) -> int:
    """A close-on-exec copy of ``fd`` numbered 10 or more, clear of 0-4."""
    return fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)


def _place(fd: int, source: int):
    """Put ``source`` at ``fd``; what undoes it (restoring what was at ``fd``, if anything)."""
    try:
        saved, inheritable = _high(fd), os.get_inheritable(fd)
    except OSError:
        saved = None
    os.dup2(source, fd)

    def undo() -> None:
        if saved is None:
            os.close(fd)
        else:
            os.dup2(saved, fd, inheritable=inheritable)
            os.close(saved)
    return undo


@pytest.mark.parametrize("layout", ["swapped", "second_source_is_first_target"])
def test_spawn_extra_fds_reach_their_numbers_when_sources_collide_with_targets(layout):
    """extra=((fd_a, 3), (fd_b, 4)) with fd_a/fd_b at 4/3 (or fd_b == 3): A on pipe a, B on pipe b."""
    opened = os.open(os.devnull, os.O_RDWR)
    devnull = _high(opened)
    os.close(opened)
    undo = [_place(3, devnull), _place(4, devnull)]  # hold 3 and 4, so that no pipe lands there
    a_r, a_w = os.pipe()
    b_r, b_w = os.pipe()
    err_r, err_w = os.pipe()
    try:
        if layout == "swapped":  # a's write end at 4, b's at 3: each source is the other's target
            os.dup2(a_w, 4)
            os.dup2(b_w, 3)
            extra = ((4, 3), (3, 4))
        else:  # b's write end at 3, a's elsewhere: a's target is b's source
            os.dup2(b_w, 3)
            extra = ((a_w, 3), (3, 4))
        pid = child_process.spawn(["/bin/sh", "-c", "echo A >&3; echo B >&4"], {"PATH": "/usr/bin:/bin"}, None,
                                  devnull, devnull, err_w, extra=extra)
    finally:
        for step in reversed(undo):
            step()
        for fd in (a_w, b_w, err_w, devnull):
            os.close(fd)
    _, status = os.waitpid(pid, 0)
    received = []
    for fd in (a_r, b_r, err_r):
        chunks = []
        while select.select([fd], [], [], 5)[0]:
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            chunks.append(chunk)
        os.close(fd)
        received.append(b"".join(chunks))
    assert received == [b"A\n", b"B\n", b""]
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0


def test_a_layer_without_the_host_fails_init_saying_where_it_comes_from(tmp_path, no_private_host):
    """Call mode over a layer built --no-call-host (or none): Runtime.CallHostNotFound, and how to get it."""
    (tmp_path / "REC.cpy").write_text("       01  REC.\n           05  NAME PIC X(4).\n")
    environ = {"PATH": str(tmp_path), "_HANDLER": "PAYCALC", "BOOTSTRAP_SDK_EXEC_MODE": "call",
               "BOOTSTRAP_SDK_EXEC_USING": "inout:REC.cpy"}
    settings = Settings(environ)
    with pytest.raises(InitError) as caught:
        cobol_call.CallHandler(settings.handler, str(tmp_path), settings.executable, environ)
    assert caught.value.error_type == "Runtime.CallHostNotFound"
    assert "make-runtime-layer builds into every layer that bundles libcob" in str(caught.value)
