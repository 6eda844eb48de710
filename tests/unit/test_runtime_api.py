"""runtime_api: the reconnect backoff."""

from __future__ import annotations

from bootstrap_sdk.runtime_api import Backoff


def test_backoff_is_bounded():
    delays = Backoff(10).delays()
    assert len(delays) == 9 and delays[0] == 0.01 and max(delays) == 1.0
    assert Backoff(0).delays() == []
