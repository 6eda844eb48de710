"""Events in, responses out: the handler contract's data conversions.

- The event is decoded from JSON unless the handler asks for raw bytes.
- ``bytes`` (and ``bytearray``/``memoryview``) are posted as they are; every other
  value, ``str`` included, is JSON-encoded as the managed Python runtime does, so
  ``return "ok"`` answers ``"ok"`` with its quotes. ``Decimal`` is encoded exactly.
- An iterator or generator is a streamed response (see ``streaming``).
"""

from __future__ import annotations

import gc

from . import json_text
from .errors import MARSHAL_ERROR, UNMARSHAL_ERROR, FunctionError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Tuple

    Handler = Callable[[Any, Any], Any]

JSON_CONTENT_TYPE = "application/json"
BINARY_CONTENT_TYPE = "application/octet-stream"
_RAW_EVENT_ATTRIBUTE = "__bootstrap_sdk_raw_event__"


def raw_event(handler: Handler) -> Handler:
    """Mark a handler to receive the event as ``bytes``, undecoded.

    >>> @raw_event
    ... def handler(event: bytes, context): ...
    """
    setattr(handler, _RAW_EVENT_ATTRIBUTE, True)
    return handler


def wants_raw_event(handler: Handler) -> bool:
    return bool(getattr(handler, _RAW_EVENT_ATTRIBUTE, False))


def is_stream(result: Any) -> bool:
    """Iterators and generators stream (``streaming``); lists, dicts, str and bytes do not."""
    return hasattr(result, "__next__") and hasattr(result, "__iter__")


def _gc_paused(convert: Callable[[Any], Any], value: Any) -> Any:
    """``convert(value)`` with the cyclic garbage collector paused.

    Decoding or encoding a large document makes no cycles, but its tens of thousands of
    containers set off collections, full ones included, that walk the whole heap: with a
    large SDK's objects in the heap, 5-10% of a 1 MB event's conversion time. The pause
    covers the conversion only, never the handler; a collector the handler turned off
    stays off.
    """
    if not gc.isenabled():
        return convert(value)
    gc.disable()
    try:
        return convert(value)
    finally:
        gc.enable()


def decode_event(body: bytes) -> Any:
    try:
        return _gc_paused(json_text.loads, body)
    except (ValueError, RecursionError) as exc:  # RecursionError: nested deeper than the C stack allows
        raise FunctionError("Unable to unmarshal input: %s" % (exc,), UNMARSHAL_ERROR) from None


class _NeedsExactEncoding(Exception):
    """Raised from the fast encoder when it meets a Decimal."""


def _fast_default(value: Any) -> Any:
    if type(value).__name__ == "Decimal":
        raise _NeedsExactEncoding
    raise TypeError("Object of type %s is not JSON serializable" % type(value).__name__)


def _fast_encode(value: Any) -> str:
    """``json.dumps(value)``; a cycle is found (and named as json names it) only on failure."""
    try:
        return json_text.dumps(value, default=_fast_default, check_circular=False)
    except RecursionError:
        return json_text.dumps(value, default=_fast_default)


def encode_result(result: Any) -> Tuple[bytes, str]:
    """The response body and its content type for a handler's return value."""
    if isinstance(result, bytes):
        return result, BINARY_CONTENT_TYPE
    if isinstance(result, (bytearray, memoryview)):
        return bytes(result), BINARY_CONTENT_TYPE
    try:
        try:
            text = _gc_paused(_fast_encode, result)
        except _NeedsExactEncoding:
            text = _exact_encode(result)
    except (TypeError, ValueError, RecursionError) as exc:
        raise FunctionError("Unable to marshal response: %s" % (exc,), MARSHAL_ERROR) from None
    return text.encode("utf-8", "surrogatepass"), JSON_CONTENT_TYPE


def _exact_encode(value: Any) -> str:
    """JSON with Decimals written digit for digit (the slow path, only when needed)."""
    kind = type(value).__name__
    if kind == "Decimal":
        if value.is_nan():
            return "NaN"
        if value.is_infinite():
            return "-Infinity" if value < 0 else "Infinity"
        return str(value)
    if isinstance(value, dict):
        items = []
        for key, item in value.items():
            if isinstance(key, str):
                name = key
            elif key is None or isinstance(key, (bool, int, float)):
                name = json_text.dumps(key).strip('"')
            elif type(key).__name__ == "Decimal":
                name = str(key)
            else:
                raise TypeError("keys must be str, int, float, bool or None, not %s" % type(key).__name__)
            items.append(json_text.dumps(name) + ": " + _exact_encode(item))
        return "{" + ", ".join(items) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_exact_encode(item) for item in value) + "]"
    return _fast_encode(value)
