"""Faults the RIE cannot produce, against an in-process fake Runtime API."""

from __future__ import annotations

import base64
import json
import subprocess
import time
from pathlib import Path
from typing import Iterator

import pytest

from fake_runtime_api import FakeRuntimeApi, Raw, answer, event_headers, start_runtime

from bootstrap_sdk.http_connection import ANSWER_TIMEOUT


@pytest.fixture
def api() -> Iterator[FakeRuntimeApi]:
    fake = FakeRuntimeApi().start()
    yield fake
    fake.stop()


@pytest.fixture
def runtime(api: FakeRuntimeApi, tmp_path: Path, runtime_root: Path):
    started = []

    def start(handler: str, **env: str) -> subprocess.Popen:
        process = start_runtime(api.address, handler, tmp_path / "runtime.log", runtime_root, **env)
        started.append(process)
        return process

    start.log = lambda: (tmp_path / "runtime.log").read_text()  # type: ignore[attr-defined]
    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait()


def test_500_on_next_exits_non_zero_with_a_message(api, runtime):
    api.next_status = 500
    process = runtime("echo.json_echo")
    assert process.wait(15) == 1
    assert "answered 500" in runtime.log()


def test_413_on_response_posts_no_error_and_serves_the_next_invoke(api, runtime):
    api.response_status = 413
    first = api.add_event(b'{"n": 1}')
    second = api.add_event(b'{"n": 2}')
    runtime("echo.json_echo")
    api.wait_for(lambda reqs: sum(r.path.endswith("/response") for r in reqs) == 2)
    api.wait_for(lambda reqs: sum(r.path.endswith("/invocation/next") for r in reqs) >= 3)
    assert [r.path.split("/")[-2] for r in api.posts("/response")] == [first, second]
    assert api.posts("/error") == []
    assert "over the Runtime API's limit" in runtime.log()


@pytest.mark.parametrize("status", [400, 403, 410])
def test_refused_response_is_logged_and_the_loop_goes_on(api, runtime, status):
    api.response_status = status
    api.add_event(b"1")
    api.add_event(b"2")
    runtime("echo.json_echo")
    api.wait_for(lambda reqs: sum(r.path.endswith("/invocation/next") for r in reqs) >= 3)
    assert len(api.posts("/response")) == 2  # one each: never retried
    assert api.posts("/error") == []
    assert "refused the response with %d" % status in runtime.log()


def test_connection_dropped_mid_poll_is_reopened(api, runtime):
    api.drop_polls = 2
    request_id = api.add_event(b'{"after": "drop"}')
    runtime("echo.json_echo")
    api.wait_for(lambda reqs: len([r for r in reqs if r.path.endswith("/response")]) == 1)
    (response,) = api.posts("/response")
    assert request_id in response.path
    assert response.json() == {"after": "drop"}


def test_api_not_listening_at_start_up_fails_after_bounded_retries(tmp_path, runtime_root):
    fake = FakeRuntimeApi()  # never started
    log = tmp_path / "runtime.log"
    started = time.monotonic()
    process = start_runtime(fake.address, "echo.json_echo", log, runtime_root, BOOTSTRAP_SDK_CONNECT_ATTEMPTS="4")
    assert process.wait(30) == 1
    assert time.monotonic() - started < 20
    text = log.read_text()
    assert "unreachable" in text and "after 4 attempts" in text and fake.address in text


def test_api_that_starts_listening_late_is_waited_for(tmp_path, runtime_root):
    fake = FakeRuntimeApi()
    process = start_runtime(fake.address, "echo.json_echo", tmp_path / "runtime.log", runtime_root)
    try:
        time.sleep(0.3)
        fake.start()
        fake.add_event(b'"late"')
        fake.wait_for(lambda reqs: any(r.path.endswith("/response") for r in reqs))
        assert fake.posts("/response")[0].body == b'"late"'
    finally:
        process.kill()
        process.wait()
        fake.stop()


def test_handler_exception_posts_error_with_type_header_and_xray_cause(api, runtime):
    request_id = api.add_event(b'{"type": "LedgerError", "message": "account 42 is closed"}')
    runtime("behaviours.raise_named")
    (error,) = api.wait_posts("/error")
    assert request_id in error.path
    body = error.json()
    assert body["errorType"] == "LedgerError"
    assert body["errorMessage"] == "account 42 is closed"
    assert body["requestId"] == request_id
    assert any("raise_named" in line for line in body["stackTrace"])
    assert error.headers["lambda-runtime-function-error-type"] == "Function.LedgerError"
    cause = json.loads(error.headers["lambda-runtime-function-xray-error-cause"])
    assert cause["exceptions"][0]["type"] == "LedgerError"
    assert cause["exceptions"][0]["message"] == "account 42 is closed"
    assert cause["exceptions"][0]["stack"][-1]["label"] == "raise_named"
    assert any(path.endswith("behaviours.py") for path in cause["paths"])


