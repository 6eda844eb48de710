"""COMP-1 / COMP-2 floats: known answers worked out by hand, refusals, and round-trip properties.

Nothing expected here comes from the codec. Hex patterns are decoded by hand (HFP is
0.F × 16**(e-64), IEEE the usual sign/exponent/significand) and by ``_exact`` below, a
separate reference written from the format definitions with Fractions. IEEE binary64 is
checked against ``struct`` (``float(Decimal)`` is correctly rounded) and ``repr(float)``
(CPython's shortest round-tripping repr, the nearest of the shortest); binary32 against
``struct`` through a double, with exact Fractions where that rounds twice; HFP against
the definition of round-half-even, with Fractions.
"""

from __future__ import annotations

import math
import struct
import time
from decimal import ROUND_CEILING, ROUND_FLOOR, Context, Decimal
from fractions import Fraction
from typing import Any, Optional

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bootstrap_sdk.copybook.floats import FLOAT_FORMATS, decode_float, encode_float

# The same examples every run and no example database (the tree may be read-only).
BUDGET = settings(max_examples=300, deadline=None, derandomize=True, database=None)
KINDS = [(fmt, size) for fmt in FLOAT_FORMATS for size in (4, 8)]
IEEE_SHAPE = {4: (24, 8), 8: (53, 11)}  # significand bits with the hidden one, exponent bits
DIG = {4: 6, 8: 15}  # decimal digits every format of that size keeps (FLT_DIG / DBL_DIG, HFP too)


def _exact(raw: bytes, fmt: str) -> Optional[Fraction]:
    """The exact value of a valid field, from the format definitions; None for what has none."""
    size = len(raw)
    bits = int.from_bytes(raw, "little" if fmt == "ieee-le" else "big")
    negative = bits >> (8 * size - 1)
    if fmt == "hfp":
        digits = 2 * size - 2
        fraction, exponent = bits % 16 ** digits, (bits >> 4 * digits) & 0x7F
        if bits == 0:
            return Fraction(0)
        if fraction < 16 ** (digits - 1):  # unnormalized, or a zero other than all zero bytes
            return None
        value = Fraction(fraction, 16 ** digits) * Fraction(16) ** (exponent - 64)
    else:
        precision, width = IEEE_SHAPE[size]
        fraction, exponent = bits % 2 ** (precision - 1), (bits >> (precision - 1)) % 2 ** width
        bias = 2 ** (width - 1) - 1
        if exponent == 2 ** width - 1:
            return None
        if exponent == 0:
            value = Fraction(fraction) * Fraction(2) ** (1 - bias - (precision - 1))
        else:
            value = Fraction(2 ** (precision - 1) + fraction) * Fraction(2) ** (exponent - bias - (precision - 1))
    return -value if negative else value


def _decimal(value: Fraction) -> Decimal:
    """A fraction whose denominator is a power of 2 or 10, exactly as a Decimal."""
    power = max(value.denominator.bit_length() - 1, len(str(value.denominator)) - 1)
    scaled = value * 10 ** power
    assert scaled.denominator == 1
    return Decimal("%dE-%d" % (scaled.numerator, power))


def _hex(raw: bytes) -> str:
    return raw.hex().upper()


