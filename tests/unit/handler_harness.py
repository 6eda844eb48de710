"""What the adapter's unit tests share: each test's handlers are stopped after it, and
their shutdown hooks are kept out of the runtime's global list."""

from __future__ import annotations

from typing import Any, Iterator

import pytest

from bootstrap_sdk import shutdown


def stopped_after(made: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Yield ``made`` (a harness with a ``handlers`` list); stop every handler it made afterwards."""
    monkeypatch.setattr(shutdown, "_hooks", [])
    try:
        yield made
    finally:
        for handler in made.handlers:
            handler.stop()
