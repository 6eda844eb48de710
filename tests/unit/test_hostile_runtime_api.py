"""The Runtime API's answers are input too: an in-process fake that misbehaves byte by byte.

Each attack checks three things: the condition is logged in words that name it, the loop
serves the next invoke (or, where the API is broken, ends with ``RuntimeApiError``, the
documented fatal path), and nothing hangs.
"""

from __future__ import annotations

import io
import threading
import time
from typing import Any, Callable, Iterator, List

import pytest
from fake_runtime_api import FakeRuntimeApi, Raw, answer, client_of, event_headers

from bootstrap_sdk import invoke_loop, logs
from bootstrap_sdk.context import UNKNOWN_DEADLINE_BUDGET_MS, FunctionInfo
from bootstrap_sdk.http_connection import BODY_LIMIT, HEADER_LIMIT
from bootstrap_sdk.invoke_loop import InvokeLoop
from bootstrap_sdk.runtime_api import RuntimeApiError

NEXT = "/invocation/next"
FUNCTION = FunctionInfo("hostile-fn")
ANSWER_TIMEOUT = 0.5  # the bound on a POST's answer, short for the tests


@pytest.fixture
def api(module_api: FakeRuntimeApi) -> Iterator[FakeRuntimeApi]:
    module_api.reset()
    yield module_api
    module_api.reset()  # releases whatever a failed test left hanging


@pytest.fixture(autouse=True)
def log_out() -> Iterator[io.StringIO]:
    saved = logs._sink
    out = io.StringIO()
    logs._sink = logs.LogSink("Text", "", out)
    try:
        yield out
    finally:
        logs._sink = saved
        logs.set_request_id(None)


def _loop(api: FakeRuntimeApi, handler: Any = None) -> InvokeLoop:
    client = client_of(api, answer_timeout=ANSWER_TIMEOUT)
    return InvokeLoop(handler or (lambda event, context: {"served": event}), client, FUNCTION)


def _within(seconds: float, work: Callable[[], Any]) -> Any:
    """Run ``work`` in a thread; fail if it is still running after ``seconds`` (a hang)."""
    outcome: List[Any] = []

    def run() -> None:
        try:
            outcome.append(("ok", work()))
        except BaseException as exc:
            outcome.append(("raised", exc))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), "still running after %.1f s: it hangs" % seconds
    kind, value = outcome[0]
    if kind == "raised":
        raise value
    return value


def _lines(out: io.StringIO, level: str) -> List[str]:
    return [line.split("\t", 3)[3] for line in out.getvalue().splitlines() if line.startswith(level)]


def _served(api: FakeRuntimeApi, request_id: str) -> bool:
    return any(r.path.endswith("/" + request_id + "/response") for r in api.posts("/response"))


def _no_answers(api: FakeRuntimeApi) -> None:
    assert [r.path for r in api.requests if r.method == "POST"] == []


# -- the request id -------------------------------------------------------------------

def _raw_event(request_id: Any = None, drop: str = "", body: bytes = b'{"k": 1}', **headers: str) -> Raw:
    found = [h for h in event_headers(request_id, **headers) if h[0] != drop]
    return Raw(answer(200, found, body), after="keep")


@pytest.mark.parametrize("request_id", ["", "   "])
def test_a_missing_request_id_is_logged_and_the_invoke_skipped(api, log_out, request_id):
    api.add_fault(NEXT, _raw_event(request_id) if request_id else _raw_event(drop="Lambda-Runtime-Aws-Request-Id"))
    loop = _loop(api)
    _within(5, loop.serve_one)
    _no_answers(api)
    (error,) = _lines(log_out, "[ERROR]")
    assert "Lambda-Runtime-Aws-Request-Id" in error and "cannot be answered" in error
    assert "missing or empty" in error  # blanks are stripped as any header value's are
    good = api.add_event(b"{}")
    _within(5, loop.serve_one)
    assert _served(api, good)


BAD_IDS = ["../../init/error", "..", ".", "a/b", "a?b", "a#b", "a%2Fb", "a b", "a\tb", "a\x01b", "a\x7fb",
           "caf\u00e9", "x" * 257, "a;b", "a\\b"]


