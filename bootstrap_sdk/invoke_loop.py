"""The invoke loop: next → handle → respond, forever, over one Runtime API connection.

One invoke: ``GET /next`` gives an ``Invocation``; the request id goes to the logs and
the trace id to ``_X_AMZN_TRACE_ID``; the handler gets the decoded event (or its bytes)
and a ``Context``; what it returns is posted as the response (or streamed, for an
iterator), what it raises as an ``/error``. A refusal the Runtime API may give (400, 403,
410, 413) is logged and the loop goes on; anything worse is a ``RuntimeApiError`` for
the entry (docs/facts.md#the-runtime-api).
"""

from __future__ import annotations

import os

from . import logs
from .context import Context, FunctionInfo
from .errors import ErrorReport, header_error_type
from .payload import decode_event, encode_result, wants_raw_event
from .runtime_api import RuntimeApiClient
from .streaming import ResponseStream, is_stream

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Optional

    from .context import Invocation

    Handler = Callable[[Any, Context], Any]

class InvokeLoop:
    """Serves invokes with one handler over one Runtime API connection."""

    def __init__(self, handler: Handler, client: RuntimeApiClient, function: FunctionInfo,
                 raw_event: bool = False, set_trace_env: bool = True) -> None:
        self.handler = handler
        self.client = client
        self.raw_event = raw_event or wants_raw_event(handler)
        self.function = function
        self.set_trace_env = set_trace_env
        # Work a handler defers until its response is posted (the executable adapter's clean-up).
        self.after_invoke = getattr(handler, "after_invoke", None)

    def serve_forever(self) -> None:
        while True:
            self.serve_one()

    def serve_one(self) -> None:
        invocation = self.client.next_invocation()
        request_id = invocation.request_id
        logs.set_request_id(request_id)
        if self.set_trace_env:
            if invocation.trace_id:
                os.environ["_X_AMZN_TRACE_ID"] = invocation.trace_id
            else:
                os.environ.pop("_X_AMZN_TRACE_ID", None)
        logs.bridge_logging_if_imported()
        try:
            self._handle(invocation)
            if self.after_invoke is not None:
                self.after_invoke()
        finally:
            logs.set_request_id(None)

    def _handle(self, invocation: Invocation) -> None:
        request_id = invocation.request_id
        stream: Optional[ResponseStream] = None
        try:
            context = Context(invocation, self.function)
            event = invocation.body if self.raw_event else decode_event(invocation.body)
            result = self.handler(event, context)
            if is_stream(result):
                stream = ResponseStream(result, request_id)
                stream.start()
            else:
                body, content_type = encode_result(result)
        except (Exception, SystemExit) as exc:
            # sys.exit() in a handler is a failed invoke, not the end of the runtime.
            self._post_error(request_id, ErrorReport.from_exception(exc))
            return
        if stream is not None:
            self._stream(request_id, stream)
            return
        status = self.client.post_response(request_id, body, content_type)
        if status == 413:
            logs.error("response of %d bytes is over the Runtime API's limit: Lambda failed this invoke "
                       "(Function.ResponseSizeTooLarge); no /error is posted after a 413" % len(body))
        elif status >= 300:
            self._log_refused("response", status)

    def _stream(self, request_id: str, stream: ResponseStream) -> None:
        status = self.client.post_stream(request_id, stream.chunks(), "application/octet-stream", stream.trailers)
        if stream.error is not None:
            self._log_error(stream.error)
        if status >= 300:
            self._log_refused("streamed response", status)

    def _post_error(self, request_id: str, report: ErrorReport) -> None:
        self._log_error(report)
        status = self.client.post_error(request_id, report.body(request_id),
                                        header_error_type(report.error_type), report.xray_cause())
        if status >= 300:
            self._log_refused("error", status)

    @staticmethod
    def _log_error(report: ErrorReport) -> None:
        lines = report.log_lines()
        logs.error(lines[0][len("[ERROR] "):] + "".join("\n" + line for line in lines[1:]))

    @staticmethod
    def _log_refused(what: str, status: int) -> None:
        meaning = {
            400: "unknown or already answered request",
            403: "the invoke is no longer in a state to be answered",
            410: "answered after the invoke timed out; dropped",
            413: "too large",
        }.get(status, "unexpected status")
        logs.warning("Runtime API refused the %s with %d (%s); serving the next invoke" % (what, status, meaning))
