"""JSON ↔ fixed-width records, as a COBOL copybook describes them.

A copybook's first 01-level record becomes a tree of fields. ``encode`` turns a JSON
object (or a list of them) into record bytes a legacy program reads; ``decode`` turns the
records it writes back into JSON. Numbers are ``decimal.Decimal`` both ways — never
floats — with exactly the scale their PIC gives.

Supported: PIC X/A (text, latin-1, space padded), PIC 9 with S, V and repeats
(``S9(5)V99``); USAGE DISPLAY (zoned: GnuCOBOL's trailing overpunch by default, or
``SIGN LEADING``/``TRAILING`` ``[SEPARATE]``), COMP-3/PACKED-DECIMAL, and
COMP/BINARY/COMP-4 (big-endian) and COMP-5 (little-endian) with GnuCOBOL's default sizes
(1, 2, 4 or 8 bytes for up to 2, 4, 9 or 18 digits); groups (nested JSON objects);
``OCCURS n`` (JSON arrays, shorter ones padded); FILLER (blank, never in JSON); level-88
conditions (ignored). Refused with a clear message: REDEFINES, OCCURS DEPENDING ON,
RENAMES, COMP-1/COMP-2, P scaling and edited pictures.

JSON names are the COBOL names lower-cased with ``-`` as ``_``; a prefix every field of
the record shares (``PI-`` in ``PI-EMP-ID``, ``PI-HOURS``) is dropped.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation, localcontext
from typing import Any, Dict, List, Optional, Tuple

TEXT_ENCODING = "latin-1"
_POSITIVE_OVERPUNCH = {c: i for i, c in enumerate("{ABCDEFGHI")}
_NEGATIVE_OVERPUNCH = {c: i for i, c in enumerate("}JKLMNOPQR")}
_NEGATIVE_OVERPUNCH.update({chr(0x70 + i): i for i in range(10)})  # GnuCOBOL (ASCII): 'p'..'y'
_UNSUPPORTED = ("REDEFINES", "RENAMES", "COMP-1", "COMP-2", "COMPUTATIONAL-1", "COMPUTATIONAL-2", "POINTER",
                "INDEX", "DEPENDING")


class CopybookError(Exception):
    """The copybook itself cannot be used (says which entry and why)."""


class RecordError(ValueError):
    """A value does not fit its field, or a record does not fit the copybook; names the field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__("%s: %s" % (field, message))
        self.field = field
        self.message = message


class Field:
    """One entry of the record: a group (``children``) or an elementary item."""

    def __init__(self, level: int, name: str) -> None:
        self.level = level
        self.name = name
        self.json_name = name.lower().replace("-", "_")
        self.children: List["Field"] = []
        self.occurs = 1
        self.picture = ""
        self.kind = "group"     # group | text | zoned | packed | binary
        self.digits = 0         # integer + fraction digits
        self.scale = 0          # digits after the implied point
        self.signed = False
        self.sign_leading = False
        self.sign_separate = False
        self.little_endian = False
        self.size = 0           # bytes of one occurrence

    @property
    def is_filler(self) -> bool:
        return self.name == "FILLER"

    def __repr__(self) -> str:
        return "Field(%s %s %s x%d, %d bytes)" % (self.level, self.name, self.picture or self.kind, self.occurs,
                                                  self.size)


def _statements(text: str) -> List[Tuple[int, str]]:
    """(line number, statement) pairs from fixed- or free-format copybook source."""
    def fixed_line(line: str) -> bool:  # sequence area blank or numbered, then an indicator
        area = line[:6]
        return (not area.strip() or area.isdigit()) and (len(line) <= 6 or line[6] in " *-/Dd$")

    fixed = all(fixed_line(line) for line in text.splitlines() if line.strip())
    code: List[Tuple[int, str]] = []
    for number, raw in enumerate(text.splitlines(), 1):
        if fixed:
            if len(raw) > 6 and raw[6] in "*/":
                continue
            line = raw[7:72] if len(raw) > 7 else ""
        else:
            line = raw.split("*>", 1)[0]
            if line.lstrip().startswith("*"):
                continue
        if line.strip():
            code.append((number, line))
    statements: List[Tuple[int, str]] = []
    current = ""
    start = 0
    for number, line in code:
        if not current:
            start = number
        current += " " + line.strip()
        while re.search(r"\.(\s|$)", current):
            head, _, current = re.split(r"(\.)(?=\s|$)", current, maxsplit=1)
            if head.strip():
                statements.append((start, head.strip()))
            start = number
            current = current.strip()
    if current.strip():
        statements.append((start, current.strip()))
    return statements


def _expand_picture(picture: str, where: str) -> str:
    expanded = re.sub(r"(.)\((\d+)\)", lambda m: m.group(1) * int(m.group(2)), picture.upper())
    if not re.fullmatch(r"S?9*V?9*|[X]+|[A]+|[XA9]+", expanded) or expanded in ("S", "V", "SV"):
        raise CopybookError("%s: PIC %s is not supported (edited pictures and P scaling are not)" % (where, picture))
    return expanded


