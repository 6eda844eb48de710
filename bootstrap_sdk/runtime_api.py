"""The Runtime API (2018-06-01) client: next, response, error, init error.

Status codes (docs/facts.md#the-runtime-api): 2xx is success; 400 and 403 (unknown or already answered
request, wrong state) and 413 (response too large: Lambda has already failed the
invoke) and 410 (late answer under multi-concurrency) are logged by the loop, which goes
back to ``/next`` without retrying; 500 and any other answer means the environment is
broken and the runtime must exit. A lost connection is re-opened and the call retried
with backoff, a bounded number of times, each loss logged. An answer that does not come
within ``http_connection.ANSWER_TIMEOUT`` (only ``/next`` may wait forever) is not
retried: the API is broken, and a POST sent twice could be answered twice.
"""

from __future__ import annotations

import time

from . import logs
from .context import Invocation
from .errors import header_error_type
from .http_connection import ANSWER_TIMEOUT, AnswerTimeout, ConnectionLost, HttpConnection

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable, Iterator, List, Optional, Tuple

    from .http_connection import Response

API_VERSION = "2018-06-01"
USER_AGENT = "bootstrap-sdk/0.1"
ERROR_TYPE_HEADER = "Lambda-Runtime-Function-Error-Type"
ERROR_BODY_TRAILER = "Lambda-Runtime-Function-Error-Body"
XRAY_CAUSE_HEADER = "Lambda-Runtime-Function-XRay-Error-Cause"

# Statuses after which the loop logs and serves the next invoke.
RECOVERABLE = frozenset((400, 403, 410, 413))

# A request id becomes one segment of a URL path, so only characters that cannot change
# the path, start a query or fragment, or need escaping are accepted: Lambda's ids are
# UUIDs, and the rule leaves room for other ASCII word-like ids.
REQUEST_ID_LIMIT = 256
_REQUEST_ID_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.:")


def request_id_problem(request_id: str) -> Optional[str]:
    """Why ``request_id`` cannot be put in a URL path, or None when it can."""
    if not request_id:
        return "missing or empty"
    if len(request_id) > REQUEST_ID_LIMIT:
        return "%d characters long, over %d" % (len(request_id), REQUEST_ID_LIMIT)
    if not _REQUEST_ID_CHARS.issuperset(request_id):
        return "has characters other than ASCII letters, digits and - _ . :"
    if not request_id.strip("."):
        return "is a dot segment"
    return None


def quote_id(request_id: str) -> str:
    """An id fit for a log line, whatever it holds: ASCII-escaped and cut short."""
    if len(request_id) <= 100:
        return ascii(request_id)
    return "%s... (%d characters)" % (ascii(request_id[:100]), len(request_id))