def test_stream_wire_format(api, runtime):
    request_id = api.add_event(b'{"chunks": 3}')
    runtime("behaviours.stream")
    (response,) = api.wait_posts("/response")
    assert request_id in response.path
    assert response.headers["lambda-runtime-function-response-mode"] == "streaming"
    assert response.headers["transfer-encoding"] == "chunked"
    assert response.headers["trailer"] == "Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body"
    assert response.chunks == [b"chunk-0;", b"chunk-1;", b"chunk-2;"]
    assert response.trailers == {}


def test_stream_error_after_first_chunk_goes_into_trailers(api, runtime):
    request_id = api.add_event(b'{"chunks": 2, "fail": true}')
    runtime("behaviours.stream")
    (response,) = api.wait_posts("/response")
    assert response.chunks == [b"chunk-0;", b"chunk-1;"]
    assert response.trailers["lambda-runtime-function-error-type"] == "Function.RuntimeError"
    error = json.loads(base64.b64decode(response.trailers["lambda-runtime-function-error-body"]))
    assert error["errorType"] == "RuntimeError"
    assert error["errorMessage"] == "failed mid-stream"
    assert error["requestId"] == request_id
    assert api.posts("/error") == []


def test_stream_error_before_first_chunk_is_an_ordinary_error(api, runtime):
    api.add_event(b'{"chunks": 0, "fail": true}')
    runtime("behaviours.stream")
    api.wait_posts("/error")
    assert api.posts("/response") == []
    assert api.posts("/error")[0].json()["errorMessage"] == "failed mid-stream"


def test_cognito_identity_and_client_context_reach_the_context(api, runtime):
    api.add_event(b"{}", Lambda_Runtime_Cognito_Identity='{"cognitoIdentityId": "id-1", "cognitoIdentityPoolId": "pool"}',
                  Lambda_Runtime_Client_Context='{"custom": {"k": "v"}, "env": {"e": 1}, "client": {"app_title": "t"}}',
                  Lambda_Runtime_Aws_Tenant_Id="tenant-7")
    runtime("ctx.handler")
    api.wait_posts("/response")
    body = api.posts("/response")[0].json()
    assert body["cognito_identity_id"] == "id-1"
    assert body["client_custom"] == {"k": "v"}
    assert body["client_env"] == {"e": 1}
    assert body["tenant_id"] == "tenant-7"
    assert body["trace_env"].startswith("Root=1-5759e988")


def test_malformed_cognito_identity_is_an_error_for_that_invoke_only(api, runtime):
    bad = api.add_event(b"{}", Lambda_Runtime_Cognito_Identity="{not json")
    good = api.add_event(b"{}")
    runtime("ctx.handler")
    api.wait_posts("/response")
    (error,) = api.posts("/error")
    assert bad in error.path
    assert error.json()["errorType"] == "Runtime.LambdaContextUnmarshalError"
    assert "Cognito Identity" in error.json()["errorMessage"]
    assert good in api.posts("/response")[0].path


def test_sigterm_extension_is_registered_when_hooks_exist(api, runtime, tmp_path):
    marker = tmp_path / "hook"
    api.add_event(b"{}")
    process = runtime("hooks.handler", HOOK_MARKER=str(marker))
    requests = api.wait_for(lambda reqs: any(r.path.endswith("/response") for r in reqs))
    register = [r for r in requests if r.path.endswith("/extension/register")]
    assert len(register) == 1
    assert json.loads(register[0].body) == {"events": []}
    first_next = next(i for i, r in enumerate(requests) if r.path.endswith("/invocation/next"))
    assert requests.index(register[0]) < first_next, "register must precede the first /next"
    process.terminate()
    assert process.wait(10) == 0
    assert marker.read_text().startswith("hook ran")


def test_no_extension_without_hooks(api, runtime):
    api.add_event(b"{}")
    runtime("echo.json_echo")
    requests = api.wait_for(lambda reqs: any(r.path.endswith("/response") for r in reqs))
    assert not any("/extension/" in r.path for r in requests)


def test_not_started_by_lambda_says_so(tmp_path, runtime_root):
    log = tmp_path / "runtime.log"
    process = start_runtime("", "echo.json_echo", log, runtime_root)
    assert process.wait(10) == 2
    assert "AWS_LAMBDA_RUNTIME_API is not set" in log.read_text()


