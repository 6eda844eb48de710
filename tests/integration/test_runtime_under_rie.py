"""The runtime under the real Runtime Interface Emulator."""

from __future__ import annotations

import json
import os
import signal
import tempfile
import threading
import time
from pathlib import Path

import pytest

from cold_start import COLD_START_RUNTIME, COLD_START_STDLIB, interpreter_modules
from harness import multi_concurrency_wrapper


def test_context_carries_function_and_invoke_details(start_runtime):
    runtime = start_runtime("ctx.handler", AWS_LAMBDA_FUNCTION_TIMEOUT="30")
    result = runtime.invoke(b"{}", client_context='{"custom": {"tier": "gold"}, "env": {"locale": "fr"}}',
                            trace_id="Root=1-6759e988-bd862e3fe1be46a994272793;Sampled=1", tenant_id="tenant-a")
    assert result.status == 200
    body = result.json()
    assert body["function_name"] == "under-test"
    assert body["function_version"] == "$LATEST"
    assert body["memory_limit_in_mb"] == "256"
    assert body["log_group_name"] == "/aws/lambda/under-test"
    assert body["log_stream_name"].startswith("2026/11/27/")
    assert body["invoked_function_arn"].endswith(":function:under-test")
    assert body["client_custom"] == {"tier": "gold"}
    assert body["client_env"] == {"locale": "fr"}
    assert body["tenant_id"] == "tenant-a"
    # The classic RIE's no-op tracer forwards no Lambda-Runtime-Trace-Id (the fake-API
    # test covers _X_AMZN_TRACE_ID); with none, the variable must not linger.
    assert body["trace_env"] is None
    assert 0 < body["remaining_ms"] <= 30000
    second = runtime.invoke(b"{}").json()
    assert second["aws_request_id"] != body["aws_request_id"]
    assert second["pid"] == body["pid"], "a warm invoke reuses the runtime"


def test_malformed_client_context_fails_only_that_invoke(start_runtime):
    runtime = start_runtime("ctx.handler")
    bad = runtime.invoke(b"{}", client_context="{not json")
    assert bad.json()["errorType"] == "Runtime.LambdaContextUnmarshalError"
    assert "Client Context" in bad.json()["errorMessage"]
    assert runtime.invoke(b"{}").json()["function_name"] == "under-test"


@pytest.mark.parametrize("handler, error_type, message", [
    ("nodot", "Runtime.MalformedHandlerName", "Bad handler 'nodot'"),
    ("a b.handler", "Runtime.ExecutableNotFound", "Program 'a' not found"),
    ("nodot", "Runtime.MalformedHandlerName", "or a program in LAMBDA_TASK_ROOT or on PATH"),
    ("missing_module.handler", "Runtime.ImportModuleError", "Unable to import module 'missing_module'"),
    ("imports_missing.handler", "Runtime.ImportModuleError", "No module named 'no_such_module_anywhere'"),
    ("echo.no_such_function", "Runtime.HandlerNotFound", "Handler 'no_such_function' missing on module 'echo'"),
    ("not_callable.handler", "Runtime.HandlerNotCallable", "is not callable (it is of type int)"),
    ("broken_syntax.handler", "Runtime.UserCodeSyntaxError", "Syntax error in module 'broken_syntax'"),
    ("raises_on_import.handler", "ZeroDivisionError", "cannot load configuration"),
    ("sys.handler", "Runtime.BuiltInModuleConflict", "Cannot use built-in module sys"),
])
def test_bad_handler_is_an_init_error(start_runtime, handler, error_type, message):
    runtime = start_runtime(handler)
    for _ in range(2):  # the RIE re-initialises on the next invoke: same answer, no crash loop
        result = runtime.invoke(b"{}")
        assert result.status == 502
        error = result.json()
        assert error["errorType"] == error_type
        assert message in error["errorMessage"]
    assert "init failed: %s" % error_type in runtime.log()


def test_timeout_then_the_runtime_reinitialises_and_serves(start_runtime):
    runtime = start_runtime("behaviours.sleep", AWS_LAMBDA_FUNCTION_TIMEOUT="1")
    first_pid = runtime.invoke(b'{"seconds": 0}').json()["pid"]
    timed_out = runtime.invoke(b'{"seconds": 5}')
    assert timed_out.status == 200
    assert timed_out.body == b"Task timed out after 1.00 seconds"
    after = runtime.invoke(b'{"seconds": 0}')
    assert after.json()["slept"] == 0
    assert after.json()["pid"] != first_pid, "the RIE reset the environment and started a fresh runtime"


