"""COBOL numeric-edited pictures (``PIC ZZZ,ZZ9.99CR`` and friends) as exact decimals.

``EditedPicture.encode`` writes what a COBOL MOVE of the number to the edited item
writes: simple insertion (B 0 / ,), the period, fixed insertion (+ - CR DB, a leading
$), floating insertion ($$$ +++ ---), zero suppression with Z or *, and the all-zero and
BLANK WHEN ZERO cases. ``decode`` is as strict as the codec around it: text is accepted
only if ``encode`` writes exactly it for the value read, so a corrupt field is an error,
never a plausible amount.

Pictures on which IBM Enterprise COBOL (the standard) and GnuCOBOL 3.1 write different
bytes are refused, because the record could come from either: a '0' or '/' inside a
zero-suppressed string (GnuCOBOL keeps it), a ',' before the first digit position
(GnuCOBOL blanks it), a sign before '$' (GnuCOBOL writes the picture's sign, not the
value's) and a trailing + or - right after a floating '$' string (GnuCOBOL garbles it).
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import List, Tuple, Union

MAX_DIGITS = 38
MAX_SIZE = 4096
_REPEAT = re.compile(r"\((\d+)\)")
_INSERTION = {"B": " ", "0": "0", "/": "/", ",": ","}
_KNOWN = set("9Z*B0/,.V+-$") | {"CR", "DB"}
_POSITION_ENDS = set("9.V")
# Layout entry kinds, one entry per character position (CR and DB are one entry of two).
_DIGIT, _INSERT, _LEAD, _SIGN, _FIXED = range(5)


class EditedPicture:
    """One numeric-edited PICTURE, its layout worked out once so encode/decode are cheap."""

    def __init__(self, picture: str, blank_when_zero: bool = False) -> None:
        self.picture = picture.upper()
        self.blank_when_zero = blank_when_zero
        toks = self._tokens()
        self._check_symbols(toks)
        self._float = floating = self._check_signs(toks)
        fixed_sign = [i for i, t in enumerate(toks) if t in ("CR", "DB") or (t in "+-" and t != floating)]
        supp = [i for i, t in enumerate(toks) if t in ("Z", "*") or t == floating != ""]
        self._check_body(toks, floating, supp)
        self._fill = "*" if "*" in toks else " "
        layout: List[Tuple[int, Union[int, str]]] = []
        digit_pos: List[int] = []
        int_digits = first_nine = self._point_pos = self._supp_at = -1
        for i, t in enumerate(toks):
            if supp and i == supp[0]:
                self._supp_at = len(layout)
            if t == "V":
                int_digits = len(digit_pos)
            elif i in fixed_sign:
                layout.append((_SIGN, t))
            elif supp and i == supp[0] and t == floating:
                layout.append((_LEAD, t))
            elif t in ("9", "Z", "*") or t == floating:
                if t == "9" and first_nine < 0:
                    first_nine = len(digit_pos)
                digit_pos.append(len(layout))
                layout.append((_DIGIT, len(digit_pos) - 1))
            elif t in _INSERTION:
                layout.append((_INSERT, _INSERTION[t]))
            else:  # '.' or a fixed '$'
                if t == ".":
                    int_digits, self._point_pos = len(digit_pos), len(layout)
                layout.append((_FIXED, t))
        self.digits = len(digit_pos)
        if self.digits == 0:
            raise self._refuse("it has no digit position (9, Z, * or a floating string)",
                               "add the digit positions, e.g. PIC ZZ9.99")
        if self.digits > MAX_DIGITS:
            raise self._refuse(f"it has {self.digits} digit positions, more than {MAX_DIGITS}",
                               f"split the field: COBOL numbers hold at most {MAX_DIGITS} digits")
        self._int_digits = self.digits if int_digits < 0 else int_digits
        self.scale = self.digits - self._int_digits
        self.signed = bool(fixed_sign) or floating in ("+", "-")
        self.size = len(layout) + (1 if toks[-1] in ("CR", "DB") else 0)
        self._layout = layout
        self._digit_pos = digit_pos
        self._limit = 10 ** self.digits
        self._first_nine = self.digits if first_nine < 0 else first_nine
        self._supp_at = len(layout) if self._supp_at < 0 else self._supp_at
        self._all_suppressed = bool(supp) and first_nine < 0
        # Where the shown text starts, by the first significant digit: its position, or the point's.
        self._sig_pos = [digit_pos[d] if d < self._int_digits or self._point_pos < 0 and d < self.digits
                         else self._point_pos if self._point_pos >= 0 else len(layout)
                         for d in range(self._int_digits + 1)]
        self._stars = "".join("." if entry == (_FIXED, ".") else "*" * (2 if entry[1] in ("CR", "DB") else 1)
                              for entry in layout)

    def _refuse(self, why: str, what_to_do: str) -> ValueError:
        """A refusal naming the picture, with what the copybook's author can do instead."""
        return ValueError(f"PIC {self.picture}: {why}", what_to_do)

    def _tokens(self) -> List[str]:
        """The picture's symbols with repeats expanded; CR and DB are one symbol each."""
        pic, toks, i = self.picture, [], 0
        while i < len(pic):
            if pic.startswith(("CR", "DB"), i):
                toks.append(pic[i:i + 2])
                i += 2
            elif pic[i] == "(":
                match = _REPEAT.match(pic, i)
                if match is None or not toks or toks[-1] in ("CR", "DB") or int(match.group(1)) < 1:
                    raise self._refuse("a repeat count must be a positive number in parentheses after one symbol",
                                       "write repeats as 9(5) or Z(4)")
                count = int(match.group(1))
                if len(toks) + count > MAX_SIZE:
                    raise self._refuse(f"it is longer than {MAX_SIZE} characters", "check the repeat counts")
                toks.extend([toks[-1]] * (count - 1))
                i = match.end()
            else:
                toks.append(pic[i])
                i += 1
        if not toks:
            raise self._refuse("the picture is empty", "give the PIC string, e.g. ZZ9.99")
        return toks

    def _check_symbols(self, toks: List[str]) -> None:
        """Refuse, by name, symbols and combinations this reader does not support."""
        kinds = set(toks)
        if "E" in kinds:
            raise self._refuse("floating-point edited pictures (with E) are not supported",
                               "declare the field PIC X(n) and convert its text yourself")
        if "P" in kinds:
            raise self._refuse("P (decimal scaling) is not supported in an edited picture",
                               "declare the field PIC X(n), or drop the P and scale the value yourself")
        if "S" in kinds:
            raise self._refuse("'S' cannot be used in an edited picture: its sign is written with + - CR or DB",
                               "write the sign as a symbol, e.g. PIC -9(5) or ZZ9.99CR")
        if kinds & {"X", "A", "N"}:
            raise self._refuse("it is an alphanumeric picture, not a numeric-edited one",
                               "read the field as text (PIC X)")
        unknown = sorted(kinds - _KNOWN)
        if unknown:
            raise self._refuse(f"{unknown[0]!r} is not a numeric-edited symbol (9 Z * B 0 / , . V + - $ CR DB)",
                               "check the picture; '$' is the only currency sign supported")
        if kinds <= {"9", "V"}:
            raise self._refuse("it is a plain numeric picture with no editing symbol",
                               "read it as an unsigned numeric DISPLAY field")
        if toks.count(".") > 1 or toks.count("V") > 1:
            raise self._refuse("it has more than one decimal point ('.' or V)", "keep one decimal point")
        if "." in kinds and "V" in kinds:
            raise self._refuse("V combined with a '.' gives two decimal points",
                               "use '.' for a printed point or V for an implied one, not both")
        if "Z" in kinds and "*" in kinds:
            raise self._refuse("it mixes Z and * zero suppression", "use either Z (spaces) or * (asterisks)")
        if self.blank_when_zero and "*" in kinds:
            raise self._refuse("BLANK WHEN ZERO cannot be used with * suppression",
                               "drop BLANK WHEN ZERO or use Z instead of *")

    def _check_signs(self, toks: List[str]) -> str:
        """Check the sign, currency and floating symbols; return the floating one ('' if none)."""
        floats = [c for c in "$+-" if toks.count(c) > 1]
        if len(floats) > 1:
            raise self._refuse(f"it mixes floating symbols ({' and '.join(floats)})",
                               "use one floating string: $$$, +++ or ---")
        floating = floats[0] if floats else ""
        if floating:
            at = [i for i, t in enumerate(toks) if t == floating]
            if any(t not in (floating, "B", "0", "/", ",", ".", "V") for t in toks[at[0]:at[-1]]):
                raise self._refuse(f"the {floating!r} symbols are neither one fixed symbol nor one floating "
                                   "string of adjacent symbols", "write one fixed '$' (leftmost) or sign (at either "
                                   "end), or one floating string such as $$,$$9.99 or ++++9")
            if "Z" in toks or "*" in toks:
                raise self._refuse(f"it mixes zero suppression (Z or *) with a floating {floating!r} string",
                                   "use one of them, e.g. $$,$$9.99 or $ZZ,ZZ9.99")
        last = len(toks) - 1
        signs = [i for i, t in enumerate(toks) if t in ("CR", "DB") or (t in "+-" and t != floating)]
        if len(signs) + (floating in ("+", "-")) > 1:
            raise self._refuse("it shows more than one sign (+, -, CR, DB)",
                               "keep one: a leading or trailing + or -, CR or DB, or one floating +/- string")
        for i in signs:
            if toks[i] in ("CR", "DB") and i != last:
                raise self._refuse(f"{toks[i]} must be the rightmost symbol", f"move {toks[i]} to the right end")
            if i not in (0, last):
                raise self._refuse(f"a fixed {toks[i]!r} must be the leftmost or rightmost symbol",
                                   "move the sign to an end, or write a floating string of two or more")
            if i == 0 and last > 0 and toks[1] == "$":
                raise self._refuse("a sign before '$': GnuCOBOL 3.1 writes the picture's sign there whatever the "
                                   "value's sign, IBM COBOL the value's, so the text cannot be read safely",
                                   "put the sign at the right end, e.g. PIC $ZZ9.99- or $$$9.99CR")
            if i == last and toks[i] in "+-" and floating == "$" and "9" not in toks[
                    len(toks) - toks[::-1].index("$"):last]:
                raise self._refuse(f"a trailing {toks[i]!r} right after the floating '$' string: GnuCOBOL 3.1 "
                                   "writes a wrong text there", "end the string with a 9 (PIC $$,$$9-) or use CR")
        if floating != "$" and "$" in toks and toks.index("$") != 0:
            raise self._refuse("a single '$' must be the leftmost symbol (a trailing or embedded currency "
                               "sign is not supported)", "move '$' to the left end, e.g. PIC $ZZ9.99")
        return floating

    def _check_body(self, toks: List[str], floating: str, supp: List[int]) -> None:
        """The standard's ordering rules, and the spots where IBM COBOL and GnuCOBOL disagree."""
        seen_nine = seen_point = supp_after_point = False
        for i, t in enumerate(toks):
            if t == "9":
                if supp_after_point:
                    raise self._refuse("a 9 after Z, * or floating symbols right of the point: when suppression "
                                       "reaches past the point every digit position must suppress",
                                       "write the digits after the point as 9s, e.g. PIC ZZ9.99")
                seen_nine = True
            elif t in (".", "V"):
                seen_point = True
            elif i in supp:
                if seen_nine:
                    raise self._refuse(f"a {t!r} after a 9: suppression or floating insertion cannot resume after a 9",
                                       "put the Z, * or floating symbols left of every 9, e.g. PIC ZZ9")
                if seen_point and i in supp[:2] and t == floating:
                    raise self._refuse("a floating string needs two symbols left of the decimal point",
                                       "start it further left, e.g. PIC $$$.$$")
                supp_after_point = supp_after_point or seen_point
        if supp and not {".", "V"} & set(toks[:supp[0]]):
            reach = next((i for i in range(supp[0], len(toks)) if toks[i] in _POSITION_ENDS), supp[-1])
            if any(toks[i] in ("0", "/") for i in range(supp[0] + 1, reach)):
                raise self._refuse("a '0' or '/' inside a zero-suppressed or floating string: GnuCOBOL 3.1 "
                                   "writes it where IBM COBOL writes a space or '*', so the text cannot be read "
                                   "safely", "put a 9 before it (e.g. PIC Z9/99/99), or read the field as PIC X")
        first_digit = next((i for i, t in enumerate(toks) if t in ("9", "Z", "*") or t == floating != ""), len(toks))
        if "," in toks[:first_digit]:
            raise self._refuse("a ',' before the first digit position: GnuCOBOL 3.1 writes a space there and "
                               "IBM COBOL the comma, so the text cannot be read safely",
                               "drop the leading comma, or read the field as PIC X")

    def encode(self, value: Decimal) -> str:
        """The text a COBOL MOVE of ``value`` writes; refuse what would be truncated."""
        value = Decimal(value)
        if not value.is_finite():
            raise ValueError(f"{value} is not a number PIC {self.picture} can hold")
        sign, digit_tuple, exponent = value.as_tuple()
        assert isinstance(exponent, int)
        n = int("".join(map(str, digit_tuple)) or "0")
        shift = exponent + self.scale
        if n and shift < 0:
            if -shift > len(digit_tuple) or n % 10 ** -shift:
                raise ValueError(f"{value} has more decimal places than PIC {self.picture} holds ({self.scale})")
            n //= 10 ** -shift
        elif n and shift > 0:
            if len(digit_tuple) + shift > self.digits:
                n = self._limit
            else:
                n *= 10 ** shift
        if n >= self._limit:
            raise ValueError(f"{value} has more integer digits than PIC {self.picture} holds "
                             f"({self._int_digits})")
        negative = bool(sign) and n != 0
        if negative and not self.signed:
            raise ValueError(f"{value} is negative and PIC {self.picture} has no sign (+, -, CR or DB)")
        if n == 0 and (self.blank_when_zero or self._all_suppressed and self._fill == " "):
            return " " * self.size
        if n == 0 and self._all_suppressed:
            return self._stars
        text = str(n).zfill(self.digits)
        start = min(self.digits - len(str(n)) if n else self.digits, self._first_nine, self._int_digits)
        shown = self._sig_pos[start]
        fill, out = self._fill, []
        for p, (kind, arg) in enumerate(self._layout):
            if kind == _DIGIT:
                assert isinstance(arg, int)
                out.append(text[arg] if arg >= start else fill)
            elif kind == _INSERT:
                out.append(fill if self._supp_at < p < shown else str(arg))
            elif kind == _LEAD:
                out.append(fill)
            elif kind == _SIGN:
                out.append(_sign(str(arg), negative))
            else:
                out.append(str(arg))
        if self._float:
            out[shown - 1] = "$" if self._float == "$" else _sign(self._float, negative)
        return "".join(out)

    def decode(self, text: str) -> Decimal:
        """The value whose MOVE wrote ``text``; anything else (a corrupt field) is an error."""
        if len(text) != self.size:
            raise ValueError(f"{text!r} has {len(text)} characters; PIC {self.picture} holds {self.size}")
        digits = tuple(int(c) if c in "0123456789" else 0 for c in (text[p] for p in self._digit_pos))
        negative = "-" in text or text[-2:] in ("CR", "DB")
        value = Decimal((1 if negative else 0, digits, -self.scale))
        try:
            expected: object = self.encode(value)
        except ValueError as error:
            expected = error
        if expected != text:
            raise ValueError(f"{text!r} is not what PIC {self.picture} holds for any number")
        return value


def _sign(symbol: str, negative: bool) -> str:
    """What a sign symbol writes for a value's sign."""
    if symbol == "+":
        return "-" if negative else "+"
    if symbol == "-":
        return "-" if negative else " "
    return symbol if negative else "  "

