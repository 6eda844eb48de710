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
