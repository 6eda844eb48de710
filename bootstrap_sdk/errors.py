"""Error payloads for ``/error`` and ``/init/error``, and the X-Ray cause header.

The payload has the shape the managed Python runtime (awslambdaric) posts, so tools that
read Lambda's error responses see the same thing:
``{"errorMessage", "errorType", "requestId", "stackTrace": [...]}``.
"""

from __future__ import annotations

import json
import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import TracebackType
    from typing import Any, Dict, List, Optional, Tuple

# errorType values for failures the runtime itself detects (the managed runtime's names).
MALFORMED_HANDLER_NAME = "Runtime.MalformedHandlerName"
IMPORT_MODULE_ERROR = "Runtime.ImportModuleError"
USER_CODE_SYNTAX_ERROR = "Runtime.UserCodeSyntaxError"
HANDLER_NOT_FOUND = "Runtime.HandlerNotFound"
HANDLER_NOT_CALLABLE = "Runtime.HandlerNotCallable"
BUILT_IN_MODULE_CONFLICT = "Runtime.BuiltInModuleConflict"
UNMARSHAL_ERROR = "Runtime.UnmarshalError"
MARSHAL_ERROR = "Runtime.MarshalError"
CONTEXT_UNMARSHAL_ERROR = "Runtime.LambdaContextUnmarshalError"

# How the runtime process ends (0: SIGTERM, or a worker's clean exit).
EXIT_FATAL = 1          # init failed, or the Runtime API is broken
EXIT_NOT_IN_LAMBDA = 2  # AWS_LAMBDA_RUNTIME_API unset: not started by Lambda or the RIE

# Keep the X-Ray cause header well under the Runtime API's header limits (docs/facts.md#the-runtime-api).
XRAY_CAUSE_LIMIT = 64 * 1024 - 1
# An error body must itself fit a response; trim messages and traces far below 6 MB.
_MESSAGE_LIMIT = 256 * 1024
_TRACE_LIMIT = 256


class FunctionError(Exception):
    """Raise from a handler to choose the ``errorType`` Lambda reports.

    ``FunctionError("record 3: bad date", error_type="Validation.BadDate")`` gives an
    error response with that errorType and message; any other exception reports its
    class name. The runtime raises it too, for failures of one invoke that are its own
    doing (an event that is not JSON, an executable that exited non-zero): raised from
    the runtime's code, it carries no stack trace.
    """

    def __init__(self, message: str, error_type: str = "FunctionError") -> None:
        super().__init__(message)
        self.error_type = error_type


class InitError(Exception):
    """A failure before the first invoke; it is posted to ``/runtime/init/error``."""

    def __init__(self, error_type: str, message: str, stack_trace: Optional[List[str]] = None) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.stack_trace = stack_trace or []


def header_error_type(error_type: str) -> str:
    """The ``Lambda-Runtime-Function-Error-Type`` value, of the form ``Category.Reason``.

    Only letters, digits, ``.``, ``_`` and ``-`` survive: it travels in a header.
    """
    safe = "".join(c if (c.isascii() and c.isalnum()) or c in "._-" else "_" for c in error_type) or "Unknown"
    return safe if "." in safe.strip(".") else "Function." + safe.strip(".")


def _frames(tb: Optional[TracebackType]) -> List[Tuple[str, int, str, Optional[str]]]:
    """The traceback's frames, without the runtime's own frames at the top.

    An error raised by the runtime itself (the executable adapter) has no frames left.
    """
    import traceback

    frames = [(f.filename, f.lineno or 0, f.name, f.line) for f in traceback.extract_tb(tb)]
    here = os.path.dirname(os.path.abspath(__file__)) + os.sep
    while frames and frames[0][0].startswith(here):
        frames.pop(0)
    return frames[-_TRACE_LIMIT:]


def _trim(text: str) -> str:
    if len(text) <= _MESSAGE_LIMIT:
        return text
    return text[:_MESSAGE_LIMIT] + "... [truncated %d characters]" % (len(text) - _MESSAGE_LIMIT)


def _exception_message(exc: BaseException) -> str:
    try:
        return _trim(str(exc))
    except Exception as inner:  # a __str__ that raises must not lose the error
        return "<%s; str() raised %s>" % (type(exc).__name__, type(inner).__name__)


class ErrorReport:
    """One error, ready to post: the JSON body, the header type, the X-Ray cause."""

    __slots__ = ("error_type", "message", "stack_trace", "frames")

    def __init__(
        self,
        error_type: str,
        message: str,
        stack_trace: Optional[List[str]] = None,
        frames: Optional[List[Tuple[str, int, str, Optional[str]]]] = None,
    ) -> None:
        self.error_type = error_type
        self.message = message
        self.stack_trace = stack_trace or []
        self.frames = frames or []

    @classmethod
    def from_exception(cls, exc: BaseException) -> "ErrorReport":
        if isinstance(exc, InitError):
            return cls(exc.error_type, exc.message, exc.stack_trace)
        import traceback

        frames = _frames(exc.__traceback__)
        error_type = getattr(exc, "error_type", None)
        if not isinstance(error_type, str) or not error_type:
            error_type = type(exc).__name__
        return cls(error_type, _exception_message(exc), traceback.format_list(frames), frames)

    def payload(self, request_id: Optional[str] = None) -> Dict[str, Any]:
        return {
            "errorMessage": self.message,
            "errorType": self.error_type,
            "requestId": request_id or "",
            "stackTrace": self.stack_trace,
        }

    def body(self, request_id: Optional[str] = None) -> bytes:
        return json.dumps(self.payload(request_id), default=repr).encode("utf-8")

    def xray_cause(self) -> Optional[str]:
        """The ``Lambda-Runtime-Function-XRay-Error-Cause`` header, or None if too big."""
        stack = [{"label": name, "path": path, "line": line} for path, line, name, _ in self.frames]
        cause = {
            "working_directory": _working_directory(),
            "exceptions": [{"type": self.error_type, "message": self.message, "stack": stack}],
            "paths": sorted({path for path, _, _, _ in self.frames}),
        }
        text = json.dumps(cause)
        return text if len(text) <= XRAY_CAUSE_LIMIT else None

    def log_lines(self) -> List[str]:
        """How the error reads in the function's log (Text format)."""
        lines = ["[ERROR] %s: %s" % (self.error_type, self.message) if self.message else "[ERROR] " + self.error_type]
        if self.stack_trace:
            lines.append("Traceback (most recent call last):")
            for entry in self.stack_trace:
                lines.extend(entry.rstrip("\n").splitlines())
        return lines


def _working_directory() -> str:
    try:
        return os.getcwd()
    except OSError:  # removed under our feet
        return ""
