"""Function logs in Lambda's Text or JSON format, tagged with the current request id.

A custom runtime must honour ``AWS_LAMBDA_LOG_FORMAT`` (Text|JSON) and
``AWS_LAMBDA_LOG_LEVEL`` itself. Lines go to stdout, which Lambda captures. Text lines
read ``[LEVEL]\\t<UTC time>\\t<request id>\\t<message>`` like the managed runtime's; JSON
lines carry ``timestamp``, ``level``, ``message``, ``logger`` and ``requestId``.

The ``logging`` module costs ~4 ms to import, so the runtime never imports it: when the
function's code has imported it, ``bridge_logging`` routes its records here.
"""

from __future__ import annotations

import _thread
import json
import sys
import time

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
        if self.json:
            record: Dict[str, Any] = {
                "timestamp": _timestamp(now),
                "level": name,
                "message": message,
                "logger": logger,
                "requestId": request_id or "",
            }
            if extra:
                record.update(extra)
            return json.dumps(record, ensure_ascii=False, default=str) + "\n"
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
                stream.write(line)
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
            try:
                message = record.getMessage()
                if record.exc_info:
                    message += "\n" + logging.Formatter().formatException(record.exc_info)
                line = _sink.format(record.levelno, message, logger=record.name, now=record.created)
            except Exception:
                self.handleError(record)
                return
            if record.levelno >= _sink.level:
                _sink.write(line)

    return LambdaLogHandler()
