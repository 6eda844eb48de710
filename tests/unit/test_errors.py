"""errors: the error payload, its header type and its X-Ray cause."""

from __future__ import annotations

import json

import pytest

from bootstrap_sdk.errors import ErrorReport, header_error_type


@pytest.mark.parametrize("error_type, header", [
    ("ValueError", "Function.ValueError"),
    ("Runtime.ImportModuleError", "Runtime.ImportModuleError"),
    ("Bad\r\nInjected: yes", "Function.Bad__Injected__yes"),
    ("", "Function.Unknown"),
    ("Ünïcode", "Function._n_code"),
])
def test_header_error_type_is_safe_for_a_header(error_type, header):
    assert header_error_type(error_type) == header


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


# -- a report comes out of any exception, and its body is JSON in UTF-8 ----------------------

def _body(report: ErrorReport) -> dict:
    data = report.body("req-1")
    data.decode("utf-8")  # strict: valid UTF-8
    return json.loads(data)


def test_lone_surrogates_become_text_in_the_body_the_cause_and_the_log():
    exc_type = type("BadName", (Exception,), {})  # (a class name cannot hold a surrogate)
    try:
        raise exc_type("\udcff bad")
    except Exception as exc:
        report = ErrorReport.from_exception(exc)
    body = _body(report)
    assert body["errorMessage"] == "\\udcff bad" and body["errorType"] == "BadName"
    cause = report.xray_cause()
    assert cause is not None and cause.isascii()
    assert json.loads(cause)["exceptions"][0]["message"] == "\\udcff bad"
    assert all(line.encode("utf-8") for line in report.log_lines())


def test_a_function_error_type_with_surrogates_or_of_another_type():
    from bootstrap_sdk.errors import FunctionError

    assert _body(ErrorReport.from_exception(FunctionError("m", "My.\udcffType")))["errorType"] == "My.\\udcffType"
    not_a_str: object = 42
    assert _body(ErrorReport.from_exception(FunctionError("m", not_a_str)))["errorType"] == "FunctionError"  # type: ignore


class _Hostile(Exception):
    @property
    def error_type(self) -> str:
        raise KeyboardInterrupt

    def __str__(self) -> str:
        raise SystemExit(9)


def test_an_exception_that_raises_when_examined_is_still_reported():
    report = ErrorReport.from_exception(_Hostile())
    assert report.error_type == "_Hostile"
    assert report.message == "<_Hostile; str() raised SystemExit>"
    assert _body(report)["errorType"] == "_Hostile"


@pytest.mark.parametrize("exc", [SystemExit(3), KeyboardInterrupt(), GeneratorExit(), BaseException("base")])
def test_base_exceptions_are_reported_like_any_other(exc):
    body = _body(ErrorReport.from_exception(exc))
    assert body["errorType"] == type(exc).__name__


def test_source_lines_a_hostile_loader_cannot_give_are_left_out(tmp_path):
    """Reading a frame's line runs the module's loader; if that raises, the frames stay, without lines."""

    class Loader:
        def get_source(self, name: str) -> str:
            raise RuntimeError("no source for you")

    namespace = {"__name__": "hostile_module", "__loader__": Loader()}
    path = str(tmp_path / "gone" / "hostile_module.py")  # no such file: linecache asks the loader
    exec(compile("def handler():\n    raise ValueError('from hostile code')\n", path, "exec"), namespace)
    try:
        namespace["handler"]()
    except ValueError as exc:
        report = ErrorReport.from_exception(exc)
    assert report.message == "from hostile code"
    assert any(path in entry and "in handler" in entry for entry in report.stack_trace)
    assert _body(report)["stackTrace"] == report.stack_trace
