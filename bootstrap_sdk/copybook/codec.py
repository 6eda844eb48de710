"""JSON ↔ fixed-width records, as a parsed copybook lays them out.

``Copybook.encode`` turns a JSON object (or a list of them) into record bytes a legacy
program reads; ``decode`` turns the records it writes back into JSON. Numbers are
``decimal.Decimal`` both ways — never floats — with exactly the scale their PIC gives.
Text is latin-1, space padded.

Decoding is as strict as encoding: a record is accepted only if the encoder could have
written it for some value, so a corrupt record is an error, never a plausible amount.
The exceptions, because real programs and files write them: the ASCII-translated EBCDIC
overpunch (``{``, ``A``–``I`` positive, ``}``, ``J``–``R`` negative) beside GnuCOBOL's
(``p``–``y`` negative); packed sign ``C`` or ``F`` as positive on any field; a negative
zero, read as 0; FILLER, never read; and, only with ``blank_as_zero``, an all-space
DISPLAY or COMP-3 field, read as 0 (spaces are a number in a binary or COMP-6 field);
a field that says BLANK WHEN ZERO is read so always, as the program writes 0 there.
Errors name the field by its JSON path: ``employee.rate``, ``items[2].amount``,
``[6].tax_rate`` (record 6 of a list, from 0). Records read as lines (stdio mode) must
each be one line of exactly the record's length; any other line is named with its
number, its length and an excerpt of what it holds.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any, Dict, List, Optional, Tuple

from . import parser
from .parser import Field

TEXT_ENCODING = "latin-1"
RECORD_SHAPES = ("one", "batch", "one-for-one")
_POSITIVE_OVERPUNCH = {c: i for i, c in enumerate("{ABCDEFGHI")}
_NEGATIVE_OVERPUNCH = {c: i for i, c in enumerate("}JKLMNOPQR")}
_NEGATIVE_OVERPUNCH.update({chr(0x70 + i): i for i in range(10)})  # GnuCOBOL (ASCII): 'p'..'y'
# Text given for a number: ASCII only (Decimal() would also take '١٢', '1_000', 'NaN').
_NUMBER_TEXT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
# Bytes that stop a line record read by ACCEPT: tested on GnuCOBOL 3.1 (0x03 is Ctrl-C to it).
_BREAKS_ACCEPT = {0x0A: "a newline (0x0a), which would split the line",
                  0x03: "the byte 0x03, which GnuCOBOL's ACCEPT reads as Ctrl-C"}
_CONTROL = re.compile(rb"[\x00-\x1f\x7f]")


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
        return self._encode(value, "")

    def encode_many(self, value: Any, separator: bytes = b"") -> bytes:
        """A JSON list of objects → records (each followed by ``separator``); an object → one."""
        if not isinstance(value, list):
            return self.encode(value) + separator
        return b"".join(self._encode(item, "[%d]" % index) + separator for index, item in enumerate(value))

    def _encode(self, value: Any, path: str) -> bytes:
        out = bytearray()
        _encode_one(self.root, value, out, path)
        return bytes(out)

    def blank(self) -> bytes:
        """The record as INITIALIZE leaves it: text fields spaces, numeric fields zero."""
        return _blank(self.root)

    # -- bytes → JSON ------------------------------------------------------------------------
    def decode(self, data: bytes, blank_as_zero: bool = False) -> Any:
        """One record → a JSON object; ``blank_as_zero`` reads all-space numeric fields as 0."""
        return self._decode(data, "", blank_as_zero)

    def decode_many(self, data: bytes, separator: bytes = b"", blank_as_zero: bool = False) -> List[Any]:
        """Records as the program wrote them (each followed by ``separator``, if any)."""
        return [self._decode(record, "[%d]" % index, blank_as_zero)
                for index, record in enumerate(self.split(data, separator))]

    def split(self, data: bytes, separator: bytes = b"") -> List[bytes]:
        """The records in ``data``, unread; their count is checked before their contents.

        With a separator, every record is a line of exactly the record's length: a line of
        another length is an error that says which line, how long, and what it holds.
        """
        step = self.record_length + len(separator)
        if separator and data and not data.endswith(separator):
            data += separator  # a last line without its newline
        records = []
        for offset in range(0, len(data), step):
            where = "[%d]" % (offset // step)
            if separator and data[offset + self.record_length:offset + step] != separator:
                raise RecordError(where, self._misfit(data, offset, separator))
            if len(data) - offset < step:
                raise RecordError(where, "the last record is %d bytes; the copybook describes %d" % (
                    len(data) - offset - len(separator), self.record_length))
            records.append(data[offset:offset + self.record_length])
        return records

    def _misfit(self, data: bytes, offset: int, separator: bytes) -> str:
        """What is where a record should start: ``line 1 is 16 bytes ('PAYROLL STARTING'), not ...``."""
        end = data.find(separator, offset)
        line = data[offset:end if end >= 0 else len(data)]
        length = str(self.record_length)
        article = "an" if length[0] == "8" or (len(length) % 3 == 2 and length[:2] in ("11", "18")) else "a"
        return "line %d is %d bytes (%s), not %s %s-byte %s record%s" % (
            data.count(separator, 0, offset) + 1, len(line), _excerpt(line), article, length, self.root.name,
            " (it ends in \\r: lines must end in \\n alone)" if line.endswith(b"\r") and separator == b"\n" else "")

    def _decode(self, data: bytes, path: str, blank_as_zero: bool) -> Any:
        if len(data) != self.record_length:
            raise RecordError(path or self.root.name, "record is %d bytes; the copybook describes %d"
                              % (len(data), self.record_length))
        value, _ = _decode_one(self.root, data, 0, path, blank_as_zero)
        return value


# -- encoding ----------------------------------------------------------------------------------

def _encode(field: Field, value: Any, out: bytearray, path: str) -> None:
    if field.occurs > 1:
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
    twice = getattr(value, "duplicate", None)
    if twice is not None:
        raise RecordError(path + "." + twice if path else twice, "given twice in the event")
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
        type(value), "an object" if isinstance(value, dict) else "a number")


def _encode_text(field: Field, value: Any, path: str) -> bytes:
    if not isinstance(value, str):
        raise RecordError(path, "expected text for PIC %s, got %s" % (field.picture, _kind(value)))
    try:
        data = value.encode(TEXT_ENCODING)
    except UnicodeEncodeError:
        raise RecordError(path, "%s has characters that %s cannot hold" % (_show(value), TEXT_ENCODING)) from None
    if len(data) > field.size:
        raise RecordError(path, "%s is %d characters, %d too many for PIC %s" % (
            _show(value), len(data), len(data) - field.size, field.picture))
    return data.ljust(field.size, b" ")


def _excerpt(data: bytes) -> str:
    """Bytes for a message: quoted, cut short, anything but printable ASCII escaped."""
    def show(part: bytes) -> str:
        return "".join(chr(b) if 0x20 <= b < 0x7F and b not in b"'\\" else "\\" + chr(b) if b in b"'\\"
                       else "\\x%02x" % b for b in part)
    if len(data) <= 48:
        return "'%s'" % show(data)
    return "'%s...%s'" % (show(data[:32]), show(data[-12:]))


def _show(value: Any) -> str:
    """A value for a message, cut short: hostile input can be megabytes long."""
    if isinstance(value, int) and value.bit_length() > 256:  # str() refuses ints over 4300 digits
        return "a number of about %d digits" % int(value.bit_length() * 0.30103)
    if isinstance(value, Decimal) and value.is_finite() and abs(value.adjusted()) > 40:
        return format(value, ".12e")  # rounded, but at once: 1.000000000000e+999999
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 60 else text[:40] + "..." + text[-12:]


def _as_decimal(field: Field, value: Any, path: str) -> Decimal:
    """The value as an exact Decimal, at a cost bounded by its length, never its magnitude."""
    if isinstance(value, bool) or not isinstance(value, (int, str, Decimal)):
        if isinstance(value, float):
            raise RecordError(path, "got a float; decode JSON with parse_float=Decimal (numbers must be exact)")
        raise RecordError(path, "expected a number for PIC %s, got %s" % (field.picture, _kind(value)))
    if isinstance(value, int):
        if abs(value) >= 10 ** field.digits:  # before Decimal(), which is slow on huge ints
            raise RecordError(path, "%s does not fit PIC %s" % (_show(value), field.picture))
        return Decimal(value)
    if isinstance(value, Decimal):
        number = value
    else:
        text = value.strip()
        if not _NUMBER_TEXT.fullmatch(text):
            raise RecordError(path, "%s is not a number (PIC %s)" % (_show(value), field.picture))
        try:
            number = Decimal(text)
        except ArithmeticError:  # an exponent beyond what Decimal can hold
            raise RecordError(path, "%s does not fit PIC %s" % (_show(text), field.picture)) from None
    if not number.is_finite():
        raise RecordError(path, "%s is not a finite number" % number)
    return number


def _digits(field: Field, value: Any, path: str) -> Tuple[bool, str]:
    """(negative, the field's digits as text, zero-padded) for a value that fits exactly.

    Only the coefficient's digits are looked at, never ``10**exponent``: ``1e999999999``
    is refused as fast as ``1000``.
    """
    if type(value) is Decimal and value.is_finite():  # what an event's JSON gives: no checks to make
        number = value
    else:
        number = _as_decimal(field, value, path)
    if number.is_zero():
        return False, "0" * field.digits  # -0 too: the encoder never writes a negative zero
    if number.is_signed() and not field.signed:
        raise RecordError(path, "%s is negative, but PIC %s is unsigned" % (_show(number), field.picture))
    if number.adjusted() >= field.digits - field.scale:  # its leading digit's place: O(1)
        raise RecordError(path, "%s does not fit PIC %s" % (_show(number), field.picture))
    negative, coefficient, exponent = number.as_tuple()
    assert isinstance(exponent, int)  # finite
    below = -field.scale - exponent  # digits of the coefficient past the PIC's last decimal place
    if below > 0:
        if below >= len(coefficient) or any(coefficient[-below:]):
            raise RecordError(path, "%s has more than %d decimal place%s (PIC %s)" % (
                _show(number), field.scale, "" if field.scale == 1 else "s", field.picture))
        coefficient = coefficient[:-below]
    zeros = max(0, -below)
    if len(coefficient) + zeros > field.digits:
        raise RecordError(path, "%s does not fit PIC %s" % (_show(number), field.picture))
    text = "".join(map(str, coefficient)) + "0" * zeros
    return bool(negative), text.rjust(field.digits, "0")


def _encode_number(field: Field, value: Any, path: str) -> bytes:
    negative, digits = _digits(field, value, path)
    if field.kind == "packed":
        if not field.sign_nibble:  # COMP-6: digits only
            return bytes.fromhex(digits.rjust(field.size * 2, "0"))
        nibbles = digits.rjust(field.size * 2 - 1, "0") + ("D" if negative else "C" if field.signed else "F")
        return bytes.fromhex(nibbles)
    if field.kind == "binary":
        number = -int(digits) if negative else int(digits)
        try:
            return number.to_bytes(field.size, "little" if field.little_endian else "big", signed=field.signed)
        except OverflowError:  # S9(7) COMP-X: 3 bytes hold -8388608 to 8388607, not all 7 digits
            raise RecordError(path, "%s does not fit the %d bytes of PIC %s %s" % (
                _show(Decimal(number).scaleb(-field.scale)), field.size, field.picture, field.usage)) from None
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


# -- decoding ----------------------------------------------------------------------------------

def _decode(field: Field, data: bytes, offset: int, path: str, blank_as_zero: bool) -> Tuple[Any, int]:
    if field.occurs > 1:
        items = []
        for index in range(field.occurs):
            item, offset = _decode_one(field, data, offset, "%s[%d]" % (path, index), blank_as_zero)
            items.append(item)
        return items, offset
    return _decode_one(field, data, offset, path, blank_as_zero)


def _decode_one(field: Field, data: bytes, offset: int, path: str, blank_as_zero: bool) -> Tuple[Any, int]:
    if field.children:
        result: Dict[str, Any] = {}
        for child in field.children:
            if child.is_filler:  # never read: programs put literals (VALUE) there
                offset += child.size * child.occurs
                continue
            child_path = path + "." + child.json_name if path else child.json_name
            result[child.json_name], offset = _decode(child, data, offset, child_path, blank_as_zero)
        return result, offset
    raw = data[offset:offset + field.size]
    end = offset + field.size
    if field.kind == "text":
        try:
            return raw.decode(TEXT_ENCODING).rstrip(" "), end
        except UnicodeDecodeError as exc:
            raise RecordError(path, "byte 0x%02x is not %s text" % (raw[exc.start], TEXT_ENCODING)) from None
    return _decode_number(field, raw, path, blank_as_zero), end


def _decode_number(field: Field, raw: bytes, path: str, blank_as_zero: bool) -> Decimal:
    if raw.strip(b" ") == b"" and field.kind != "binary" and field.sign_nibble:  # spaces: a binary or COMP-6 number
        if not blank_as_zero and not field.blank_when_zero:
            raise RecordError(path, "%r is blank, not a number (PIC %s); blank numeric fields read as zero only "
                              "with blank_as_zero (BOOTSTRAP_SDK_EXEC_BLANK_NUMBERS=zero)" % (
                                  raw.decode("latin-1"), field.picture))
        return Decimal((0, (0,), -field.scale))
    if field.kind == "packed":
        negative, digits = _unpack(field, raw, path)
    elif field.kind == "binary":
        number = int.from_bytes(raw, "little" if field.little_endian else "big", signed=field.signed)
        negative, digits = number < 0, str(abs(number))
    else:
        negative, digits = _unzone(field, raw, path)
    significant = digits.lstrip("0")
    if len(significant) > field.digits:  # packed pad nibble, binary range: more than the PIC holds
        raise RecordError(path, "bytes %s hold %s%s, more digits than PIC %s holds (%d)" % (
            raw.hex(), "-" if negative else "", significant, field.picture, field.digits))
    # DIGITSE-SCALE keeps the PIC's scale exactly: 00125 with V99 is 125E-2, 1.25 (the digits
    # are 0-9 only, checked above, so the text is always a number Decimal reads exactly).
    # A negative zero is read as 0: programs do write one (MOVE -0.4 TO a PIC S9 field).
    return Decimal("%s%sE-%d" % ("-" if negative and significant else "", significant or "0", field.scale))


def _unpack(field: Field, raw: bytes, path: str) -> Tuple[bool, str]:
    nibbles = raw.hex()
    if not field.sign_nibble:  # COMP-6: digits only
        if not nibbles.isdigit():
            raise RecordError(path, "bytes %s are not COMP-6 (a digit is not 0-9)" % nibbles)
        return False, nibbles
    digits, sign = nibbles[:-1], nibbles[-1]
    if not digits.isdigit():
        raise RecordError(path, "bytes %s are not packed decimal (a digit is not 0-9)" % raw.hex())
    if sign == "d":
        if not field.signed:
            raise RecordError(path, "bytes %s are a negative packed number, but PIC %s is unsigned"
                              % (raw.hex(), field.picture))
        return True, digits
    if sign not in "cf":
        raise RecordError(path, "bytes %s end in the sign %s; packed signs read are C and F (positive) and D "
                          "(negative)" % (raw.hex(), sign.upper()))
    return False, digits


def _unzone(field: Field, raw: bytes, path: str) -> Tuple[bool, str]:
    text = raw.decode("latin-1")  # any byte: digits are checked below
    negative = False
    if field.signed and field.sign_separate:
        sign, text = (text[0], text[1:]) if field.sign_leading else (text[-1], text[:-1])
        if sign not in "+-":
            raise RecordError(path, "%r has no + or - where SIGN %s SEPARATE puts it" % (
                raw.decode("latin-1"), "LEADING" if field.sign_leading else "TRAILING"))
        negative = sign == "-"
    elif field.signed:
        index = 0 if field.sign_leading else len(text) - 1
        char = text[index]
        if char in _NEGATIVE_OVERPUNCH:
            negative, char = True, str(_NEGATIVE_OVERPUNCH[char])
        elif char in _POSITIVE_OVERPUNCH:
            char = str(_POSITIVE_OVERPUNCH[char])
        text = text[:index] + char + text[index + 1:]
    if text.isascii() and text.isdigit():  # isascii first: latin-1 holds '²', which isdigit() takes
        return negative, text
    bad = [char for char in text if not "0" <= char <= "9"]
    if bad:
        overpunch = not field.signed and (bad[0] in _NEGATIVE_OVERPUNCH or bad[0] in _POSITIVE_OVERPUNCH)
        raise RecordError(path, "%r is not a number (PIC %s): %r is not a digit%s" % (
            raw.decode("latin-1"), field.picture, bad[0], " (an unsigned field has no overpunched sign)"
            if overpunch else ""))
    return negative, text


# -- an executable's records -------------------------------------------------------------------

class _Object(Dict[str, Any]):
    """A JSON object as read from an event; remembers a key given twice (the encoder refuses it)."""

    duplicate: Optional[str] = None


def _object(pairs: List[Tuple[str, Any]]) -> _Object:
    result = _Object(pairs)
    if len(result) != len(pairs):
        seen = set()
        for key, _ in pairs:
            if key in seen:
                result.duplicate = key
                break
            seen.add(key)
    return result


def _load_event(body: bytes) -> Any:
    """The event's JSON, every number an exact Decimal (ints too: no 4300-digit limit)."""
    import json

    try:
        return json.loads(body, parse_float=Decimal, parse_int=Decimal, parse_constant=Decimal,
                          object_pairs_hook=_object)
    except RecursionError:
        raise RecordError("event", "not JSON this runtime reads: nested too deeply") from None
    except ValueError as exc:
        raise RecordError("event", "not JSON: %s" % exc) from None


def _count_records(body: bytes) -> int:
    """Records in an event no copybook reads: a JSON list's length, else one."""
    if not body.lstrip().startswith(b"["):
        return 1
    import json

    try:
        event = json.loads(body, parse_int=str, parse_float=str, parse_constant=str)  # no 4300-digit limit
    except (ValueError, RecursionError):
        return 1
    return len(event) if isinstance(event, list) else 1


def _line_problem(field: Field, record: bytes, offset: int, path: str, top: bool = False) -> Optional[RecordError]:
    """The field whose bytes would break a line read by ACCEPT, or None."""
    count = 1 if top else field.occurs
    for index in range(count):
        where = "%s[%d]" % (path, index) if count > 1 else path
        if field.children:
            for child in field.children:
                if not child.is_filler:
                    child_path = where + "." + child.json_name if where else child.json_name
                    problem = _line_problem(child, record, offset, child_path)
                    if problem is not None:
                        return problem
                offset += child.size * child.occurs
            continue
        raw = record[offset:offset + field.size]
        offset += field.size
        if field.kind == "text":
            found = _CONTROL.search(raw)
            if found is not None:
                byte = raw[found.start()]
                return RecordError(where, "holds %s; text read by ACCEPT (stdio mode) may not hold control "
                                   "characters" % _BREAKS_ACCEPT.get(byte, "the control character 0x%02x" % byte))
        else:
            for byte, what in _BREAKS_ACCEPT.items():
                if byte in raw:
                    return RecordError(where, "as PIC %s it is the bytes %s, which hold %s; keep packed and binary "
                                       "fields out of records read with ACCEPT (file mode is binary-safe)"
                                       % (field.picture, raw.hex(), what))
    return None


class RecordCodec:
    """An executable's records: the JSON event in, the program's output back to JSON.

    ``separator`` follows every record both ways: ``b"\\n"`` for ACCEPT/DISPLAY programs
    (stdio mode, one record a line), nothing for fixed-length record files (file mode).
    ``records`` says how many records the program takes and writes, so none goes missing:
    ``one`` (an object in, exactly one record out, an object back), ``batch`` (a list in,
    any number out, a list back) or ``one-for-one`` (a batch, as many out as in).
    """

    def __init__(self, inbound: Optional[Copybook], outbound: Optional[Copybook], separator: bytes,
                 records: str = "one", blank_as_zero: bool = False) -> None:
        if records not in RECORD_SHAPES:
            raise ValueError("records must be one of %s, not %r" % (", ".join(RECORD_SHAPES), records))
        self.inbound = inbound
        self.outbound = outbound
        self.separator = separator
        self.records = records
        self.blank_as_zero = blank_as_zero

    def encode_event(self, body: bytes) -> Tuple[bytes, int]:
        """(the records, how many). Raises RecordError naming the field, ``[i].field`` in a batch."""
        if self.inbound is None:
            return body, _count_records(body)
        event = _load_event(body)
        if self.records == "one":
            if not isinstance(event, dict):
                raise RecordError("event", "the program takes one record: send a JSON object, not %s%s" % (
                    _kind(event), " (BOOTSTRAP_SDK_EXEC_RECORDS=batch or one-for-one makes it take a list)"
                    if isinstance(event, list) else ""))
            items, paths = [event], [""]
        else:
            if not isinstance(event, list):
                raise RecordError("event", "the program takes a batch of records (BOOTSTRAP_SDK_EXEC_RECORDS=%s): "
                                  "send a JSON list of objects, not %s" % (self.records, _kind(event)))
            items, paths = event, ["[%d]" % index for index in range(len(event))]
        records = []
        for item, path in zip(items, paths):
            record = self.inbound._encode(item, path)
            if self.separator and _CONTROL.search(record):  # rare: look for the field only then
                problem = _line_problem(self.inbound.root, record, 0, path, top=True)
                if problem is not None:
                    raise problem
            records.append(record + self.separator)
        return b"".join(records), len(items)

    def decode_output(self, data: bytes, count_in: int) -> Any:
        """The program's records as JSON: an object for ``one``, else a list; or ``data`` with no copybook."""
        if self.outbound is None:
            return data
        try:
            records = self.outbound.split(data, self.separator)
        except RecordError as exc:
            if not self.separator:
                raise
            lengths = {len(line) for line in data.rstrip(self.separator).split(self.separator)}
            advice = ("every line is %d bytes: does the output copybook describe the record the program writes?"
                      % lengths.pop() if len(lengths) == 1 and data.count(self.separator) > 1 else
                      "write debug output UPON SYSERR (stderr); stdout is for %s records only"
                      % self.outbound.root.name)
            raise RecordError("output", "output %s: %s" % (exc.message, advice)) from None
        if self.records == "one":
            if len(records) != 1:
                raise RecordError("output", "the program wrote no record" if not records else
                                  "the program wrote %d records; it takes one record and must write one"
                                  % len(records))
            return self.outbound._decode(records[0], "", self.blank_as_zero)
        if self.records == "one-for-one" and len(records) != count_in:
            raise RecordError("output", "%d record%s in, %d out: the program must write one record for each "
                              "(BOOTSTRAP_SDK_EXEC_RECORDS=one-for-one)" % (
                                  count_in, "" if count_in == 1 else "s", len(records)))
        return [self.outbound._decode(record, "[%d]" % index, self.blank_as_zero)
                for index, record in enumerate(records)]


CALL_DIRECTIONS = ("in", "out", "inout")  # settings.CALL_DIRECTIONS agrees


class CallParameters:
    """A CALL's USING parameters: the JSON event into their records, their records back to JSON.

    Each parameter is (direction, copybook). ``in`` is encoded from the event; ``out``
    starts as INITIALIZE leaves a record (spaces, zeros) and is decoded into the response;
    ``inout`` (a COMMAREA) is both. With one input the event is that record's object; with
    several it is an object with one member per input, named after its 01 level
    (``pay_in``). The response is built the same way from the outputs (null if none).
    """

    def __init__(self, parameters: List[Tuple[str, Copybook]], blank_as_zero: bool = False) -> None:
        for direction, _ in parameters:
            if direction not in CALL_DIRECTIONS:
                raise ValueError("direction must be one of %s, not %r" % (", ".join(CALL_DIRECTIONS), direction))
        self.parameters = parameters
        self.blank_as_zero = blank_as_zero
        self.sizes = [book.record_length for _, book in parameters]
        self.inputs = [i for i, (direction, _) in enumerate(parameters) if direction != "out"]
        self.outputs = [i for i, (direction, _) in enumerate(parameters) if direction != "in"]
        self.blanks = [book.blank() if direction == "out" else b"" for direction, book in parameters]

    def name(self, index: int) -> str:
        """A parameter's member in a several-record event or response: its 01 level's JSON name."""
        return self.parameters[index][1].root.json_name

    def name_clashes(self) -> List[str]:
        """Members two inputs (or two outputs) would share: the event or response could not say which."""
        clashes: List[str] = []
        for group in (self.inputs, self.outputs):
            names = [self.name(i) for i in group]
            if len(group) > 1:
                clashes += sorted({n for n in names if names.count(n) > 1} - set(clashes))
        return clashes

    def encode_event(self, body: bytes) -> bytes:
        """Every parameter's record, in USING order, end to end. Raises RecordError naming the field."""
        values: Dict[int, Any] = {}
        if len(self.inputs) == 1:
            event = _load_event(body)
            index = self.inputs[0]
            if not isinstance(event, dict):
                raise RecordError("event", "the program takes one record (%s): send a JSON object, not %s"
                                  % (self.parameters[index][1].root.name, _kind(event)))
            values[index] = (event, "")
        elif self.inputs:
            event = _load_event(body)
            names = [self.name(i) for i in self.inputs]
            if not isinstance(event, dict):
                raise RecordError("event", "the program takes %d records: send a JSON object with the members %s, "
                                  "not %s" % (len(names), ", ".join(names), _kind(event)))
            twice = getattr(event, "duplicate", None)
            if twice is not None:
                raise RecordError(twice, "given twice in the event")
            unknown = sorted(set(event) - set(names))
            if unknown:
                raise RecordError("event", "unknown member%s %s: the members are the input records %s"
                                  % ("s" if len(unknown) > 1 else "", ", ".join(unknown), ", ".join(names)))
            for index, name in zip(self.inputs, names):
                if name not in event:
                    raise RecordError(name, "missing (the program takes the records %s)" % ", ".join(names))
                values[index] = (event[name], name)
        parts = []
        for index, (_, book) in enumerate(self.parameters):
            if index in values:
                value, path = values[index]
                parts.append(book._encode(value, path))
            else:
                parts.append(self.blanks[index] or bytes(book.record_length))
        return b"".join(parts)

    def decode_outputs(self, data: bytes) -> Any:
        """The output records (found in ``data``, every parameter end to end) as JSON."""
        if len(data) != sum(self.sizes):
            raise RecordError("output", "%d bytes of parameters; the copybooks describe %d" % (len(data), sum(self.sizes)))
        records = []
        offset = 0
        for size in self.sizes:
            records.append(data[offset:offset + size])
            offset += size
        if len(self.outputs) == 1:
            index = self.outputs[0]
            return self.parameters[index][1]._decode(records[index], "", self.blank_as_zero)
        result = {}
        for index in self.outputs:
            name = self.name(index)
            result[name] = self.parameters[index][1]._decode(records[index], name, self.blank_as_zero)
        return result or None
