"""Error payloads for ``/error`` and ``/init/error``, and the X-Ray cause header.

The payload has the shape the managed Python runtime (awslambdaric) posts, so tools that
read Lambda's error responses see the same thing:
``{"errorMessage", "errorType", "requestId", "stackTrace": [...]}``.

Whatever an exception holds or does when examined, a report comes out of it, and its body
is JSON in UTF-8: lone surrogates become ``\\udcxx`` text, a ``str()`` that raises a
placeholder, unreadable source lines are left out.
"""

from __future__ import annotations

from . import environment, json_text
from .logs import clean_text, safe_text

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import TracebackType
    from typing import Any, Dict, List, Optional, Tuple

    Frame = Tuple[str, int, str, Optional[str]]

# errorType values for failures the runtime itself detects (the managed runtime's names).
MALFORMED_HANDLER_NAME = "Runtime.MalformedHandlerName"
# What an empty _HANDLER is told: where the value comes from, and what it should hold.
NO_HANDLER = ("No handler: _HANDLER is empty. Lambda sets it from the function's Handler setting (--handler of "
              "aws lambda create-function and of run-lambda-local, Handler: in a SAM or CloudFormation template): "
              "MODULE.FUNCTION for Python, for example 'app.handler', or a program's command line")
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


def _type_name(value: Any) -> str:
    try:
        name = type(value).__name__
    except BaseException:
        return "Exception"
    return name if isinstance(name, str) and name else "Exception"


def _without_runtime_frames(frames: List[Frame]) -> List[Frame]:
    """Cut the runtime's own frames at the top: an error it raised itself keeps none."""
    import os  # an error's path only: os is not imported for a cold start

    here = os.path.dirname(os.path.abspath(__file__)) + os.sep
    while frames and frames[0][0].startswith(here):
        frames.pop(0)
    return frames[-_TRACE_LIMIT:]


def _stack(tb: Optional[TracebackType]) -> Tuple[List[Frame], List[str]]:
    """The frames and their text, as ``traceback`` formats them.

    Reading source lines runs code of the handler's module (its loader's ``get_source``);
    if that raises, the frames are reported without their lines.
    """
    import traceback

    try:
        frames = _without_runtime_frames(
            [(f.filename, f.lineno or 0, f.name, f.line) for f in traceback.extract_tb(tb)])
        return frames, traceback.format_list(frames)
    except BaseException:
        pass
    try:
        frames = _without_runtime_frames(
            [(frame.f_code.co_filename, lineno or 0, frame.f_code.co_name, None)
             for frame, lineno in traceback.walk_tb(tb)])
        return frames, ['  File "%s", line %d, in %s\n' % (path, line, name) for path, line, name, _ in frames]
    except BaseException:
        return [], []


def _trim(text: str) -> str:
    if len(text) <= _MESSAGE_LIMIT:
        return text
    return text[:_MESSAGE_LIMIT] + "... [truncated %d characters]" % (len(text) - _MESSAGE_LIMIT)


def _exception_message(exc: BaseException) -> str:
    try:
        return _trim(clean_text(str(exc)))
    except BaseException as inner:  # a __str__ that raises (even SystemExit) must not lose the error
        return "<%s; str() raised %s>" % (_type_name(exc), _type_name(inner))


def _error_type(exc: BaseException) -> str:
    """The exception's own ``error_type`` (a FunctionError's), else its class name."""
    try:
        error_type = getattr(exc, "error_type", None)
    except BaseException:  # a property that raises
        error_type = None
    return error_type if isinstance(error_type, str) and error_type else _type_name(exc)


class ErrorReport:
    """One error, ready to post: the JSON body, the header type, the X-Ray cause."""

    __slots__ = ("error_type", "message", "stack_trace", "frames")

    def __init__(
        self,
        error_type: str,
        message: str,
        stack_trace: Optional[List[str]] = None,
        frames: Optional[List[Frame]] = None,
    ) -> None:
        self.error_type = safe_text(error_type)
        self.message = safe_text(message)
        self.stack_trace = [safe_text(entry) for entry in stack_trace or []]
        self.frames = [(safe_text(path), line, safe_text(name), None if source is None else safe_text(source))
                       for path, line, name, source in frames or []]

    @classmethod
    def from_exception(cls, exc: BaseException) -> "ErrorReport":
        """The report of any exception; never raises, whatever the exception does."""
        if isinstance(exc, InitError):
            return cls(exc.error_type, exc.message, exc.stack_trace)
        frames, trace = _stack(exc.__traceback__)
        return cls(_error_type(exc), _exception_message(exc), trace, frames)

    def payload(self, request_id: Optional[str] = None) -> Dict[str, Any]:
        return {
            "errorMessage": self.message,
            "errorType": self.error_type,
            "requestId": request_id or "",
            "stackTrace": self.stack_trace,
        }

    def body(self, request_id: Optional[str] = None) -> bytes:
        return json_text.dumps(self.payload(request_id), default=repr).encode("utf-8")

    def xray_cause(self) -> Optional[str]:
        """The ``Lambda-Runtime-Function-XRay-Error-Cause`` header, or None if too big."""
        stack = [{"label": name, "path": path, "line": line} for path, line, name, _ in self.frames]
        cause = {
            "working_directory": clean_text(_working_directory()),
            "exceptions": [{"type": self.error_type, "message": self.message, "stack": stack}],
            "paths": sorted({path for path, _, _, _ in self.frames}),
        }
        text = json_text.dumps(cause)
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
    return environment.working_directory() or ""  # None: removed under our feet