# (format, bytes, the decoded text, the exact value worked out by hand)
KNOWN = [
    ("hfp", "41100000", "1", Fraction(1)),                       # 0x100000/16**6 * 16**1
    ("hfp", "C276A000", "-118.625", Fraction(-118625, 1000)),    # -(0x76A000/16**6) * 16**2
    ("hfp", "42640000", "100", Fraction(100)),                   # 0x64/256 * 256
    ("hfp", "40800000", "0.5", Fraction(1, 2)),
    ("hfp", "00000000", "0", Fraction(0)),
    ("hfp", "7FFFFFFF", "7.237005E+75", Fraction((16 ** 6 - 1) * 16 ** 57)),  # ±2**227 around it
    ("hfp", "00100000", "5.397606E-79", Fraction(1, 16 ** 65)),  # 5.3976053E-79 itself is too far below
    ("hfp", "4110000000000000", "1", Fraction(1)),
    ("hfp", "401999999999999A", "0.1", Fraction(0x1999999999999A, 16 ** 14)),
    ("hfp", "C276A00000000000", "-118.625", Fraction(-118625, 1000)),
    ("hfp", "7FFFFFFFFFFFFFFF", "7.2370055773322621E+75", Fraction((16 ** 14 - 1) * 16 ** 49)),
    ("ieee-be", "3F800000", "1", Fraction(1)),
    ("ieee-le", "0000803F", "1", Fraction(1)),
    ("ieee-be", "C0200000", "-2.5", Fraction(-5, 2)),
    ("ieee-le", "000020C0", "-2.5", Fraction(-5, 2)),
    ("ieee-be", "3DCCCCCD", "0.1", Fraction(0xCCCCCD, 2 ** 27)),
    ("ieee-le", "CDCCCC3D", "0.1", Fraction(0xCCCCCD, 2 ** 27)),
    ("ieee-be", "7F7FFFFF", "3.4028235E+38", Fraction((2 ** 24 - 1) * 2 ** 104)),
    ("ieee-le", "FFFF7F7F", "3.4028235E+38", Fraction((2 ** 24 - 1) * 2 ** 104)),
    ("ieee-be", "00000001", "1E-45", Fraction(1, 2 ** 149)),     # 1.4E-45, but 1E-45 is nearer than 7E-46
    ("ieee-le", "01000000", "1E-45", Fraction(1, 2 ** 149)),
    ("ieee-be", "42C80000", "100", Fraction(100)),
    ("ieee-be", "80000000", "-0", Fraction(0)),
    ("ieee-le", "00000080", "-0", Fraction(0)),
    ("ieee-be", "3FF0000000000000", "1", Fraction(1)),
    ("ieee-le", "000000000000F03F", "1", Fraction(1)),
    ("ieee-be", "C004000000000000", "-2.5", Fraction(-5, 2)),
    ("ieee-le", "00000000000004C0", "-2.5", Fraction(-5, 2)),
    ("ieee-be", "3FB999999999999A", "0.1", Fraction(0x1999999999999A, 2 ** 56)),
    ("ieee-le", "9A9999999999B93F", "0.1", Fraction(0x1999999999999A, 2 ** 56)),
    ("ieee-be", "7FEFFFFFFFFFFFFF", "1.7976931348623157E+308", Fraction((2 ** 53 - 1) * 2 ** 971)),
    ("ieee-le", "FFFFFFFFFFFFEF7F", "1.7976931348623157E+308", Fraction((2 ** 53 - 1) * 2 ** 971)),
    ("ieee-be", "0000000000000001", "5E-324", Fraction(1, 2 ** 1074)),
    ("ieee-le", "0100000000000000", "5E-324", Fraction(1, 2 ** 1074)),
    ("ieee-be", "8000000000000000", "-0", Fraction(0)),
    ("ieee-be", "4059000000000000", "100", Fraction(100)),
    ("ieee-be", "4415AF1D78B58C40", "100000000000000000000", Fraction(10 ** 20)),
    ("ieee-be", "444B1AE4D6E2EF50", "1E+21", Fraction(10 ** 21)),
    ("ieee-be", "4632EEC2EB3869AF", "1.5E+30", None),
]


@pytest.mark.parametrize("fmt, hex_bytes, text, value", KNOWN)
def test_known_answers(fmt: str, hex_bytes: str, text: str, value: Optional[Fraction]) -> None:
    raw = bytes.fromhex(hex_bytes)
    decoded = decode_float(raw, fmt)
    assert str(decoded) == text
    assert encode_float(decoded, len(raw), fmt) == raw
    assert encode_float(Decimal(text), len(raw), fmt) == raw
    if value is not None:
        assert _exact(raw, fmt) == value
        if fmt != "hfp":  # the reference agrees with the machine's own reading of IEEE bytes
            order = "<" if fmt == "ieee-le" else ">"
            assert Fraction(struct.unpack(order + ("f" if len(raw) == 4 else "d"), raw)[0]) == value


