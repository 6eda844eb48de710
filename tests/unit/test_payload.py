"""payload: events in, responses out, as the managed runtime encodes them."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bootstrap_sdk.errors import FunctionError
from bootstrap_sdk.payload import encode_result


def test_encode_result_follows_the_managed_runtime():
    assert encode_result(b"\x00raw") == (b"\x00raw", "application/octet-stream")
    assert encode_result("ok") == (b'"ok"', "application/json")
    assert encode_result(None) == (b"null", "application/json")
    assert encode_result({"é": [1, 2.5, True]}) == (b'{"\\u00e9": [1, 2.5, true]}', "application/json")


def test_decimals_are_encoded_digit_for_digit():
    value = {"a": Decimal("0.10"), "b": [Decimal("-12345678901234567890.000000001"), {"c": Decimal("1E+3")}],
             Decimal("2"): "key", 3: None, "nan": Decimal("NaN"), "t": (True,)}
    body, _ = encode_result(value)
    assert body == (b'{"a": 0.10, "b": [-12345678901234567890.000000001, {"c": 1E+3}], "2": "key", '
                    b'"3": null, "nan": NaN, "t": [true]}')
    assert json.loads(body, parse_float=Decimal)["b"][0] == Decimal("-12345678901234567890.000000001")


@given(st.decimals(allow_nan=False, allow_infinity=False))
def test_any_finite_decimal_round_trips_exactly(value):
    body, _ = encode_result([value])
    assert json.loads(body, parse_float=Decimal, parse_int=Decimal) == [value]


def test_unserialisable_result_is_a_marshal_error():
    with pytest.raises(FunctionError) as caught:
        encode_result({"x": {1, 2}})
    assert caught.value.error_type == "Runtime.MarshalError"
