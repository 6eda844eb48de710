"""python_handler: a Python ``_HANDLER`` string and what it resolves to."""

from __future__ import annotations

import pytest

from bootstrap_sdk.errors import InitError
from bootstrap_sdk.python_handler import split_handler


@pytest.mark.parametrize("handler, expected", [
    ("app.handler", ("app", "handler")),
    ("pkg.sub.mod.fn", ("pkg.sub.mod", "fn")),
    ("dir/mod.fn", ("dir.mod", "fn")),
    (" app.handler ", ("app", "handler")),
])
def test_split_handler_accepts(handler, expected):
    assert split_handler(handler) == expected


@pytest.mark.parametrize("handler", ["", "app", "app.", ".fn", "a..fn", "a b.fn", "app.fn()", "1app.fn", "app.fn;rm -rf /"])
def test_split_handler_rejects_with_a_clear_error(handler):
    with pytest.raises(InitError) as caught:
        split_handler(handler)
    assert caught.value.error_type == "Runtime.MalformedHandlerName"
    if handler:
        assert repr(handler) in caught.value.message
    else:  # nothing to quote: say it is missing, and where Lambda reads it from
        assert caught.value.message.startswith("No handler: _HANDLER is empty")
        assert "Handler setting" in caught.value.message