def test_hfp_encodes_known_values() -> None:
    assert _hex(encode_float(Decimal("1"), 4, "hfp")) == "41100000"
    assert _hex(encode_float(Decimal("-118.625"), 4, "hfp")) == "C276A000"
    assert _hex(encode_float(Decimal("0.1"), 4, "hfp")) == "4019999A"  # 0x199999.99… rounds up
    assert _hex(encode_float(Decimal("0.1"), 8, "hfp")) == "401999999999999A"
    assert _hex(encode_float(Decimal("16"), 4, "hfp")) == "42100000"
    assert _hex(encode_float(Decimal("15.99999999"), 4, "hfp")) == "42100000"  # a carry renormalizes to 16
    assert _hex(encode_float(Decimal("15.99999999"), 4, "hfp")) == _hex(encode_float(Decimal(16), 4, "hfp"))


def test_half_way_rounds_to_even() -> None:
    # binary32 1 + 2**-24 is half way between 1 and 1 + 2**-23: to the even one, 1.
    assert _hex(encode_float(_decimal(1 + Fraction(1, 2 ** 24)), 4, "ieee-be")) == "3F800000"
    assert _hex(encode_float(_decimal(1 + Fraction(3, 2 ** 24)), 4, "ieee-be")) == "3F800002"
    # HFP short 1 + 16**-5 / 2: half way between fractions 0x100000 and 0x100001 (16**1 scale).
    assert _hex(encode_float(_decimal(1 + Fraction(1, 2 * 16 ** 5)), 4, "hfp")) == "41100000"
    assert _hex(encode_float(_decimal(1 + Fraction(3, 2 * 16 ** 5)), 4, "hfp")) == "41100002"


def test_binary32_does_not_round_twice() -> None:
    # 1 + 2**-24 + 2**-60 is just above the midpoint, so binary32 rounds it up; a double
    # first rounds it onto the midpoint, and then to even, down: struct gets it wrong.
    value = _decimal(1 + Fraction(1, 2 ** 24) + Fraction(1, 2 ** 60))
    assert _hex(encode_float(value, 4, "ieee-be")) == "3F800001"
    assert _hex(struct.pack(">f", float(value))) == "3F800000"


def test_zeros() -> None:
    for fmt, size in KINDS:
        for zero in ("0", "0E-50", "0.000", "0E+999999999"):
            assert encode_float(Decimal(zero), size, fmt) == bytes(size)
    assert encode_float(Decimal("-0"), 4, "hfp") == bytes(4)
    assert encode_float(Decimal("-0.00"), 8, "hfp") == bytes(8)
    assert _hex(encode_float(Decimal("-0"), 4, "ieee-be")) == "80000000"
    assert _hex(encode_float(Decimal("-0"), 8, "ieee-le")) == "0000000000000080"
    assert decode_float(bytes(8), "ieee-le").is_signed() is False
    assert str(decode_float(bytes.fromhex("0000000000000080"), "ieee-le")) == "-0"


REFUSED_BYTES = [
    ("ieee-be", "7FC00000", "NaN"),
    ("ieee-le", "0000C07F", "NaN"),
    ("ieee-be", "7F800001", "NaN"),   # a signalling NaN
    ("ieee-be", "FFC00000", "NaN"),
    ("ieee-be", "7F800000", "+infinity"),
    ("ieee-le", "0000807F", "+infinity"),
    ("ieee-be", "FF800000", "-infinity"),
    ("ieee-be", "7FF8000000000000", "NaN"),
    ("ieee-le", "000000000000F87F", "NaN"),
    ("ieee-be", "7FF0000000000000", "+infinity"),
    ("ieee-le", "000000000000F0FF", "-infinity"),
    ("hfp", "41010000", "not a normalized"),
    ("hfp", "40000001", "not a normalized"),
    ("hfp", "C10FFFFF", "not a normalized"),
    ("hfp", "4101000000000000", "not a normalized"),
    ("hfp", "80000000", "zero fraction"),     # a negative zero
    ("hfp", "8000000000000000", "zero fraction"),
    ("hfp", "41000000", "zero fraction"),     # a zero fraction with an exponent
    ("hfp", "C100000000000000", "zero fraction"),
]


