"""Property tests through the real RIE (fixed example budget: see conftest)."""

from __future__ import annotations

import json
import random
import re
from decimal import Decimal

from hypothesis import example, given, settings
from hypothesis import strategies as st

from harness import awslambdaric_bootstrap

RIE_EVENT_LIMIT = 6 * 1024 * 1024 + 100  # the RIE cuts events and responses beyond this
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=25,
)


def _sized_bytes(size: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(size)


@given(payload=st.binary(max_size=2048) | st.builds(_sized_bytes, st.integers(0, RIE_EVENT_LIMIT), st.integers()))
@example(payload=b"")
@example(payload=_sized_bytes(RIE_EVENT_LIMIT, 1))
@settings(max_examples=100)
def test_raw_echo_returns_any_payload_byte_for_byte(start_runtime, payload):
    runtime = _runtime(start_runtime, "echo.raw_echo")
    result = runtime.invoke(payload)
    assert result.status == 200
    assert result.body == payload


@given(value=json_values)
@example(value="")
@example(value="unicode: é ü 中文 🎉 \u2028")
@example(value={"big": "x" * (6 * 1024 * 1024 - 20)})
@settings(max_examples=150)
def test_json_echo_returns_the_same_value(start_runtime, value):
    runtime = _runtime(start_runtime, "echo.json_echo")
    result = runtime.invoke(json.dumps(value).encode())
    assert result.status == 200
    assert json.loads(result.body) == value


@given(name=st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,40}", fullmatch=True), message=st.text(max_size=300))
@example(name="E", message="")
@example(name="Überfehler", message="line one\nline two \"quoted\" \\ backslash")
@settings(max_examples=100)
def test_raised_exception_yields_exactly_the_expected_error(start_runtime, functions_dir, name, message):
    runtime = _runtime(start_runtime, "behaviours.raise_named")
    result = runtime.invoke(json.dumps({"type": name, "message": message}).encode())
    assert result.status == 200
    error = result.json()
    assert UUID.match(error.pop("requestId"))
    assert error == {
        "errorMessage": message,
        "errorType": name,
        "stackTrace": ['  File "%s", line 10, in raise_named\n    raise exc_type(event["message"])\n'
                       % (functions_dir / "behaviours.py")],
    }


@given(event=json_values)
@example(event={"name": "Zoë", "amount": 12.5, "items": [1, 2, 3]})
@example(event=-(2 ** 70))
@example(event="\u00e9\U0001f600")
@settings(max_examples=150)
def test_same_response_as_awslambdaric(start_runtime, runtime_root, event):
    ours = _runtime(start_runtime, "differential.handler")
    theirs = _runtime(start_runtime, "differential.handler",
                      bootstrap=awslambdaric_bootstrap(runtime_root))
    payload = json.dumps(event).encode()
    mine, reference = ours.invoke(payload), theirs.invoke(payload)
    assert (mine.status, mine.body) == (reference.status, reference.body)


_seen_request_ids: set = set()


@given(count=st.integers(1, 15))
@settings(max_examples=30)
def test_request_ids_are_unique_and_remaining_time_follows_the_timeout(start_runtime, count):
    runtime = _runtime(start_runtime, "ctx.handler", AWS_LAMBDA_FUNCTION_TIMEOUT="9")
    for _ in range(count):
        body = runtime.invoke(b"{}").json()
        request_id = body["aws_request_id"]
        assert UUID.match(request_id)
        assert request_id not in _seen_request_ids
        _seen_request_ids.add(request_id)
        # Measured inside the handler, just after the deadline was set to now + 9 s.
        assert 9000 - 2000 < body["remaining_ms"] <= 9000


def _runtime(start_runtime, handler, bootstrap=None, **env):
    """One RIE per (test function, handler, bootstrap kind), shared by its examples."""
    cache = start_runtime.__dict__.setdefault("cache", {})
    key = (handler, bootstrap is None)
    if key not in cache:
        cache[key] = start_runtime(handler, bootstrap=bootstrap, **env)
    return cache[key]


_record_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF, blacklist_characters="\x7f"),
                       max_size=8).map(lambda text: text.rstrip(" "))


def _scaled(digits: int, places: int, signed: bool) -> st.SearchStrategy[Decimal]:
    bound = 10 ** digits - 1
    return st.integers(-bound if signed else 0, bound).map(lambda n: Decimal(n).scaleb(-places))


records = st.fixed_dictionaries({
    "name": _record_text,
    "amount": _scaled(7, 2, False),
    "delta": _scaled(4, 1, True),
    "total": _scaled(9, 2, True),
    "count": st.integers(0, 9999).map(Decimal),
})


