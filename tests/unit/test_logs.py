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


# -- no line is lost to its content ---------------------------------------------------------

import logging  # noqa: E402
from typing import Iterator, Tuple  # noqa: E402

import pytest  # noqa: E402
from log_state import logs_restored  # noqa: E402

from bootstrap_sdk import logs  # noqa: E402


class _NoStr:
    def __str__(self) -> str:
        raise ValueError("no str")


class _NoStrNoRepr(_NoStr):
    def __repr__(self) -> str:
        raise KeyboardInterrupt


def _strict_stdout(encoding: str = "utf-8") -> Tuple[io.BytesIO, io.TextIOWrapper]:
    """A stdout as strict as the real one under a UTF-8 locale: it refuses what it cannot encode."""
    raw = io.BytesIO()
    return raw, io.TextIOWrapper(raw, encoding=encoding, errors="strict", write_through=True)


@pytest.fixture(params=["Text", "JSON"])
def sink(request: pytest.FixtureRequest) -> Iterator[Tuple[io.BytesIO, LogSink]]:
    raw, stdout = _strict_stdout()
    yield raw, LogSink(request.param, "", stdout)
    stdout.detach()


def _messages(raw: io.BytesIO, json_format: bool):
    text = raw.getvalue().decode("utf-8")  # always valid UTF-8
    if json_format:
        return [json.loads(line)["message"] for line in text.splitlines()]
    return [line.split("\t", 3)[3] for line in text.splitlines()]


@pytest.mark.parametrize("kind, expected", [
    ("surrogate", "\\udcff bad"),
    ("nul", "before\x00after"),
    ("no-str", "<unprintable _NoStr object: str() raised ValueError>"),
    ("no-str-no-repr", "<unprintable _NoStrNoRepr object: str() raised ValueError>"),
    ("bytes", "b'\\xff'"),
    ("int", "42"),
])
def test_a_line_is_written_whatever_its_message_holds(sink, kind, expected):
    raw, log_sink = sink
    message = {"surrogate": lambda: "\udcff bad", "nul": lambda: "before\x00after", "no-str": _NoStr,
               "no-str-no-repr": _NoStrNoRepr, "bytes": lambda: b"\xff", "int": lambda: 42}[kind]()
    log_sink.log(40, message)
    messages = _messages(raw, log_sink.json)
    if kind == "no-str":
        expected = repr(message)  # str() failed: its repr() stands in
    assert messages == [expected]


def test_an_enormous_line_is_written_whole(sink):
    raw, log_sink = sink
    message = "é" * (8 * 1024 * 1024) + "\udcff" + "end"
    log_sink.log(30, message)
    (logged,) = _messages(raw, log_sink.json)
    assert len(logged) == 8 * 1024 * 1024 + len("\\udcff") + 3 and logged.endswith("\\udcffend")


def test_json_extra_values_and_keys_that_json_refuses_still_log():
    raw, stdout = _strict_stdout()
    log_sink = LogSink("JSON", "", stdout)
    log_sink.log(30, "extra", extra={"bad": _NoStrNoRepr(), "text": "\udcfe", "n": 1})
    log_sink.log(30, "keys", extra={("tuple", "key"): 1, "fine": "yes"})
    first, second = [json.loads(line) for line in raw.getvalue().decode("utf-8").splitlines()]
    assert first["bad"].startswith("<unprintable _NoStrNoRepr object")
    assert first["text"] == "\\udcfe" and first["n"] == 1
    assert second["message"] == "keys" and second["('tuple', 'key')"] == "1" and second["fine"] == "yes"


def test_a_stdout_that_cannot_encode_gets_the_line_escaped():
    raw, stdout = _strict_stdout("ascii")
    LogSink("Text", "", stdout).log(30, "caf\u00e9 \u20ac")
    assert raw.getvalue().decode("ascii").endswith("\tcaf\\xe9 \\u20ac\n")


@pytest.fixture
def bridged() -> Iterator[io.BytesIO]:
    with logs_restored():
        raw, stdout = _strict_stdout()
        logs._sink = LogSink("Text", "", stdout)
        logs.bridge_logging()
        yield raw


def test_the_logging_bridge_writes_what_logging_cannot_format(bridged, capsys):
    # The bridge's handler alone (pytest's own capture handlers sit on the root logger).
    logger = logging.getLogger("bridge-test")
    logger.propagate = False
    logger.handlers[:] = [h for h in logging.getLogger().handlers if getattr(h, "_bootstrap_sdk", False)]
    logger.error(_NoStr())
    logger.error("%d apples", "not a number")
    try:
        raise ValueError("\udcff bad")
    except ValueError:
        logger.exception("failed: %s", "\udcfe")
    logger.handlers[:] = []
    text = bridged.getvalue().decode("utf-8")
    assert "--- Logging error ---" not in capsys.readouterr().err
    assert "<log message <test_logs._NoStr object at " in text  # str() failed: its repr() stands in
    assert "could not be formatted: ValueError: no str>" in text
    assert "<log message %d apples with arguments ('not a number',) could not be formatted: TypeError" in text
    assert "failed: \\udcfe" in text and "ValueError: \\udcff bad" in text and "Traceback" in text
    assert all(line.startswith("[ERROR]\t") for line in text.splitlines())


def test_safe_text_never_raises():
    assert logs.safe_text("plain") == "plain"
    assert logs.safe_text("\ud800x") == "\\ud800x"
    assert logs.safe_text(_NoStrNoRepr()) == "<unprintable _NoStrNoRepr object: str() raised ValueError>"
    assert logs.clean_text("é€") == "é€"