@pytest.mark.parametrize("request_id", BAD_IDS)
def test_a_request_id_that_would_change_the_url_is_refused(api, log_out, request_id):
    api.add_fault(NEXT, _raw_event(request_id))
    loop = _loop(api)
    _within(5, loop.serve_one)
    _no_answers(api)  # nothing went to /init/error, nor anywhere else
    (error,) = _lines(log_out, "[ERROR]")
    assert "cannot be answered and is skipped" in error
    assert error.isascii() and error.isprintable()  # the id is quoted safely, whatever it holds
    assert ascii(request_id[:100]) in error
    good = api.add_event(b"{}")
    _within(5, loop.serve_one)
    assert _served(api, good)


@pytest.mark.parametrize("request_id", ["8476a536-e9f4-11e8-9739-2dfe598c3fcd", "a.b_c:d-E", "x" * 256, "a..b"])
def test_request_ids_of_the_allowed_charset_are_answered(api, request_id):
    api.add_fault(NEXT, _raw_event(request_id))
    _within(5, _loop(api).serve_one)
    assert _served(api, request_id)


def test_two_different_request_ids_are_not_guessed_between(api, log_out):
    headers = event_headers("first-id") + [("Lambda-Runtime-Aws-Request-Id", "second-id")]
    api.add_fault(NEXT, Raw(answer(200, headers, b"{}"), after="keep"))
    _within(5, _loop(api).serve_one)
    _no_answers(api)
    assert "'first-id, second-id'" in _lines(log_out, "[ERROR]")[0]


def test_unusable_invokes_without_end_mean_a_broken_runtime_api(api, log_out, monkeypatch):
    monkeypatch.setattr(invoke_loop, "UNUSABLE_LIMIT", 3)
    loop = _loop(api)
    for _ in range(3):
        api.add_fault(NEXT, _raw_event(""))
    _within(5, loop.serve_one)
    _within(5, loop.serve_one)
    with pytest.raises(RuntimeApiError, match="3 such invokes in a row: the Runtime API is broken"):
        _within(5, loop.serve_one)
    # a usable invoke in between starts the count again
    loop = _loop(api)
    for bad in (True, True, False, True, True):
        if bad:
            api.add_fault(NEXT, _raw_event(""))
        else:
            api.add_event(b"{}")
        _within(5, loop.serve_one)


# -- the deadline ---------------------------------------------------------------------

@pytest.mark.parametrize("deadline", [None, "", "1.5e12", "-5", "soon", "5000", "1700000000", "9" * 5000,
                                      "1700000000000, 1700000000001"])
def test_an_unusable_deadline_is_unknown_and_said_once(api, log_out, deadline):
    seen: List[Any] = []

    def handler(event: Any, context: Any) -> Any:
        seen.append((context.deadline_known, context.get_remaining_time_in_millis(), context.deadline_ms))
        return "ok"

    headers = [h for h in event_headers("dl-1") if h[0] != "Lambda-Runtime-Deadline-Ms"]
    if deadline is not None:
        headers.append(("Lambda-Runtime-Deadline-Ms", deadline))
    api.add_fault(NEXT, Raw(answer(200, headers, b"{}"), after="keep"))
    before = int(time.time() * 1000)
    _within(5, _loop(api, handler).serve_one)
    ((known, remaining, deadline_ms),) = seen
    assert known is False
    assert UNKNOWN_DEADLINE_BUDGET_MS - 5000 < remaining <= UNKNOWN_DEADLINE_BUDGET_MS
    assert before + UNKNOWN_DEADLINE_BUDGET_MS <= deadline_ms <= int(time.time() * 1000) + UNKNOWN_DEADLINE_BUDGET_MS
    (warning,) = _lines(log_out, "[WARN]")
    assert "Lambda-Runtime-Deadline-Ms" in warning and "deadline is unknown" in warning
    assert ("is missing" in warning) if deadline is None else ("is not epoch milliseconds" in warning)
    assert _served(api, "dl-1")


def test_a_good_deadline_is_known_and_not_warned_about(api, log_out):
    seen: List[Any] = []
    api.add_event(b"{}")
    _within(5, _loop(api, lambda event, context: seen.append(context.deadline_known)).serve_one)
    assert seen == [True]
    assert _lines(log_out, "[WARN]") == []