class RuntimeApiError(Exception):
    """The Runtime API answered in a way that leaves the runtime nothing to do but exit."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class Backoff:
    """Delays for reconnecting: 10 ms doubling up to 1 s, ``attempts`` tries in all."""

    def __init__(self, attempts: int) -> None:
        self.attempts = max(1, attempts)

    def delays(self) -> List[float]:
        return [min(0.01 * 2 ** i, 1.0) for i in range(self.attempts - 1)]


class RuntimeApiClient:
    """Talks to ``http://$AWS_LAMBDA_RUNTIME_API/2018-06-01`` over one keep-alive connection."""

    def __init__(self, address: str, backoff: Optional[Backoff] = None,
                 answer_timeout: float = ANSWER_TIMEOUT) -> None:
        self.address = address
        self.connection = HttpConnection(address, answer_timeout)
        self.backoff = backoff or Backoff(10)  # BOOTSTRAP_SDK_CONNECT_ATTEMPTS's default: about 3 s
        self._base = "/" + API_VERSION + "/runtime"
        self._agent = ("User-Agent", USER_AGENT)

    def _call(self, send: Callable[[], Response], what: str) -> Response:
        """Run ``send`` (one request), re-opening a lost connection with backoff."""
        delays = self.backoff.delays()
        for attempt in range(len(delays) + 1):
            try:
                return send()
            except AnswerTimeout as exc:
                self.connection.close()
                raise RuntimeApiError("Runtime API at %s broken during %s: %s" % (self.address, what, exc)) from None
            except ConnectionLost as exc:
                self.connection.close()
                if attempt == len(delays):
                    raise RuntimeApiError(
                        "Runtime API at %s unreachable for %s after %d attempts over %.1f s: %s"
                        % (self.address, what, attempt + 1, sum(delays), exc)
                    ) from None
                if exc.partial and what == "GET /next":
                    logs.error("GET /next: %s; the invoke it was delivering is lost; reconnecting (attempt %d of %d)"
                               % (exc, attempt + 2, len(delays) + 1))
                else:
                    logs.warning("%s: %s; reconnecting (attempt %d of %d)" % (what, exc, attempt + 2, len(delays) + 1))
                time.sleep(delays[attempt])
        raise AssertionError("unreachable")

    def next_invocation(self) -> Invocation:
        """Long-poll for the next event: no bound until the answer begins (the process is frozen in between)."""
        path = self._base + "/invocation/next"
        response = self._call(lambda: self.connection.request("GET", path, (self._agent,)), "GET /next")
        if response.status != 200:
            raise RuntimeApiError(
                "GET %s answered %d: %s" % (path, response.status, _excerpt(response.body)), response.status)
        return Invocation(response.headers, response.body)

    def _invocation_path(self, request_id: str, leaf: str) -> str:
        problem = request_id_problem(request_id)
        if problem is not None:  # the loop checks first; this guards any other caller
            raise ValueError("request id %s %s" % (quote_id(request_id), problem))
        return "%s/invocation/%s/%s" % (self._base, request_id, leaf)

    def post_response(self, request_id: str, body: bytes, content_type: str) -> int:
        path = self._invocation_path(request_id, "response")
        headers = (self._agent, ("Content-Type", content_type))
        return self._check(self._call(lambda: self.connection.request("POST", path, headers, body),
                                      "POST /response"), path)

    def post_stream(self, request_id: str, chunks: Iterator[bytes], content_type: str,
                    trailers: Callable[[], List[Tuple[str, str]]]) -> int:
        """Stream a response; ``trailers()`` is read after the last chunk (errors go there)."""
        path = self._invocation_path(request_id, "response")
        headers = (
            self._agent,
            ("Content-Type", content_type),
            ("Lambda-Runtime-Function-Response-Mode", "streaming"),
            ("Trailer", ERROR_TYPE_HEADER + ", " + ERROR_BODY_TRAILER),
        )
        # A stream cannot be replayed: no retry once bytes may have left.
        try:
            response = self.connection.request_chunked("POST", path, headers, chunks, trailers)
        except ConnectionLost as exc:
            self.connection.close()
            raise RuntimeApiError("Runtime API at %s lost while streaming (a stream cannot be sent again): %s"
                                  % (self.address, exc)) from None
        return self._check(response, path)

    def post_error(self, request_id: str, body: bytes, error_type: str, xray_cause: Optional[str]) -> int:
        path = self._invocation_path(request_id, "error")
        return self._post_error(path, body, error_type, xray_cause)

    def post_init_error(self, body: bytes, error_type: str) -> int:
        return self._post_error(self._base + "/init/error", body, error_type, None)

    def _post_error(self, path: str, body: bytes, error_type: str, xray_cause: Optional[str]) -> int:
        # Made header-safe here too: an init error's type can come from the function's own exception.
        headers = [self._agent, ("Content-Type", "application/json"),
                   (ERROR_TYPE_HEADER, header_error_type(error_type))]
        if xray_cause is not None:
            headers.append((XRAY_CAUSE_HEADER, xray_cause))
        return self._check(self._call(lambda: self.connection.request("POST", path, headers, body),
                                      "POST /init/error" if path.endswith("/init/error") else "POST /error"), path)

    @staticmethod
    def _check(response: Response, path: str) -> int:
        if 200 <= response.status < 300 or response.status in RECOVERABLE:
            return response.status
        raise RuntimeApiError(
            "POST %s answered %d: %s" % (path, response.status, _excerpt(response.body)), response.status)


def _excerpt(body: bytes) -> str:
    return body[:300].decode("utf-8", "replace").strip() or "(empty body)"