def test_response_over_6_mb_is_refused_and_the_runtime_keeps_serving(start_runtime):
    runtime = start_runtime("behaviours.big")
    limit = 6 * 1024 * 1024 + 100
    at_limit = runtime.invoke(json.dumps({"bytes": limit}).encode())
    assert at_limit.status == 200 and len(at_limit.body) == limit
    over = runtime.invoke(json.dumps({"bytes": limit + 1}).encode())
    assert over.status == 200
    assert over.json() == {
        "errorType": "Function.ResponseSizeTooLarge",
        "errorMessage": "Response payload size exceeded maximum allowed payload size (6291556 bytes).",
    }
    assert runtime.invoke(b'{"bytes": 3}').body == b"xxx"
    assert "response of %d bytes is over the Runtime API's limit" % (limit + 1) in runtime.log()


def test_exception_gives_error_json_and_the_next_invoke_works(start_runtime):
    runtime = start_runtime("behaviours.raise_named")
    result = runtime.invoke(b'{"type": "PayrollError", "message": "employee 7: negative hours"}')
    error = result.json()
    assert error["errorType"] == "PayrollError"
    assert error["errorMessage"] == "employee 7: negative hours"
    assert error["stackTrace"][-1].strip().endswith('raise exc_type(event["message"])')
    assert "bootstrap_sdk" not in "".join(error["stackTrace"]), "the runtime's own frames are left out"
    log = runtime.log()
    assert "PayrollError: employee 7: negative hours" in log
    assert runtime.invoke(b"not json").json()["errorType"] == "Runtime.UnmarshalError"


def test_a_malformed_event_reads_as_json_s_error_in_a_runtime_that_never_imported_json(start_runtime):
    """_json's scanner words its errors with json.decoder, which the runtime does not import:
    the first malformed event of a fresh runtime must still say what json says."""
    for event in (b'{"employee": 7,}', b'[1, 2', b'{"name": "\\q"}'):
        runtime = start_runtime("modules.handler")
        try:
            json.loads(event)
        except ValueError as exc:
            expected = "Unable to unmarshal input: %s" % exc
        error = runtime.invoke(event).json()
        assert error["errorType"] == "Runtime.UnmarshalError", error
        assert error["errorMessage"] == expected


def test_sys_exit_in_a_handler_is_an_error_not_the_end(start_runtime):
    runtime = start_runtime("behaviours.exit_now")
    error = runtime.invoke(b'{"code": 4}').json()
    assert error["errorType"] == "SystemExit" and error["errorMessage"] == "4"
    assert runtime.invoke(b'{"code": 5}').json()["errorMessage"] == "5"


def test_keyboard_interrupt_and_an_unencodable_message_are_errors_and_logged_whole(start_runtime):
    runtime = start_runtime("behaviours.interrupt")
    error = runtime.invoke(b"{}").json()
    assert (error["errorType"], error["errorMessage"]) == ("KeyboardInterrupt", "stop")
    error = runtime.invoke(b'{"surrogate": true}').json()
    assert (error["errorType"], error["errorMessage"]) == ("ValueError", "ledger \\udcff unreadable")
    log = runtime.log()
    assert "ValueError: ledger \\udcff unreadable" in log, "the error and its traceback reach the log"
    assert 'raise ValueError("ledger' in log
    assert runtime.invoke(b"{}").json()["errorType"] == "KeyboardInterrupt", "the runtime serves on"


def test_unserialisable_result_is_a_marshal_error(start_runtime):
    runtime = start_runtime("behaviours.unserialisable")
    error = runtime.invoke(b"{}").json()
    assert error["errorType"] == "Runtime.MarshalError"
    assert "not JSON serializable" in error["errorMessage"]


def test_decimal_is_encoded_exactly(start_runtime):
    runtime = start_runtime("behaviours.decimal")
    assert runtime.invoke(b"{}").body == b'{"amount": 12345678901234567890.123456789, "list": [-0.10]}'


def test_stream_arrives_whole_through_the_rie(start_runtime):
    runtime = start_runtime("behaviours.stream")
    assert runtime.invoke(b'{"chunks": 4}').body == b"chunk-0;chunk-1;chunk-2;chunk-3;"
    # The RIE drops trailers: a mid-stream error shows as a cut stream, and in the log.
    assert runtime.invoke(b'{"chunks": 2, "fail": true}').body == b"chunk-0;chunk-1;"
    assert "RuntimeError: failed mid-stream" in runtime.log()


