"""runtime_api: the reconnect backoff, and what may go into a URL as a request id."""

from __future__ import annotations

import pytest

from bootstrap_sdk.runtime_api import REQUEST_ID_LIMIT, RuntimeApiClient, quote_id, request_id_problem


def test_backoff_is_bounded():
    from bootstrap_sdk.runtime_api import Backoff

    delays = Backoff(10).delays()
    assert len(delays) == 9 and delays[0] == 0.01 and max(delays) == 1.0
    assert Backoff(0).delays() == []


@pytest.mark.parametrize("request_id", ["8476a536-e9f4-11e8-9739-2dfe598c3fcd", "A_b.c:d-9", "a..b", "...a",
                                        "x" * REQUEST_ID_LIMIT])
def test_ids_that_are_one_path_segment_are_accepted(request_id):
    assert request_id_problem(request_id) is None


@pytest.mark.parametrize("request_id, problem", [
    ("", "missing or empty"),
    ("x" * (REQUEST_ID_LIMIT + 1), "257 characters long, over 256"),
    ("../../init/error", "characters other than"),
    ("a/b", "characters other than"), ("a?b", "characters other than"), ("a#b", "characters other than"),
    ("a%2e", "characters other than"), ("a b", "characters other than"), ("a\nb", "characters other than"),
    ("a\x00", "characters other than"), ("\u0661\u0662", "characters other than"), ("ﬁ", "characters other than"),
    (".", "is a dot segment"), ("..", "is a dot segment"), ("....", "is a dot segment"),
])
def test_ids_that_could_change_the_url_are_refused(request_id, problem):
    assert problem in (request_id_problem(request_id) or "")


def test_the_client_refuses_to_build_a_url_from_a_bad_id():
    client = RuntimeApiClient("127.0.0.1:9")
    for post in (lambda: client.post_response("../init/error", b"", "application/json"),
                 lambda: client.post_error("a/b", b"", "Function.X", None),
                 lambda: client.post_stream("", iter(()), "application/octet-stream", list)):
        with pytest.raises(ValueError, match="request id"):
            post()


def test_quote_id_is_ascii_and_short_whatever_the_id():
    assert quote_id("abc") == "'abc'"
    assert quote_id("a\x00\udcff\u00e9") == "'a\\x00\\udcff\\xe9'"
    long = quote_id("y" * 5000)
    assert long.endswith("... (5000 characters)") and len(long) < 130
