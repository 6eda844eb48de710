"""Function logs in Lambda's Text or JSON format, tagged with the current request id.

A custom runtime must honour ``AWS_LAMBDA_LOG_FORMAT`` (Text|JSON) and
``AWS_LAMBDA_LOG_LEVEL`` itself. Lines go to stdout, which Lambda captures. Text lines
read ``[LEVEL]\\t<UTC time>\\t<request id>\\t<message>`` like the managed runtime's; JSON
lines carry ``timestamp``, ``level``, ``message``, ``logger`` and ``requestId``.

The ``logging`` module costs ~4 ms to import, so the runtime never imports it: when the
function's code has imported it, ``bridge_logging`` routes its records here.

No line is lost to its content: lone surrogates are written as ``\\udcxx`` escapes,
objects whose ``str()`` raises as a placeholder naming them, and a stdout that cannot
encode a character gets the line ASCII-escaped rather than not at all.
"""

from __future__ import annotations

import _thread
import sys
import time

from . import json_text

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Dict, Optional, TextIO

LEVELS = {"TRACE": 5, "DEBUG": 10, "INFO": 20, "WARN": 30, "WARNING": 30, "ERROR": 40, "FATAL": 50, "CRITICAL": 50}
_NAMES = {5: "TRACE", 10: "DEBUG", 20: "INFO", 30: "WARN", 40: "ERROR", 50: "FATAL"}

_current = _thread._local()  # the request id of the invoke this thread is serving


def set_request_id(request_id: Optional[str]) -> None:
    _current.request_id = request_id


def current_request_id() -> Optional[str]:
    return getattr(_current, "request_id", None)


def clean_text(text: str) -> str:
    """``text`` as UTF-8 can carry it: each lone surrogate becomes its ``\\udcxx`` escape."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def safe_text(value: Any) -> str:
    """``str(value)``, cleaned; if ``str()`` raises, its ``repr()``, else a placeholder naming both."""
    if type(value) is str:
        return clean_text(value)
    try:
        return clean_text(str(value))
    except BaseException as str_error:  # a hostile __str__ must not cost the log line
        try:
            return clean_text(repr(value))
        except BaseException:
            return "<unprintable %s object: str() raised %s>" % (_type_name(value), _type_name(str_error))


def _cleaned(value: Any) -> Any:
    """``value`` (decoded JSON) with every string cleaned."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_text(key): _cleaned(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_cleaned(item) for item in value]
    return value


def _type_name(value: Any) -> str:
    try:
        return str(type(value).__name__)
    except BaseException:
        return "object"


def _timestamp(now: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + ".%03dZ" % (int(now * 1000) % 1000)


class LogSink:
    """Formats and writes log lines; one per process, shared by its threads."""

    def __init__(self, log_format: str = "Text", level: str = "", stream: Optional[TextIO] = None) -> None:
        self.json = log_format.strip().upper() == "JSON"
        self.level = LEVELS.get(level.strip().upper(), 0) if level else 0
        self.stream = stream
        self._lock = _thread.allocate_lock()

    def format(self, level: int, message: str, logger: str = "bootstrap_sdk",
               extra: Optional[Dict[str, Any]] = None, now: Optional[float] = None) -> str:
        now = time.time() if now is None else now
        request_id = current_request_id()
        name = _NAMES.get(level - level % 10 if level >= 10 else level, "INFO")
        message = safe_text(message)
        if self.json:
            record: Dict[str, Any] = {
                "timestamp": _timestamp(now),
                "level": name,
                "message": message,
                "logger": logger,
                "requestId": request_id or "",
            }
            try:
                text = json_text.dumps(dict(record, **extra) if extra else record, ensure_ascii=False, default=safe_text)
            except (TypeError, ValueError, RecursionError):  # a key json refuses, or a cycle: as text
                record.update((safe_text(key), safe_text(value)) for key, value in (extra or {}).items())
                text = json_text.dumps(record, ensure_ascii=False)
            if clean_text(text) is not text:  # a lone surrogate in some value: as \udcxx text, as in Text
                text = json_text.dumps(_cleaned(json_text.loads(text)), ensure_ascii=False)
            return text + "\n"
        # Every line carries the prefix, so each one can be traced to its invoke.
        prefix = "[%s]\t%s\t%s\t" % (name, _timestamp(now), request_id or "")
        return prefix + message.rstrip("\n").replace("\n", "\n" + prefix) + "\n"

    def log(self, level: int, message: str, logger: str = "bootstrap_sdk",
            extra: Optional[Dict[str, Any]] = None) -> None:
        if level < self.level:
            return
        self.write(self.format(level, message, logger, extra))

    def write(self, line: str) -> None:
        stream = self.stream or sys.stdout
        with self._lock:
            try:
                try:
                    stream.write(line)
                except UnicodeEncodeError:  # a stdout that is not UTF-8: escaped, not lost
                    stream.write(line.encode("ascii", "backslashreplace").decode("ascii"))
                stream.flush()
            except (OSError, ValueError):  # a closed stdout must not stop the loop
                pass


_sink = LogSink()  # until the entry configures it from the settings


def sink() -> LogSink:
    return _sink


def configure(log_format: str, level: str) -> LogSink:
    """Log in ``log_format`` (Text|JSON) from ``level`` up (``AWS_LAMBDA_LOG_*``, docs/facts.md#logs)."""
    global _sink
    _sink = LogSink(log_format, level)
    bridge_logging()
    return _sink


def debug(message: str, **extra: Any) -> None:
    _sink.log(10, message, extra=extra or None)


def info(message: str, **extra: Any) -> None:
    _sink.log(20, message, extra=extra or None)


def warning(message: str, **extra: Any) -> None:
    _sink.log(30, message, extra=extra or None)


def error(message: str, **extra: Any) -> None:
    _sink.log(40, message, extra=extra or None)


_bridged = False


def bridge_logging() -> None:
    """If the function imported ``logging``, send the root logger's records here."""
    global _bridged
    logging = sys.modules.get("logging")
    if logging is None:
        return
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_bootstrap_sdk", False):
            root.removeHandler(handler)
    root.addHandler(_make_logging_handler(logging))
    if _sink.level:
        root.setLevel(max(_sink.level, logging.DEBUG))
    _bridged = True


def bridge_logging_if_imported() -> None:
    """Cheap per-invoke check: bridge once ``logging`` appears in ``sys.modules``."""
    if not _bridged and "logging" in sys.modules:
        bridge_logging()


def _make_logging_handler(logging: Any) -> Any:
    class LambdaLogHandler(logging.Handler):  # type: ignore[misc]
        _bootstrap_sdk = True

        def emit(self, record: Any) -> None:
            # Whatever the record holds, a line is written: a message or traceback that
            # cannot be formatted is replaced by a placeholder saying so.
            try:
                message = record.getMessage()
            except BaseException as exc:
                message = "<log message %s with arguments %s could not be formatted: %s: %s>" % (
                    safe_text(record.msg), safe_text(record.args), _type_name(exc), safe_text(exc))
            if record.exc_info:
                try:
                    message += "\n" + logging.Formatter().formatException(record.exc_info)
                except BaseException as exc:
                    message += "\n<traceback could not be formatted: %s>" % _type_name(exc)
            level = record.levelno if isinstance(record.levelno, int) else 20
            if level >= _sink.level:
                _sink.write(_sink.format(level, message, logger=safe_text(record.name), now=record.created))

    return LambdaLogHandler()
