"""The invoke loop: init, then next → handle → respond, forever.

Init resolves the handler (a failure goes to ``/runtime/init/error`` and the process
exits 1), registers the SIGTERM extension when shutdown hooks exist, then serves. With
``AWS_LAMBDA_MAX_CONCURRENCY`` set (Lambda Managed Instances) the initialised process
forks that many workers, each with its own connection and its own loop, as the managed
Python runtime does: Python handlers run in parallel, free of one another's GIL.

Exit codes: 0 after SIGTERM; 1 when init failed or the Runtime API is broken
(a 500, an unexpected answer, or unreachable after the retries); 2 when the process was
not started by Lambda (``AWS_LAMBDA_RUNTIME_API`` unset).
"""

from __future__ import annotations

import os
import sys

from . import logs, shutdown
from .context import Context, FunctionInfo
from .errors import ErrorReport, InitError, header_error_type
from .payload import decode_event, encode_result, wants_raw_event
from .runtime_api import RuntimeApiClient, RuntimeApiError
from .streaming import ResponseStream, is_stream

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Optional

    from .context import Invocation

    Handler = Callable[[Any, Context], Any]

EXIT_FATAL = 1
EXIT_NOT_IN_LAMBDA = 2


class InvokeLoop:
    """Serves invokes with one handler over one Runtime API connection."""

    def __init__(self, handler: Handler, client: RuntimeApiClient, raw_event: bool = False,
                 set_trace_env: bool = True) -> None:
        self.handler = handler
        self.client = client
        self.raw_event = raw_event or wants_raw_event(handler)
        self.function = FunctionInfo()
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


def _fatal(message: str, code: int = EXIT_FATAL) -> None:
    logs.error(message)
    sys.stdout.flush()
    sys.exit(code)


def _want_sigterm() -> bool:
    setting = os.environ.get("BOOTSTRAP_SDK_SIGTERM", "").strip().lower()
    if setting in ("1", "true", "yes", "on"):
        return True
    if setting in ("0", "false", "no", "off"):
        return False
    return bool(shutdown.hooks())


def max_concurrency() -> int:
    value = os.environ.get("AWS_LAMBDA_MAX_CONCURRENCY", "").strip()
    return int(value) if value.isdigit() and int(value) > 0 else 0


def run(handler: Optional[Handler] = None, *, raw_event: bool = False) -> None:
    """Run the runtime: init, then serve invokes until Lambda shuts the environment down.

    ``handler`` is the function to call for each invoke; without one, the handler that
    ``_HANDLER`` names (``module.function``, imported from ``LAMBDA_TASK_ROOT``). With
    ``raw_event=True`` (or the ``@raw_event`` decorator) the handler gets the event's bytes.
    Never returns.
    """
    address = os.environ.get("AWS_LAMBDA_RUNTIME_API", "")
    if not address:
        _fatal("AWS_LAMBDA_RUNTIME_API is not set: this runtime must be started by Lambda or the "
               "Runtime Interface Emulator", EXIT_NOT_IN_LAMBDA)
    workers = max_concurrency()
    logs.configure(force_json=workers > 0)  # Lambda Managed Instances require JSON logs
    try:
        client = RuntimeApiClient(address)
        try:
            if handler is None:
                from .handler_loader import load_handler

                handler = load_handler(os.environ.get("_HANDLER", ""), os.environ.get("LAMBDA_TASK_ROOT"))
        except InitError as exc:
            report = ErrorReport.from_exception(exc)
            logs.error("init failed: %s: %s" % (report.error_type, report.message))
            client.post_init_error(report.body(), report.error_type)
            sys.exit(EXIT_FATAL)
        logs.bridge_logging_if_imported()
        if _want_sigterm():
            from .extensions import ExtensionsApiError, enable_sigterm

            try:
                enable_sigterm(address)
            except ExtensionsApiError as exc:
                logs.warning("SIGTERM not enabled: %s" % (exc,))
        if workers > 0:
            from .workers import WorkerPool

            WorkerPool(handler, address, workers, raw_event).run()
        else:
            if shutdown.hooks() or _want_sigterm():
                shutdown.install_sigterm_handler()
            InvokeLoop(handler, client, raw_event).serve_forever()
    except RuntimeApiError as exc:
        _fatal("fatal: %s" % (exc,))
