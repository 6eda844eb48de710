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
