"""The invoke loop: next → handle → respond, forever, over one Runtime API connection.

One invoke: ``GET /next`` gives an ``Invocation``; the request id goes to the logs and
the trace id to ``_X_AMZN_TRACE_ID``; the handler gets the decoded event (or its bytes)
and a ``Context``; what it returns is posted as the response (or streamed, for an
iterator), what it raises as an ``/error``. A refusal the Runtime API may give (400, 403,
410, 413) is logged and the loop goes on; anything worse is a ``RuntimeApiError`` for
the entry (docs/facts.md#the-runtime-api).

Everything a handler raises is that invoke's error, ``BaseException`` included:
``sys.exit()``, ``KeyboardInterrupt`` and ``GeneratorExit`` from a handler end its invoke,
not the runtime. (A real SIGINT arriving while a handler runs is reported the same way;
Lambda sends none. One arriving in ``/next`` still ends the process, as Python's default.)
"""

from __future__ import annotations

from . import environment, logs
from .context import UNKNOWN_DEADLINE_BUDGET_MS, Context, FunctionInfo
from .errors import ErrorReport, header_error_type
from .payload import decode_event, encode_result, is_stream, wants_raw_event
from .runtime_api import RuntimeApiClient, RuntimeApiError, quote_id, request_id_problem

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Optional

    from .context import Invocation
    from .streaming import ResponseStream

    Handler = Callable[[Any, Context], Any]

# Invokes in a row without a usable request id after which the Runtime API counts as broken.
# One such invoke is skipped: exiting would fail every invoke in flight (all workers' under
# multi-concurrency) and cost a new init, for what may be a one-off; Lambda times the
# skipped invoke out. A Runtime API that hands out nothing else is broken, as after a 500.
UNUSABLE_LIMIT = 10


def _env_safe(value: str) -> bool:
    """Printable ASCII only: a NUL cannot go into the environment at all."""
    return value.isascii() and value.isprintable()


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
        self.unusable_in_a_row = 0

    def serve_forever(self) -> None:
        while True:
            self.serve_one()

    def serve_one(self) -> None:
        invocation = self.client.next_invocation()
        request_id = invocation.request_id
        problem = request_id_problem(request_id)
        if problem is not None:
            self._skip_unusable(request_id, problem)
            return
        self.unusable_in_a_row = 0
        logs.set_request_id(request_id)
        try:
            if not invocation.deadline_known:
                logs.warning("Lambda-Runtime-Deadline-Ms %s: the deadline is unknown; assuming %d ms from receipt "
                             "(Lambda's longest timeout)"
                             % ("is missing" if invocation.deadline_header is None
                                else "%s is not epoch milliseconds" % quote_id(invocation.deadline_header),
                                UNKNOWN_DEADLINE_BUDGET_MS))
            if self.set_trace_env:
                self._set_trace_env(invocation.trace_id)
            logs.bridge_logging_if_imported()
            self._handle(invocation)
            if self.after_invoke is not None:
                try:
                    self.after_invoke()
                except Exception as exc:  # the adapter's clean-up: its failure is not the invoke's
                    logs.error("after_invoke failed: %s: %s" % (type(exc).__name__, logs.safe_text(exc)))
        finally:
            logs.set_request_id(None)

    def _skip_unusable(self, request_id: str, problem: str) -> None:
        """An invoke whose id cannot go into a URL cannot be answered: say so, and go on."""
        self.unusable_in_a_row += 1
        message = ("GET /next gave an invoke whose Lambda-Runtime-Aws-Request-Id %s %s: it cannot be answered "
                   "and is skipped (Lambda will time it out)" % (quote_id(request_id), problem))
        if self.unusable_in_a_row >= UNUSABLE_LIMIT:
            raise RuntimeApiError("%s; %d such invokes in a row: the Runtime API is broken"
                                  % (message, self.unusable_in_a_row))
        logs.error(message)

    @staticmethod
    def _set_trace_env(trace_id: Optional[str]) -> None:
        if trace_id and _env_safe(trace_id):
            environment.set_variable("_X_AMZN_TRACE_ID", trace_id)
            return
        if trace_id:
            logs.warning("Lambda-Runtime-Trace-Id %s is not printable ASCII; _X_AMZN_TRACE_ID is unset for this "
                         "invoke" % quote_id(trace_id))
        environment.unset_variable("_X_AMZN_TRACE_ID")

    def _handle(self, invocation: Invocation) -> None:
        request_id = invocation.request_id
        stream: Optional[ResponseStream] = None
        try:
            context = Context(invocation, self.function)
            event = invocation.body if self.raw_event else decode_event(invocation.body)
            result = self.handler(event, context)
            if is_stream(result):
                from .streaming import ResponseStream  # only a streaming handler needs it

                stream = ResponseStream(result, request_id)
                stream.start()
            else:
                body, content_type = encode_result(result)
        except BaseException as exc:  # sys.exit(), KeyboardInterrupt...: an error of this invoke, not the end
            if stream is not None:
                stream.close()
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
        chunks = stream.chunks()
        try:
            status = self.client.post_stream(request_id, chunks, "application/octet-stream", stream.trailers)
        finally:
            chunks.close()  # a stream cut off closes the handler's iterator too
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
