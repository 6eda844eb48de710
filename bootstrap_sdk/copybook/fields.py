"""One elementary item's bytes ↔ its JSON value, in a given encoding.

``decoder(field, encoding, blank_as_zero)`` and ``encoder(field, encoding)`` build one
function per item, once per copybook: the record codec calls them for every record, so the
common cases (digits, a packed number, text) take a short path and anything unusual falls
to the careful one, which says exactly what is wrong. They raise ``ValueError(message)``;
the record codec puts the field's JSON path in front.

Numbers are ``decimal.Decimal`` both ways, with exactly the scale the PIC gives. Decoding
accepts only what the encoder could have written, with these exceptions, because real
programs and files write them: a negative zero (read as 0); a packed or EBCDIC zoned sign
``F`` on a signed field (positive); the ASCII-translated EBCDIC overpunch (``{``, ``A``–``I``,
``}``, ``J``–``R``) beside GnuCOBOL's (``p``–``y`` negative) in ``ascii`` data; and, with
``blank_as_zero`` or BLANK WHEN ZERO, an all-space DISPLAY or COMP-3 field, read as 0.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any, Callable, Dict, Literal, Tuple

from .codepages import DataEncoding
from .parser import Field

Decoder = Callable[[bytes], Any]
Encoder = Callable[[Any], bytes]

_POSITIVE_OVERPUNCH = {c: i for i, c in enumerate("{ABCDEFGHI")}
_NEGATIVE_OVERPUNCH = {c: i for i, c in enumerate("}JKLMNOPQR")}
_NEGATIVE_OVERPUNCH.update({chr(0x70 + i): i for i in range(10)})  # GnuCOBOL (ASCII): 'p'..'y'
# Text given for a number: ASCII only (Decimal() would also take '١٢', '1_000', 'NaN').
_NUMBER_TEXT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
# A sign nibble (packed, and an EBCDIC zone): negative? C, D and F (unsigned) are written and
# read; in mainframe data also A and E (positive) and B (negative), which IBM's hardware takes.
_SIGNS = {0xC: False, 0xD: True, 0xF: False}
_IBM_SIGNS = {0xA: False, 0xB: True, 0xC: False, 0xD: True, 0xE: False, 0xF: False}


# -- values → messages -------------------------------------------------------------------------

def kind_of(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "text", bool: "a boolean", type(None): "null"}.get(
        type(value), "an object" if isinstance(value, dict) else "a number")


def show(value: Any) -> str:
    """A value for a message, cut short: hostile input can be megabytes long."""
    if isinstance(value, int) and value.bit_length() > 256:  # str() refuses ints over 4300 digits
        return "a number of about %d digits" % int(value.bit_length() * 0.30103)
    if isinstance(value, Decimal) and value.is_finite() and abs(value.adjusted()) > 40:
        return format(value, ".12e")  # rounded, but at once: 1.000000000000e+999999
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 60 else text[:40] + "..." + text[-12:]


def excerpt(data: bytes) -> str:
    """Bytes for a message: quoted, cut short, anything but printable ASCII escaped."""
    def escape(part: bytes) -> str:
        return "".join(chr(b) if 0x20 <= b < 0x7F and b not in b"'\\" else "\\" + chr(b) if b in b"'\\"
                       else "\\x%02x" % b for b in part)
    if len(data) <= 48:
        return "'%s'" % escape(data)
    return "'%s...%s'" % (escape(data[:32]), escape(data[-12:]))


# -- JSON value → digits -----------------------------------------------------------------------

def as_decimal(field: Field, value: Any) -> Decimal:
    """The value as an exact Decimal, at a cost bounded by its length, never its magnitude."""
    if isinstance(value, bool) or not isinstance(value, (int, str, Decimal)):
        if isinstance(value, float):
            raise ValueError("got a float; decode JSON with parse_float=Decimal (numbers must be exact)")
        raise ValueError("expected a number for %s, got %s" % (_pic(field), kind_of(value)))
    if isinstance(value, int):
        if field.kind != "float" and abs(value) >= 10 ** (field.digits - min(field.scale, 0)):
            raise ValueError("%s does not fit %s" % (show(value), _pic(field)))  # before Decimal(): slow on huge
        return Decimal(value)
    if isinstance(value, Decimal):
        number = value
    else:
        text = value.strip()
        if not _NUMBER_TEXT.fullmatch(text):
            raise ValueError("%s is not a number (%s)" % (show(value), _pic(field)))
        try:
            number = Decimal(text)
        except ArithmeticError:  # an exponent beyond what Decimal can hold
            raise ValueError("%s does not fit %s" % (show(text), _pic(field))) from None
    if not number.is_finite():
        raise ValueError("%s is not a finite number" % number)
    return number


def _pic(field: Field) -> str:
    return field.usage if field.kind == "float" else "PIC %s" % field.picture


def digits_of(field: Field, value: Any) -> Tuple[bool, str]:
    """(negative, the field's digits as text, zero-padded) for a value that fits exactly.

    Only the coefficient's digits are looked at, never ``10**exponent``: ``1e999999999``
    is refused as fast as ``1000``. A scale below zero is P scaling (9(3)PP: hundreds).
    """
    number = value if type(value) is Decimal and value.is_finite() else as_decimal(field, value)
    if number.is_zero():
        return False, "0" * field.digits  # -0 too: the encoder never writes a negative zero
    if number.is_signed() and not field.signed:
        raise ValueError("%s is negative, but PIC %s is unsigned" % (show(number), field.picture))
    adjusted = number.adjusted()  # its leading digit's place: O(1)
    if adjusted >= field.digits - field.scale:
        raise ValueError("%s does not fit PIC %s" % (show(number), field.picture))
    if 0 <= field.scale <= field.digits and adjusted >= -field.scale:  # (P scaling: the careful way)
        # The usual case, at C speed: fixed-point text no longer than the PIC's digits plus
        # the value's own (adjusted bounds it), its decimals cut to the PIC's if only zeros.
        whole, _, fraction = format(number, "f").lstrip("-").partition(".")
        if len(fraction) > field.scale:
            if fraction[field.scale:].strip("0"):
                raise ValueError("%s has more than %d decimal place%s (PIC %s)" % (
                    show(number), field.scale, "" if field.scale == 1 else "s", field.picture))
            fraction = fraction[:field.scale]
        return number.is_signed(), (whole.lstrip("0") + fraction.ljust(field.scale, "0")).rjust(field.digits, "0")
    negative, coefficient, exponent = number.as_tuple()
    assert isinstance(exponent, int)  # finite
    below = -field.scale - exponent  # digits of the coefficient past the PIC's last decimal place
    if below > 0:
        if below >= len(coefficient) or any(coefficient[-below:]):
            places = max(field.scale, 0)
            raise ValueError("%s has more than %d decimal place%s (PIC %s)%s" % (
                show(number), places, "" if places == 1 else "s", field.picture,
                ": its P scaling stores multiples of %d" % 10 ** -field.scale if field.scale < 0 else ""))
        coefficient = coefficient[:-below]
    zeros = max(0, -below)
    if len(coefficient) + zeros > field.digits:
        raise ValueError("%s does not fit PIC %s" % (show(number), field.picture))
    text = "".join(map(str, coefficient)) + "0" * zeros
    return bool(negative), text.rjust(field.digits, "0")


def number(negative: bool, digits: str, scale: int) -> Decimal:
    """The Decimal of a field's digits: exactly its scale (00125 with V99 is 1.25); a negative
    zero is 0; P scaling to the left gives a whole number (123 with PP is 12300)."""
    significant = digits.lstrip("0")
    sign = "-" if negative and significant else ""
    if scale < 0:
        return Decimal(sign + (significant + "0" * -scale if significant else "0"))
    return Decimal("%s%sE-%d" % (sign, significant or "0", scale))


# -- decoders ----------------------------------------------------------------------------------

# Wraps a number decoded for JSON text: json.dumps writes it as a string, and the marks and
# quotes are then removed, leaving the digits (no code page decodes to this private-use character).
NUMBER_MARK = "\ue000"


def decoder(field: Field, encoding: DataEncoding, blank_as_zero: bool = False, marked: bool = False) -> Decoder:
    """The function from the item's bytes to its JSON value (``marked``: a number as marked text)."""
    if marked and field.kind != "text":
        plain = decoder(field, encoding, blank_as_zero)
        mark = NUMBER_MARK
        return lambda raw: mark + str(plain(raw)) + mark
    if field.kind == "text":
        codec = encoding.codec

        def text(raw: bytes) -> str:
            try:
                return raw.decode(codec).rstrip(" ")
            except UnicodeDecodeError as exc:
                raise ValueError("byte 0x%02x is not %s text" % (raw[exc.start], codec)) from None
        return text
    if field.kind == "float":
        from .floats import decode_float

        fmt = encoding.float_format
        return lambda raw: decode_float(raw, fmt)
    if field.kind == "edited":
        edit, codec = field.edit, encoding.codec
        assert edit is not None
        return lambda raw: edit.decode(raw.decode(codec))
    careful = _careful_number(field, encoding, blank_as_zero)
    fast = _fast_number(field, encoding, careful)
    return fast or careful


def _careful_number(field: Field, encoding: DataEncoding, blank_as_zero: bool) -> Decoder:
    space = encoding.space
    scale = field.scale
    blank_zero = number(False, "0", scale)
    native = field.usage == "COMP-5"  # holds what its bytes hold, whatever the PIC's digits (GnuCOBOL, IBM)

    def decode(raw: bytes) -> Decimal:
        if not raw.strip(space) and field.kind != "binary" and field.sign_nibble:  # spaces: a binary/COMP-6 number
            if not blank_as_zero and not field.blank_when_zero:
                raise ValueError("%s is blank, not a number (PIC %s); blank numeric fields read as zero only with "
                                 "blank_as_zero (BOOTSTRAP_SDK_EXEC_BLANK_NUMBERS=zero)" % (
                                     excerpt(raw), field.picture))
            return blank_zero
        if field.kind == "packed":
            negative, digits = _unpack(field, raw, _IBM_SIGNS if encoding.ebcdic else _SIGNS)
        elif field.kind == "binary":
            value = int.from_bytes(raw, _byte_order(field, encoding), signed=field.signed)
            negative, digits = value < 0, str(abs(value))
        elif encoding.ebcdic:
            negative, digits = _unzone_ebcdic(field, raw, encoding)
        else:
            negative, digits = _unzone(field, raw)
        significant = digits.lstrip("0")
        if len(significant) > field.digits and not native:  # packed pad nibble, binary range: more than the PIC
            raise ValueError("bytes %s hold %s%s, more digits than PIC %s holds (%d)" % (
                raw.hex(), "-" if negative else "", significant, field.picture, field.digits))
        return number(negative, digits, scale)
    return decode


def _fast_number(field: Field, encoding: DataEncoding, careful: Decoder) -> Any:
    """A short path for the usual bytes of a number, or None; anything else goes to ``careful``."""
    if field.scale < 0:
        return None
    suffix = "E-%d" % field.scale
    make = Decimal
    if field.kind == "packed" and field.sign_nibble:
        pad = field.size * 2 - 1 - field.digits  # a leading pad nibble when the digits are even
        positive = "cf" if field.signed else "f"

        def packed(raw: bytes) -> Any:
            nibbles = raw.hex()
            digits = nibbles[:-1]
            if digits.isdigit() and (not pad or digits[0] == "0"):
                sign = nibbles[-1]
                if sign in positive:
                    return make(digits + suffix)
                if sign == "d" and field.signed and digits.strip("0"):
                    return make("-" + digits + suffix)
            return careful(raw)
        return packed
    if field.kind == "zoned" and not field.sign_separate and not field.sign_leading:
        if encoding.ebcdic:
            table = bytes(encoding.to_ascii_digits)
            if not field.signed:
                def ebcdic_unsigned(raw: bytes) -> Any:
                    text = raw.translate(table)
                    if text.isdigit() and raw[-1] >= 0xF0:
                        return make(text.decode() + suffix)
                    return careful(raw)
                return ebcdic_unsigned

            def ebcdic_signed(raw: bytes) -> Any:
                last = raw[-1]
                zone, digit = last >> 4, last & 0xF
                body = raw[:-1].translate(table)
                if digit < 10 and (body.isdigit() or not body):
                    if zone == 0xC or zone == 0xF:
                        return make("%s%d%s" % (body.decode(), digit, suffix))
                    if zone == 0xD and (digit or body.strip(b"0")):
                        return make("-%s%d%s" % (body.decode(), digit, suffix))
                return careful(raw)
            return ebcdic_signed
        if not field.signed:
            def ascii_unsigned(raw: bytes) -> Any:
                if raw.isdigit():  # bytes.isdigit: ASCII digits only
                    return make(raw.decode() + suffix)
                return careful(raw)
            return ascii_unsigned
    if field.kind == "binary":
        order, signed = _byte_order(field, encoding), field.signed
        limit = 10 ** field.digits if field.usage != "COMP-5" else 1 << (8 * field.size)

        def binary(raw: bytes) -> Any:
            value = int.from_bytes(raw, order, signed=signed)
            if -limit < value < limit:
                return make(value).scaleb(-field.scale) if field.scale else make(value)
            return careful(raw)
        return binary
    return None


def _byte_order(field: Field, encoding: DataEncoding) -> "Literal['little', 'big']":
    return "little" if field.little_endian and encoding.comp5_little_endian else "big"


def _unpack(field: Field, raw: bytes, signs: Dict[int, bool]) -> Tuple[bool, str]:
    nibbles = raw.hex()
    if not field.sign_nibble:  # COMP-6: digits only
        if not nibbles.isdigit():
            raise ValueError("bytes %s are not COMP-6 (a digit is not 0-9)" % nibbles)
        return False, nibbles
    digits, sign = nibbles[:-1], int(nibbles[-1], 16)
    if not digits.isdigit():
        raise ValueError("bytes %s are not packed decimal (a digit is not 0-9)" % raw.hex())
    if sign not in signs:
        raise ValueError("bytes %s end in the sign %X; packed signs read are %s" % (
            raw.hex(), sign, "A, C, E, F (positive) and B, D (negative)" if len(signs) > 3 else
            "C and F (positive) and D (negative)"))
    if signs[sign] and not field.signed:
        raise ValueError("bytes %s are a negative packed number, but PIC %s is unsigned" % (raw.hex(), field.picture))
    return signs[sign], digits


def _separate_sign(field: Field, sign: bytes, shown: str, plus: bytes, minus: bytes) -> bool:
    if sign not in (plus, minus):
        raise ValueError("%s has no + or - where SIGN %s SEPARATE puts it" % (
            shown, "LEADING" if field.sign_leading else "TRAILING"))
    return sign == minus


def _unzone(field: Field, raw: bytes) -> Tuple[bool, str]:
    """ASCII zoned decimal: GnuCOBOL's overpunch, or the ASCII-translated EBCDIC one."""
    text = raw.decode("latin-1")  # any byte: digits are checked below
    negative = False
    if field.signed and field.sign_separate:
        sign, text = (text[0], text[1:]) if field.sign_leading else (text[-1], text[:-1])
        negative = _separate_sign(field, sign.encode("latin-1"), repr(raw.decode("latin-1")), b"+", b"-")
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
    overpunch = not field.signed and (bad[0] in _NEGATIVE_OVERPUNCH or bad[0] in _POSITIVE_OVERPUNCH)
    raise ValueError("%r is not a number (PIC %s): %r is not a digit%s" % (
        raw.decode("latin-1"), field.picture, bad[0], " (an unsigned field has no overpunched sign)"
        if overpunch else ""))


def _unzone_ebcdic(field: Field, raw: bytes, encoding: DataEncoding) -> Tuple[bool, str]:
    """EBCDIC zoned decimal: digits F0-F9, the sign in the zone nibble of the first or last byte
    (C +, D -, F unsigned), or a separate + or - in the code page."""
    body = raw
    negative = False
    if field.signed and field.sign_separate:
        sign, body = (raw[:1], raw[1:]) if field.sign_leading else (raw[-1:], raw[:-1])
        negative = _separate_sign(field, sign, "bytes %s" % raw.hex(), encoding.plus, encoding.minus)
    elif field.signed or raw:
        index = 0 if field.sign_leading and field.signed else len(raw) - 1
        zone, digit = raw[index] >> 4, raw[index] & 0xF
        if digit > 9 or zone not in (_IBM_SIGNS if field.signed else (0xF,)):
            raise ValueError("bytes %s are not %s zoned decimal (PIC %s): byte %d, %02X, %s" % (
                raw.hex(), encoding.name, field.picture, index + 1, raw[index],
                "has no digit in its low nibble" if digit > 9 else
                "has the zone %X; an unsigned field's digits are F0-F9" % zone if not field.signed else
                "has the zone %X; signs read are A, C, E, F (positive) and B, D (negative)" % zone))
        negative = field.signed and _IBM_SIGNS[zone]
        body = raw[:index] + bytes((0xF0 | digit,)) + raw[index + 1:]
    text = body.translate(encoding.to_ascii_digits)
    if text.isdigit():
        return negative, text.decode()
    where = next(i for i, b in enumerate(text) if not 0x30 <= b <= 0x39)
    raise ValueError("bytes %s are not %s zoned decimal (PIC %s): byte %d, %02X, is not a digit (F0-F9)" % (
        raw.hex(), encoding.name, field.picture, where + 1 + (1 if field.sign_separate and field.sign_leading else 0),
        body[where]))


# -- encoders ----------------------------------------------------------------------------------

def encoder(field: Field, encoding: DataEncoding) -> Encoder:
    """The function from the item's JSON value to its bytes."""
    if field.kind == "text":
        codec, space, size = encoding.codec, encoding.space, field.size

        def text(value: Any) -> bytes:
            if not isinstance(value, str):
                raise ValueError("expected text for PIC %s, got %s" % (field.picture, kind_of(value)))
            try:
                data = value.encode(codec)
            except UnicodeEncodeError as exc:
                raise ValueError("%s has characters that %s cannot hold (%r)" % (
                    show(value), "latin-1" if codec == "latin-1" else encoding.name, value[exc.start])) from None
            if len(data) > size:
                raise ValueError("%s is %d characters, %d too many for PIC %s" % (
                    show(value), len(data), len(data) - size, field.picture))
            return data + space * (size - len(data))
        return text
    if field.kind == "float":
        from .floats import encode_float

        def floating(value: Any) -> bytes:
            return encode_float(as_decimal(field, value), field.size, encoding.float_format)
        return floating
    if field.kind == "edited":
        edit = field.edit
        assert edit is not None

        def edited(value: Any) -> bytes:
            text = edit.encode(as_decimal(field, value))
            return text.encode(encoding.codec)
        return edited
    return lambda value: encode_number(field, value, encoding)


def _native(field: Field, value: Any, encoding: DataEncoding) -> bytes:
    """A COMP-5 item: any value its bytes hold (at the PIC's scale), not only the PIC's digits."""
    number = value if type(value) is Decimal and value.is_finite() else as_decimal(field, value)
    if not number.is_zero() and number.adjusted() > 2 * 8 * field.size:  # O(1), before scaleb
        raise ValueError("%s does not fit the %d bytes of PIC %s COMP-5" % (show(number), field.size, field.picture))
    if number.is_signed() and not field.signed and not number.is_zero():
        raise ValueError("%s is negative, but PIC %s is unsigned" % (show(number), field.picture))
    scaled = number.scaleb(field.scale)
    if scaled != scaled.to_integral_value():
        raise ValueError("%s has more than %d decimal place%s (PIC %s)" % (
            show(number), max(field.scale, 0), "" if field.scale == 1 else "s", field.picture))
    try:
        return int(scaled).to_bytes(field.size, _byte_order(field, encoding), signed=field.signed)
    except OverflowError:
        raise ValueError("%s does not fit the %d bytes of PIC %s COMP-5" % (
            show(number), field.size, field.picture)) from None


def encode_number(field: Field, value: Any, encoding: DataEncoding) -> bytes:
    if field.usage == "COMP-5":
        return _native(field, value, encoding)
    negative, digits = digits_of(field, value)
    if field.kind == "packed":
        if not field.sign_nibble:  # COMP-6: digits only
            return bytes.fromhex(digits.rjust(field.size * 2, "0"))
        nibbles = digits.rjust(field.size * 2 - 1, "0") + ("D" if negative else "C" if field.signed else "F")
        return bytes.fromhex(nibbles)
    if field.kind == "binary":
        whole = -int(digits) if negative else int(digits)
        try:
            return whole.to_bytes(field.size, _byte_order(field, encoding), signed=field.signed)
        except OverflowError:  # S9(7) COMP-X: 3 bytes hold -8388608 to 8388607, not all 7 digits
            raise ValueError("%s does not fit the %d bytes of PIC %s %s" % (
                show(number(negative, digits, field.scale)), field.size, field.picture, field.usage)) from None
    if encoding.ebcdic:
        return _zone_ebcdic(field, negative, digits, encoding)
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


def _zone_ebcdic(field: Field, negative: bool, digits: str, encoding: DataEncoding) -> bytes:
    body = bytearray(digits.encode("ascii").translate(bytes.maketrans(b"0123456789", encoding.digit_bytes)))
    if not field.signed:
        return bytes(body)
    if field.sign_separate:
        sign = encoding.minus if negative else encoding.plus
        return sign + bytes(body) if field.sign_leading else bytes(body) + sign
    index = 0 if field.sign_leading else -1
    body[index] = (0xD0 if negative else 0xC0) | (body[index] & 0x0F)
    return bytes(body)
