"""COBOL COMP-1 and COMP-2 (floating point) fields, as exact decimals.

Mainframe data holds IBM System/360 hexadecimal floating point (``hfp``: a sign bit, a
7-bit power of 16 in excess 64, then a 6- or 14-hex-digit fraction, big-endian); GnuCOBOL
writes the machine's IEEE 754 binary32 / binary64 (``ieee-le`` on x86, ``ieee-be`` on
big-endian machines). Numbers in this codec are exact ``Decimal`` values, never Python
floats, and neither direction goes through one: ``encode_float`` rounds the exact value of
a Decimal half to even at the last bit (hex digit) of the fraction, and ``decode_float``
gives the shortest decimal that encodes back to the same bytes (of those, the nearest to
the exact value): ``0.1``, not ``0.100000001490116119384765625``.

Decoding is strict, so that ``encode_float(decode_float(b)) == b`` for every accepted ``b``:
NaNs, infinities, unnormalized HFP numbers and HFP zeros other than all bytes 00 are
refused. Encoding refuses a value the format cannot hold, never saturates or flushes to 0.
"""

from __future__ import annotations

from decimal import Decimal
from typing import List, Optional, Tuple

FLOAT_FORMATS = ("hfp", "ieee-be", "ieee-le")
_USAGE = {4: "COMP-1", 8: "COMP-2"}
_IEEE = {4: (24, 8), 8: (53, 11)}  # significand bits (the hidden one included), exponent bits
# Decimal.adjusted() beyond these cannot fit: checked before any integer is built from a value.
_ADJUSTED = {("hfp", 4): (-80, 76), ("hfp", 8): (-80, 76), ("ieee", 4): (-47, 39), ("ieee", 8): (-325, 309)}
_MAX_DIGITS = 20  # every format's shortest decimal has at most 18 digits (HFP long; binary64 17)


def decode_float(raw: bytes, fmt: str) -> Decimal:
    """The shortest Decimal that ``encode_float`` writes as ``raw``; ValueError if there is none."""
    size = len(raw)
    _check(size, fmt, raw)
    bits = int.from_bytes(raw, "little" if fmt == "ieee-le" else "big")
    sign = bits >> (8 * size - 1)
    if fmt == "hfp":
        digits = 2 * size - 2
        fraction = bits & ((1 << 4 * digits) - 1)
        exponent = (bits >> 4 * digits) & 0x7F
        if bits == 0:
            return Decimal(0)
        if fraction == 0:
            raise _bad(raw, fmt, "has a zero fraction with a sign or exponent set (zero is all bytes 00)")
        if fraction >> 4 * (digits - 1) == 0:
            raise _bad(raw, fmt, "is not a normalized IBM float (the first hex digit of its fraction is 0)")
        return _shortest(sign, fraction, 4 * (exponent - 64 - digits), raw, fmt)
    precision, width = _IEEE[size]
    fraction = bits & ((1 << (precision - 1)) - 1)
    exponent = (bits >> (precision - 1)) & ((1 << width) - 1)
    if exponent == (1 << width) - 1:
        what = "NaN (not a number)" if fraction else "-infinity" if sign else "+infinity"
        raise _bad(raw, fmt, "is %s, which has no decimal value" % what)
    if exponent == 0 and fraction == 0:
        return Decimal((sign, (0,), 0))
    significand = fraction | (1 << (precision - 1)) if exponent else fraction
    bias = (1 << (width - 1)) - 1
    return _shortest(sign, significand, max(exponent, 1) - bias - (precision - 1), raw, fmt)


def encode_float(value: Decimal, size: int, fmt: str) -> bytes:
    """``value`` as a COMP-1 (``size`` 4) or COMP-2 (8) field, rounded half to even."""
    _check(size, fmt, None)
    if not value.is_finite():
        raise ValueError("%s is not a finite number; a %s field cannot hold it" % (value, _USAGE[size]))
    bits = _bits(value, size, fmt)
    if bits < 0:
        raise _out_of_range(value, size, fmt, bits == _TOO_LARGE)
    return _pack(bits, size, fmt)