def test_sigterm_runs_shutdown_hooks_when_the_rie_stops(start_runtime, tmp_path):
    marker = tmp_path / "hook-ran"
    runtime = start_runtime("hooks.handler", HOOK_MARKER=str(marker))
    pid = runtime.invoke(b"{}").json()["pid"]
    runtime.stop(sig=signal.SIGTERM)
    assert marker.read_text() == "hook ran in %d" % pid
    assert "SIGTERM received: running 1 shutdown hook(s)" in runtime.log()


def test_json_logs_carry_the_request_id(start_runtime):
    runtime = start_runtime("logging_handler.handler", AWS_LAMBDA_LOG_FORMAT="JSON")
    runtime.invoke(b'{"n": 7}')
    records = [json.loads(line) for line in runtime.log().splitlines() if line.startswith("{")]
    app = [r for r in records if r.get("logger") == "app"]
    assert [r["level"] for r in app] == ["DEBUG", "INFO", "WARN", "ERROR"]
    assert app[1]["message"] == "info line 7"
    assert app[2]["message"] == "warning line\nsecond line"
    ids = {r["requestId"] for r in app}
    assert len(ids) == 1 and len(ids.pop()) == 36
    assert all(set(r) >= {"timestamp", "level", "message", "logger", "requestId"} for r in app)


def test_log_level_filters_and_every_text_line_has_the_request_id(start_runtime):
    runtime = start_runtime("logging_handler.handler", AWS_LAMBDA_LOG_LEVEL="WARN")
    runtime.invoke(b'{"n": 1}')
    lines = [line for line in runtime.log().splitlines() if line.startswith("[")]
    app = [line for line in lines if "line" in line]
    assert [line.split("\t")[0] for line in app] == ["[WARN]", "[WARN]", "[ERROR]"]
    assert app[0].endswith("warning line") and app[1].endswith("second line")
    ids = {line.split("\t")[2] for line in app}
    assert len(ids) == 1 and len(ids.pop()) == 36


@pytest.mark.skipif(os.geteuid() != 0, reason="the RIE's multi-concurrency mode needs root")
def test_multi_concurrency_serves_invokes_at_once_with_json_logs(start_runtime, runtime_root):
    rendezvous = Path(tempfile.mkdtemp(dir=runtime_root))
    os.chmod(rendezvous, 0o777)  # the RIE runs the runtime as uid 993 in this mode
    runtime = start_runtime("behaviours.rendezvous", wrapper=multi_concurrency_wrapper(runtime_root / "functions"), task_root="/var/task",
                            AWS_LAMBDA_MAX_CONCURRENCY="3")
    results = [None] * 3
    event = json.dumps({"directory": str(rendezvous), "count": 3, "seconds": 20}).encode()

    def call(index: int) -> None:
        invoker = runtime.rie.invoker()
        for _ in range(200):  # until every worker polls /next, the RIE answers "no idle runtimes"
            result = invoker.invoke(event)
            if b"Runtime.Unavailable" not in result.body:
                break
            time.sleep(0.02)
        results[index] = result  # type: ignore[assignment]

    threads = [threading.Thread(target=call, args=(i,)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    bodies = [r.json() for r in results]  # type: ignore[union-attr]
    assert all("pid" in body for body in bodies), bodies
    assert len({body["pid"] for body in bodies}) == 3, "three workers answered"
    records = [json.loads(line) for line in runtime.log().splitlines() if line.startswith("{")]
    assert any(r.get("message") == "starting 3 workers" for r in records)
    assert not [line for line in runtime.log().splitlines() if line.startswith("[INFO]\t")], "no Text lines"



def test_the_first_invoke_imports_only_the_cold_start_allow_list(start_runtime):
    """docs/facts.md#start-up-costs: by the first invoke's answer the runtime process holds the
    interpreter's own modules, tests/cold_start.py's allow-list and the handler: no json, re, os."""
    modules = set(start_runtime("modules.handler").invoke(b"{}").json())
    extra = modules - interpreter_modules() - COLD_START_STDLIB - COLD_START_RUNTIME - {"modules"}
    assert extra == set(), sorted(extra)
    assert {"bootstrap_sdk.invoke_loop", "bootstrap_sdk.json_text", "_json", "_socket"} <= modules
    assert not modules & {"json", "re", "os", "enum", "functools", "collections", "typing", "logging"}
