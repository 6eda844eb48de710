"""http_connection: the minimal HTTP/1.1 client against a real socket server."""

from __future__ import annotations

import socket
import threading

import pytest

from bootstrap_sdk.http_connection import ConnectionLost, HttpConnection, split_address


@pytest.mark.parametrize("address, expected", [("127.0.0.1:9001", ("127.0.0.1", 9001)),
                                               ("[::1]:80", ("::1", 80)), ("localhost:1", ("localhost", 1))])
def test_split_address(address, expected):
    assert split_address(address) == expected


@pytest.mark.parametrize("address", ["", "9001", "host:", ":80", "host:port"])
def test_split_address_rejects(address):
    with pytest.raises(ValueError):
        split_address(address)


def _serve_once(answer: bytes) -> int:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)

    def serve() -> None:
        conn, _ = server.accept()
        conn.recv(65536)
        conn.sendall(answer)
        conn.close()
        server.close()

    threading.Thread(target=serve, daemon=True).start()
    return server.getsockname()[1]


def test_chunked_response_with_trailers_is_decoded():
    port = _serve_once(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                       b"3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nX-Trailer: t\r\n\r\n")
    response = HttpConnection("127.0.0.1:%d" % port).request("GET", "/")
    assert (response.status, response.body) == (200, b"abcde")