@pytest.mark.parametrize("fmt, hex_bytes, says", REFUSED_BYTES)
def test_refused_bytes(fmt: str, hex_bytes: str, says: str) -> None:
    with pytest.raises(ValueError) as caught:
        decode_float(bytes.fromhex(hex_bytes), fmt)
    message = str(caught.value)
    assert says in message and "X'%s'" % hex_bytes in message
    assert "b'" not in message and "\\x" not in message and "Traceback" not in message
    assert _exact(bytes.fromhex(hex_bytes), fmt) is None


def test_refused_shapes() -> None:
    with pytest.raises(ValueError, match=r"4 bytes \(COMP-1\) or 8 \(COMP-2\), not 3: X'010203'"):
        decode_float(b"\x01\x02\x03", "hfp")
    with pytest.raises(ValueError, match="not 0"):
        decode_float(b"", "ieee-le")
    with pytest.raises(ValueError, match="not 16"):
        encode_float(Decimal(1), 16, "ieee-le")
    for fmt in ("ieee", "HFP", "ibm"):
        with pytest.raises(ValueError, match="unknown float format"):
            decode_float(bytes(4), fmt)
        with pytest.raises(ValueError, match="unknown float format"):
            encode_float(Decimal(1), 4, fmt)


def _just(value: Fraction, nudge: int) -> Decimal:
    """value moved by a tiny amount (nudge -1, 0 or +1), exactly."""
    return _decimal(value + nudge * Fraction(1, 2 ** 1200) * (abs(value)))


REFUSED_VALUES = [
    ("hfp", 4, Decimal("1E+76"), "too large"),
    ("hfp", 4, Decimal("-7.2370056E+75"), "too large"),
    ("hfp", 8, Decimal("7.3E+75"), "too large"),
    ("hfp", 4, Decimal("5E-79"), "smallest normalized value, 5.397606E-79"),
    ("hfp", 8, Decimal("-1E-80"), "too small"),
    ("ieee-le", 4, Decimal("3.4028236E+38"), "largest magnitude is 3.4028235E+38"),
    ("ieee-be", 4, Decimal("-1E+39"), "too large"),
    ("ieee-le", 8, Decimal("1.8E+308"), "largest magnitude is 1.7976931348623157E+308"),
    ("ieee-le", 4, Decimal("7E-46"), "round to zero (the smallest nonzero is 1E-45)"),
    ("ieee-be", 8, Decimal("-2E-324"), "round to zero (the smallest nonzero is 5E-324)"),
    # half way to the next value up from the largest rounds to even: to infinity
    ("ieee-be", 4, _decimal(Fraction(2 ** 25 - 1, 2) * 2 ** 104), "too large"),
    ("ieee-be", 8, _decimal(Fraction(2 ** 54 - 1, 2) * 2 ** 971), "too large"),
    ("hfp", 4, _decimal(Fraction(2 * 16 ** 6 - 1, 2) * 16 ** 57), "too large"),
    # half the smallest subnormal rounds to even: to zero
    ("ieee-be", 4, _decimal(Fraction(1, 2 ** 150)), "too small"),
    ("ieee-be", 8, _decimal(Fraction(1, 2 ** 1075)), "too small"),
    # below 16**-65 by one unit of the next scale down (16**-71): not rounded up to it
    ("hfp", 4, _decimal(Fraction(1, 16 ** 65) - Fraction(1, 16 ** 71)), "too small"),
]


@pytest.mark.parametrize("fmt, size, value, says", REFUSED_VALUES)
def test_refused_values(fmt: str, size: int, value: Decimal, says: str) -> None:
    with pytest.raises(ValueError, match="^.{1,160}$") as caught:
        encode_float(value, size, fmt)
    assert says in str(caught.value)


