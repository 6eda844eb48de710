"""extensions: the Extensions API client, and the internal extension that enables SIGTERM.

The fake Runtime API answers ``/extension/register`` (identifier ``ext-1``) and holds
``/extension/event/next`` open until it stops; for the answers it cannot give (refusals,
events with a body) a small ``http.server`` of this module's own stands in.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Dict, Iterator, List, Tuple

import pytest

from bootstrap_sdk.extensions import INTERNAL_EXTENSION_NAME, ExtensionsApiError, ExtensionsClient, enable_sigterm

REGISTER = "/2020-01-01/extension/register"
NEXT = "/2020-01-01/extension/event/next"


class ExtensionsServer:
    """Answers each path with a programmed (status, headers, body); records every request."""

    def __init__(self) -> None:
        self.answers: Dict[str, Tuple[int, Dict[str, str], bytes]] = {}
        self.requests: List[Tuple[str, str, Dict[str, str], bytes]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _serve(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                server.requests.append((self.command, self.path, {k.lower(): v for k, v in self.headers.items()},
                                        body))
                status, headers, payload = server.answers.get(self.path, (404, {}, b""))
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = _serve

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @property
    def address(self) -> str:
        return "127.0.0.1:%d" % self.httpd.server_address[1]

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(10)


@pytest.fixture
def server() -> Iterator[ExtensionsServer]:
    srv = ExtensionsServer()
    try:
        yield srv
    finally:
        srv.stop()


def _client(address: str, keep: List[ExtensionsClient]) -> ExtensionsClient:
    client = ExtensionsClient(address)
    keep.append(client)
    return client


@pytest.fixture
def clients() -> Iterator[List[ExtensionsClient]]:
    made: List[ExtensionsClient] = []
    yield made
    for client in made:
        client.connection.close()


def test_register_sends_the_name_and_events_and_keeps_the_identifier(fresh_api, clients):
    client = _client(fresh_api.address, clients)
    assert client.identifier is None
    assert client.register("my-extension", ["INVOKE", "SHUTDOWN"]) == "ext-1"
    assert client.identifier == "ext-1"
    (request,) = fresh_api.posts("/extension/register")
    assert request.path == REGISTER
    assert request.headers["lambda-extension-name"] == "my-extension"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"].startswith("bootstrap-sdk/")
    assert request.json() == {"events": ["INVOKE", "SHUTDOWN"]}


@pytest.mark.parametrize("status", [400, 403, 500])
def test_register_refused_is_an_extensions_api_error(server, clients, status):
    server.answers[REGISTER] = (status, {"Lambda-Extension-Identifier": "would-be"},
                                b'{"errorType":"Extension.Refused","errorMessage":"no more extensions"}')
    client = _client(server.address, clients)
    with pytest.raises(ExtensionsApiError) as caught:
        client.register("refused-ext", [])
    message = str(caught.value)
    assert "'refused-ext'" in message and "answered %d" % status in message and "no more extensions" in message
    assert client.identifier is None


def test_register_without_an_identifier_is_an_extensions_api_error(server, clients):
    server.answers[REGISTER] = (200, {}, b"{}")
    client = _client(server.address, clients)
    with pytest.raises(ExtensionsApiError, match="answered 200"):
        client.register("anonymous", [])
    assert client.identifier is None


def test_register_with_nobody_listening_is_an_extensions_api_error(server, clients):
    address = server.address
    server.stop()  # the port is now closed
    with pytest.raises(ExtensionsApiError, match="cannot register extension 'lonely'"):
        _client(address, clients).register("lonely", [])


def test_next_event_sends_the_identifier_and_returns_the_event(server, clients):
    server.answers[REGISTER] = (200, {"Lambda-Extension-Identifier": "id-123"}, b"{}")
    event = {"eventType": "SHUTDOWN", "shutdownReason": "spindown", "deadlineMs": 1700000000000}
    server.answers[NEXT] = (200, {"Content-Type": "application/json"}, json.dumps(event).encode())
    client = _client(server.address, clients)
    client.register("poller", ["SHUTDOWN"])
    assert client.next_event() == event
    method, path, headers, _ = server.requests[-1]
    assert (method, path) == ("GET", NEXT)
    assert headers["lambda-extension-identifier"] == "id-123"
    assert headers["user-agent"].startswith("bootstrap-sdk/")


@pytest.mark.parametrize("body", [b"", b"[1, 2]", b'"text"'])
def test_next_event_that_is_not_an_object_is_empty(server, clients, body):
    server.answers[REGISTER] = (200, {"Lambda-Extension-Identifier": "id-1"}, b"{}")
    server.answers[NEXT] = (200, {}, body)
    client = _client(server.address, clients)
    client.register("poller", [])
    assert client.next_event() == {}


def test_next_event_refused_is_an_extensions_api_error(server, clients):
    server.answers[REGISTER] = (200, {"Lambda-Extension-Identifier": "id-1"}, b"{}")
    server.answers[NEXT] = (403, {}, b'{"errorType":"Extension.InvalidExtensionId"}')
    client = _client(server.address, clients)
    client.register("poller", [])
    with pytest.raises(ExtensionsApiError, match="answered 403"):
        client.next_event()


def _poll_threads() -> List[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "bootstrap-sdk-extension"]


def test_enable_sigterm_registers_with_no_events_and_keeps_a_poll_open(fresh_api):
    before = set(_poll_threads())
    client = enable_sigterm(fresh_api.address)
    (poller,) = set(_poll_threads()) - before
    try:
        assert client.identifier == "ext-1"
        (register,) = fresh_api.posts("/extension/register")
        assert register.headers["lambda-extension-name"] == INTERNAL_EXTENSION_NAME
        assert register.json() == {"events": []}
        requests = fresh_api.wait_for(lambda reqs: any(r.method == "GET" and r.path == NEXT for r in reqs))
        (poll,) = [r for r in requests if r.path == NEXT]
        assert poll.headers["lambda-extension-identifier"] == "ext-1"
        assert poller.daemon and poller.is_alive()
    finally:
        fresh_api.stop()  # the environment goes away: the poll's connection is closed
        poller.join(10)
    assert not poller.is_alive()  # the poll ended instead of spinning


def test_enable_sigterm_refused_raises_and_starts_no_poll(server):
    server.answers[REGISTER] = (500, {}, b"broken")
    before = set(_poll_threads())
    with pytest.raises(ExtensionsApiError, match="answered 500"):
        enable_sigterm(server.address)
    assert set(_poll_threads()) - before == set()
    assert [path for _, path, _, _ in server.requests] == [REGISTER]
