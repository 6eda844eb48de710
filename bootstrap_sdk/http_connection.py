"""A minimal HTTP/1.1 client over one keep-alive connection.

The runtime talks to exactly one local server (the Runtime API, or the Extensions API
on the same address) with a handful of request shapes. ``http.client`` and ``socket``
cost ~13-17 ms of imports at start-up (``email.parser``, ``selectors``, ``enum``), which
is most of a cold start; this module speaks just what those APIs need on top of the C
``_socket`` module: Content-Length bodies, chunked bodies both ways, request trailers.

The server's answers are input like any other, and bounded: a header block over
``HEADER_LIMIT``, a body over ``BODY_LIMIT`` or anything that does not parse as HTTP/1.x
drops the connection (``ConnectionLost``), and parsing is linear in what was received. A
GET (the long polls of both APIs) may wait forever for its answer to begin; every other
wait, and the rest of any answer once begun, is bounded by ``answer_timeout``
(``AnswerTimeout``).
"""

from __future__ import annotations

import _socket
import time

TYPE_CHECKING = False  # `typing` costs ~8 ms at start-up: annotations only
if TYPE_CHECKING:
    from typing import Callable, Dict, Iterable, Iterator, List, Optional, Tuple

    TrailerSource = Callable[[], List[Tuple[str, str]]]

_CRLF = b"\r\n"
_RECV_SIZE = 65536

# Lambda's own header blocks are a few hundred bytes; the X-Ray cause, the largest header
# in the API, is kept under 64 KiB (docs/facts.md#the-runtime-api). Interim (1xx) answers
# count against the same budget, so endless 100 Continues end too.
HEADER_LIMIT = 64 * 1024
# An event is at most 6 MB (docs/facts.md#lambdas-limits); 8 MiB leaves a margin and still
# stops a lying Content-Length from taking a 128 MB function's memory.
BODY_LIMIT = 8 * 1024 * 1024
# The Runtime API answers on loopback in well under a millisecond; 10 s is four orders of
# magnitude of headroom for a loaded host, and a hung answer is still named in the log
# long before most invokes time out.
ANSWER_TIMEOUT = 10.0
# Sending a body may also take len / SEND_RATE seconds: half the 2 MB/s a stream is
# throttled to past its first 6 MB (docs/facts.md#response-streaming).
SEND_RATE = 1024 * 1024
_CHUNK_LINE_LIMIT = 4096  # a chunk-size line, extensions included


class ConnectionLost(Exception):
    """The server refused, reset or closed the connection, or its answer was malformed.

    ``partial`` says whether part of an answer had arrived: for ``/next``, an invoke was
    being delivered and is lost.
    """

    def __init__(self, message: str, partial: bool = False) -> None:
        super().__init__(message)
        self.partial = partial


class AnswerTimeout(ConnectionLost):
    """The server stopped reading the request or answering it within the bound."""