def test_edges_that_fit() -> None:
    assert _hex(encode_float(_just(Fraction(2 ** 25 - 1, 2) * 2 ** 104, -1), 4, "ieee-be")) == "7F7FFFFF"
    assert _hex(encode_float(_just(Fraction(2 ** 54 - 1, 2) * 2 ** 971, -1), 8, "ieee-be")) == "7FEFFFFFFFFFFFFF"
    assert _hex(encode_float(_just(Fraction(2 * 16 ** 6 - 1, 2) * 16 ** 57, -1), 4, "hfp")) == "7FFFFFFF"
    assert _hex(encode_float(_just(Fraction(1, 2 ** 150), 1), 4, "ieee-be")) == "00000001"
    assert _hex(encode_float(_just(Fraction(1, 2 ** 1075), 1), 8, "ieee-be")) == "0000000000000001"
    # half a unit (16**-71) below 16**-65 rounds up to it (to even, and carries): accepted
    assert _hex(encode_float(_decimal(Fraction(1, 16 ** 65) - Fraction(1, 2 * 16 ** 71)), 4, "hfp")) == "00100000"
    # the largest subnormal rounding up into the smallest normal
    assert _hex(encode_float(_decimal(Fraction(2 ** 23 - 1, 2 ** 149) + Fraction(1, 2 ** 150)), 4, "ieee-be")) \
        == "00800000"


@pytest.mark.parametrize("text", ["NaN", "-NaN", "sNaN", "Infinity", "-Infinity"])
@pytest.mark.parametrize("fmt, size", KINDS)
def test_non_finite_decimals_refused(text: str, fmt: str, size: int) -> None:
    with pytest.raises(ValueError, match="not a finite number"):
        encode_float(Decimal(text), size, fmt)


def test_huge_exponents_refused_at_once() -> None:
    values = [Decimal("1E999999999"), Decimal("-1E999999999"), Decimal("1E-999999999"), Decimal("-7E-999999999"),
              Decimal("9" * 60 + "E+999999940"), Decimal("1" * 5000 + "E+999999999")]
    started = time.perf_counter()
    for fmt, size in KINDS:
        for value in values:
            with pytest.raises(ValueError, match="too large" if value.adjusted() > 0 else "too small"):
                encode_float(value, size, fmt)
    assert time.perf_counter() - started < 1.0


def test_long_coefficients_are_exact() -> None:
    # more digits than int(str) takes by default (4300), and every one of them counts
    above = Decimal("0.1" + "0" * 5000 + "1")
    assert encode_float(above, 4, "ieee-be") == encode_float(Decimal("0.1"), 4, "ieee-be")
    midpoint = _decimal(Fraction(0xCCCCCC * 2 + 1, 2 ** 28))  # between 0x3DCCCCCC and 0x3DCCCCCD
    assert _hex(encode_float(midpoint, 4, "ieee-be")) == "3DCCCCCC"
    assert _hex(encode_float(Decimal(str(midpoint) + "0" * 5000 + "1"), 4, "ieee-be")) == "3DCCCCCD"
    assert _hex(encode_float(Decimal(str(midpoint) + "0" * 5000 + "1"), 8, "hfp")) == "4019999990000000"  # exact


# --- properties ----------------------------------------------------------------------------------


@st.composite
def field_bytes(draw: Any, fmt: str, size: int) -> bytes:
    """Bytes of one field, built from sign, exponent and fraction so that most are valid."""
    if draw(st.integers(0, 9)) == 0:
        return bytes(draw(st.binary(min_size=size, max_size=size)))
    sign = draw(st.integers(0, 1))
    if fmt == "hfp":
        digits = 2 * size - 2
        exponent = draw(st.one_of(st.integers(0, 127), st.sampled_from([0, 1, 64, 126, 127])))
        fraction = draw(st.one_of(st.integers(16 ** (digits - 1), 16 ** digits - 1),
                                  st.sampled_from([16 ** (digits - 1), 16 ** digits - 1, 0]),
                                  st.integers(0, 16 ** digits - 1)))
        return bytes((sign << (8 * size - 1) | exponent << 4 * digits | fraction).to_bytes(size, "big"))
    precision, width = IEEE_SHAPE[size]
    exponent = draw(st.one_of(st.integers(0, 2 ** width - 1), st.sampled_from([0, 1, 2 ** width - 2])))
    fraction = draw(st.one_of(st.integers(0, 2 ** (precision - 1) - 1),
                              st.sampled_from([0, 1, 2 ** (precision - 1) - 1])))
    bits = sign << (8 * size - 1) | exponent << (precision - 1) | fraction
    return bytes(bits.to_bytes(size, "little" if fmt == "ieee-le" else "big"))


