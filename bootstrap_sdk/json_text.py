"""JSON text exactly as the ``json`` module writes and reads it, without importing it.

``import json`` costs about a third of a cold start: it brings in ``re``, ``enum``,
``functools`` and ``collections``, though the work is done by the C module ``_json``
(its scanner and encoder), which needs none of them (docs/facts.md#start-up-costs).
Here ``_json`` is driven directly, the way ``json.loads`` and ``json.dumps`` drive it,
so the text is byte for byte theirs. Every failure is handed to the ``json`` module
itself, imported then, so errors read exactly as its own: only a bad input pays for it.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Optional, Tuple, Union

try:
    from _json import encode_basestring as _quote, encode_basestring_ascii as _quote_ascii
    from _json import make_encoder as _make_encoder, make_scanner as _make_scanner
except ImportError:  # an interpreter built without the accelerator: the json module does it all
    _quote = _quote_ascii = _make_encoder = _make_scanner = None  # type: ignore[assignment,misc]

_SPACE = " \t\n\r"  # JSON's whitespace, all that may surround the value
_CONSTANTS = {"-Infinity": float("-inf"), "Infinity": float("inf"), "NaN": float("nan")}


class _ScannerSettings:
    """The attributes ``_json.make_scanner`` reads: ``json.JSONDecoder()``'s defaults."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = _CONSTANTS.__getitem__


# json.scanner.make_scanner is this very function, given a JSONDecoder.
_scan = _make_scanner(_ScannerSettings()) if _make_scanner is not None else None  # type: ignore[arg-type]


def loads(data: Union[bytes, str]) -> Any:
    """``json.loads(data)``: the same value, or the same exception."""
    text = _utf8_text(data) if isinstance(data, bytes) else data
    if _scan is not None and isinstance(text, str) and not text.startswith("\ufeff"):
        try:
            start = len(text) - len(text.lstrip(_SPACE))
            value, end = _scan(text, start)
            if end == len(text) or len(text.rstrip(_SPACE)) <= end:
                return value
        except (ValueError, StopIteration, RecursionError, SystemError):
            # json says what is wrong, in its own words. (SystemError: until json.decoder is
            # imported, the C scanner cannot build its JSONDecodeError and fails bare.)
            pass
    import json

    return json.loads(data)


def _utf8_text(data: bytes) -> Optional[str]:
    """The text of ``data`` when ``json`` would read it as UTF-8 (no BOM, no NUL in the
    first two bytes: every JSON text in UTF-8 qualifies); None when ``json`` must choose."""
    if data[:1] in (b"\x00", b"\xef", b"\xfe", b"\xff") or data[1:2] == b"\x00":
        return None
    try:
        return data.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError:
        return None


def _not_serializable(value: Any) -> Any:
    raise TypeError("Object of type %s is not JSON serializable" % (value.__class__.__name__,))


def dumps(value: Any, *, ensure_ascii: bool = True, default: Optional[Callable[[Any], Any]] = None,
          separators: Tuple[str, str] = (", ", ": "), check_circular: bool = True) -> str:
    """``json.dumps(value, ensure_ascii=..., default=..., separators=...)``; other options
    as json's defaults.

    ``check_circular=False`` skips json's bookkeeping of the containers being written (a
    sixth of the time of a large document): a cycle then ends in RecursionError, which the
    caller may answer by encoding again with the check, to get json's own message.
    """
    quote = _quote_ascii if ensure_ascii else _quote
    if _make_encoder is None:
        import json

        return json.dumps(value, ensure_ascii=ensure_ascii, default=default, separators=separators,
                          check_circular=check_circular)
    if isinstance(value, str):
        return quote(value)
    encoder = _make_encoder({} if check_circular else None, default or _not_serializable, quote, None,
                            separators[1], separators[0], False, False, True)
    return "".join(encoder(value, 0))
