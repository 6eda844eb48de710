"""An in-process fake of the Runtime API, for the faults the RIE cannot produce.

A real HTTP/1.1 server on loopback: it hands out queued events on ``/next``, records every
request (chunked bodies and trailers included), and can be told to answer with a given
status, to drop a connection mid-poll, or to start listening late. ``Raw`` faults make it
misbehave at the byte level: any answer written verbatim, a connection closed mid-answer,
an answer that never comes.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Dict, List, Optional, Tuple, Union

from bootstrap_sdk.local.sandbox import SANDBOX_GID, SANDBOX_UID

if TYPE_CHECKING:
    from bootstrap_sdk.runtime_api import RuntimeApiClient


class Raw:
    """One misbehaving answer: ``data`` written byte for byte, then ``after``:

    - ``"close"``: the connection is closed (a cut-off or unframed answer);
    - ``"keep"``: the connection stays open (``data`` was a whole answer);
    - ``"serve"``: the ordinary answer follows (``data`` was a prefix: interim answers);
    - ``"hang"``: nothing more, the connection held open until ``release()`` or stop.
    """

    def __init__(self, data: Union[bytes, str] = b"", after: str = "close") -> None:
        assert after in ("close", "keep", "serve", "hang"), after
        self.data = data.encode("latin-1") if isinstance(data, str) else data
        self.after = after


def answer(status: int = 200, headers: Optional[List[Tuple[str, str]]] = None, body: bytes = b"",
           reason: str = "OK", version: str = "HTTP/1.1", content_length: bool = True) -> bytes:
    """An answer's bytes, exactly as given: headers may repeat or be malformed."""
    head = "%s %d %s\r\n" % (version, status, reason)
    for name, value in headers or []:
        head += "%s: %s\r\n" % (name, value) if name else value + "\r\n"
    if content_length:
        head += "Content-Length: %d\r\n" % len(body)
    return head.encode("latin-1") + b"\r\n" + body