_TOO_LARGE, _TOO_SMALL = -1, -2


def _bits(value: Decimal, size: int, fmt: str) -> int:
    """The bits of a finite ``value``, or _TOO_LARGE/_TOO_SMALL (no message: decoding tries many)."""
    sign = 1 if value.is_signed() else 0
    if value.is_zero():
        return 0 if fmt == "hfp" else sign << (8 * size - 1)
    lowest, highest = _ADJUSTED[fmt[:4], size]
    if not lowest <= value.adjusted() <= highest:
        return _TOO_LARGE if value.adjusted() > highest else _TOO_SMALL
    numerator, denominator = value.as_integer_ratio()
    bits = (_hfp if fmt == "hfp" else _ieee)(abs(numerator), denominator, size)
    return bits if bits < 0 else bits | sign << (8 * size - 1)


def _ieee(numerator: int, denominator: int, size: int) -> int:
    """The unsigned bits of numerator/denominator in IEEE binary32/64, or _TOO_LARGE/_TOO_SMALL."""
    precision, width = _IEEE[size]
    bias = (1 << (width - 1)) - 1
    shift = max(_log2_floor(numerator, denominator), 1 - bias) - (precision - 1)
    significand = _round(numerator, denominator, shift)
    if significand == 1 << precision:  # rounding carried out of the significand
        significand, shift = significand >> 1, shift + 1
    if significand == 0:
        return _TOO_SMALL
    if significand < 1 << (precision - 1):  # subnormal
        return significand
    exponent = shift + precision - 1 + bias
    if exponent >= (1 << width) - 1:
        return _TOO_LARGE
    return exponent << (precision - 1) | (significand - (1 << (precision - 1)))


def _hfp(numerator: int, denominator: int, size: int) -> int:
    """The unsigned bits of numerator/denominator in IBM HFP, or _TOO_LARGE/_TOO_SMALL."""
    digits = 2 * size - 2
    power = _log2_floor(numerator, denominator) // 4 + 1  # 16**(power-1) <= value < 16**power
    fraction = _round(numerator, denominator, 4 * (power - digits))
    if fraction == 1 << 4 * digits:  # rounding carried out of the fraction: 0.FFF… became 1.0
        fraction, power = fraction >> 4, power + 1
    if power + 64 > 127:
        return _TOO_LARGE
    if power + 64 < 0:
        return _TOO_SMALL
    return (power + 64) << 4 * digits | fraction


def _round(numerator: int, denominator: int, shift: int) -> int:
    """numerator/denominator/2**shift, rounded half to even."""
    if shift >= 0:
        denominator <<= shift
    else:
        numerator <<= -shift
    quotient, remainder = divmod(numerator, denominator)
    if 2 * remainder > denominator or (2 * remainder == denominator and quotient & 1):
        quotient += 1
    return quotient


def _log2_floor(numerator: int, denominator: int) -> int:
    guess = numerator.bit_length() - denominator.bit_length()  # the floor, or one more
    below = numerator < denominator << guess if guess >= 0 else numerator << -guess < denominator
    return guess - 1 if below else guess


