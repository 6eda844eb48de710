"""JSON ↔ fixed-width records, as a parsed copybook lays them out.

``Copybook.encode`` turns a JSON object (or a list of them) into record bytes a legacy
program reads; ``decode`` turns the records it writes back into JSON. Numbers are
``decimal.Decimal`` both ways — never floats — with exactly the scale their PIC gives.
Text is latin-1, space padded.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation, localcontext
from typing import Any, Dict, List, Optional, Tuple

from . import parser
from .parser import Field

TEXT_ENCODING = "latin-1"
_POSITIVE_OVERPUNCH = {c: i for i, c in enumerate("{ABCDEFGHI")}
_NEGATIVE_OVERPUNCH = {c: i for i, c in enumerate("}JKLMNOPQR")}
_NEGATIVE_OVERPUNCH.update({chr(0x70 + i): i for i in range(10)})  # GnuCOBOL (ASCII): 'p'..'y'


class RecordError(ValueError):
    """A value does not fit its field, or a record does not fit the copybook; names the field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__("%s: %s" % (field, message))
        self.field = field
        self.message = message


class Copybook:
    """The layout of one record, and its encoder and decoder."""

    def __init__(self, root: Field) -> None:
        self.root = root
        self.record_length = root.size

    @classmethod
    def parse(cls, text: str, source: str = "copybook") -> "Copybook":
        return cls(parser.parse(text, source))

    @classmethod
    def load(cls, path: str) -> "Copybook":
        return cls(parser.load(path))

    # -- JSON → bytes ------------------------------------------------------------------------
    def encode(self, value: Any) -> bytes:
        """One record from a JSON object."""
        out = bytearray()
        _encode(self.root, value, out, "", top=True)
        return bytes(out)

    def encode_many(self, value: Any, separator: bytes = b"") -> bytes:
        """A JSON list of objects → records (each followed by ``separator``); an object → one."""
        items = value if isinstance(value, list) else [value]
        return b"".join(self.encode(item) + separator for item in items)

    # -- bytes → JSON ------------------------------------------------------------------------
    def decode(self, data: bytes) -> Any:
        if len(data) != self.record_length:
            raise RecordError(self.root.name, "record is %d bytes; the copybook describes %d"
                              % (len(data), self.record_length))
        value, _ = _decode(self.root, data, 0, top=True)
        return value

    def decode_many(self, data: bytes, separator: bytes = b"") -> List[Any]:
        """Records as the program wrote them (each followed by ``separator``, if any)."""
        step = self.record_length + len(separator)
        if separator and data and not data.endswith(separator):
            data += separator  # a last line without its newline
        if len(data) % step:
            raise RecordError(self.root.name, "output of %d bytes is not a whole number of %d-byte records"
                              % (len(data), step))
        records = []
        for offset in range(0, len(data), step):
            if separator and data[offset + self.record_length:offset + step] != separator:
                raise RecordError(self.root.name, "record %d does not end with %r" % (offset // step + 1, separator))
            records.append(self.decode(data[offset:offset + self.record_length]))
        return records


def _encode(field: Field, value: Any, out: bytearray, path: str, top: bool = False) -> None:
    if field.occurs > 1 and not top:
        if not isinstance(value, list):
            raise RecordError(path, "expected a list of up to %d items, got %s" % (field.occurs, _kind(value)))
        if len(value) > field.occurs:
            raise RecordError(path, "%d items, but OCCURS %d" % (len(value), field.occurs))
        for index, item in enumerate(value):
            _encode_one(field, item, out, "%s[%d]" % (path, index))
        out.extend(_blank(field) * (field.occurs - len(value)))  # the rest of the table: blank
        return
    _encode_one(field, value, out, path)


def _encode_one(field: Field, value: Any, out: bytearray, path: str) -> None:
    if not field.children:
        out.extend(_encode_text(field, value, path) if field.kind == "text" else _encode_number(field, value, path))
        return
    if not isinstance(value, dict):
        raise RecordError(path or field.name, "expected an object, got %s" % _kind(value))
    known = {c.json_name for c in field.children if not c.is_filler}
    unknown = sorted(set(value) - known)
    if unknown:
        raise RecordError(path or field.name, "unknown field%s %s" % ("s" if len(unknown) > 1 else "",
                                                                      ", ".join(unknown)))
    for child in field.children:
        if child.is_filler:
            out.extend(_blank(child) * child.occurs)
            continue
        child_path = path + "." + child.json_name if path else child.json_name
        if child.json_name not in value:
            raise RecordError(child_path, "missing")
        _encode(child, value[child.json_name], out, child_path)


def _blank(field: Field) -> bytes:
    if field.children:
        return b"".join(_blank(c) * c.occurs for c in field.children)
    if field.kind == "text":
        return b" " * field.size
    return _encode_number(field, Decimal(0), field.name)


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "text", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number")


def _encode_text(field: Field, value: Any, path: str) -> bytes:
    if not isinstance(value, str):
        raise RecordError(path, "expected text for PIC %s, got %s" % (field.picture, _kind(value)))
    try:
        data = value.encode(TEXT_ENCODING)
    except UnicodeEncodeError:
        raise RecordError(path, "%r has characters that %s cannot hold" % (value, TEXT_ENCODING)) from None
    if len(data) > field.size:
        raise RecordError(path, "%r is %d characters, too long for PIC %s (%d)" % (value, len(data), field.picture,
                                                                                 field.size))
    return data.ljust(field.size, b" ")


def _as_decimal(field: Field, value: Any, path: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, str, Decimal)):
        if isinstance(value, float):
            raise RecordError(path, "got a float; decode JSON with parse_float=Decimal (numbers must be exact)")
        raise RecordError(path, "expected a number for PIC %s, got %s" % (field.picture, _kind(value)))
    try:
        number = Decimal(value.strip()) if isinstance(value, str) else Decimal(value)
    except InvalidOperation:
        raise RecordError(path, "%r is not a number (PIC %s)" % (value, field.picture)) from None
    if not number.is_finite():
        raise RecordError(path, "%s is not a finite number" % value)
    return number


def _digits(field: Field, value: Any, path: str) -> Tuple[bool, str]:
    """(negative, the field's digits as text, zero-padded) for a value that fits exactly."""
    number = _as_decimal(field, value, path)
    if number < 0 and not field.signed:
        raise RecordError(path, "%s is negative, but PIC %s is unsigned" % (number, field.picture))
    with localcontext() as exact:
        exact.prec = 100  # wider than any PIC: scaling must never round
        scaled = abs(number).scaleb(field.scale)
        if scaled != scaled.to_integral_value():
            raise RecordError(path, "%s has more than %d decimal place%s (PIC %s)" % (
                number, field.scale, "" if field.scale == 1 else "s", field.picture))
        text = str(int(scaled))
    if len(text) > field.digits:
        raise RecordError(path, "%s does not fit PIC %s" % (number, field.picture))
    return number < 0, text.rjust(field.digits, "0")


def _encode_number(field: Field, value: Any, path: str) -> bytes:
    negative, digits = _digits(field, value, path)
    if field.kind == "packed":
        nibbles = digits.rjust(field.size * 2 - 1, "0") + ("D" if negative else "C" if field.signed else "F")
        return bytes.fromhex(nibbles)
    if field.kind == "binary":
        number = -int(digits) if negative else int(digits)
        return number.to_bytes(field.size, "little" if field.little_endian else "big", signed=field.signed)
    if not field.signed:
        return digits.encode("ascii")
    if field.sign_separate:
        sign = "-" if negative else "+"
        return (sign + digits if field.sign_leading else digits + sign).encode("ascii")
    index = 0 if field.sign_leading else -1
    chars = list(digits)
    if negative:
        chars[index] = chr(0x70 + int(chars[index]))
    return "".join(chars).encode("ascii")


def _decode(field: Field, data: bytes, offset: int, top: bool = False) -> Tuple[Any, int]:
    if field.occurs > 1 and not top:
        items = []
        for _ in range(field.occurs):
            item, offset = _decode_one(field, data, offset)
            items.append(item)
        return items, offset
    return _decode_one(field, data, offset)


def _decode_one(field: Field, data: bytes, offset: int) -> Tuple[Any, int]:
    if field.children:
        result: Dict[str, Any] = {}
        for child in field.children:
            value, offset = _decode(child, data, offset)
            if not child.is_filler:
                result[child.json_name] = value
        return result, offset
    raw = data[offset:offset + field.size]
    end = offset + field.size
    if field.kind == "text":
        return raw.decode(TEXT_ENCODING).rstrip(" "), end
    return _decode_number(field, raw), end


def _decode_number(field: Field, raw: bytes) -> Decimal:
    if field.kind == "packed":
        nibbles = raw.hex().upper()
        digits, sign = nibbles[:-1], nibbles[-1]
        if not digits.isdigit() or sign not in "ABCDEF":
            raise RecordError(field.name, "bytes %s are not packed decimal" % raw.hex())
        negative = sign in "BD"
    elif field.kind == "binary":
        number = int.from_bytes(raw, "little" if field.little_endian else "big", signed=field.signed)
        negative, digits = number < 0, str(abs(number))
    else:
        text = raw.decode("latin-1")
        negative = False
        if field.signed and field.sign_separate:
            sign, text = (text[0], text[1:]) if field.sign_leading else (text[-1], text[:-1])
            if sign not in "+-":
                raise RecordError(field.name, "%r has no sign where SIGN SEPARATE puts it" % raw.decode("latin-1"))
            negative = sign == "-"
        elif field.signed and text:
            index = 0 if field.sign_leading else len(text) - 1
            char = text[index]
            if char in _NEGATIVE_OVERPUNCH:
                negative, char = True, str(_NEGATIVE_OVERPUNCH[char])
            elif char in _POSITIVE_OVERPUNCH:
                char = str(_POSITIVE_OVERPUNCH[char])
            text = text[:index] + char + text[index + 1:]
        digits = text.replace(" ", "0")
        if not (digits.isascii() and digits.isdigit()):  # latin-1 holds '²', a "digit" int() refuses
            raise RecordError(field.name, "%r is not a number (PIC %s)" % (raw.decode("latin-1"), field.picture))
    # Decimal(sign, digits, exponent) keeps the PIC's scale exactly: 00125 with V99 is 1.25.
    return Decimal((1 if negative else 0, tuple(int(d) for d in digits.lstrip("0") or "0"), -field.scale))


class RecordCodec:
    """An executable's records: the JSON event in, the program's output back to JSON.

    ``separator`` follows every record both ways: ``b"\\n"`` for ACCEPT/DISPLAY programs
    (stdio mode, one record a line), nothing for fixed-length record files (file mode).
    A JSON object is one record and answers one object; a JSON list is many records and
    answers a list.
    """

    def __init__(self, inbound: Optional[Copybook], outbound: Optional[Copybook], separator: bytes) -> None:
        self.inbound = inbound
        self.outbound = outbound
        self.separator = separator

    def encode_event(self, body: bytes) -> Tuple[bytes, bool]:
        """(records, whether the event was a list). Raises RecordError naming the field."""
        import json

        try:
            event = json.loads(body, parse_float=Decimal)
        except ValueError as exc:
            raise RecordError("event", "not JSON: %s" % exc) from None
        many = isinstance(event, list)
        if self.inbound is None:
            return body, many
        if not self.separator:
            return self.inbound.encode_many(event), many
        records = []
        for index, item in enumerate(event if many else [event]):
            record = self.inbound.encode(item)
            where = "event[%d]" % index if many else "event"
            # One record a line, read by ACCEPT: a newline would split it, and GnuCOBOL's
            # ACCEPT takes the byte 0x03 for Ctrl-C (packed and binary fields can hold it).
            if b"\n" in record:
                raise RecordError(where, "the record holds a newline byte, which would split the line")
            if b"\x03" in record:
                raise RecordError(where, "the record holds the byte 0x03, which GnuCOBOL's ACCEPT reads as Ctrl-C; "
                                  "keep packed and binary fields out of records read with ACCEPT (files are safe)")
            records.append(record + self.separator)
        return b"".join(records), many

    def decode_output(self, data: bytes, many: bool) -> Any:
        if self.outbound is None:
            return data
        records = self.outbound.decode_many(data, self.separator)
        return records if many or len(records) != 1 else records[0]