def event_headers(request_id: Optional[str] = None, **headers: str) -> List[Tuple[str, str]]:
    """The headers of an ordinary /next answer, as a list (so that tests can repeat or drop some)."""
    found = [
        ("Lambda-Runtime-Aws-Request-Id", str(uuid.uuid4()) if request_id is None else request_id),
        ("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 60000)),
        ("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:eu-west-1:123456789012:function:fake"),
    ]
    found += [(name.replace("_", "-"), value) for name, value in headers.items()]
    return found



class Recorded:
    def __init__(self, method: str, path: str, headers: Dict[str, str], body: bytes,
                 trailers: Dict[str, str], chunks: List[bytes]) -> None:
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body
        self.trailers = trailers
        self.chunks = chunks

    def json(self) -> object:
        return json.loads(self.body)

    def __repr__(self) -> str:
        return "Recorded(%s %s %r)" % (self.method, self.path, self.body[:100])


class FakeRuntimeApi:
    def __init__(self) -> None:
        self.events: List[Tuple[Dict[str, str], bytes]] = []
        self.requests: List[Recorded] = []
        self.next_status: Optional[int] = None      # answer /next with this instead of an event
        self.response_status: Optional[int] = None  # answer /response with this instead of 202
        self.drop_polls = 0                         # close this many /next polls without an answer
        self.faults: List[Tuple[str, Raw]] = []     # (path suffix, fault): the next such request gets it
        self.released = 0                           # bumped by release(): hung answers end
        self.cond = threading.Condition()
        self.stopped = False
        self.port = _free_port()
        self.server: Optional[ThreadingHTTPServer] = None

    @property
    def address(self) -> str:
        return "127.0.0.1:%d" % self.port

    def add_event(self, body: bytes = b"{}", request_id: Optional[str] = None, **headers: str) -> str:
        request_id = request_id or str(uuid.uuid4())
        hdrs = {
            "Lambda-Runtime-Aws-Request-Id": request_id,
            "Lambda-Runtime-Deadline-Ms": str(int(time.time() * 1000) + 60000),
            "Lambda-Runtime-Invoked-Function-Arn": "arn:aws:lambda:eu-west-1:123456789012:function:fake",
            "Lambda-Runtime-Trace-Id": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
        }
        hdrs.update({k.replace("_", "-"): v for k, v in headers.items()})
        with self.cond:
            self.events.append((hdrs, body))
            self.cond.notify_all()
        return request_id

    def add_fault(self, suffix: str, fault: Raw) -> None:
        """The next request whose path ends in ``suffix`` gets ``fault`` (one-shot, in order)."""
        with self.cond:
            self.faults.append((suffix, fault))
            self.cond.notify_all()

    def release(self) -> None:
        """End every hung answer (its connection is closed)."""
        with self.cond:
            self.released += 1
            self.cond.notify_all()

    def reset(self) -> None:
        """As new: no events, requests or programmed failures; hung answers released."""
        self.release()
        with self.cond:
            self.events.clear()
            self.requests.clear()
            self.faults.clear()
            self.next_status = self.response_status = None
            self.drop_polls = 0

    def _take_fault(self, path: str) -> Optional[Raw]:
        with self.cond:
            for index, (suffix, fault) in enumerate(self.faults):
                if path.endswith(suffix):
                    del self.faults[index]
                    return fault
        return None

    def _apply(self, handler: BaseHTTPRequestHandler, fault: Raw) -> bool:
        """Write the fault; True when the ordinary answer should follow."""
        try:
            handler.wfile.write(fault.data)
            handler.wfile.flush()
        except OSError:  # the client gave up reading (a header over its limit, say)
            handler.close_connection = True
            return False
        if fault.after == "serve":
            return True
        if fault.after == "hang":
            with self.cond:
                generation = self.released
                while not self.stopped and self.released == generation:
                    self.cond.wait(0.1)
        if fault.after != "keep":
            handler.close_connection = True
            try:
                handler.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        return False

    def start(self) -> "FakeRuntimeApi":
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                api._record(self, b"", {}, [])
                fault = api._take_fault(self.path)
                if fault is not None and not api._apply(self, fault):
                    return
                if self.path.endswith("/invocation/next"):
                    api._serve_next(self)
                elif self.path.endswith("/extension/event/next"):
                    with api.cond:
                        while not api.stopped:
                            api.cond.wait(0.1)
                    self.close_connection = True
                else:
                    self._answer(404, b"{}")

            def do_POST(self) -> None:
                body, trailers, chunks = _read_body(self)
                api._record(self, body, trailers, chunks)
                fault = api._take_fault(self.path)
                if fault is not None and not api._apply(self, fault):
                    return
                if self.path.endswith("/response") and api.response_status is not None:
                    self._answer(api.response_status, b'{"errorMessage":"fake"}')
                elif self.path.endswith("/extension/register"):
                    self._answer(200, b"{}", {"Lambda-Extension-Identifier": "ext-1"})
                else:
                    self._answer(202, b'{"status":"OK"}')

            def _answer(self, status: int, body: bytes, headers: Optional[Dict[str, str]] = None) -> None:
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                try:
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:  # the runtime was stopped (or gave up) before reading its answer
                    self.close_connection = True

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        with self.cond:
            self.stopped = True
            self.cond.notify_all()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def _record(self, handler: BaseHTTPRequestHandler, body: bytes, trailers: Dict[str, str],
                chunks: List[bytes]) -> None:
        with self.cond:
            self.requests.append(Recorded(handler.command, handler.path,
                                          {k.lower(): v for k, v in handler.headers.items()},
                                          body, trailers, chunks))
            self.cond.notify_all()

    def _serve_next(self, handler: BaseHTTPRequestHandler) -> None:
        with self.cond:
            if self.drop_polls > 0:
                self.drop_polls -= 1
                handler.close_connection = True
                handler.connection.shutdown(socket.SHUT_RDWR)
                return
            if self.next_status is not None:
                status = self.next_status
                body = b'{"errorMessage":"broken","errorType":"Runtime.Fake"}'
                headers: Dict[str, str] = {}
            else:
                while not self.events and not self.stopped:
                    self.cond.wait(0.1)
                if self.stopped:
                    handler.close_connection = True
                    return
                headers, body = self.events.pop(0)
                status = 200
        handler.send_response(status)
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(body)))
        try:
            handler.end_headers()
            handler.wfile.write(body)
        except OSError:  # the runtime was stopped before reading its event
            handler.close_connection = True

    def wait_for(self, predicate: "object", timeout: float = 10.0) -> List[Recorded]:
        """Wait until ``predicate(requests)`` is true; return the requests."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while not predicate(self.requests):  # type: ignore[operator]
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("timed out waiting; requests so far: %r" % self.requests)
                self.cond.wait(left)
            return list(self.requests)

    def wait_posts(self, suffix: str, count: int = 1, timeout: float = 10.0) -> List[Recorded]:
        """Wait until ``count`` POSTs to a path ending in ``suffix`` arrived; return them."""
        self.wait_for(lambda reqs: sum(r.method == "POST" and r.path.endswith(suffix) for r in reqs) >= count,
                      timeout)
        return self.posts(suffix)

    def posts(self, suffix: str) -> List[Recorded]:
        with self.cond:
            return [r for r in self.requests if r.method == "POST" and r.path.endswith(suffix)]


def _read_body(handler: BaseHTTPRequestHandler) -> Tuple[bytes, Dict[str, str], List[bytes]]:
    if handler.headers.get("Transfer-Encoding", "").lower() == "chunked":
        chunks: List[bytes] = []
        while True:
            size = int(handler.rfile.readline().split(b";")[0].strip(), 16)
            if size == 0:
                break
            chunks.append(handler.rfile.read(size))
            handler.rfile.readline()
        trailers: Dict[str, str] = {}
        while True:
            line = handler.rfile.readline().rstrip(b"\r\n")
            if not line:
                break
            name, _, value = line.decode("latin-1").partition(":")
            trailers[name.strip().lower()] = value.strip()
        return b"".join(chunks), trailers, chunks
    length = int(handler.headers.get("Content-Length", "0"))
    return handler.rfile.read(length), {}, []


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_runtime(address: str, handler: str, log_path: Path, runtime_root: Path, **env: str) -> subprocess.Popen:
    """This runtime as a subprocess pointed at ``address``: unprivileged, over the read-only
    copy of the SDK and the test functions in ``runtime_root`` (see conftest)."""
    functions = runtime_root / "functions"
    full_env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "AWS_LAMBDA_RUNTIME_API": address,
        "_HANDLER": handler,
        "LAMBDA_TASK_ROOT": str(functions),
        "AWS_LAMBDA_FUNCTION_NAME": "fake",
        "PYTHONPATH": str(runtime_root / "sdk"),
    }
    full_env.update(env)
    return subprocess.Popen([os.path.realpath(sys.executable), "-m", "bootstrap_sdk"], env=full_env,
                            stdout=open(log_path, "wb"), stderr=subprocess.STDOUT, cwd=str(functions),
                            user=SANDBOX_UID, group=SANDBOX_GID, extra_groups=[])


_clients: List["RuntimeApiClient"] = []


def client_of(api: "FakeRuntimeApi", attempts: int = 3, **options: float) -> "RuntimeApiClient":
    """A runtime's client of ``api``; closed after the test (tests/unit/conftest.py)."""
    from bootstrap_sdk.runtime_api import Backoff, RuntimeApiClient

    client = RuntimeApiClient(api.address, Backoff(attempts), **options)
    _clients.append(client)
    return client


def close_clients() -> None:
    while _clients:
        _clients.pop().connection.close()
