"""json_text against the json module itself: the same text, the same values, the same errors.

The runtime's events and responses go through json_text so that no cold start imports
json; these hold it to json's output byte for byte, and to its exceptions word for word.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any, Tuple

from hypothesis import given, settings
from hypothesis import strategies as st

from bootstrap_sdk import json_text

REPO = Path(__file__).resolve().parents[2]

# A noisy 2-core machine: a fixed budget, the same examples every run, no deadline, no database.
BUDGET = settings(max_examples=300, deadline=None, derandomize=True, database=None)

scalars = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True)
           | st.text(st.characters(codec=None)))
keys = st.text() | st.integers() | st.floats(allow_nan=False) | st.booleans() | st.none()
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=5) | st.tuples(inner, inner)
                      | st.dictionaries(keys, inner, max_size=5), max_leaves=30)


def outcome(call: Any, *args: Any, **options: Any) -> Tuple[str, Any]:
    try:
        return "value", call(*args, **options)
    except Exception as exc:  # the very exception json raises, compared by type and words
        return type(exc).__name__, str(exc)


def same(a: Tuple[str, Any], b: Tuple[str, Any]) -> bool:
    if a[0] != b[0]:
        return False
    return json.dumps(a[1]) == json.dumps(b[1]) if a[0] == "value" else a[1] == b[1]


@BUDGET
@given(values, st.booleans())
def test_dumps_writes_what_json_writes(value, ensure_ascii):
    assert outcome(json_text.dumps, value, ensure_ascii=ensure_ascii) == \
        outcome(json.dumps, value, ensure_ascii=ensure_ascii)
    assert json_text.dumps(value, check_circular=False) == json.dumps(value)


@BUDGET
@given(values)
def test_loads_reads_what_json_reads(value):
    for text in (json.dumps(value), json.dumps(value, ensure_ascii=False, separators=(",", ":")),
                 " \n\t%s\r\n" % json.dumps(value)):
        for data in (text, text.encode("utf-8", "surrogatepass")):
            assert same(outcome(json_text.loads, data), outcome(json.loads, data))


@BUDGET
@given(st.binary(max_size=40) | st.text(max_size=40).map(lambda text: text.encode("utf-8", "surrogatepass")))
def test_any_bytes_give_json_s_value_or_json_s_error(data):
    assert same(outcome(json_text.loads, data), outcome(json.loads, data))


def test_the_inputs_json_treats_specially():
    cases = [b"", b" ", b"{", b"1 2", b"[1]x", b"\xff", b"\xef\xbb\xbf{}", "\ufeff{}", b"\x00\x00\x001",
             b'"\x00"', b"[" * 100000, b"NaN", b"-Infinity", b"1e400", b"-0", b'{"a":1,"a":2}', b'"\xed\xa0\x80"',
             "\"é\"".encode("utf-16"), "[1]".encode("utf-32-le"), b"12", b"1"]
    for data in cases:
        assert same(outcome(json_text.loads, data), outcome(json.loads, data)), data
    assert math.isnan(json_text.loads(b"NaN"))


def test_errors_read_as_json_s_in_a_process_that_never_imported_json():
    """The runtime's case: _json's scanner builds its errors from json.decoder, absent there."""
    code = ("import sys; sys.path[:0] = [%r]; from bootstrap_sdk import json_text\n"
            "assert 'json' not in sys.modules\n"
            "for data in (b'{not json', b'[1,', b'\"\\\\x\"', b'', b'1 2'):\n"
            "    try: json_text.loads(data)\n"
            "    except Exception as exc: print(type(exc).__name__, exc)\n" % str(REPO))
    done = subprocess.run([sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True, check=True)
    expected = []
    for data in (b"{not json", b"[1,", b'"\\x"', b"", b"1 2"):
        kind, message = outcome(json.loads, data)
        expected.append("%s %s" % (kind, message))
    assert done.stdout.splitlines() == expected


def test_a_cycle_is_named_as_json_names_it():
    cycle: list = []
    cycle.append(cycle)
    assert outcome(json_text.dumps, cycle) == ("ValueError", "Circular reference detected")
    assert outcome(json_text.dumps, cycle, check_circular=False)[0] == "RecursionError"


def test_options_reach_the_encoder():
    value = {"é": [1.5, None, True, {"k": "€"}]}
    assert json_text.dumps(value, separators=(",", ":"), ensure_ascii=False) == \
        json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    assert json_text.dumps({"x": object()}, default=repr).startswith('{"x": "<object object')
    assert outcome(json_text.dumps, object()) == outcome(json.dumps, object())