def _significant(value: Decimal) -> int:
    """How many significant digits: 100 has 1, 100.5 has 4."""
    return max(len("".join(map(str, value.as_tuple().digits)).strip("0")), 1)


def _unit(raw: bytes, fmt: str) -> Fraction:
    """The unit in the last place of a valid field's fraction."""
    bits = int.from_bytes(raw, "little" if fmt == "ieee-le" else "big")
    if fmt == "hfp":
        return Fraction(Fraction(16) ** ((raw[0] & 0x7F) - 64 - (2 * len(raw) - 2)))
    precision, width = IEEE_SHAPE[len(raw)]
    exponent = (bits >> (precision - 1)) % 2 ** width
    return Fraction(Fraction(2) ** (max(exponent, 1) - (2 ** (width - 1) - 1) - (precision - 1)))


def _reencodes(value: Decimal, raw: bytes, fmt: str) -> bool:
    try:
        return encode_float(value, len(raw), fmt) == raw
    except ValueError:
        return False


@pytest.mark.parametrize("fmt, size", KINDS)
@BUDGET
@given(data=st.data())
def test_bytes_round_trip(fmt: str, size: int, data: Any) -> None:
    raw = data.draw(field_bytes(fmt, size))
    exact = _exact(raw, fmt)
    if exact is None:
        with pytest.raises(ValueError, match="X'%s'" % _hex(raw)):
            decode_float(raw, fmt)
        return
    decoded = decode_float(raw, fmt)
    assert encode_float(decoded, size, fmt) == raw
    sign_bit = int.from_bytes(raw, "little" if fmt == "ieee-le" else "big") >> (8 * size - 1)
    assert decoded.is_signed() == (exact < 0 if fmt == "hfp" else sign_bit == 1)
    if exact == 0:
        assert decoded.is_zero()
        return
    if fmt != "hfp" and size == 8:  # CPython's repr: the shortest that round-trips, nearest of those
        assert decoded == Decimal(repr(struct.unpack("<d" if fmt == "ieee-le" else ">d", raw)[0]))
    # No decimal with fewer digits re-encodes as raw: neither neighbour of the exact value with one
    # digit less (one of them would, if any did); of those with as many, none is nearer.
    digits = _significant(decoded)
    exact_decimal = _decimal(exact)
    if digits > 1:
        for rounding in (ROUND_FLOOR, ROUND_CEILING):
            assert not _reencodes(Context(prec=digits - 1, rounding=rounding).plus(exact_decimal), raw, fmt)
    distance = abs(Fraction(decoded) - exact)
    for rounding in (ROUND_FLOOR, ROUND_CEILING):
        other = Context(prec=digits, rounding=rounding).plus(exact_decimal)
        if _reencodes(other, raw, fmt):
            assert distance <= abs(Fraction(other) - exact)


@st.composite
def decimals(draw: Any, lowest: int, highest: int, most_digits: int = 25) -> Decimal:
    """A nonzero Decimal of 1..most_digits digits whose adjusted() is in [lowest, highest]."""
    count = draw(st.integers(1, most_digits))
    coefficient = draw(st.integers(10 ** (count - 1), 10 ** count - 1))
    adjusted = draw(st.integers(lowest, highest))
    return Decimal((draw(st.integers(0, 1)), tuple(int(d) for d in str(coefficient)), adjusted - count + 1))


# adjusted() bounds a little beyond every format's range, so that the edges are tried
WIDE = {("hfp", 4): (-80, 76), ("hfp", 8): (-80, 76), ("ieee", 4): (-47, 39), ("ieee", 8): (-325, 309)}
# and bounds inside the normal range, where DIG digits survive a round trip
NORMAL = {("hfp", 4): (-78, 74), ("hfp", 8): (-78, 74), ("ieee", 4): (-37, 37), ("ieee", 8): (-307, 307)}