def _dumps(value: object) -> str:
    """JSON with Decimals written exactly as they are (json.dumps knows no Decimal)."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_dumps(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join("%s: %s" % (json.dumps(k), _dumps(v)) for k, v in value.items()) + "}"
    return json.dumps(value)


@given(batch=st.lists(records, min_size=1, max_size=6))
@example(batch=[{"name": "", "amount": Decimal("0.00"), "delta": Decimal("-0.1"), "total": Decimal("-9999999.99"),
                 "count": Decimal(9999)}])
@settings(max_examples=40)
def test_records_round_trip_through_a_program_exactly(start_runtime, batch):
    """decode(encode(x)) == x through the real RIE, a real program and the record files,
    numbers with their exact scale (1.50 stays 1.50)."""
    runtime = _runtime(start_runtime, "copy_records.sh", BOOTSTRAP_SDK_EXEC_MODE="file",
                       BOOTSTRAP_SDK_EXEC_INPUT_COPYBOOK="ROUNDTRIP.cpy",
                       BOOTSTRAP_SDK_EXEC_OUTPUT_COPYBOOK="ROUNDTRIP.cpy", BOOTSTRAP_SDK_EXEC_RECORDS="one-for-one")
    result = runtime.invoke(_dumps(batch).encode())
    assert result.status == 200
    answered = json.loads(result.body, parse_float=Decimal, parse_int=Decimal)
    assert answered == batch
    assert [str(r["amount"]) for r in answered] == [str(r["amount"]) for r in batch], "the scale too"


# -- mainframe records: EBCDIC, variable length, a REDEFINES chosen by a segment id -----------

MAINFRAME = dict(BOOTSTRAP_SDK_EXEC_MODE="file", BOOTSTRAP_SDK_EXEC_INPUT_COPYBOOK="ACCOUNTS.cpy",
                 BOOTSTRAP_SDK_EXEC_RECORD_ENCODING="cp037", BOOTSTRAP_SDK_EXEC_RECORD_FORMAT="variable",
                 BOOTSTRAP_SDK_EXEC_SELECT="KIND=P:PERSON,F:FIRM", BOOTSTRAP_SDK_EXEC_RECORDS="batch")
_ebcdic_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF, blacklist_characters="\x7f"),
                       max_size=10).map(lambda text: text.rstrip(" "))
_person = st.fixed_dictionaries({"person": st.fixed_dictionaries({
    "name": _ebcdic_text, "born": st.integers(0, 99999999).map(Decimal)})})
_firm = st.fixed_dictionaries({"firm": st.fixed_dictionaries({
    "firm_name": _ebcdic_text, "staff": _scaled(5, 0, True)})})


@st.composite
def accounts(draw: st.DrawFn) -> dict:
    body = draw(st.one_of(_person, _firm))
    moves = draw(st.lists(st.fixed_dictionaries({"amount": _scaled(7, 2, True), "code": _ebcdic_text.map(
        lambda text: text[:2].rstrip(" "))}), max_size=5))
    return {"kind": "P" if "person" in body else "F", "id": Decimal(draw(st.integers(0, 999999))), "body": body,
            "balance": draw(_scaled(11, 2, True)), "count": Decimal(len(moves)), "move": moves}


@given(batch=st.lists(accounts(), min_size=1, max_size=4))
@settings(max_examples=40)
def test_mainframe_records_round_trip_through_a_program_exactly(start_runtime, batch):
    """EBCDIC records, each behind its RDW, each table as long as its count: the program
    copies them and the response decodes to the event, view by view."""
    runtime = _runtime(start_runtime, "copy_records.sh", BOOTSTRAP_SDK_EXEC_OUTPUT_COPYBOOK="ACCOUNTS.cpy",
                       **MAINFRAME)
    result = runtime.invoke(_dumps(batch).encode())
    assert result.status == 200, result.body
    assert json.loads(result.body, parse_float=Decimal, parse_int=Decimal) == batch


def test_the_program_reads_the_records_as_a_mainframe_wrote_them(start_runtime):
    """Known answer, assembled by hand: cp037 text and zoned digits, packed and big-endian
    binary numbers, each record behind its RDW (length including itself)."""
    runtime = start_runtime("copy_records.sh", **MAINFRAME)  # no output copybook: the file's bytes come back
    event = [{"kind": "P", "id": 42, "body": {"person": {"name": "Ann", "born": 19800101}}, "balance": "-1.50",
              "count": 1, "move": [{"amount": "12.34", "code": "DB"}]},
             {"kind": "F", "id": 7, "body": {"firm": {"firm_name": "ACME", "staff": 120}}, "balance": 0,
              "count": 0, "move": []}]
    result = runtime.invoke(json.dumps(event).encode())
    assert result.status == 200, result.body
    first = ("d7" "f0f0f0f0f4f2" "c19595404040404040" "40" "f1f9f8f0f0f1f0f1" "00000000150d" "0001"
             "0001234c" "c4c2")
    second = ("c6" "f0f0f0f0f0f7" "c1c3d4c5" + "40" * 8 + "00120c" + "404040" + "00000000000c" "0000")
    assert result.body == b"".join((len(bytes.fromhex(r)) + 4).to_bytes(2, "big") + b"\0\0" + bytes.fromhex(r)
                                   for r in (first, second))
