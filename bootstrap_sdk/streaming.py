"""Streamed responses: a handler that returns an iterator or generator streams it.

Each item (``bytes`` or ``str``, sent as UTF-8) becomes one HTTP chunk of a
``Lambda-Runtime-Function-Response-Mode: streaming`` response. An exception raised before
the first item is an ordinary ``/error``; one raised after it can only travel in the
trailers ``Lambda-Runtime-Function-Error-Type`` and ``Lambda-Runtime-Function-Error-Body``
(the error JSON, base64), because ``/error`` is invalid once bytes have been sent. Any
exception counts, ``SystemExit`` and ``KeyboardInterrupt`` included: the stream is always
ended properly, and the handler's iterator is always closed.
"""

from __future__ import annotations

from . import logs
from .errors import MARSHAL_ERROR, ErrorReport, FunctionError, header_error_type
from .runtime_api import ERROR_BODY_TRAILER, ERROR_TYPE_HEADER

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Generator, Iterator, List, Optional, Tuple

# The documented streaming limit (docs/facts.md#response-streaming); past it the stream is cut with an error.
STREAM_LIMIT = 200 * 1024 * 1024


def _as_bytes(item: Any) -> bytes:
    if isinstance(item, bytes):
        return item
    if isinstance(item, str):
        try:
            return item.encode("utf-8")
        except UnicodeEncodeError as exc:  # a lone surrogate: no UTF-8 for it
            raise FunctionError("Unable to marshal streamed item: %s" % (exc,), MARSHAL_ERROR) from None
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
        self._iterator: Optional[Iterator[Any]] = None
        self.request_id = request_id
        self.error: Optional[ErrorReport] = None
        self.sent = 0
        self._first: Optional[bytes] = None
        self._closed = False

    def start(self) -> None:
        """Pull the first chunk, so that a failure before any byte is an ordinary error.

        Raises whatever the iterator raises at its start (``iter()`` included); the caller
        then calls ``close()``.
        """
        self._iterator = iter(self._items)
        for item in self._iterator:
            self._first = _within_limit(0, item)
            if self._first:
                return
        self._first = b""

    def chunks(self) -> Generator[bytes, None, None]:
        """The chunks; whatever the iterator raises ends them and is kept in ``error``.

        The ``yield`` stays outside the ``try``: a ``GeneratorExit`` thrown in by whoever
        abandons this generator is not the handler's error, and closes the iterator.
        """
        try:
            if self._first:
                self.sent += len(self._first)
                yield self._first
            iterator = self._iterator if self._iterator is not None else iter(())
            while True:
                try:
                    chunk = _within_limit(self.sent, next(iterator))
                except StopIteration:
                    return
                except BaseException as exc:  # SystemExit, KeyboardInterrupt too: the stream still ends well
                    self.error = ErrorReport.from_exception(exc)
                    return
                if chunk:
                    self.sent += len(chunk)
                    yield chunk
        finally:
            self.close()

    def close(self) -> None:
        """Close the handler's iterator once; what its ``close()`` raises is logged, not kept.

        The stream's outcome is settled by then, so the error does not replace it.
        """
        if self._closed:
            return
        self._closed = True
        sources: List[Any] = [self._items]
        if self._iterator is not None and self._iterator is not self._items:
            sources.append(self._iterator)  # what __iter__ returned, when it is another object
        for source in sources:
            try:
                close = getattr(source, "close", None)
                if close is not None:
                    close()
            except BaseException as exc:
                logs.warning("the streamed response's close() raised %s: %s; ignored"
                             % (type(exc).__name__, logs.safe_text(exc)))

    def trailers(self) -> List[Tuple[str, str]]:
        if self.error is None:
            return []
        import binascii  # only for an error after the first byte: off the start-up path

        body = binascii.b2a_base64(self.error.body(self.request_id), newline=False).decode("ascii")
        return [(ERROR_TYPE_HEADER, header_error_type(self.error.error_type)), (ERROR_BODY_TRAILER, body)]
