"""logs: Lambda's Text and JSON log lines, each tagged with its request id."""

from __future__ import annotations

import io
import json

from bootstrap_sdk.logs import LogSink, set_request_id


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
