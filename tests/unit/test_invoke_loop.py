"""invoke_loop: next → handle → respond, over real HTTP to the fake Runtime API."""

from __future__ import annotations

import base64
import io
import json
import os
import sys
from typing import Any, Iterator, List

import pytest
from fake_runtime_api import FakeRuntimeApi, client_of
from log_state import logs_restored

import bootstrap_sdk
from bootstrap_sdk import logs
from bootstrap_sdk.context import FunctionInfo
from bootstrap_sdk.errors import FunctionError
from bootstrap_sdk.invoke_loop import InvokeLoop
from bootstrap_sdk.payload import raw_event
from bootstrap_sdk.runtime_api import RuntimeApiError

BASE = "/2018-06-01/runtime/invocation/"
FUNCTION = FunctionInfo("loop-fn", "$LATEST", "512", "/aws/lambda/loop-fn", "stream-1")


@pytest.fixture(autouse=True)
def log_out(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """Capture the runtime's log; restore the sink, the logging bridge and the trace variable."""
    monkeypatch.delenv("_X_AMZN_TRACE_ID", raising=False)
    with logs_restored():
        out = io.StringIO()
        logs._sink = logs.LogSink("Text", "", out)
        yield out


def _loop(handler: Any, api: FakeRuntimeApi, **options: Any) -> InvokeLoop:
    client = client_of(api)
    return InvokeLoop(handler, client, FUNCTION, **options)


def _log_lines(out: io.StringIO) -> List[List[str]]:
    return [line.split("\t", 3) for line in out.getvalue().splitlines()]


def test_a_json_event_reaches_the_handler_and_the_result_is_posted_as_json(api):
    seen: List[Any] = []

    def handler(event: Any, context: Any) -> Any:
        seen.append((event, context.aws_request_id, context.function_name, context.invoked_function_arn,
                     context.get_remaining_time_in_millis() > 0))
        return {"total": sum(event["numbers"]), "text": "héllo"}

    request_id = api.add_event(json.dumps({"numbers": [1, 2, 39]}).encode())
    _loop(handler, api).serve_one()
    assert seen == [({"numbers": [1, 2, 39]}, request_id, "loop-fn",
                     "arn:aws:lambda:eu-west-1:123456789012:function:fake", True)]
    (response,) = api.posts("/response")
    assert response.path == BASE + request_id + "/response"
    assert response.headers["content-type"] == "application/json"
    assert response.headers["user-agent"].startswith("bootstrap-sdk/")
    assert response.json() == {"total": 42, "text": "héllo"}
    assert api.posts("/error") == []
    gets = [r for r in api.requests if r.method == "GET"]
    assert [r.path for r in gets] == ["/2018-06-01/runtime/invocation/next"]


def test_a_str_result_is_json_encoded(api):
    request_id = api.add_event(b'"ping"')
    _loop(lambda event, context: event + "-pong", api).serve_one()
    (response,) = api.posts(request_id + "/response")
    assert response.body == b'"ping-pong"'


def test_raw_event_passes_the_bytes(api):
    seen: List[Any] = []
    api.add_event(b"not json at all \xff")
    _loop(lambda event, context: seen.append(event), api, raw_event=True).serve_one()
    assert seen == [b"not json at all \xff"]
    assert api.posts("/response")[0].body == b"null"


def test_the_raw_event_decorator_passes_the_bytes(api):
    seen: List[Any] = []

    @raw_event
    def handler(event: bytes, context: Any) -> None:
        seen.append(event)

    api.add_event(b'{"a": 1}')
    _loop(handler, api).serve_one()
    assert seen == [b'{"a": 1}']


def test_bytes_returned_are_posted_as_octet_stream(api):
    payload = bytes(range(256))
    request_id = api.add_event(b"{}")
    _loop(lambda event, context: payload, api).serve_one()
    (response,) = api.posts(request_id + "/response")
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.body == payload


def _failing_handler(event: Any, context: Any) -> Any:
    raise ValueError("bad input %d" % event["n"])


def test_an_exception_is_posted_to_error_in_the_managed_runtimes_shape(api, log_out):
    request_id = api.add_event(b'{"n": 42}')
    _loop(_failing_handler, api).serve_one()
    assert api.posts("/response") == []
    (error,) = api.posts("/error")
    assert error.path == BASE + request_id + "/error"
    assert error.headers["lambda-runtime-function-error-type"] == "Function.ValueError"
    assert error.headers["content-type"] == "application/json"
    body = error.json()
    assert set(body) == {"errorMessage", "errorType", "requestId", "stackTrace"}
    assert body["errorMessage"] == "bad input 42"
    assert body["errorType"] == "ValueError"
    assert body["requestId"] == request_id
    assert any("_failing_handler" in entry and __file__ in entry for entry in body["stackTrace"])
    runtime_dir = os.path.dirname(os.path.abspath(bootstrap_sdk.__file__))
    assert not any(runtime_dir in entry for entry in body["stackTrace"])  # the runtime's own frames are cut
    cause = json.loads(error.headers["lambda-runtime-function-xray-error-cause"])
    assert cause["exceptions"][0]["type"] == "ValueError"
    assert cause["exceptions"][0]["message"] == "bad input 42"
    (logged,) = [line for line in _log_lines(log_out) if line[0] == "[ERROR]"][:1]
    assert logged[2] == request_id and logged[3] == "ValueError: bad input 42"


def test_a_function_error_chooses_the_error_type(api):
    def handler(event: Any, context: Any) -> None:
        raise FunctionError("record 3: bad date", "Validation.BadDate")

    api.add_event(b"{}")
    _loop(handler, api).serve_one()
    (error,) = api.posts("/error")
    assert error.headers["lambda-runtime-function-error-type"] == "Validation.BadDate"
    assert (error.json()["errorType"], error.json()["errorMessage"]) == ("Validation.BadDate", "record 3: bad date")


def test_an_event_that_is_not_json_is_an_unmarshal_error_and_the_handler_is_not_called(api):
    called: List[Any] = []
    api.add_event(b"{broken")
    _loop(lambda event, context: called.append(event), api).serve_one()
    assert called == []
    (error,) = api.posts("/error")
    assert error.json()["errorType"] == "Runtime.UnmarshalError"
    assert error.headers["lambda-runtime-function-error-type"] == "Runtime.UnmarshalError"


def test_a_result_that_cannot_be_encoded_is_a_marshal_error(api):
    api.add_event(b"{}")
    _loop(lambda event, context: {"when": object()}, api).serve_one()
    assert api.posts("/response") == []
    (error,) = api.posts("/error")
    assert error.json()["errorType"] == "Runtime.MarshalError"


def test_a_malformed_client_context_is_an_error_of_the_invoke(api):
    called: List[Any] = []
    api.add_event(b"{}", Lambda_Runtime_Client_Context="{oops")
    _loop(lambda event, context: called.append(event), api).serve_one()
    assert called == []
    (error,) = api.posts("/error")
    assert error.json()["errorType"] == "Runtime.LambdaContextUnmarshalError"


def test_client_context_identity_and_tenant_reach_the_context(api):
    seen: List[Any] = []

    def handler(event: Any, context: Any) -> None:
        seen.append((context.client_context.custom, context.identity.cognito_identity_id, context.tenant_id,
                     context.memory_limit_in_mb))

    api.add_event(b"{}", Lambda_Runtime_Client_Context=json.dumps({"custom": {"k": "v"}}),
                  Lambda_Runtime_Cognito_Identity=json.dumps({"cognitoIdentityId": "id-9"}),
                  Lambda_Runtime_Aws_Tenant_Id="tenant-5")
    _loop(handler, api).serve_one()
    assert seen == [({"k": "v"}, "id-9", "tenant-5", "512")]


def test_sys_exit_in_a_handler_is_an_error_of_that_invoke_not_the_end_of_the_loop(api):
    def handler(event: Any, context: Any) -> Any:
        if event.get("exit"):
            sys.exit(3)
        return "served"

    loop = _loop(handler, api)
    first = api.add_event(b'{"exit": true}')
    second = api.add_event(b"{}")
    loop.serve_one()  # returns: SystemExit did not escape
    loop.serve_one()
    (error,) = api.posts("/error")
    assert error.path == BASE + first + "/error"
    assert error.json()["errorType"] == "SystemExit"
    assert error.json()["errorMessage"] == "3"
    (response,) = api.posts("/response")
    assert response.path == BASE + second + "/response" and response.json() == "served"


def test_a_generator_streams_its_items_as_chunks(api):
    def handler(event: Any, context: Any) -> Iterator[Any]:
        yield "héllo "
        yield b"wor"
        yield "ld"

    request_id = api.add_event(b"{}")
    _loop(handler, api).serve_one()
    (response,) = api.posts("/response")
    assert response.path == BASE + request_id + "/response"
    assert response.headers["transfer-encoding"] == "chunked"
    assert response.headers["lambda-runtime-function-response-mode"] == "streaming"
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.headers["trailer"] == "Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body"
    assert response.chunks == ["héllo ".encode(), b"wor", b"ld"]
    assert response.trailers == {}
    assert api.posts("/error") == []


def test_an_error_mid_stream_travels_in_the_trailers(api, log_out):
    def handler(event: Any, context: Any) -> Iterator[bytes]:
        yield b"partial"
        raise KeyError("row")

    request_id = api.add_event(b"{}")
    _loop(handler, api).serve_one()
    assert api.posts("/error") == []  # /error is invalid once bytes were sent
    (response,) = api.posts("/response")
    assert response.chunks == [b"partial"]
    assert response.trailers["lambda-runtime-function-error-type"] == "Function.KeyError"
    body = json.loads(base64.b64decode(response.trailers["lambda-runtime-function-error-body"]))
    assert (body["errorType"], body["errorMessage"], body["requestId"]) == ("KeyError", "'row'", request_id)
    assert any(line[0] == "[ERROR]" and line[3].startswith("KeyError: 'row'") for line in _log_lines(log_out))


def test_a_generator_that_fails_before_its_first_item_posts_an_error(api):
    def handler(event: Any, context: Any) -> Iterator[bytes]:
        raise PermissionError("no access")
        yield b"never"  # pragma: no cover

    api.add_event(b"{}")
    _loop(handler, api).serve_one()
    assert api.posts("/response") == []
    (error,) = api.posts("/error")
    assert error.json()["errorType"] == "PermissionError"
    assert error.json()["errorMessage"] == "no access"


def test_a_413_to_the_response_is_logged_and_no_error_is_posted(api, log_out):
    api.response_status = 413
    api.add_event(b"{}")
    loop = _loop(lambda event, context: "x" * 1000, api)
    loop.serve_one()
    assert len(api.posts("/response")) == 1
    assert api.posts("/error") == []
    errors = [line[3] for line in _log_lines(log_out) if line[0] == "[ERROR]"]
    assert len(errors) == 1
    assert "response of 1002 bytes" in errors[0] and "Function.ResponseSizeTooLarge" in errors[0]
    # the loop goes on
    api.response_status = None
    second = api.add_event(b"{}")
    loop.serve_one()
    assert api.posts("/response")[-1].path == BASE + second + "/response"


@pytest.mark.parametrize("status, meaning", [(400, "unknown or already answered request"),
                                             (403, "no longer in a state to be answered"),
                                             (410, "answered after the invoke timed out")])
def test_other_refusals_are_logged_as_warnings(api, log_out, status, meaning):
    api.response_status = status
    api.add_event(b"{}")
    _loop(lambda event, context: 1, api).serve_one()
    warnings = [line[3] for line in _log_lines(log_out) if line[0] == "[WARN]"]
    assert len(warnings) == 1
    assert "refused the response with %d" % status in warnings[0] and meaning in warnings[0]
    assert api.posts("/error") == []


def test_a_500_to_the_response_is_a_runtime_api_error(api):
    api.response_status = 500
    api.add_event(b"{}")
    with pytest.raises(RuntimeApiError) as caught:
        _loop(lambda event, context: 1, api).serve_one()
    assert caught.value.status == 500


def test_a_500_to_next_is_a_runtime_api_error(api):
    api.next_status = 500
    with pytest.raises(RuntimeApiError) as caught:
        _loop(lambda event, context: 1, api).serve_one()
    assert caught.value.status == 500


def _add_event_without_trace_id(api: FakeRuntimeApi, request_id: str) -> None:
    with api.cond:
        api.events.append(({"Lambda-Runtime-Aws-Request-Id": request_id,
                            "Lambda-Runtime-Deadline-Ms": "9999999999999"}, b"{}"))
        api.cond.notify_all()


def test_the_trace_id_is_set_for_an_invoke_with_one_and_removed_for_one_without(api):
    seen: List[Any] = []
    loop = _loop(lambda event, context: seen.append(os.environ.get("_X_AMZN_TRACE_ID")), api)
    api.add_event(b"{}", Lambda_Runtime_Trace_Id="Root=1-aaaa;Parent=bbbb;Sampled=1")
    loop.serve_one()
    assert os.environ.get("_X_AMZN_TRACE_ID") == "Root=1-aaaa;Parent=bbbb;Sampled=1"
    _add_event_without_trace_id(api, "no-trace")
    loop.serve_one()
    assert seen == ["Root=1-aaaa;Parent=bbbb;Sampled=1", None]
    assert "_X_AMZN_TRACE_ID" not in os.environ
    assert api.posts("no-trace/response")


def test_set_trace_env_false_leaves_the_variable_alone(api, monkeypatch):
    monkeypatch.setenv("_X_AMZN_TRACE_ID", "Root=mine")
    api.add_event(b"{}", Lambda_Runtime_Trace_Id="Root=theirs")
    _loop(lambda event, context: None, api, set_trace_env=False).serve_one()
    assert os.environ["_X_AMZN_TRACE_ID"] == "Root=mine"


class _Recorder:
    """A handler with ``after_invoke``, recording how many answers were posted when it ran."""

    def __init__(self, api: FakeRuntimeApi, fail: bool = False) -> None:
        self.api = api
        self.fail = fail
        self.after: List[int] = []

    def __call__(self, event: Any, context: Any) -> Any:
        if self.fail:
            raise RuntimeError("failed")
        return {"ok": True}

    def after_invoke(self) -> None:
        self.after.append(len(self.api.posts("/response")) + len(self.api.posts("/error")))


@pytest.mark.parametrize("fail", [False, True])
def test_after_invoke_is_called_after_the_answer_is_posted(api, fail):
    recorder = _Recorder(api, fail)
    api.add_event(b"{}")
    _loop(recorder, api).serve_one()
    assert recorder.after == [1]
    assert len(api.posts("/error" if fail else "/response")) == 1


def test_the_request_id_tags_the_logs_during_the_invoke_only(api, log_out):
    def handler(event: Any, context: Any) -> None:
        logs.info("inside the handler")

    request_id = api.add_event(b"{}")
    _loop(handler, api).serve_one()
    (line,) = [line for line in _log_lines(log_out) if line[3] == "inside the handler"]
    assert line[0] == "[INFO]" and line[2] == request_id
    assert logs.current_request_id() is None


# -- hostile handlers: whatever a handler raises is that invoke's error; the loop goes on ------

class _Custom(BaseException):
    pass


def _raising(kind: str) -> BaseException:
    return {"SystemExit": SystemExit(3), "KeyboardInterrupt": KeyboardInterrupt(), "GeneratorExit": GeneratorExit(),
            "_Custom": _Custom("custom"), "ValueError": ValueError("plain")}[kind]


KINDS = ["SystemExit", "KeyboardInterrupt", "GeneratorExit", "_Custom", "ValueError"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("when", ["returning", "before the first chunk", "after the first chunk"])
def test_any_exception_from_a_handler_is_answered_and_the_loop_serves_the_next(api, log_out, kind, when):
    def handler(event: Any, context: Any) -> Any:
        if event.get("good"):
            return "served"
        if when == "returning":
            raise _raising(kind)

        def chunks() -> Iterator[bytes]:
            if when == "after the first chunk":
                yield b"first"
            raise _raising(kind)
        return chunks()

    loop = _loop(handler, api)
    request_id = api.add_event(b"{}")
    loop.serve_one()  # returns: nothing escaped
    if when == "after the first chunk":
        (response,) = api.posts(request_id + "/response")
        assert response.chunks == [b"first"]  # the stream was ended, with its error in the trailers
        assert response.trailers["lambda-runtime-function-error-type"] == "Function." + kind
        body = json.loads(base64.b64decode(response.trailers["lambda-runtime-function-error-body"]))
        assert body["errorType"] == kind and body["requestId"] == request_id
        assert api.posts("/error") == []
    else:
        (error,) = api.posts(request_id + "/error")
        assert error.json()["errorType"] == kind
        assert api.posts("/response") == []
    assert any(line[0] == "[ERROR]" and line[3].startswith(kind) for line in _log_lines(log_out))
    good = api.add_event(b'{"good": true}')
    loop.serve_one()
    assert api.posts(good + "/response")[0].json() == "served"


def test_sys_exit_after_the_first_chunk_ends_the_stream_not_the_runtime(api, log_out):
    def handler(event: Any, context: Any) -> Iterator[str]:
        yield "partial;"
        sys.exit(3)

    loop = _loop(handler, api)
    request_id = api.add_event(b"{}")
    loop.serve_one()
    (response,) = api.posts(request_id + "/response")
    assert response.chunks == [b"partial;"]
    body = json.loads(base64.b64decode(response.trailers["lambda-runtime-function-error-body"]))
    assert (body["errorType"], body["errorMessage"]) == ("SystemExit", "3")
    assert any(line[0] == "[ERROR]" and line[3] == "SystemExit: 3" for line in _log_lines(log_out))
    api.add_event(b"{}")
    loop.serve_one()  # the runtime is still there; this stream fails again, as it should
    assert len(api.posts("/response")) == 2


def test_a_generator_whose_finally_raises_after_its_last_item_ends_in_the_trailers(api, log_out):
    def handler(event: Any, context: Any) -> Iterator[bytes]:
        try:
            yield b"one"
            yield b"two"
        finally:
            raise SystemExit("from close")  # pragma: no branch

    request_id = api.add_event(b"{}")
    _loop(handler, api).serve_one()
    (response,) = api.posts(request_id + "/response")
    assert response.chunks == [b"one", b"two"]
    # exhausting the generator ran its finally: that SystemExit is the stream's error
    assert response.trailers["lambda-runtime-function-error-type"] == "Function.SystemExit"


def test_an_iterator_whose_close_raises_after_a_clean_stream_is_a_warning(api, log_out):
    class Items:
        def __init__(self) -> None:
            self.items = [b"x", b"y"]

        def __iter__(self) -> "Items":
            return self

        def __next__(self) -> bytes:
            if not self.items:
                raise StopIteration
            return self.items.pop(0)

        def close(self) -> None:
            raise KeyboardInterrupt

    request_id = api.add_event(b"{}")
    _loop(lambda event, context: Items(), api).serve_one()
    (response,) = api.posts(request_id + "/response")
    assert response.chunks == [b"x", b"y"] and response.trailers == {}
    warnings = [line[3] for line in _log_lines(log_out) if line[0] == "[WARN]"]
    assert warnings == ["the streamed response's close() raised KeyboardInterrupt: ; ignored"]


def test_a_result_whose_attributes_raise_is_an_error(api):
    class Trap:
        def __getattr__(self, name: str) -> Any:
            raise SystemExit("looked at " + name)

    request_id = api.add_event(b"{}")
    _loop(lambda event, context: Trap(), api).serve_one()
    (error,) = api.posts(request_id + "/error")
    assert error.json()["errorType"] == "SystemExit" and "looked at" in error.json()["errorMessage"]


def test_a_str_result_with_a_lone_surrogate_is_valid_json(api):
    request_id = api.add_event(b"{}")
    _loop(lambda event, context: {"text": "\udcff bad"}, api).serve_one()
    (response,) = api.posts(request_id + "/response")
    assert json.loads(response.body.decode("utf-8")) == {"text": "\udcff bad"}


def test_an_exception_message_with_a_lone_surrogate_loses_nothing(api, monkeypatch):
    """The original fault: a strict UTF-8 stdout dropped the whole error and traceback."""
    raw = io.BytesIO()
    stdout = io.TextIOWrapper(raw, encoding="utf-8", errors="strict", write_through=True)
    monkeypatch.setattr(logs, "_sink", logs.LogSink("Text", "", stdout))

    def handler(event: Any, context: Any) -> None:
        raise ValueError("\udcff bad")

    request_id = api.add_event(b"{}")
    _loop(handler, api).serve_one()
    text = raw.getvalue().decode("utf-8")
    assert "\tValueError: \\udcff bad\n" in text and "Traceback (most recent call last):" in text
    assert 'raise ValueError("\\udcff bad")' in text  # the source line of the traceback
    (error,) = api.posts(request_id + "/error")
    assert json.loads(error.body.decode("utf-8"))["errorMessage"] == "\\udcff bad"


def test_an_exception_that_raises_when_examined_is_still_posted(api):
    class Hostile(Exception):
        @property
        def error_type(self) -> str:
            raise KeyboardInterrupt

        def __str__(self) -> str:
            raise SystemExit(1)

    def handler(event: Any, context: Any) -> None:
        raise Hostile()

    request_id = api.add_event(b"{}")
    _loop(handler, api).serve_one()
    (error,) = api.posts(request_id + "/error")
    assert error.json()["errorType"] == "Hostile"
    assert error.json()["errorMessage"] == "<Hostile; str() raised SystemExit>"


def test_context_log_of_an_unprintable_object_does_not_fail_the_invoke(api, log_out):
    class Unprintable:
        def __str__(self) -> str:
            raise RuntimeError("no")

        def __repr__(self) -> str:
            raise RuntimeError("no")

    def handler(event: Any, context: Any) -> str:
        context.log(Unprintable())
        return "fine"

    request_id = api.add_event(b"{}")
    _loop(handler, api).serve_one()
    assert api.posts(request_id + "/response")[0].json() == "fine"
    assert "<unprintable Unprintable object: str() raised RuntimeError>" in log_out.getvalue()


def test_an_after_invoke_that_raises_is_logged_and_the_loop_goes_on(api, log_out):
    class Handler:
        def __call__(self, event: Any, context: Any) -> str:
            return "ok"

        def after_invoke(self) -> None:
            raise OSError("clean-up failed")

    loop = _loop(Handler(), api)
    api.add_event(b"{}")
    loop.serve_one()
    assert "after_invoke failed: OSError: clean-up failed" in log_out.getvalue()
    second = api.add_event(b"{}")
    loop.serve_one()
    assert api.posts(second + "/response")


def test_a_bad_first_item_is_an_error_and_the_generator_is_closed_even_if_close_raises(api, log_out):
    closed: List[bool] = []

    def handler(event: Any, context: Any) -> Iterator[Any]:
        try:
            yield 42  # not bytes or str
            yield b"never"
        finally:
            closed.append(True)
            raise RuntimeError("cleanup failed")

    loop = _loop(handler, api)
    request_id = api.add_event(b"{}")
    loop.serve_one()
    (error,) = api.posts(request_id + "/error")
    assert error.json()["errorType"] == "TypeError"
    assert closed == [True]
    assert any(line[0] == "[WARN]" and "close() raised RuntimeError: cleanup failed" in line[3]
               for line in _log_lines(log_out))
    good = api.add_event(b"{}")
    loop.serve_one()
    assert api.posts(good + "/error")  # served: the same handler fails the same way again