# -- hostile handlers and a hostile Runtime API, end to end --------------------------------

HOSTILE_HANDLER = '''
import sys


def handler(event, context):
    what = event.get("do")
    if what == "exit-mid-stream":
        def chunks():
            yield "partial;"
            sys.exit(3)
        return chunks()
    if what == "keyboard-interrupt":
        raise KeyboardInterrupt
    if what == "surrogate":
        raise ValueError("\\udcff bad")
    return {"ok": what}
'''


@pytest.fixture
def hostile_root(tmp_path: Path) -> Path:
    """A task root with the hostile handler, readable by the unprivileged runtime."""
    root = tmp_path / "task"
    root.mkdir(mode=0o755)
    (root / "hostile.py").write_text(HOSTILE_HANDLER)
    (root / "hostile.py").chmod(0o644)
    return root


def test_sys_exit_after_the_first_chunk_ends_the_stream_not_the_runtime(api, runtime, hostile_root):
    first = api.add_event(b'{"do": "exit-mid-stream"}')
    second = api.add_event(b'{"do": "after"}')
    process = runtime("hostile.handler", LAMBDA_TASK_ROOT=str(hostile_root))
    api.wait_posts(second + "/response")
    (streamed, answered) = api.posts("/response")
    assert first in streamed.path and streamed.chunks == [b"partial;"]
    error = json.loads(base64.b64decode(streamed.trailers["lambda-runtime-function-error-body"]))
    assert (error["errorType"], error["errorMessage"]) == ("SystemExit", "3")
    assert answered.json() == {"ok": "after"}
    assert process.poll() is None
    assert "SystemExit: 3" in runtime.log()


def test_a_handler_raising_keyboard_interrupt_is_an_error_of_that_invoke(api, runtime, hostile_root):
    first = api.add_event(b'{"do": "keyboard-interrupt"}')
    second = api.add_event(b'{"do": "after"}')
    process = runtime("hostile.handler", LAMBDA_TASK_ROOT=str(hostile_root))
    api.wait_posts(second + "/response")
    (error,) = api.posts(first + "/error")
    assert error.json()["errorType"] == "KeyboardInterrupt"
    assert process.poll() is None


def test_an_error_message_with_a_lone_surrogate_reaches_the_log_whole(api, runtime, hostile_root):
    request_id = api.add_event(b'{"do": "surrogate"}')
    runtime("hostile.handler", LAMBDA_TASK_ROOT=str(hostile_root), LANG="C.UTF-8", PYTHONUTF8="0")
    (error,) = api.wait_posts(request_id + "/error")
    assert json.loads(error.body.decode("utf-8"))["errorMessage"] == "\\udcff bad"
    api.wait_for(lambda reqs: sum(r.path.endswith("/invocation/next") for r in reqs) >= 2)
    log = runtime.log()
    assert "ValueError: \\udcff bad" in log and "Traceback (most recent call last):" in log


def test_an_invoke_without_a_request_id_is_logged_and_the_next_one_served(api, runtime):
    api.add_fault("/invocation/next", Raw(answer(200, [h for h in event_headers()
                                                       if h[0] != "Lambda-Runtime-Aws-Request-Id"], b"{}"),
                                          after="keep"))
    good = api.add_event(b'{"n": 2}')
    runtime("echo.json_echo")
    api.wait_posts(good + "/response")
    assert [r.path for r in api.requests if r.method == "POST"] == [api.posts("/response")[0].path]
    assert "Lambda-Runtime-Aws-Request-Id '' missing or empty: it cannot be answered" in runtime.log()


def test_an_answer_to_next_cut_mid_body_is_logged_and_the_next_invoke_served(api, runtime):
    api.add_fault("/invocation/next", Raw(answer(200, event_headers() + [("Content-Length", "50")], b'{"cut',
                                                 content_length=False)))
    good = api.add_event(b'{"n": 3}')
    runtime("echo.json_echo")
    api.wait_posts(good + "/response")
    log = runtime.log()
    assert "closed by the server mid-answer" in log and "the invoke it was delivering is lost" in log


def test_a_response_never_answered_ends_the_runtime_within_the_bound(api, runtime):
    api.add_fault("/response", Raw(after="hang"))
    api.add_event(b"{}")
    started = time.monotonic()
    process = runtime("echo.json_echo")
    try:
        assert process.wait(ANSWER_TIMEOUT + 15) == 1
    finally:
        api.release()
    assert time.monotonic() - started >= ANSWER_TIMEOUT
    assert "did not answer within %.1f s" % ANSWER_TIMEOUT in runtime.log()
