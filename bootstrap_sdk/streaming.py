"""Streamed responses: a handler that returns an iterator or generator streams it.

Each item (``bytes`` or ``str``, sent as UTF-8) becomes one HTTP chunk of a
``Lambda-Runtime-Function-Response-Mode: streaming`` response. An exception raised before
the first item is an ordinary ``/error``; one raised after it can only travel in the
trailers ``Lambda-Runtime-Function-Error-Type`` and ``Lambda-Runtime-Function-Error-Body``
(the error JSON, base64), because ``/error`` is invalid once bytes have been sent.
"""

from __future__ import annotations

from .errors import ErrorReport, header_error_type
from .runtime_api import ERROR_BODY_TRAILER, ERROR_TYPE_HEADER

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Iterator, List, Optional, Tuple

# The documented streaming limit (docs/facts.md#response-streaming); past it the stream is cut with an error.
STREAM_LIMIT = 200 * 1024 * 1024


def is_stream(result: Any) -> bool:
    """Iterators and generators stream; lists, dicts, str and bytes do not."""
    return hasattr(result, "__next__") and hasattr(result, "__iter__")


def _as_bytes(item: Any) -> bytes:
    if isinstance(item, bytes):
        return item
    if isinstance(item, str):
        return item.encode("utf-8")
    if isinstance(item, (bytearray, memoryview)):
        return bytes(item)
    raise TypeError("a streamed response yields bytes or str, not %s" % type(item).__name__)


def _within_limit(sent: int, item: Any) -> bytes:
    """The item's bytes, if sending them after ``sent`` bytes stays within the limit."""
    chunk = _as_bytes(item)
    if sent + len(chunk) > STREAM_LIMIT:
        raise ValueError("streamed response exceeds %d bytes" % STREAM_LIMIT)
    return chunk


class ResponseStream:
    """Adapts a handler's iterator to chunks, remembering an error raised mid-stream."""

    def __init__(self, items: Iterator[Any], request_id: str) -> None:
        self._items = items
        self.request_id = request_id
        self.error: Optional[ErrorReport] = None
        self.sent = 0
        self._first: Optional[bytes] = None

    def start(self) -> None:
        """Pull the first chunk, so that a failure before any byte is an ordinary error.

        Raises whatever the iterator raises at its start.
        """
        for item in self._items:
            self._first = _within_limit(0, item)
            if self._first:
                return
        self._first = b""

    def chunks(self) -> Iterator[bytes]:
        if self._first:
            self.sent += len(self._first)
            yield self._first
        try:
            for item in self._items:
                chunk = _within_limit(self.sent, item)
                self.sent += len(chunk)
                yield chunk
        except Exception as exc:
            self.error = ErrorReport.from_exception(exc)
        finally:
            close = getattr(self._items, "close", None)
            if close is not None:
                try:
                    close()
                except Exception:
                    pass

    def trailers(self) -> List[Tuple[str, str]]:
        if self.error is None:
            return []
        import binascii  # only for an error after the first byte: off the start-up path

        body = binascii.b2a_base64(self.error.body(self.request_id), newline=False).decode("ascii")
        return [(ERROR_TYPE_HEADER, header_error_type(self.error.error_type)), (ERROR_BODY_TRAILER, body)]
