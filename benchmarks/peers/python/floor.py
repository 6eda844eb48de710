"""The least a Python runtime can do: the Go floor's loop, on the interpreter's built-ins only.

No JSON, no error handling, nothing imported but ``_socket`` and ``posix`` (already loaded
by every start): GET /next, POST its body back unchanged, forever. Its cold start is the
price of the interpreter itself, which no Python runtime can go under.
"""

import _socket
import posix

host, _, port = posix.environ[b"AWS_LAMBDA_RUNTIME_API"].decode().partition(":")
connection = _socket.socket()
connection.connect((host, int(port)))
pending = b""


def take(size):
    global pending
    while len(pending) < size:
        pending += connection.recv(65536)
    data, pending = pending[:size], pending[size:]
    return data


def line():
    global pending
    while b"\r\n" not in pending:
        pending += connection.recv(65536)
    data, _, pending = pending.partition(b"\r\n")
    return data


def answer():
    """One HTTP response: its lower-cased headers and its body (Content-Length or chunked)."""
    line()  # the status line
    headers = {}
    while True:
        header = line()
        if not header:
            break
        name, _, value = header.partition(b":")
        headers[name.strip().lower()] = value.strip()
    if headers.get(b"transfer-encoding") != b"chunked":
        return headers, take(int(headers.get(b"content-length", b"0")))
    chunks = []
    while True:
        size = int(line().split(b";")[0], 16)
        if not size:
            while line():  # trailers, then the blank line
                pass
            return headers, b"".join(chunks)
        chunks.append(take(size))
        take(2)


while True:
    connection.sendall(b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: api\r\n\r\n")
    headers, event = answer()
    request_id = headers[b"lambda-runtime-aws-request-id"]
    connection.sendall(b"POST /2018-06-01/runtime/invocation/%s/response HTTP/1.1\r\nHost: api\r\n"
                       b"Content-Length: %d\r\n\r\n%s" % (request_id, len(event), event))
    answer()
