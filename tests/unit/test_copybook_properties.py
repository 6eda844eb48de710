"""copybook codec properties, on random copybooks: exact round trips, and no lenient decode hides.

``decode(encode(x)) == x`` for every value that fits; and for any bytes ``decode``
accepts, ``encode(decode(b))`` gives ``b`` back — except where the codec documents a
leniency, which ``_canonical`` spells out here independently of the codec: the
EBCDIC-style overpunch, packed sign C/F on either kind of field, a negative zero, FILLER
(never read) and, only with ``blank_as_zero``, all-space numeric fields.
"""

from __future__ import annotations

import json
from decimal import Decimal
from fractions import Fraction
from typing import Any, Iterator, List, Tuple

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from bootstrap_sdk.copybook import Copybook, Field, RecordCodec, RecordError

# A noisy 2-core machine: a fixed budget, the same examples every run, no deadline, no database.
BUDGET = settings(max_examples=200, deadline=None, derandomize=True, database=None,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

SIGN_CLAUSES = ["", " SIGN LEADING", " SIGN TRAILING", " SIGN IS LEADING SEPARATE", " SIGN TRAILING SEPARATE"]


def _picture(integer: int, fraction: int, signed: bool) -> str:
    return ("S" if signed else "") + ("9(%d)" % integer if integer else "") + ("V9(%d)" % fraction if fraction else "")


@st.composite
def _elementary(draw: Any, names: Iterator[int]) -> str:
    """The clauses of one elementary item (its name included)."""
    kind = draw(st.sampled_from(["text", "zoned", "signed", "packed", "binary", "filler"]))
    name = "F%d" % next(names)
    if kind == "text":
        return "%s PIC %s(%d)" % (name, draw(st.sampled_from("XA")), draw(st.integers(1, 5)))
    if kind == "filler":
        return "FILLER PIC %s(%d)" % (draw(st.sampled_from("X9")), draw(st.integers(1, 3)))
    limit = 38 if kind == "packed" else 18 if kind == "binary" else 9
    integer = draw(st.integers(0, min(limit, 20)))
    fraction = draw(st.integers(0 if integer else 1, min(6, limit - integer)))
    signed = kind == "signed" or (kind != "zoned" and draw(st.booleans()))
    clauses = "%s PIC %s" % (name, _picture(integer, fraction, signed))
    if kind == "signed":
        clauses += draw(st.sampled_from(SIGN_CLAUSES))
    elif kind == "packed":
        clauses += draw(st.sampled_from([" COMP-3", " PACKED-DECIMAL"]))
    elif kind == "binary":
        clauses += draw(st.sampled_from([" COMP", " BINARY", " COMP-4", " COMP-5"]))
    return clauses


@st.composite
def copybooks(draw: Any) -> Copybook:
    """A 01 record of random fields: every usage, sign form, OCCURS and nested groups."""
    numbers = iter(range(1, 1000))
    lines = ["01 REC."]

    def entries(level: int, depth: int) -> None:
        for _ in range(draw(st.integers(1, 4))):
            occurs = draw(st.sampled_from([1, 1, 1, 2, 3]))
            table = " OCCURS %d" % occurs if occurs > 1 else ""
            if depth < 2 and draw(st.integers(0, 4)) == 0:
                lines.append("  " * depth + "  %02d G%d%s." % (level, next(numbers), table))
                entries(level + 5, depth + 1)
            else:
                item = draw(_elementary(numbers))
                lines.append("  " * depth + "  %02d %s%s." % (level, item, "" if item.startswith("FILLER") else table))

    entries(5, 0)
    return Copybook.parse("\n".join(lines) + "\n")


def _number(field: Field) -> st.SearchStrategy[Decimal]:
    bound = 10 ** field.digits - 1
    low = -bound if field.signed else 0
    return st.integers(low, bound).map(lambda n: Decimal("%dE-%d" % (n, field.scale)))  # exact: no context


def _values(field: Field, table: bool = True) -> st.SearchStrategy[Any]:
    if table and field.occurs > 1:
        return st.lists(_values(field, table=False), min_size=field.occurs, max_size=field.occurs)
    if field.children:
        return st.fixed_dictionaries({c.json_name: _values(c) for c in field.children if not c.is_filler})
    if field.kind == "text":  # any latin-1 character; trailing spaces are padding, not text
        return st.text(st.characters(max_codepoint=255), max_size=field.size).map(lambda s: s.rstrip(" "))
    return _number(field)


def _exact(value: Any) -> Any:
    """Decimals by sign, digits and exponent: 1.20 is not 1.2 here."""
    if isinstance(value, Decimal):
        return value.as_tuple()
    if isinstance(value, dict):
        return {k: _exact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_exact(v) for v in value]
    return value


@st.composite
def books_and_values(draw: Any) -> Tuple[Copybook, Any]:
    book = draw(copybooks())
    return book, draw(_values(book.root, table=False))


@given(books_and_values())
@BUDGET
def test_decode_of_encode_is_the_value_exactly(case):
    book, value = case
    data = book.encode(value)
    assert len(data) == book.record_length
    assert _exact(book.decode(data)) == _exact(value)


@given(books_and_values(), st.integers(0, 3))
@BUDGET
def test_a_batch_round_trips_through_the_record_codec(case, copies):
    """JSON text in (numbers as strings too), file-mode records, JSON out: one for one."""
    book, value = case
    codec = RecordCodec(book, book, b"", records="one-for-one")
    body = json.dumps([value] * copies, default=str).encode()
    records, count = codec.encode_event(body)
    assert count == copies and len(records) == copies * book.record_length
    assert [_exact(v) for v in codec.decode_output(records, count)] == [_exact(value)] * copies


# -- bytes decode accepts are bytes encode writes -----------------------------------------------

def _layout(field: Field, offset: int = 0, top: bool = True) -> List[Tuple[Field, int]]:
    """(elementary field, offset) for every occurrence, FILLER included."""
    found = []
    for _ in range(1 if top else field.occurs):
        if field.children:
            for child in field.children:
                found += _layout(child, offset, top=False)
                offset += child.size * child.occurs
        else:
            found.append((field, offset))
            offset += field.size
    return found


def _zero(field: Field) -> bytes:
    """What the encoder writes for 0, worked out here from the PIC."""
    if field.kind == "packed":
        return bytes.fromhex("0" * (field.size * 2 - 1) + ("c" if field.signed else "f"))
    if field.kind == "text":
        return b" " * field.size
    if field.signed and field.sign_separate:
        return b"+" + b"0" * field.digits if field.sign_leading else b"0" * field.digits + b"+"
    return b"0" * field.digits


POSITIVE_ALTERNATIVES = dict(zip(b"{ABCDEFGHI", b"0123456789"))
NEGATIVE_ALTERNATIVES = dict(zip(b"}JKLMNOPQR", b"pqrstuvwxy"))


def _canonical(book: Copybook, data: bytes, blank_as_zero: bool = False) -> bytes:
    """``data`` with each documented leniency replaced by what the encoder writes instead."""
    out = bytearray(data)
    for field, start in _layout(book.root):
        raw = bytearray(data[start:start + field.size])
        if field.is_filler:
            raw = bytearray(_zero(field))
        elif blank_as_zero and field.kind in ("zoned", "packed") and raw == b" " * field.size:
            raw = bytearray(_zero(field))
        elif field.kind == "zoned" and field.signed and not field.sign_separate:
            at = 0 if field.sign_leading else -1
            raw[at] = POSITIVE_ALTERNATIVES.get(raw[at], NEGATIVE_ALTERNATIVES.get(raw[at], raw[at]))
            if raw[at] == ord("p") and raw.count(b"0") == field.size - 1:
                raw[at] = ord("0")  # negative zero
        elif field.kind == "zoned" and field.signed:
            at = 0 if field.sign_leading else -1
            if raw[at] == ord("-") and raw.count(b"0") == field.size - 1:
                raw[at] = ord("+")
        elif field.kind == "packed":
            nibbles = raw.hex()
            digits, sign = nibbles[:-1], nibbles[-1]
            if sign in "cf" or (sign == "d" and field.signed and set(digits) == {"0"}):
                raw = bytearray(bytes.fromhex(digits + ("c" if field.signed else "f")))
        out[start:start + field.size] = raw
    return bytes(out)


ZONED = b"0123456789" * 3 + b" +-{}AIJRpy!\xb2\x00"
NIBBLES = "0123456789" * 3 + "abcdef"


def _field_bytes(field: Field) -> st.SearchStrategy[bytes]:
    """Bytes for one field: mostly nearly valid (so records get through), some garbage."""
    size = field.size
    garbage = st.binary(min_size=size, max_size=size)
    if field.kind == "text" or field.is_filler:
        return st.one_of(garbage, st.just(b" " * size))
    if field.kind == "packed":
        count = size * 2 - 1
        digits = st.text(st.sampled_from("0123456789"), min_size=count, max_size=count)
        any_sign = st.tuples(digits, st.sampled_from("0123456789abcdef"))  # only c, d, f are read
        any_digits = st.tuples(st.text(st.sampled_from(NIBBLES), min_size=count, max_size=count),
                               st.sampled_from("cdf"))
        packed = st.one_of(any_sign, any_sign, any_sign, any_digits).map(lambda t: bytes.fromhex(t[0] + t[1]))
        return st.one_of(packed, packed, packed, st.just(b" " * size), garbage)
    if field.kind == "binary":
        reach = 10 ** field.digits + 3
        low, high = -(1 << (8 * size - 1)), (1 << (8 * size - 1)) - 1
        if not field.signed:
            low, high = 0, (1 << (8 * size)) - 1
        near = st.integers(max(low, -reach), min(high, reach)).map(
            lambda n: n.to_bytes(size, "little" if field.little_endian else "big", signed=field.signed))
        return st.one_of(near, near, garbage)
    zoned = st.lists(st.sampled_from(list(ZONED)), min_size=size, max_size=size).map(bytes)
    digits = st.text(st.sampled_from("0123456789"), min_size=size, max_size=size).map(str.encode)
    signs = st.tuples(digits, st.integers(0, size - 1), st.sampled_from(list(b"+-{}AIJRpqy0"))).map(
        lambda t: t[0][:t[1]] + bytes([t[2]]) + t[0][t[1] + 1:])
    return st.one_of(digits, signs, signs, zoned, st.just(b" " * size), garbage)


@st.composite
def books_and_bytes(draw: Any) -> Tuple[Copybook, bytes]:
    book = draw(copybooks())
    data = bytearray(book.record_length)
    for field, start in _layout(book.root):
        data[start:start + field.size] = draw(_field_bytes(field))
    return book, bytes(data)


def _accepted_bytes_re_encode(book: Copybook, data: bytes, blank_as_zero: bool) -> None:
    try:
        value = book.decode(data, blank_as_zero=blank_as_zero)
    except RecordError as exc:  # the only way decode may refuse
        assert exc.field and exc.message
        event("refused")
        return
    event("accepted")
    assert not _negative_zeros(value), "a negative zero reads as 0"
    assert book.encode(value) == _canonical(book, data, blank_as_zero)


def _negative_zeros(value: Any) -> List[Decimal]:
    if isinstance(value, dict):
        return [z for v in value.values() for z in _negative_zeros(v)]
    if isinstance(value, list):
        return [z for v in value for z in _negative_zeros(v)]
    return [value] if isinstance(value, Decimal) and value.is_zero() and value.is_signed() else []


@given(books_and_bytes())
@BUDGET
def test_bytes_decode_accepts_are_bytes_encode_writes(case):
    book, data = case
    _accepted_bytes_re_encode(book, data, blank_as_zero=False)


@given(books_and_bytes())
@BUDGET
def test_blank_as_zero_excuses_only_all_space_fields(case):
    book, data = case
    _accepted_bytes_re_encode(book, data, blank_as_zero=True)


ODD_BYTES = list(ZONED) + [0x03, 0x7F, 0x80, 0xFF] + list(range(0x0A, 0x10)) + list(range(0x9A, 0xA0))


@given(books_and_values(), st.data(), st.booleans())
@BUDGET
def test_a_valid_record_changed_a_little_is_refused_or_re_encodes(case, data, lenient):
    """One or two fields replaced, or one byte: refused, or exactly what the encoder writes."""
    book, value = case
    record = bytearray(book.encode(value))
    fields = _layout(book.root)
    numbers = [(f, at) for f, at in fields if f.kind not in ("text", "group") and not f.is_filler]
    if numbers and data.draw(st.integers(0, 3)):
        fields = numbers  # where the strictness is
    for _ in range(data.draw(st.integers(1, 2))):
        field, start = data.draw(st.sampled_from(fields))
        if data.draw(st.booleans()):
            record[start:start + field.size] = data.draw(_field_bytes(field))
        else:  # one byte, most often where the sign is
            at = data.draw(st.sampled_from([0, field.size - 1, data.draw(st.integers(0, field.size - 1))]))
            record[start + at] = data.draw(st.sampled_from(ODD_BYTES))
    _accepted_bytes_re_encode(book, bytes(record), blank_as_zero=lenient)


# -- any number is answered at once, and right ------------------------------------------------

HOSTILE = st.builds(
    lambda sign, digits, exponent: Decimal((sign, tuple(int(d) for d in digits), exponent)),
    st.integers(0, 1), st.text(st.sampled_from("0123456789"), min_size=1, max_size=45),
    st.one_of(st.integers(-60, 60), st.integers(-10 ** 9, 10 ** 9)))


@given(copybooks(), HOSTILE, st.sampled_from(["decimal", "text"]))
@BUDGET
def test_any_number_is_taken_exactly_or_refused_naming_its_field(book, number, form):
    numeric = [f for f, _ in _layout(book.root) if f.kind not in ("text", "group") and not f.is_filler]
    if not numeric:
        return
    target = numeric[0]
    value = _fill(book.root, target, number if form == "decimal" else str(number))
    if abs(number.as_tuple().exponent) > 100:
        fits = number.is_zero()  # 45 digits at most: far too large or too fine, unless zero
    else:
        scaled = Fraction(number) * 10 ** target.scale
        fits = (scaled.denominator == 1 and abs(scaled) < 10 ** target.digits
                and (target.signed or number >= 0 or number.is_zero()))
    keys, path = _where(book.root, target)
    try:
        data = book.encode(value)
    except RecordError as exc:
        assert not fits, exc
        assert exc.field == path
        return
    assert fits
    decoded = book.decode(data)
    for key in keys:
        decoded = decoded[key]
    assert decoded == number and not (decoded.is_zero() and decoded.is_signed())


def _fill(field: Field, target: Field, number: Any, table: bool = False) -> Any:
    """A value for ``field`` with zeros and blanks everywhere but ``number`` in ``target``."""
    if table and field.occurs > 1:
        return [_fill(field, target, number) for _ in range(field.occurs)]
    if field.children:
        return {c.json_name: _fill(c, target, number, table=True) for c in field.children if not c.is_filler}
    if field is target:
        return number
    return "" if field.kind == "text" else 0


def _where(field: Field, target: Field) -> Any:
    """(JSON keys, error path) of ``target``'s first occurrence under ``field``, or None."""
    if field is target:
        return [], ""
    for child in field.children:
        found = _where(child, target)
        if found is not None:
            keys, rest = found
            table = child.occurs > 1
            name = child.json_name + ("[0]" if table else "")
            return [child.json_name] + ([0] if table else []) + keys, name + ("." + rest if rest else "")
    return None


# -- small fields, every byte string ------------------------------------------------------------

@pytest.mark.parametrize("clauses", [
    "PIC 9", "PIC S9", "PIC S9 SIGN LEADING", "PIC 9 COMP-3", "PIC S9 COMP-3", "PIC 99 COMP", "PIC S99 COMP",
    "PIC 9(2)", "PIC S9(2)", "PIC S99 SIGN LEADING", "PIC S9 SIGN LEADING SEPARATE",
    "PIC S9 SIGN TRAILING SEPARATE", "PIC 9(2) COMP-3", "PIC S9(3) COMP-3", "PIC 9(3) COMP-3",
    "PIC S9(4) COMP", "PIC 9(4) COMP-5", "PIC SV9 COMP-3",
])
def test_every_byte_string_of_a_small_field(clauses):
    """All 256 or 65536 records of a one- or two-byte field: each refused, or re-encoded exactly."""
    book = Copybook.parse("01 REC.\n  05 F1 %s.\n" % clauses)
    blank = b" " * book.record_length
    accepted = 0
    for number in range(256 ** book.record_length):
        data = number.to_bytes(book.record_length, "big")
        for blank_as_zero in (False, True) if data == blank else (False,):
            try:
                value = book.decode(data, blank_as_zero=blank_as_zero)
            except RecordError as exc:
                assert exc.field == "f1", exc
                continue
            accepted += not blank_as_zero
            assert not _negative_zeros(value), data
            assert book.encode(value) == _canonical(book, data, blank_as_zero), data
    field = book.root.children[0]
    assert accepted >= min(10 ** field.digits, 256 ** field.size)  # every value is readable