def _apply_clauses(field: Field, words: List[str], where: str) -> None:
    usage = "DISPLAY"
    i = 0
    while i < len(words):
        word = words[i]
        if word in _UNSUPPORTED:
            raise CopybookError("%s: %s is not supported" % (where, word))
        if word in ("PIC", "PICTURE"):
            i += 1
            if i < len(words) and words[i] == "IS":
                i += 1
            field.picture = words[i]
        elif word == "OCCURS":
            count = words[i + 1]
            if not count.isdigit():
                raise CopybookError("%s: OCCURS %s: a fixed count is required" % (where, count))
            if "DEPENDING" in words:
                raise CopybookError("%s: OCCURS DEPENDING ON is not supported" % where)
            field.occurs = int(count)
            i += 1
        elif word in ("COMP-3", "COMPUTATIONAL-3", "PACKED-DECIMAL"):
            usage = "PACKED"
        elif word in ("COMP", "COMPUTATIONAL", "COMP-4", "COMPUTATIONAL-4", "BINARY"):
            usage = "BINARY"
        elif word in ("COMP-5", "COMPUTATIONAL-5"):
            usage = "NATIVE"
        elif word == "SIGN":
            pass
        elif word == "LEADING":
            field.sign_leading = True
        elif word == "SEPARATE":
            field.sign_separate = True
        elif word == "VALUE":
            break  # initial values do not shape the record
        i += 1
    if not field.picture:
        if usage != "DISPLAY":
            raise CopybookError("%s: USAGE without PIC is not supported" % where)
        return
    expanded = _expand_picture(field.picture, where)
    if set(expanded) <= {"X", "A", "9"} and ("X" in expanded or "A" in expanded):
        if usage != "DISPLAY":
            raise CopybookError("%s: text PIC %s cannot be %s" % (where, field.picture, usage))
        field.kind, field.size = "text", len(expanded)
        return
    field.signed = expanded.startswith("S")
    integer, _, fraction = expanded.lstrip("S").partition("V")
    field.digits, field.scale = len(integer) + len(fraction), len(fraction)
    if field.digits == 0 or field.digits > 38:
        raise CopybookError("%s: PIC %s has %d digits (1 to 38 are supported)" % (where, field.picture,
                                                                                  field.digits))
    if usage == "PACKED":
        field.kind, field.size = "packed", field.digits // 2 + 1
    elif usage in ("BINARY", "NATIVE"):
        if field.digits > 18:
            raise CopybookError("%s: binary items hold at most 18 digits" % where)
        field.kind, field.little_endian = "binary", usage == "NATIVE"
        field.size = 1 if field.digits <= 2 else 2 if field.digits <= 4 else 4 if field.digits <= 9 else 8
    else:
        field.kind = "zoned"
        field.size = field.digits + (1 if field.signed and field.sign_separate else 0)


class Copybook:
    """The layout of one record, and its encoder and decoder."""

    def __init__(self, root: Field) -> None:
        self.root = root
        self.record_length = root.size
        self._strip_prefix()

    @classmethod
    def parse(cls, text: str, source: str = "copybook") -> "Copybook":
        stack: List[Field] = []
        root: Optional[Field] = None
        for number, statement in _statements(text):
            words = statement.replace(",", " ").split()
            if not words or not words[0].isdigit():
                raise CopybookError("%s line %d: expected a level number, got %r" % (source, number, statement[:40]))
            level = int(words[0])
            if level == 88:
                continue
            if level == 66:
                raise CopybookError("%s line %d: RENAMES is not supported" % (source, number))
            if level == 1 and root is not None:
                break  # the first record only
            name = words[1].upper() if len(words) > 1 and not words[1].isdigit() else "FILLER"
            if name in ("PIC", "PICTURE", "OCCURS", "COMP-3", "VALUE"):
                name, clause_words = "FILLER", [w.upper() for w in words[1:]]
            else:
                clause_words = [w.upper() for w in words[2:]]
            field = Field(level, name)
            _apply_clauses(field, clause_words, "%s line %d (%s)" % (source, number, name))
            while stack and stack[-1].level >= level:
                stack.pop()
            if not stack:
                if root is not None:
                    raise CopybookError("%s line %d: %s is outside the record" % (source, number, name))
                root = field
            else:
                if stack[-1].picture:
                    raise CopybookError("%s line %d: %s is under an elementary item" % (source, number, name))
                stack[-1].children.append(field)
            stack.append(field)
        if root is None:
            raise CopybookError("%s: no record found" % source)
        _size(root)
        return cls(root)

    @classmethod
    def load(cls, path: str) -> "Copybook":
        with open(path, encoding="latin-1") as handle:
            return cls.parse(handle.read(), path)

    def _strip_prefix(self) -> None:
        names = [f for f in _walk(self.root) if f is not self.root and not f.is_filler]
        if len(names) < 2:
            return
        prefix = names[0].name.split("-", 1)[0] + "-"
        if all(f.name.startswith(prefix) and len(f.name) > len(prefix) for f in names):
            for f in names:
                f.json_name = f.name[len(prefix):].lower().replace("-", "_")

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


def _walk(field: Field) -> List[Field]:
    found = [field]
    for child in field.children:
        found += _walk(child)
    return found


def _size(field: Field) -> int:
    if field.children:
        field.size = sum(_size(child) * child.occurs for child in field.children)
    elif not field.picture:
        raise CopybookError("%s: a group with no fields" % field.name)
    return field.size


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
        if not digits.isdigit():
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
