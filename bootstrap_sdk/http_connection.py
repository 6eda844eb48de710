"""A minimal HTTP/1.1 client over one keep-alive connection.

The runtime talks to exactly one local server (the Runtime API, or the Extensions API
on the same address) with a handful of request shapes. ``http.client`` and ``socket``
cost ~13-17 ms of imports at start-up (``email.parser``, ``selectors``, ``enum``), which
is most of a cold start; this module speaks just what those APIs need on top of the C
``_socket`` module: Content-Length bodies, chunked bodies both ways, request trailers.
"""

from __future__ import annotations

import _socket

TYPE_CHECKING = False  # `typing` costs ~8 ms at start-up: annotations only
if TYPE_CHECKING:
    from typing import Callable, Dict, Iterable, Iterator, List, Optional, Tuple

    TrailerSource = Callable[[], List[Tuple[str, str]]]

_CRLF = b"\r\n"
_RECV_SIZE = 65536


class ConnectionLost(Exception):
    """The server refused, reset or closed the connection before a full response."""


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


class HttpConnection:
    """One persistent connection to ``host:port``; reconnects lazily after a loss."""

    def __init__(self, address: str) -> None:
        self.address = address
        self._host, self._port = split_address(address)
        self._family = _socket.AF_INET6 if ":" in self._host else _socket.AF_INET
        self._sock: Optional[_socket.socket] = None
        self._buf = bytearray()
        self._host_header = ("Host: %s\r\n" % address).encode("latin-1")

    # -- connection management -------------------------------------------------------
    def connect(self) -> None:
        if self._sock is not None:
            return
        sock = _socket.socket(self._family, _socket.SOCK_STREAM)
        try:
            sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
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
    ) -> Response:
        """Send one request with a Content-Length body and read the whole response."""
        head = self._head(method, path, headers)
        head += b"Content-Length: %d\r\n\r\n" % len(body)
        # One send for small requests keeps a round trip to one segment each way.
        if len(body) < 16384:  # one segment each way for the common small request
            self._send(bytes(head) + body)
        else:
            self._send(bytes(head))
            self._send(body)
        return self._read_response()

    def request_chunked(
        self,
        method: str,
        path: str,
        headers: Iterable[Tuple[str, str]],
        chunks: Iterator[bytes],
        trailers: TrailerSource,
    ) -> Response:
        """Send a chunked body from ``chunks``; then the trailers ``trailers()`` gives."""
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
        return self._read_response()

    # -- internals ---------------------------------------------------------------------
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
            self._sock.sendall(data)
        except OSError as exc:
            self.close()
            raise ConnectionLost("connection to %s lost while sending: %s" % (self.address, exc)) from exc

    def _fill(self) -> None:
        assert self._sock is not None
        try:
            data = self._sock.recv(_RECV_SIZE)
        except OSError as exc:
            self.close()
            raise ConnectionLost("connection to %s lost while reading: %s" % (self.address, exc)) from exc
        if not data:
            self.close()
            raise ConnectionLost("connection to %s closed by the server" % (self.address,))
        self._buf += data

    def _read_line(self) -> bytes:
        while True:
            end = self._buf.find(_CRLF)
            if end >= 0:
                line = bytes(self._buf[:end])
                del self._buf[: end + 2]
                return line
            self._fill()

    def _read_exact(self, size: int) -> bytes:
        while len(self._buf) < size:
            self._fill()
        data = bytes(self._buf[:size])
        del self._buf[:size]
        return data

    def _read_response(self) -> Response:
        status_line = self._read_line()
        parts = status_line.split(None, 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit():
            self.close()
            raise ConnectionLost("malformed status line from %s: %r" % (self.address, status_line[:200]))
        status = int(parts[1])
        headers: Dict[str, str] = {}
        while True:
            line = self._read_line()
            if not line:
                break
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = self._read_chunked_body()
        elif "content-length" in headers:
            length = headers["content-length"]
            if not (length.isascii() and length.isdigit()):
                self.close()
                raise ConnectionLost("malformed Content-Length from %s: %r" % (self.address, length[:50]))
            body = self._read_exact(int(length))
        elif status in (204, 304) or 100 <= status < 200:
            body = b""
        else:  # no framing: the body runs to the end of the connection
            pieces = [bytes(self._buf)]
            self._buf.clear()
            try:
                while True:
                    self._fill()
                    pieces.append(bytes(self._buf))
                    self._buf.clear()
            except ConnectionLost:
                pass
            body = b"".join(pieces)
        if headers.get("connection", "").lower() == "close":
            self.close()
        return Response(status, headers, body)

    def _read_chunked_body(self) -> bytes:
        pieces: List[bytes] = []
        while True:
            size_line = self._read_line().split(b";", 1)[0].strip()
            try:
                size = int(size_line, 16)
            except ValueError:
                self.close()
                raise ConnectionLost("malformed chunk size from %s: %r" % (self.address, size_line[:50])) from None
            if size == 0:
                while self._read_line():  # trailers, ignored
                    pass
                return b"".join(pieces)
            pieces.append(self._read_exact(size))
            self._read_line()

