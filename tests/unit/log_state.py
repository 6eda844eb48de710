"""The runtime's log state, put back after a test that changes it."""

from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import Iterator

from bootstrap_sdk import logs


@contextmanager
def logs_restored() -> Iterator[None]:
    """Undo what the body does to the log sink, the logging bridge and the request id."""
    root = logging.getLogger()
    sink, bridged, handlers, level = logs._sink, logs._bridged, list(root.handlers), root.level
    try:
        yield
    finally:
        logs._sink, logs._bridged = sink, bridged
        root.handlers[:] = handlers
        root.setLevel(level)
        logs.set_request_id(None)
