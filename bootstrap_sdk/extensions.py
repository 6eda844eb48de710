"""The Extensions API (2020-01-01), and the internal extension that enables SIGTERM.

Lambda sends the runtime SIGTERM at shutdown only if at least one extension is
registered; otherwise the runtime is SIGKILLed (docs/facts.md#extensions-and-shutdown). Registering a no-op
*internal* extension (events ``[]``) from inside the runtime is how the Go and Rust
runtimes get the signal. A registered extension must keep calling ``/event/next`` or
init never completes, so a daemon thread keeps that poll open.
"""

from __future__ import annotations


from . import json_text
from .http_connection import ConnectionLost, HttpConnection
from .runtime_api import USER_AGENT

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Dict, List, Optional

API_VERSION = "2020-01-01"
INTERNAL_EXTENSION_NAME = "bootstrap-sdk-sigterm"


class ExtensionsApiError(Exception):
    pass


class ExtensionsClient:
    """One extension's view of ``http://$AWS_LAMBDA_RUNTIME_API/2020-01-01/extension``."""

    def __init__(self, address: str) -> None:
        self.connection = HttpConnection(address)
        self._base = "/" + API_VERSION + "/extension"
        self.identifier: Optional[str] = None

    def register(self, name: str, events: List[str]) -> str:
        body = json_text.dumps({"events": events}).encode()
        try:
            response = self.connection.request(
                "POST", self._base + "/register",
                (("Lambda-Extension-Name", name), ("User-Agent", USER_AGENT),
                 ("Content-Type", "application/json")), body)
        except ConnectionLost as exc:
            raise ExtensionsApiError("cannot register extension %r: %s" % (name, exc)) from None
        identifier = response.headers.get("lambda-extension-identifier")
        if response.status != 200 or not identifier:
            raise ExtensionsApiError("registering extension %r answered %d: %s"
                                     % (name, response.status, response.body[:300].decode("utf-8", "replace")))
        self.identifier = identifier
        return identifier

    def next_event(self) -> Dict[str, Any]:
        """Block until the next INVOKE or SHUTDOWN event for this extension."""
        assert self.identifier is not None, "register first"
        response = self.connection.request(
            "GET", self._base + "/event/next",
            (("Lambda-Extension-Identifier", self.identifier), ("User-Agent", USER_AGENT)))
        if response.status != 200:
            raise ExtensionsApiError("GET /extension/event/next answered %d" % response.status)
        event = json_text.loads(response.body or b"{}")
        return event if isinstance(event, dict) else {}


def enable_sigterm(address: str) -> ExtensionsClient:
    """Register the internal no-op extension and keep its event poll open in a thread.

    Must run during init, before the runtime's first ``/next``.
    """
    import threading

    client = ExtensionsClient(address)
    client.register(INTERNAL_EXTENSION_NAME, [])

    def poll() -> None:
        while True:
            try:
                client.next_event()
            except (ConnectionLost, ExtensionsApiError, ValueError):
                client.connection.close()
                return  # the environment is going away; nothing left to keep open

    threading.Thread(target=poll, name="bootstrap-sdk-extension", daemon=True).start()
    return client
