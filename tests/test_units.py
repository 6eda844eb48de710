"""The runtime's pure pieces, where a whole RIE round trip would hide the detail."""

from __future__ import annotations

import io
import json
import socket
import threading
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bootstrap_sdk.errors import ErrorReport, FunctionError, InitError, header_error_type
from bootstrap_sdk.python_handler import split_handler
from bootstrap_sdk.http_connection import ConnectionLost, HttpConnection, split_address
from bootstrap_sdk.logs import LogSink, set_request_id
from bootstrap_sdk.payload import encode_result
from bootstrap_sdk.runtime_api import Backoff


@pytest.mark.parametrize("handler, expected", [
    ("app.handler", ("app", "handler")),
    ("pkg.sub.mod.fn", ("pkg.sub.mod", "fn")),
    ("dir/mod.fn", ("dir.mod", "fn")),
    (" app.handler ", ("app", "handler")),
])
def test_split_handler_accepts(handler, expected):
    assert split_handler(handler) == expected


@pytest.mark.parametrize("handler", ["", "app", "app.", ".fn", "a..fn", "a b.fn", "app.fn()", "1app.fn", "app.fn;rm -rf /"])
def test_split_handler_rejects_with_a_clear_error(handler):
    with pytest.raises(InitError) as caught:
        split_handler(handler)
    assert caught.value.error_type == "Runtime.MalformedHandlerName"
    assert repr(handler) in caught.value.message


@pytest.mark.parametrize("error_type, header", [
    ("ValueError", "Function.ValueError"),
    ("Runtime.ImportModuleError", "Runtime.ImportModuleError"),
    ("Bad\r\nInjected: yes", "Function.Bad__Injected__yes"),
    ("", "Function.Unknown"),
    ("Ünïcode", "Function._n_code"),
])
def test_header_error_type_is_safe_for_a_header(error_type, header):
    assert header_error_type(error_type) == header


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


def test_exception_whose_str_raises_still_reports():
    class Nasty(Exception):
        def __str__(self):
            raise RuntimeError("no")

    report = ErrorReport.from_exception(Nasty())
    assert report.error_type == "Nasty"
    assert "str() raised RuntimeError" in report.message


def test_xray_cause_is_left_out_when_too_large():
    assert ErrorReport("E", "m" * 70000).xray_cause() is None
    assert json.loads(ErrorReport("E", "short").xray_cause())["exceptions"][0]["message"] == "short"


def test_text_log_lines_each_carry_the_request_id():
    out = io.StringIO()
    sink = LogSink("Text", "", out)
    set_request_id("req-1")
    try:
        sink.log(30, "first\nsecond")
    finally:
        set_request_id(None)
    lines = out.getvalue().splitlines()
    assert [line.split("\t")[0] for line in lines] == ["[WARN]", "[WARN]"]
    assert [line.split("\t")[2] for line in lines] == ["req-1", "req-1"]
    assert [line.split("\t")[3] for line in lines] == ["first", "second"]


def test_json_log_and_level_filter():
    out = io.StringIO()
    sink = LogSink("JSON", "ERROR", out)
    sink.log(30, "dropped")
    sink.log(40, "kept", extra={"k": 1})
    (line,) = out.getvalue().splitlines()
    record = json.loads(line)
    assert record["level"] == "ERROR" and record["message"] == "kept" and record["k"] == 1
    assert record["timestamp"].endswith("Z") and record["requestId"] == ""


def test_backoff_is_bounded():
    delays = Backoff(10).delays()
    assert len(delays) == 9 and delays[0] == 0.01 and max(delays) == 1.0
    assert Backoff(0).delays() == []


@pytest.mark.parametrize("address, expected", [("127.0.0.1:9001", ("127.0.0.1", 9001)),
                                               ("[::1]:80", ("::1", 80)), ("localhost:1", ("localhost", 1))])
def test_split_address(address, expected):
    assert split_address(address) == expected


@pytest.mark.parametrize("address", ["", "9001", "host:", ":80", "host:port"])
def test_split_address_rejects(address):
    with pytest.raises(ValueError):
        split_address(address)


def _serve_once(answer: bytes) -> int:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)

    def serve() -> None:
        conn, _ = server.accept()
        conn.recv(65536)
        conn.sendall(answer)
        conn.close()
        server.close()

    threading.Thread(target=serve, daemon=True).start()
    return server.getsockname()[1]


def test_chunked_response_with_trailers_is_decoded():
    port = _serve_once(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                       b"3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nX-Trailer: t\r\n\r\n")
    response = HttpConnection("127.0.0.1:%d" % port).request("GET", "/")
    assert (response.status, response.body) == (200, b"abcde")


def test_body_without_framing_runs_to_the_end_of_the_connection():
    port = _serve_once(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nall of it")
    assert HttpConnection("127.0.0.1:%d" % port).request("GET", "/").body == b"all of it"


def test_truncated_response_is_a_lost_connection():
    port = _serve_once(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort")
    with pytest.raises(ConnectionLost):
        HttpConnection("127.0.0.1:%d" % port).request("GET", "/")


def test_garbage_status_line_is_a_lost_connection():
    port = _serve_once(b"SMTP ready\r\n\r\n")
    with pytest.raises(ConnectionLost, match="malformed status line"):
        HttpConnection("127.0.0.1:%d" % port).request("GET", "/")