def test_body_without_framing_runs_to_the_end_of_the_connection():
    port = _serve_once(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nall of it")
    assert HttpConnection("127.0.0.1:%d" % port).request("GET", "/").body == b"all of it"


def test_truncated_response_is_a_lost_connection():
    port = _serve_once(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort")
    with pytest.raises(ConnectionLost):
        HttpConnection("127.0.0.1:%d" % port).request("GET", "/")


def test_garbage_status_line_is_a_lost_connection():
    port = _serve_once(b"SMTP ready\r\n\r\n")
    with pytest.raises(ConnectionLost, match="malformed status line"):
        HttpConnection("127.0.0.1:%d" % port).request("GET", "/")


@pytest.mark.parametrize("length", [b"abc", b"-5", b"\xb2", b"1e3"])
def test_a_malformed_content_length_is_a_lost_connection(length):
    """Not a ValueError out of the client: the runtime's retry and error policy must see it."""
    port = _serve_once(b"HTTP/1.1 200 OK\r\nContent-Length: " + length + b"\r\n\r\nbody")
    with pytest.raises(ConnectionLost, match="malformed Content-Length"):
        HttpConnection("127.0.0.1:%d" % port).request("GET", "/")


# -- answers are input: bounded, linear, strict where framing is at stake -------------------

from bootstrap_sdk import http_connection  # noqa: E402
from bootstrap_sdk.http_connection import HEADER_LIMIT, AnswerTimeout  # noqa: E402


class _TrickleSocket:
    """A socket stand-in that hands over ``data`` ``step`` bytes per recv."""

    def __init__(self, data: bytes, step: int = 1) -> None:
        self.data = data
        self.step = step
        self.recvs = 0

    def settimeout(self, value: object) -> None:
        pass

    def sendall(self, data: bytes) -> None:
        pass

    def recv(self, size: int) -> bytes:
        self.recvs += 1
        piece, self.data = self.data[:min(size, self.step)], self.data[min(size, self.step):]
        return piece

    def close(self) -> None:
        pass


class _CountingBuffer(bytearray):
    """Counts the bytes ``find`` is asked to scan."""

    scanned = 0

    def find(self, sub, start=0, end=None):  # type: ignore[override]
        stop = len(self) if end is None else min(end, len(self))
        _CountingBuffer.scanned += max(0, stop - start)
        return super().find(sub, start, end)


def test_a_header_block_arriving_a_byte_at_a_time_is_scanned_once():
    """Each received byte is searched for the line end once, not once per recv (no quadratic re-scan)."""
    head = b"HTTP/1.1 200 OK\r\nX-Long: " + b"v" * (HEADER_LIMIT - 100) + b"\r\nContent-Length: 2\r\n\r\nok"
    connection = HttpConnection("127.0.0.1:9")
    connection._sock = _TrickleSocket(head)  # type: ignore[assignment]
    connection._buf = _CountingBuffer()
    _CountingBuffer.scanned = 0
    response = connection.request("GET", "/")
    assert response.body == b"ok"
    assert _CountingBuffer.scanned < 3 * len(head)


def _serve_raw(send) -> int:
    """A server that accepts once and runs ``send(conn)``."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)

    def serve() -> None:
        conn, _ = server.accept()
        try:
            send(conn)
        except OSError:
            pass
        finally:
            conn.close()
            server.close()

    threading.Thread(target=serve, daemon=True).start()
    return server.getsockname()[1]


def test_a_64_mb_header_costs_neither_time_nor_memory():
    import time
    import tracemalloc

    def send(conn: socket.socket) -> None:
        conn.recv(65536)
        conn.sendall(b"HTTP/1.1 200 OK\r\nX-Huge: ")
        piece = b"a" * (1024 * 1024)
        for _ in range(64):
            conn.sendall(piece)

    port = _serve_raw(send)
    tracemalloc.start()
    started = time.monotonic()
    try:
        with pytest.raises(ConnectionLost, match="header block over 65536 bytes") as caught:
            HttpConnection("127.0.0.1:%d" % port).request("GET", "/")
        elapsed = time.monotonic() - started
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert caught.value.partial is True
    assert elapsed < 1.0
    assert peak < 2 * 1024 * 1024


@pytest.mark.parametrize("status", [100, 102, 103])
def test_interim_answers_are_skipped(status):
    port = _serve_once(b"HTTP/1.1 %d Interim\r\nX-A: 1\r\n\r\n" % status
                       + b"HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\nok")
    response = HttpConnection("127.0.0.1:%d" % port).request("POST", "/", body=b"x")
    assert (response.status, response.body, response.headers) == (202, b"ok", {"content-length": "2"})


def test_repeated_headers_are_joined_not_overwritten():
    port = _serve_once(b"HTTP/1.1 200 OK\r\nX-A: 1\r\nx-a: 2\r\nContent-Length: 0\r\n\r\n")
    assert HttpConnection("127.0.0.1:%d" % port).request("GET", "/").headers["x-a"] == "1, 2"


def test_obs_fold_continues_the_previous_header():
    port = _serve_once(b"HTTP/1.1 200 OK\r\nX-A: one\r\n  two\r\n\tthree\r\nContent-Length: 0\r\n\r\n")
    assert HttpConnection("127.0.0.1:%d" % port).request("GET", "/").headers["x-a"] == "one two three"


@pytest.mark.parametrize("answer, says", [
    (b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n", "malformed header line"),
    (b"HTTP/1.1 200 OK\r\n: empty name\r\n\r\n", "malformed header line"),
    (b"HTTP/1.1 20 OK\r\n\r\n", "malformed status line"),
    (b"HTTP/1.1 2000 OK\r\n\r\n", "malformed status line"),
    (b"HTTP/2 200 OK\r\n\r\n", "malformed status line"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 1, 2\r\n\r\nx", "malformed Content-Length"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\nx", "malformed Content-Length"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 9999999999\r\n\r\nx", "over the 8388608-byte limit"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n+5\r\nhello\r\n0\r\n\r\n", "malformed chunk size"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n", "malformed chunk size"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1_0\r\nhello\r\n0\r\n\r\n", "malformed chunk size"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n", "not followed by CRLF"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + b"f" * 17 + b"\r\n", "malformed chunk size"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n900000\r\n", "chunked body over"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", "unsupported Transfer-Encoding"),
])
def test_malformed_framing_drops_the_connection(answer, says):
    port = _serve_once(answer)
    connection = HttpConnection("127.0.0.1:%d" % port)
    with pytest.raises(ConnectionLost, match=says):
        connection.request("GET", "/")
    assert connection._sock is None


def test_a_body_without_framing_is_capped(monkeypatch):
    monkeypatch.setattr(http_connection, "BODY_LIMIT", 1000)
    port = _serve_once(b"HTTP/1.0 200 OK\r\n\r\n" + b"x" * 5000)
    with pytest.raises(ConnectionLost, match="body over the 1000-byte limit"):
        HttpConnection("127.0.0.1:%d" % port).request("GET", "/")


def _serve_twice(first: bytes, second: bytes) -> int:
    """Two answers on one connection, if the client keeps it; the second on a new one if not."""
    def send(conn: socket.socket) -> None:
        conn.recv(65536)
        conn.sendall(first)
        conn.settimeout(0.5)
        try:
            if conn.recv(65536):
                conn.sendall(b"KEPT " + second)
                return
        except OSError:
            pass
        conn.close()
        fresh, _ = server.accept()
        fresh.recv(65536)
        fresh.sendall(b"FRESH " + second)
        fresh.close()

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(2)

    def serve() -> None:
        conn, _ = server.accept()
        try:
            send(conn)
        finally:
            server.close()

    threading.Thread(target=serve, daemon=True).start()
    return server.getsockname()[1]


@pytest.mark.parametrize("first, kept", [
    (b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na", True),
    (b"HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\na", False),
    (b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\na", True),
    (b"HTTP/1.1 200 OK\r\nConnection: Keep-Alive, Close\r\nContent-Length: 1\r\n\r\na", False),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\n1\r\na\r\n0\r\n\r\n", False),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\naSTRAY BYTES", False),  # bytes no request asked for
])
def test_when_the_connection_is_kept(first, kept):
    second = b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nb"
    connection = HttpConnection("127.0.0.1:%d" % _serve_twice(first, second))
    assert connection.request("GET", "/").body == b"a"
    with pytest.raises(ConnectionLost, match="malformed status line b'(KEPT|FRESH)") as caught:
        connection.request("GET", "/")
    assert ("KEPT" in str(caught.value)) is kept


def test_an_answer_that_never_comes_times_out_unless_it_is_a_long_poll():
    import time

    release = threading.Event()

    def send(conn: socket.socket) -> None:
        conn.recv(65536)
        release.wait(10)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nlate")

    port = _serve_raw(send)
    connection = HttpConnection("127.0.0.1:%d" % port, answer_timeout=0.3)
    started = time.monotonic()
    with pytest.raises(AnswerTimeout, match="did not answer within 0.3 s") as caught:
        connection.request("POST", "/", body=b"x")
    assert 0.3 <= time.monotonic() - started < 2 and caught.value.partial is False
    release.set()

    port = _serve_raw(send)
    release.clear()
    threading.Timer(0.9, release.set).start()
    assert connection.__class__("127.0.0.1:%d" % port, answer_timeout=0.3).request("GET", "/").body == b"late"


def test_a_server_that_stops_reading_the_request_times_out(monkeypatch):
    monkeypatch.setattr(http_connection, "SEND_RATE", 10 ** 12)
    release = threading.Event()
    port = _serve_raw(lambda conn: release.wait(10))
    try:
        with pytest.raises(AnswerTimeout, match="stopped reading the request"):
            HttpConnection("127.0.0.1:%d" % port, answer_timeout=0.3).request("POST", "/", body=b"x" * (64 << 20))
    finally:
        release.set()