def _struct_oracle(value: Decimal, size: int, fmt: str) -> Optional[bytes]:
    """IEEE bytes by way of struct (a double, then binary32); None where the value is out of range."""
    order = "<" if fmt == "ieee-le" else ">"
    double = float(value)  # correctly rounded
    if math.isinf(double) or double == 0:  # also out of binary32's range
        return None
    if size == 8:
        return struct.pack(order + "d", double)
    magnitude = abs(double)
    try:
        single = struct.unpack(">f", struct.pack(">f", magnitude))[0]  # nearest, ties to even
    except OverflowError:  # it rounds to infinity
        single = math.inf
    bits = struct.unpack(">I", struct.pack(">f", single))[0]
    if single != magnitude:
        # Rounding twice goes wrong only where the double is a binary32 midpoint the value was not on.
        neighbour = struct.unpack(">f", struct.pack(">I", bits + 1 if single < magnitude else bits - 1))[0]
        low, high = sorted([single, neighbour])
        high_value = Fraction(2 ** 128) if math.isinf(high) else Fraction(high)  # the next step past the largest
        if Fraction(low) + high_value == 2 * Fraction(magnitude) and Fraction(value) != Fraction(double):
            single = high if abs(Fraction(value)) > Fraction(magnitude) else low
    if math.isinf(single) or single == 0:
        return None
    return struct.pack(order + "f", math.copysign(single, double))


def _hfp_oracle_holds(value: Decimal, size: int, raw: Optional[bytes]) -> bool:
    """raw is value rounded half to even in HFP, or None only where no HFP value is that near."""
    digits = 2 * size - 2
    target = abs(Fraction(value))
    largest = Fraction((16 ** digits - 1) * 16 ** (63 - digits))
    smallest = Fraction(1, 16 ** 65)
    if raw is None:
        return bool(target >= largest + largest / (16 ** digits - 1) / 2
                    or target < smallest - smallest / 16 ** digits / 2)
    exact = _exact(raw, "hfp")
    assert exact is not None and (exact < 0) == (value < 0)
    exponent, fraction = raw[0] & 0x7F, int.from_bytes(raw[1:], "big")
    unit = Fraction(16) ** (exponent - 64 - digits)
    above, below = unit / 2, (unit / 32 if fraction == 16 ** (digits - 1) else unit / 2)
    error = target - abs(exact)
    if error == above or error == -below:
        return fraction % 2 == 0
    return bool(-below < error < above)


@pytest.mark.parametrize("fmt, size", KINDS)
@BUDGET
@given(data=st.data())
def test_decimals_round_to_nearest(fmt: str, size: int, data: Any) -> None:
    value = data.draw(decimals(*WIDE[fmt[:4], size]))
    try:
        raw: Optional[bytes] = encode_float(value, size, fmt)
    except ValueError as refusal:
        assert "too large" in str(refusal) or "too small" in str(refusal)
        raw = None
    if fmt == "hfp":
        assert _hfp_oracle_holds(value, size, raw)
    else:
        assert raw == _struct_oracle(value, size, fmt)


@pytest.mark.parametrize("fmt, size", KINDS)
@BUDGET
@given(data=st.data())
def test_decimals_decode_to_shortest(fmt: str, size: int, data: Any) -> None:
    short = data.draw(st.booleans())
    value = data.draw(decimals(*NORMAL[fmt[:4], size], most_digits=DIG[size] if short else 25))
    raw = encode_float(value, size, fmt)
    decoded = decode_float(raw, fmt)
    assert encode_float(decoded, size, fmt) == raw
    assert _significant(decoded) <= _significant(value)
    exact = _exact(raw, fmt)
    assert exact is not None
    # both lie within half a unit in the last place of the encoded value
    assert abs(Fraction(decoded) - exact) <= _unit(raw, fmt) / 2
    assert abs(Fraction(value) - exact) <= _unit(raw, fmt) / 2
    if short:  # DIG digits survive: the very value comes back
        assert decoded == value