def _shortest(sign: int, significand: int, shift: int, raw: bytes, fmt: str) -> Decimal:
    """Of the decimals with fewest digits that encode as ``raw``, the one nearest significand*2**shift."""
    numerator, denominator = (significand << shift, 1) if shift >= 0 else (significand, 1 << -shift)
    power = (numerator.bit_length() - denominator.bit_length()) * 3010 // 10000  # floor(log10), ±1
    while _at_least(numerator, denominator, power + 1):
        power += 1
    while not _at_least(numerator, denominator, power):
        power -= 1

    def nearest(digits: int) -> Optional[Tuple[int, int]]:
        """(coefficient, exponent) of the nearest ``digits``-digit decimal that encodes as raw."""
        exponent = power - digits + 1
        top, bottom = (numerator, denominator * _ten_to(exponent)) if exponent >= 0 else (
            numerator * _ten_to(-exponent), denominator)
        floor, remainder = divmod(top, bottom)
        choices = [(remainder, floor), (bottom - remainder, floor + 1)] if remainder else [(0, floor)]
        fits: List[Tuple[int, int, int]] = [(distance, coefficient & 1, coefficient) for distance, coefficient
                                            in choices if _encodes_as(sign, coefficient, exponent, raw, fmt)]
        return (min(fits)[2], exponent) if fits else None

    low, high = 1, _MAX_DIGITS
    while low < high:  # a decimal of n digits that fits means one of n+1 digits does too
        middle = (low + high) // 2
        if nearest(middle) is None:
            low = middle + 1
        else:
            high = middle
    best = nearest(low)
    if best is None:  # pragma: no cover - 20 digits always resolve a 56-bit fraction
        raise AssertionError("no decimal of %d digits encodes as X'%s'" % (_MAX_DIGITS, raw.hex().upper()))
    coefficient, exponent = best
    while coefficient % 10 == 0:
        coefficient, exponent = coefficient // 10, exponent + 1
    if 0 < exponent and len(str(coefficient)) + exponent <= 21:  # 100, not 1E+2; 1.5E+30 stays
        coefficient, exponent = coefficient * _ten_to(exponent), 0
    return Decimal((sign, tuple(int(d) for d in str(coefficient)), exponent))


def _at_least(numerator: int, denominator: int, power: int) -> bool:
    """numerator/denominator >= 10**power."""
    return numerator >= denominator * _ten_to(power) if power >= 0 else numerator * _ten_to(-power) >= denominator


def _ten_to(power: int) -> int:
    return int(10 ** power)


def _encodes_as(sign: int, coefficient: int, exponent: int, raw: bytes, fmt: str) -> bool:
    value = Decimal((sign, tuple(int(d) for d in str(coefficient)), exponent))
    bits = _bits(value, len(raw), fmt)
    return bits >= 0 and _pack(bits, len(raw), fmt) == raw


def _pack(bits: int, size: int, fmt: str) -> bytes:
    return bits.to_bytes(size, "little" if fmt == "ieee-le" else "big")


def _check(size: int, fmt: str, raw: Optional[bytes]) -> None:
    if fmt not in FLOAT_FORMATS:
        raise ValueError("unknown float format %r (expected one of: %s)" % (fmt, ", ".join(FLOAT_FORMATS)))
    if size not in _USAGE:
        shown = ": X'%s'" % raw[:16].hex().upper() if raw else ""
        raise ValueError("a float field is 4 bytes (COMP-1) or 8 (COMP-2), not %d%s" % (size, shown))


def _bad(raw: bytes, fmt: str, what: str) -> ValueError:
    return ValueError("%s X'%s' (%s) %s" % (_USAGE[len(raw)], raw.hex().upper(), fmt, what))


def _out_of_range(value: Decimal, size: int, fmt: str, large: bool) -> ValueError:
    text = str(value) if len(str(value)) <= 30 else format(value, ".6E")
    where = "%s (%s)" % (_USAGE[size], fmt)
    if large:  # all bits but the sign set; for IEEE, one less than infinity
        precision, width = _IEEE[size]
        limit = (1 << (8 * size - 1)) - 1 if fmt == "hfp" else ((1 << width) - 1 << (precision - 1)) - 1
        largest = decode_float(_pack(limit, size, fmt), fmt)
        return ValueError("%s is too large for %s; the largest magnitude is %s" % (text, where, largest))
    smallest = decode_float(_pack(1 << (8 * size - 12) if fmt == "hfp" else 1, size, fmt), fmt)
    if fmt == "hfp":
        return ValueError("%s is too small for %s: below the smallest normalized value, %s" % (text, where, smallest))
    return ValueError("%s is too small for %s: it would round to zero (the smallest nonzero is %s)"
                      % (text, where, smallest))
