"""Fixtures several unit tests share: the in-process fake Runtime API, fresh or per module."""

from __future__ import annotations

from typing import Iterator

import pytest

from fake_runtime_api import FakeRuntimeApi, close_clients


@pytest.fixture
def fresh_api() -> Iterator[FakeRuntimeApi]:
    """A fake of the test's own (a process that dies leaves its /next poll waiting in it)."""
    server = FakeRuntimeApi().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def module_api() -> Iterator[FakeRuntimeApi]:
    """One fake for a module: stopping one takes half a second (its serve_forever poll)."""
    server = FakeRuntimeApi().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def api(module_api: FakeRuntimeApi) -> FakeRuntimeApi:
    """The module's fake, as new: no events, no recorded requests, no programmed failures."""
    module_api.reset()
    return module_api


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    """Clients made with fake_runtime_api.client_of are closed after each test."""
    yield
    close_clients()