# -- framing faults on /next: the invoke is lost, said, and the next one served ----------

CUT = [
    ("a negative Content-Length", answer(200, event_headers() + [("Content-Length", "-5")], b"{}",
                                         content_length=False), "malformed Content-Length"),
    ("a non-numeric Content-Length", answer(200, event_headers() + [("Content-Length", "ten")], b"{}",
                                            content_length=False), "malformed Content-Length"),
    ("a Content-Length over the body limit",
     answer(200, event_headers() + [("Content-Length", str(BODY_LIMIT + 1))], b"{}", content_length=False),
     "over the %d-byte limit" % BODY_LIMIT),
    ("conflicting Content-Lengths", answer(200, event_headers() + [("Content-Length", "2"), ("Content-Length", "3")],
                                           b"{}", content_length=False), "malformed Content-Length"),
    ("a body cut mid-way", answer(200, event_headers() + [("Content-Length", "100")], b'{"cut',
                                  content_length=False), "closed by the server mid-answer"),
    ("a close right after the headers", answer(200, event_headers() + [("Content-Length", "2")], b"",
                                               content_length=False), "closed by the server mid-answer"),
    ("a bad chunk size", answer(200, event_headers() + [("Transfer-Encoding", "chunked")], b"zz\r\n{}\r\n0\r\n\r\n",
                                content_length=False), "malformed chunk size"),
    ("a negative chunk size", answer(200, event_headers() + [("Transfer-Encoding", "chunked")],
                                     b"-2\r\n{}\r\n0\r\n\r\n", content_length=False), "malformed chunk size"),
    ("a chunked body cut mid-way", answer(200, event_headers() + [("Transfer-Encoding", "chunked")], b"10\r\n{}",
                                          content_length=False), "closed by the server mid-answer"),
    ("an unknown Transfer-Encoding", answer(200, event_headers() + [("Transfer-Encoding", "gzip, chunked")], b"",
                                            content_length=False), "unsupported Transfer-Encoding"),
    ("a garbage status line", b"HTTP/1.1 2OO OK\r\n\r\n", "malformed status line"),
    ("a status line that is not HTTP", b"SSH-2.0-OpenSSH\r\n\r\n", "malformed status line"),
    ("a header line without a colon", answer(200, event_headers() + [("", "no colon here")], b"{}"),
     "malformed header line"),
    ("a continuation line first", answer(200, [("", " folded")] + event_headers(), b"{}"),
     "continuation line before any header"),
    ("a header block over the limit", answer(200, event_headers() + [("X-Big", "a" * HEADER_LIMIT)], b"{}"),
     "header block over %d bytes" % HEADER_LIMIT),
    ("a protocol switch", b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n", "unrequested protocol switch"),
]


@pytest.mark.parametrize("what, data, says", CUT, ids=[c[0] for c in CUT])
def test_a_malformed_answer_to_next_loses_that_invoke_says_so_and_serves_the_next(api, log_out, what, data, says):
    api.add_fault(NEXT, Raw(data))
    good = api.add_event(b'{"after": "fault"}')
    _within(10, _loop(api).serve_one)
    assert _served(api, good)
    assert api.posts("/response")[0].json() == {"served": {"after": "fault"}}
    (error,) = _lines(log_out, "[ERROR]")
    assert error.startswith("GET /next: ") and says in error
    assert "the invoke it was delivering is lost; reconnecting" in error


def test_a_connection_closed_before_any_answer_is_a_warning_not_a_lost_invoke(api, log_out):
    api.drop_polls = 1
    good = api.add_event(b"{}")
    _within(10, _loop(api).serve_one)
    assert _served(api, good)
    (warning,) = _lines(log_out, "[WARN]")
    assert warning.startswith("GET /next: ") and "closed by the server" in warning and "reconnecting" in warning
    assert _lines(log_out, "[ERROR]") == []


def test_malformed_answers_without_end_are_fatal_after_the_retries(api, log_out):
    for _ in range(3):
        api.add_fault(NEXT, Raw(b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n"))
    with pytest.raises(RuntimeApiError, match="after 3 attempts.*malformed Content-Length"):
        _within(10, _loop(api).serve_one)
    assert len(_lines(log_out, "[ERROR]")) == 2  # each retried loss said, then the fatal error


def test_a_64_mb_header_is_cut_off_at_the_limit_in_well_under_a_second(api, log_out):
    head = b"HTTP/1.1 200 OK\r\nX-Huge: " + b"a" * (64 * 1024 * 1024) + b"\r\nContent-Length: 2\r\n\r\n{}"
    api.add_fault(NEXT, Raw(head))
    good = api.add_event(b"{}")
    started = time.monotonic()
    _within(10, _loop(api).serve_one)
    assert time.monotonic() - started < 2.0
    assert _served(api, good)
    assert "header block over %d bytes" % HEADER_LIMIT in _lines(log_out, "[ERROR]")[0]


# -- answers the client must accept ---------------------------------------------------------

def test_interim_answers_before_next_are_skipped(api, log_out):
    api.add_fault(NEXT, Raw(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\n\r\n"
                            b"HTTP/1.1 103 Early Hints\r\nLink: </a>; rel=preload\r\n\r\n", after="serve"))
    good = api.add_event(b'{"n": 1}')
    _within(5, _loop(api).serve_one)
    assert _served(api, good)
    assert log_out.getvalue() == ""


@pytest.mark.parametrize("suffix", ["/response", "/error"])
def test_interim_answers_before_a_posts_answer_are_skipped(api, log_out, suffix):
    api.add_fault(suffix, Raw(b"HTTP/1.1 100 Continue\r\n\r\n", after="serve"))
    api.add_event(b"{}")
    loop = _loop(api, (lambda event, context: 1 / 0) if suffix == "/error" else None)
    _within(5, loop.serve_one)
    assert len(api.posts(suffix)) == 1  # not posted twice
    assert _lines(log_out, "[WARN]") == []
    good = api.add_event(b"{}")
    _within(5, _loop(api).serve_one)
    assert _served(api, good)


def test_endless_interim_answers_end_at_the_header_limit(api, log_out):
    api.add_fault(NEXT, Raw(b"HTTP/1.1 100 Continue\r\n\r\n" * (HEADER_LIMIT // 20)))
    good = api.add_event(b"{}")
    _within(10, _loop(api).serve_one)
    assert _served(api, good)
    assert "header block over" in _lines(log_out, "[ERROR]")[0]


def test_http_1_0_without_content_length_is_read_to_the_close(api, log_out):
    api.add_fault(NEXT, Raw(answer(200, event_headers("old-1"), b'{"old": true}', version="HTTP/1.0",
                                   content_length=False)))
    _within(5, _loop(api).serve_one)
    assert api.posts("/response")[0].json() == {"served": {"old": True}}
    assert log_out.getvalue() == ""


def test_chunked_next_with_extensions_and_trailers(api, log_out):
    body = b"3;name=value\r\n{\"a\r\n4 ; x\r\n\": 1\r\n1\r\n}\r\n0;last\r\nX-Trailer: t\r\nX-Other: u\r\n\r\n"
    api.add_fault(NEXT, Raw(answer(200, event_headers("ch-1") + [("Transfer-Encoding", "Chunked")], body,
                                   content_length=False), after="keep"))
    _within(5, _loop(api).serve_one)
    assert api.posts("/response")[0].json() == {"served": {"a": 1}}
    assert log_out.getvalue() == ""


def test_obs_fold_and_repeated_equal_content_lengths_are_accepted(api, log_out):
    headers = event_headers("fold-1") + [("Lambda-Runtime-Trace-Id", "Root=1-abc;"), ("", "\tParent=def"),
                                         ("Content-Length", "2"), ("content-length", "2")]
    seen: List[Any] = []
    api.add_fault(NEXT, Raw(answer(200, headers, b"{}", content_length=False), after="keep"))
    _within(5, _loop(api, lambda event, context: seen.append(context.trace_id)).serve_one)
    assert seen == ["Root=1-abc; Parent=def"]
    assert _served(api, "fold-1")


def test_a_trace_id_the_environment_cannot_hold_is_dropped_with_a_warning(api, log_out, monkeypatch):
    monkeypatch.setenv("_X_AMZN_TRACE_ID", "Root=stale")
    seen: List[Any] = []
    import os

    api.add_fault(NEXT, _raw_event("tr-1", Lambda_Runtime_Trace_Id="Root=1-a\x00b"))
    _within(5, _loop(api, lambda event, context: seen.append(os.environ.get("_X_AMZN_TRACE_ID"))).serve_one)
    assert seen == [None]
    assert "Lambda-Runtime-Trace-Id 'Root=1-a\\x00b' is not printable ASCII" in _lines(log_out, "[WARN]")[0]
    assert _served(api, "tr-1")


@pytest.mark.parametrize("header", ["Lambda-Runtime-Client-Context", "Lambda-Runtime-Cognito-Identity"])
def test_a_json_header_nested_too_deep_is_an_error_of_that_invoke(api, header):
    api.add_fault(NEXT, _raw_event("deep-1", **{header.replace("-", "_"): "[" * 30000}))
    _within(5, _loop(api).serve_one)
    (error,) = api.posts("/error")
    assert error.json()["errorType"] == "Runtime.LambdaContextUnmarshalError"


def test_an_event_nested_too_deep_is_an_unmarshal_error(api):
    request_id = api.add_event(b"[" * 100000)
    _within(5, _loop(api).serve_one)
    (error,) = api.posts(request_id + "/error")
    assert error.json()["errorType"] == "Runtime.UnmarshalError"


# -- answers that never come ------------------------------------------------------------

@pytest.mark.parametrize("suffix", ["/response", "/error"])
def test_a_post_never_answered_is_fatal_within_the_bound(api, log_out, suffix):
    api.add_fault(suffix, Raw(after="hang"))
    api.add_event(b"{}")
    loop = _loop(api, (lambda event, context: 1 / 0) if suffix == "/error" else None)
    started = time.monotonic()
    with pytest.raises(RuntimeApiError, match="did not answer within 0.5 s"):
        _within(10, loop.serve_one)
    assert ANSWER_TIMEOUT <= time.monotonic() - started < ANSWER_TIMEOUT + 3
    assert len(api.posts(suffix)) == 1  # not sent again: it may have been taken


def test_an_init_error_never_answered_is_fatal_within_the_bound(api):
    api.add_fault("/init/error", Raw(after="hang"))
    client = client_of(api, answer_timeout=ANSWER_TIMEOUT)
    with pytest.raises(RuntimeApiError, match="did not answer within"):
        _within(10, lambda: client.post_init_error(b"{}", "Runtime.Fake"))


def test_a_stream_never_answered_is_fatal_within_the_bound(api):
    api.add_fault("/response", Raw(after="hang"))
    api.add_event(b"{}")
    with pytest.raises(RuntimeApiError, match="lost while streaming.*did not answer within"):
        _within(10, _loop(api, lambda event, context: iter([b"a", b"b"])).serve_one)


def test_an_answer_to_next_that_stalls_once_begun_is_fatal_within_the_bound(api):
    api.add_fault(NEXT, Raw(answer(200, event_headers() + [("Content-Length", "10")], b"{}", content_length=False),
                            after="hang"))
    with pytest.raises(RuntimeApiError, match="did not finish its answer within 0.5 s"):
        _within(10, _loop(api).serve_one)


def test_next_waits_past_the_answer_bound_after_a_bounded_post(api):
    """The POST's bound does not stay on the socket: /next may wait for as long as it takes."""
    loop = _loop(api)
    api.add_event(b"{}")
    _within(5, loop.serve_one)  # a POST, bounded, on this connection
    timer = threading.Timer(ANSWER_TIMEOUT * 3, lambda: api.add_event(b'{"late": 1}', request_id="late-1"))
    timer.start()
    try:
        _within(10, loop.serve_one)
    finally:
        timer.cancel()
    assert _served(api, "late-1")


@pytest.mark.parametrize("error_type, header", [("Bad\r\nX-Injected: 1", "Function.Bad__X-Injected__1"),
                                                ("Caf\u00e9\u20ac.Type", "Caf__.Type")])
def test_an_init_error_type_cannot_break_its_header(api, error_type, header):
    client = client_of(api, answer_timeout=ANSWER_TIMEOUT)
    assert _within(5, lambda: client.post_init_error(b"{}", error_type)) == 202
    (posted,) = api.posts("/init/error")
    assert posted.headers["lambda-runtime-function-error-type"] == header
    assert "x-injected" not in posted.headers