class Response:
    """A complete response: status code, lower-cased headers and the body."""

    __slots__ = ("status", "headers", "body")

    def __init__(self, status: int, headers: Dict[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body


def split_address(address: str) -> Tuple[str, int]:
    """``host:port`` (or ``[v6]:port``) into a host and a port number."""
    host, sep, port = address.rpartition(":")
    if not sep or not (port.isascii() and port.isdigit()) or not host:
        raise ValueError("expected HOST:PORT, got %r" % (address,))
    return host.strip("[]"), int(port)


def _tokens(value: str) -> List[str]:
    return [token.strip().lower() for token in value.split(",") if token.strip()]


class HttpConnection:
    """One persistent connection to ``host:port``; reconnects lazily after a loss."""

    def __init__(self, address: str, answer_timeout: float = ANSWER_TIMEOUT) -> None:
        self.address = address
        self.answer_timeout = answer_timeout
        self._host, self._port = split_address(address)
        self._family = _socket.AF_INET6 if ":" in self._host else _socket.AF_INET
        self._sock: Optional[_socket.socket] = None
        self._buf = bytearray()
        self._host_header = ("Host: %s\r\n" % address).encode("latin-1")
        self._deadline: Optional[float] = None  # for the answer being read; None: not begun
        self._started = False  # some byte of the current answer has arrived

    # -- connection management -------------------------------------------------------
    def connect(self) -> None:
        if self._sock is not None:
            return
        sock = _socket.socket(self._family, _socket.SOCK_STREAM)
        try:
            sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
            sock.settimeout(self.answer_timeout)
            sock.connect((self._host, self._port))
        except OSError as exc:
            sock.close()
            raise ConnectionLost("cannot connect to %s: %s" % (self.address, exc)) from exc
        self._sock = sock
        self._buf.clear()

    def close(self) -> None:
        if self._sock is not None:
            try:
                self._sock.close()
            finally:
                self._sock = None
                self._buf.clear()

    # -- requests ----------------------------------------------------------------------
    def request(
        self,
        method: str,
        path: str,
        headers: Iterable[Tuple[str, str]] = (),
        body: bytes = b"",
        long_poll: Optional[bool] = None,
    ) -> Response:
        """Send one request with a Content-Length body and read the whole response.

        ``long_poll`` (by default: a GET) waits for the answer to begin without a bound.
        """
        self._begin()
        head = self._head(method, path, headers)
        head += b"Content-Length: %d\r\n\r\n" % len(body)
        if len(body) < 16384:  # one segment each way for the common small request
            self._send(bytes(head) + body)
        else:
            self._send(bytes(head))
            self._send(body)
        return self._read_response(method == "GET" if long_poll is None else long_poll)

    def request_chunked(
        self,
        method: str,
        path: str,
        headers: Iterable[Tuple[str, str]],
        chunks: Iterator[bytes],
        trailers: TrailerSource,
    ) -> Response:
        """Send a chunked body from ``chunks``; then the trailers ``trailers()`` gives."""
        self._begin()
        head = self._head(method, path, headers)
        head += b"Transfer-Encoding: chunked\r\n\r\n"
        self._send(bytes(head))
        for chunk in chunks:
            if chunk:
                self._send(b"%x\r\n" % len(chunk) + chunk + _CRLF)
        tail = bytearray(b"0\r\n")
        for name, value in trailers():
            tail += ("%s: %s\r\n" % (name, value)).encode("latin-1")
        tail += _CRLF
        self._send(bytes(tail))
        return self._read_response(False)

    # -- internals ---------------------------------------------------------------------
    def _begin(self) -> None:
        """Bytes left over from an earlier answer belong to no request: start afresh."""
        if self._buf:
            self.close()

    def _head(self, method: str, path: str, headers: Iterable[Tuple[str, str]]) -> bytearray:
        head = bytearray(("%s %s HTTP/1.1\r\n" % (method, path)).encode("latin-1"))
        head += self._host_header
        for name, value in headers:
            head += ("%s: %s\r\n" % (name, value)).encode("latin-1")
        return head

    def _send(self, data: bytes) -> None:
        self.connect()
        assert self._sock is not None
        try:
            # sendall's timeout bounds the whole send (Python >= 3.5).
            self._sock.settimeout(self.answer_timeout + len(data) / SEND_RATE)
            self._sock.sendall(data)
        except TimeoutError:
            self.close()
            raise AnswerTimeout("%s stopped reading the request: %d bytes not sent within %.1f s"
                                % (self.address, len(data), self.answer_timeout + len(data) / SEND_RATE)) from None
        except OSError as exc:
            self.close()
            raise ConnectionLost("connection to %s lost while sending: %s" % (self.address, exc)) from exc

    def _lost(self, message: str) -> ConnectionLost:
        """Drop the connection (its framing can no longer be trusted) and say why."""
        self.close()
        return ConnectionLost("%s from %s" % (message, self.address), self._started)

    def _fill(self) -> None:
        sock = self._sock
        assert sock is not None
        try:
            if self._deadline is None:
                sock.settimeout(None)
            else:
                left = self._deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError
                sock.settimeout(left)
            data = sock.recv(_RECV_SIZE)
        except TimeoutError:
            partial = self._started
            self.close()
            raise AnswerTimeout("%s did not %s within %.1f s"
                                % (self.address, "finish its answer" if partial else "answer",
                                   self.answer_timeout), partial) from None
        except OSError as exc:
            partial = self._started
            self.close()
            raise ConnectionLost("connection to %s lost while reading: %s" % (self.address, exc), partial) from exc
        if not data:
            partial = self._started
            self.close()
            raise ConnectionLost("connection to %s closed by the server%s"
                                 % (self.address, " mid-answer" if partial else ""), partial)
        if not self._started:
            self._started = True
            if self._deadline is None:  # a long poll's answer has begun: the rest is bounded
                self._deadline = time.monotonic() + self.answer_timeout
        self._buf += data

    def _read_line(self, limit: int, too_long: str) -> bytes:
        """One CRLF-terminated line of at most ``limit`` bytes; each byte is scanned once."""
        start = 0
        while True:
            end = self._buf.find(_CRLF, start, max(0, limit + 2))
            if end >= 0:
                line = bytes(self._buf[:end])
                del self._buf[: end + 2]
                return line
            if len(self._buf) >= limit + 2:
                raise self._lost(too_long)
            start = max(0, len(self._buf) - 1)
            self._fill()

    def _read_exact(self, size: int) -> bytes:
        while len(self._buf) < size:
            self._fill()
        with memoryview(self._buf) as view:  # one copy of a large body, not two
            data = bytes(view[:size])
        del self._buf[:size]
        return data

    def _read_head(self) -> Tuple[bytes, int, Dict[str, str]]:
        """The status line and headers of the final answer; interim (1xx) answers skipped."""
        budget = HEADER_LIMIT
        too_long = "header block over %d bytes" % HEADER_LIMIT
        while True:
            line = self._read_line(budget, too_long)
            budget -= len(line) + 2
            parts = line.split(None, 2)
            if (len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or len(parts[1]) != 3
                    or not parts[1].isdigit()):
                raise self._lost("malformed status line %r" % (line[:200],))
            version, status = parts[0], int(parts[1])
            headers: Dict[str, str] = {}
            last = ""
            while True:
                line = self._read_line(budget, too_long)
                budget -= len(line) + 2
                if not line:
                    break
                if line[:1] in (b" ", b"\t"):  # obs-fold: continues the previous field (RFC 9112 5.2)
                    if not last:
                        raise self._lost("continuation line before any header: %r" % (line[:200],))
                    headers[last] += " " + line.strip(b" \t").decode("latin-1")
                    continue
                name, colon, value = line.partition(b":")
                key = name.strip(b" \t").decode("latin-1").lower()
                if not colon or not key:
                    raise self._lost("malformed header line %r" % (line[:200],))
                text = value.strip(b" \t").decode("latin-1")
                # A repeated field is one list-valued field (RFC 9110 5.3): nothing is silently dropped.
                headers[key] = headers[key] + ", " + text if key in headers else text
                last = key
            if status == 101:
                raise self._lost("unrequested protocol switch (101)")
            if status >= 200:
                return version, status, headers

    def _read_response(self, long_poll: bool) -> Response:
        self._started = False
        self._deadline = None if long_poll else time.monotonic() + self.answer_timeout
        try:
            return self._read_answer()
        finally:
            self._deadline = None

    def _read_answer(self) -> Response:
        version, status, headers = self._read_head()
        connection = _tokens(headers.get("connection", ""))
        close = "close" in connection or (version == b"HTTP/1.0" and "keep-alive" not in connection)
        if "transfer-encoding" in headers:
            if _tokens(headers["transfer-encoding"]) != ["chunked"]:
                raise self._lost("unsupported Transfer-Encoding %r" % (headers["transfer-encoding"][:100],))
            body = self._read_chunked_body()
            close = close or "content-length" in headers  # both: a smuggling hazard (RFC 9112 6.3)
        elif "content-length" in headers:
            values = set(_tokens(headers["content-length"]))
            length = values.pop() if len(values) == 1 else ""
            if not (length.isascii() and length.isdigit()) or len(length) > 18:
                raise self._lost("malformed Content-Length %r" % (headers["content-length"][:50],))
            if int(length) > BODY_LIMIT:
                raise self._lost("Content-Length %s over the %d-byte limit" % (length, BODY_LIMIT))
            body = self._read_exact(int(length))
        elif status in (204, 304):
            body = b""
        else:  # no framing: the body runs to the end of the connection
            body = self._read_to_close()
            close = True
        if close:
            self.close()
        return Response(status, headers, body)

    def _read_to_close(self) -> bytes:
        pieces: List[bytes] = []
        size = 0
        while True:
            size += len(self._buf)
            if size > BODY_LIMIT:
                raise self._lost("body over the %d-byte limit" % BODY_LIMIT)
            pieces.append(bytes(self._buf))
            self._buf.clear()
            try:
                self._fill()
            except AnswerTimeout:
                raise
            except ConnectionLost:  # the end of the connection is the end of the body
                return b"".join(pieces)

    def _read_chunked_body(self) -> bytes:
        pieces: List[bytes] = []
        budget = BODY_LIMIT  # chunk data and chunk-size lines alike
        while True:
            line = self._read_line(_CHUNK_LINE_LIMIT, "chunk-size line over %d bytes" % _CHUNK_LINE_LIMIT)
            size_text = line.split(b";", 1)[0].strip(b" \t")
            if not size_text or len(size_text) > 16 or size_text.strip(b"0123456789abcdefABCDEF"):
                raise self._lost("malformed chunk size %r" % (line[:50],))
            size = int(size_text, 16)
            budget -= len(line) + 2 + size + 2
            if budget < 0:
                raise self._lost("chunked body over the %d-byte limit" % BODY_LIMIT)
            if size == 0:
                trailers = HEADER_LIMIT
                while True:  # trailers, ignored
                    line = self._read_line(trailers, "trailer block over %d bytes" % HEADER_LIMIT)
                    trailers -= len(line) + 2
                    if not line:
                        return b"".join(pieces)
            pieces.append(self._read_exact(size))
            if self._read_exact(2) != _CRLF:
                raise self._lost("chunk of %d bytes not followed by CRLF" % size)
