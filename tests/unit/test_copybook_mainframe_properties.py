"""copybook codec properties on random mainframe-style copybooks, in every encoding and record format.

The copybooks are drawn as COBOL source (fixed format, sometimes with sequence numbers, comment
lines, level 88s and entries continued on the next line) and mix every feature the parser lays
out: text, zoned decimal in every sign form, packed (COMP-3, COMP-6), binary (COMP, COMP-4,
BINARY, COMP-5, COMP-X; SYNCHRONIZED, with slack bytes), COMP-1/COMP-2, P scaling (9(3)PP,
VPP99), numeric-edited pictures, FILLER, fixed OCCURS, OCCURS DEPENDING ON (the count before the
table, in the record's first items or just before it; tables nested in a table entry, their
count in the entry; a FILLER table), REDEFINES (groups and items, each view no larger than its
base) and several 01 records sharing a segment-id field at offset 0, a ``Selector`` choosing
the view (of a REDEFINES, or the 01 record) by it.

Values are drawn from the parsed layout. The bytes they stand for are worked out here,
independently of the codec's encoder (``_reference``): EBCDIC zoned digits F0-F9 with a C/D
zone, GnuCOBOL's p-y overpunch, packed nibbles with C/D/F, big-endian binary (COMP-5
little-endian in ascii), floats by the IEEE and IBM HFP definitions (drawn as bytes, their value
``decode_float``'s), edited text as ``EditedPicture`` (tested against GnuCOBOL on its own)
writes it, slack 0x00, the rest of a REDEFINES region spaces. ``_lenient`` spells out the
documented leniencies the same way.

Failing examples are reported as drawn, not shrunk: shrinking random copybooks takes minutes,
beyond this file's budget. What the properties found is at the end, each as its smallest example.
"""

from __future__ import annotations

import io
import json
import os
import struct
from contextlib import ExitStack
from decimal import Decimal
from fractions import Fraction
from typing import Any, Dict, List, Optional, Set, Tuple
from unittest import mock

import pytest
from hypothesis import HealthCheck, Phase, event, given, note, settings
from hypothesis import strategies as st

from bootstrap_sdk.copybook import ENCODINGS, Copybook, DataEncoding, Field, RecordError, Selector
from bootstrap_sdk.copybook import codec as codec_module
from bootstrap_sdk.copybook import fast_decode
from bootstrap_sdk.copybook import fields as fields_module
from bootstrap_sdk.copybook import parser as parser_module
from bootstrap_sdk.copybook.edited import EditedPicture
from bootstrap_sdk.copybook.floats import decode_float
from bootstrap_sdk.copybook.record_formats import RecordFormat, RecordWriter, read_records

# A noisy 2-core machine: a fixed budget, the same examples every run, no deadline, no database.
# Each property runs once per encoding, so each gets EXAMPLES per encoding.
EXAMPLES = int(os.environ.get("COPYBOOK_EXAMPLES", "60"))
BUDGET = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  phases=[Phase.explicit, Phase.generate],
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                         HealthCheck.filter_too_much, HealthCheck.large_base_example])

EBCDIC = {"space": 0x40, "plus": 0x4E, "minus": 0x60}  # the same in cp037, cp1140, cp500, cp273, cp1047
NEWLINES = {"ascii": b"\n", "cp037": b"\x25", "cp1140": b"\x25", "cp500": b"\x25", "cp273": b"\x25",
            "cp1047": b"\x15"}

# -- copybook source ------------------------------------------------------------------------------

# Numeric-edited pictures edited.EditedPicture accepts (each checked below, at import).
EDITED = ["ZZZ,ZZ9.99CR", "ZZ9.99DB", "9(3).9(2)", "$$,$$9.99", "+ZZ9", "-9(5)", "ZZ9+", "ZZ9-", "***,**9.99",
          "99/99/99", "9(3)B9(2)", "990099", "++++9", "----9.99", "Z(4).ZZ", "$$$.$$", "+++.++", "***.**CR",
          "ZZZVZZ", "$ZZ,ZZ9.99-", "$+++,++9.99", "$,$$$9", "ZZ,999", "ZZBZZ9", "Z9/99/99", "$B*,***,***.**BBDB",
          ".ZZ", "++", "ZZZ00", "0$$9", "$$,$$9.99CR", "ZZ9.99", "$ZZ9.99CR", "ZZ,ZZ9.99-"]
for _picture in EDITED:
    EditedPicture(parser_module._expanded(_picture))
SIGN_CLAUSES = [[], [], ["SIGN", "LEADING"], ["SIGN", "IS", "TRAILING"], ["SIGN", "LEADING", "SEPARATE"],
                ["SIGN", "IS", "TRAILING", "SEPARATE", "CHARACTER"], ["LEADING", "SEPARATE"], ["TRAILING"],
                ["TRAILING", "SEPARATE"]]
COUNT_CLAUSES = [["PIC", "9"], ["PIC", "9(2)"], ["PIC", "S9(4)", "COMP"], ["PIC", "9(3)", "COMP-3"],
                 ["PIC", "S9(3)", "PACKED-DECIMAL"], ["PIC", "9(4)", "COMP-5"], ["PIC", "99", "BINARY"],
                 ["PIC", "S99", "SIGN", "LEADING", "SEPARATE"], ["PIC", "S9(2)"], ["PIC", "9(2)", "COMP-X"]]
LEAF_KINDS = ["text", "text", "zoned", "signed", "packed", "comp6", "binary", "comp5", "compx", "float", "scaled",
              "scaled", "edited", "edited", "filler"]
# OCCURS DEPENDING ON over a FILLER: the parser lays it out and the decoder reads it (a test at the end).
FILLER_TABLES = True


class Entry:
    """One data description entry of the source being drawn (and the entries under it)."""

    def __init__(self, level: int, name: str, clauses: List[str], children: Optional[List["Entry"]] = None,
                 extra: Optional[List[str]] = None) -> None:
        self.level, self.name, self.clauses = level, name, clauses
        self.children = children or []
        self.extra = extra or []


def _repeat(draw: Any, symbol: str, count: int) -> str:
    if count == 0:
        return ""
    if count <= 4 and draw(st.booleans()):
        return symbol * count
    return "%s(%d)" % (symbol, count)


def _numeric(draw: Any, signed: bool, limit: int) -> str:
    integer = draw(st.integers(0, min(limit, 9)))
    fraction = draw(st.integers(0 if integer else 1, min(4, limit - integer)))
    return ("S" if signed else "") + _repeat(draw, "9", integer) + ("V" + _repeat(draw, "9", fraction)
                                                                      if fraction else "")


def _sync(draw: Any, allowed: bool) -> List[str]:
    if allowed and draw(st.booleans()):
        return [draw(st.sampled_from(["SYNC", "SYNCHRONIZED", "SYNC LEFT", "SYNCHRONIZED RIGHT"]))]
    return []


def _leaf_clauses(draw: Any, kind: str, sync: bool) -> List[str]:
    """The clauses of an elementary item (without its name)."""
    if kind == "text":
        size = draw(st.integers(1, 6))
        clauses = ["PIC", draw(st.sampled_from("XA")) + ("(%d)" % size if size > 1 or draw(st.booleans()) else "")]
        return clauses + draw(st.sampled_from([[], [], ["VALUE", "SPACES"], ["JUSTIFIED", "RIGHT"]]))
    if kind == "filler":
        return ["PIC", draw(st.sampled_from(["X", "9"])) + "(%d)" % draw(st.integers(1, 3))]
    if kind == "zoned":
        picture = _numeric(draw, False, 9)
        blank = "V" not in picture and draw(st.integers(0, 3)) == 0
        return ["PIC", picture] + (["BLANK", "WHEN", "ZERO"] if blank else []) \
            + draw(st.sampled_from([[], [], ["USAGE", "DISPLAY"], ["VALUE", "ZERO"]]))
    if kind == "signed":
        return ["PIC", _numeric(draw, True, 9)] + draw(st.sampled_from(SIGN_CLAUSES))
    if kind == "packed":
        return ["PIC", _numeric(draw, draw(st.booleans()), 18),
                draw(st.sampled_from(["COMP-3", "PACKED-DECIMAL", "COMPUTATIONAL-3", "USAGE IS COMP-3"]))]
    if kind == "comp6":
        return ["PIC", _numeric(draw, False, 12), "COMP-6"]
    if kind == "binary":
        return ["PIC", _numeric(draw, draw(st.booleans()), 18),
                draw(st.sampled_from(["COMP", "BINARY", "COMP-4", "USAGE COMPUTATIONAL"]))] + _sync(draw, sync)
    if kind == "comp5":
        return ["PIC", _numeric(draw, draw(st.booleans()), 18), "COMP-5"] + _sync(draw, sync)
    if kind == "compx":
        return ["PIC", ("S" if draw(st.booleans()) else "") + _repeat(draw, "9", draw(st.integers(1, 9))), "COMP-X"]
    if kind == "float":
        return [draw(st.sampled_from(["COMP-1", "COMP-2", "USAGE COMP-1", "USAGE IS COMP-2", "FLOAT-SHORT",
                                      "FLOAT-LONG", "COMPUTATIONAL-2"]))] + _sync(draw, sync)
    if kind == "scaled":
        signed = draw(st.booleans())
        digits, scaling = draw(st.integers(1, 5)), _repeat(draw, "P", draw(st.integers(1, 3)))
        form = draw(st.sampled_from(["left", "right", "right-no-v"]))
        body = _repeat(draw, "9", digits)
        picture = ("S" if signed else "") + (body + scaling if form == "left" else
                                             ("V" if form == "right" else "") + scaling + body)
        usage = draw(st.sampled_from(["", "COMP-3", "COMP", "COMP-5"]))
        if usage:
            return ["PIC", picture, usage] + (_sync(draw, sync) if usage in ("COMP", "COMP-5") else [])
        return ["PIC", picture] + (draw(st.sampled_from(SIGN_CLAUSES)) if signed else [])
    assert kind == "edited"
    picture = draw(st.sampled_from(EDITED))
    blank = "*" not in picture and draw(st.integers(0, 3)) == 0
    return ["PIC", picture] + (draw(st.sampled_from([["BLANK", "WHEN", "ZERO"], ["BLANK", "ZERO"]])) if blank else [])


class _Source:
    """Draws one copybook's entries; keeps the rules the parser enforces (see parser._layout)."""

    def __init__(self, draw: Any, ibm: bool) -> None:
        self.draw, self.ibm = draw, ibm
        self.number = 0
        self.budget = 0
        self.odo_seen = False          # SYNC only before any table whose length varies
        self.header: List[Entry] = []  # counts placed at the start of the record
        self.region: Optional[Tuple[str, List[str]]] = None  # the record's forced REDEFINES: base, views

    def name(self, prefix: str) -> str:
        self.number += 1
        return "%s%d" % (prefix, self.number)

    def record(self, name: str, budget: int, seg: Optional[List[str]], redefines: Optional[str] = None,
               force_region: bool = False) -> Entry:
        self.budget, self.odo_seen, self.header = budget, False, []
        body = self.body(5, 1, table=False, region=False)
        if force_region:
            at = self.draw(st.sampled_from([i for i in range(len(body) + 1)  # not between a base and its views
                                            if i == len(body) or body[i].clauses[:1] != ["REDEFINES"]]))
            entries = self.make_region(5, 1, table=False)
            self.region = (entries[0].name, [e.name for e in entries[1:]])
            body[at:at] = entries
        children = ([Entry(5, "SEG", list(seg))] if seg else []) + self.header + body
        return Entry(1, name, ["REDEFINES", redefines] if redefines else [], children)

    def body(self, level: int, depth: int, table: bool, region: bool) -> List[Entry]:
        out: List[Entry] = []
        for _ in range(self.draw(st.integers(1, 4 if depth == 1 else 3))):
            if self.budget <= 0 and out:
                break
            out += self.item(level, depth, table, region)
        return out

    def item(self, level: int, depth: int, table: bool, region: bool) -> List[Entry]:
        options = ["leaf"] * 5
        if depth < 3:
            options += ["group"]
        if depth < 3 and not region:
            options += ["odo", "odo", "region"]
        kind = self.draw(st.sampled_from(options))
        if kind == "group":
            self.budget -= 1
            occurs = self.draw(st.sampled_from([1, 1, 1, 2, 3]))
            children = self.body(level + 5, depth + 1, table or occurs > 1, region)
            clauses = ["OCCURS", str(occurs)] + (["TIMES"] if self.draw(st.booleans()) else []) if occurs > 1 else []
            return [Entry(level, self.name("G"), clauses, children)]
        if kind == "odo":
            return self.odo(level, depth)
        if kind == "region":
            return self.make_region(level, depth, table)
        return [self.leaf(level, table, region)]

    def leaf(self, level: int, table: bool, region: bool, kinds: Optional[List[str]] = None,
             occurs: bool = True) -> Entry:
        self.budget -= 1
        kind = self.draw(st.sampled_from(kinds or LEAF_KINDS))
        clauses = _leaf_clauses(self.draw, kind, not table and not region and not self.odo_seen)
        if kind == "filler":
            name = self.draw(st.sampled_from(["FILLER", ""]))
        else:
            name = self.name("F")
        if occurs and not any(c.startswith("SYNC") for c in clauses) and self.draw(st.integers(0, 5)) == 0:
            clauses = clauses + ["OCCURS", str(self.draw(st.integers(2, 3)))]
        extra = []
        if kind == "text" and name and self.draw(st.integers(0, 4)) == 0:
            extra = ["88 %s-YES VALUE 'Y'." % name, "88 %s-NO VALUE 'N' 'n'." % name]
        return Entry(level, name, clauses, extra=extra)

    def odo(self, level: int, depth: int) -> List[Entry]:
        self.budget -= 2
        count = self.name("C")
        least = self.draw(st.integers(0, 2))
        most = self.draw(st.integers(max(least, 1), 4))
        if least == 0 and self.draw(st.booleans()):  # IBM's form: 0 to n
            occurs = ["OCCURS", str(most), "DEPENDING", count]
        else:
            occurs = ["OCCURS", str(least), "TO", str(most), "TIMES", "DEPENDING", "ON", count]
        forms = ["leaf", "group", "group"] + (["filler"] if FILLER_TABLES else [])
        form = self.draw(st.sampled_from(forms))
        if form == "leaf":
            kinds = [k for k in LEAF_KINDS if k != "filler"]
            table = self.leaf(level, True, False, kinds, occurs=False)
            table.clauses += occurs
        elif form == "filler":
            table = Entry(level, "FILLER", ["PIC", "X(%d)" % self.draw(st.integers(1, 3))] + occurs)
        else:
            table = Entry(level, self.name("T"), occurs, self.body(level + 5, depth + 1, table=True, region=False))
        self.odo_seen = True
        count_entry = Entry(level, count, list(self.draw(st.sampled_from(COUNT_CLAUSES))))
        if self.draw(st.integers(0, 2)) == 0:
            count_entry.level = 5
            self.header.append(count_entry)
            return [table]
        return [count_entry, table]

    def make_region(self, level: int, depth: int, table: bool) -> List[Entry]:
        """An item and the views that REDEFINE it, each view no larger than it."""
        views = []
        for _ in range(self.draw(st.integers(1, 2))):
            if depth < 3 and self.draw(st.booleans()):
                self.budget -= 1
                view = Entry(level, self.name("V"), [], self.body(level + 5, depth + 1, table, region=True))
            else:
                view = self.leaf(level, table, True, [k for k in LEAF_KINDS if k != "filler"])
                view.name = self.name("V")
                view.extra = []
            views.append(view)
        need = max(self.size(view) for view in views)
        form = self.draw(st.sampled_from(["group", "group", "text", "leaf"]))
        name = self.name("B")
        if form == "group" and depth < 3:
            self.budget -= 1
            base = Entry(level, name, [], self.body(level + 5, depth + 1, table, region=True))
            short = need - self.size(base)
            if short > 0:
                base.children.append(Entry(level + 5, "FILLER", ["PIC", "X(%d)" % short]))
        else:
            base = self.leaf(level, table, True, [k for k in LEAF_KINDS if k != "filler"] if form == "leaf"
                             else ["text"], occurs=False)
            base.name, base.extra = name, []
            if self.size(base) < need:
                base.clauses = ["PIC", "X(%d)" % (need + self.draw(st.integers(0, 2)))]
        for view in views:
            view.clauses = ["REDEFINES", name] + view.clauses
        return [base] + views

    def size(self, entry: Entry) -> int:
        return parser_module.parse(_render(self.draw, [Entry(1, "SIZE-OF", [], [entry])], plain=True),
                                   ibm=self.ibm).size


def _render(draw: Any, records: List[Entry], plain: bool = False) -> str:
    """Fixed-format source: code in columns 8-72, sometimes sequence numbers in 1-6 and comment lines."""
    numbered = not plain and draw(st.integers(0, 3)) == 0
    comments = not plain and draw(st.integers(0, 3)) == 0
    code: List[str] = []

    def emit(entry: Entry, depth: int) -> None:
        words = ["%02d" % entry.level] + ([entry.name] if entry.name else []) + entry.clauses
        chunks, line = [], ""
        for word in words:
            if line and len(line) + 1 + len(word) > 44:
                chunks.append(line)
                line = word
            else:
                line = line + " " + word if line else word
        chunks.append(line + ".")
        code.extend(" " * (2 * depth + (4 if i else 0)) + chunk for i, chunk in enumerate(chunks))
        code.extend(" " * (2 * depth + 2) + extra for extra in entry.extra)
        if comments and entry.children:
            code.append("*")
        for child in entry.children:
            emit(child, depth + 1)

    for record in records:
        emit(record, 0)
    lines = []
    for number, line in enumerate(code, 1):
        assert len(line) <= 65, line
        area = "%06d" % (number * 10) if numbered else "      "
        lines.append(area + ("* a comment" if line == "*" else " " + line))
    return "\n".join(lines) + "\n"


class Case:
    """A drawn copybook: its source, its parsed book and how a selector picks its views."""

    def __init__(self, text: str, encoding: DataEncoding, selector: Optional[str],
                 keys: Dict[str, Any], governed: Optional[str]) -> None:
        self.text, self.encoding, self.selector = text, encoding, selector
        self.selectors = [Selector.parse(selector)] if selector else []
        self.book = Copybook.parse(text, "random.cpy", encoding, self.selectors[0] if selector else None)
        self.keys = keys            # view's COBOL name -> the segment id's JSON value that selects it
        self.governed = None        # the base of the region the selector governs
        if governed is not None:
            self.governed = next(f for f in parser_module._walk(self.book.root) if f.name == governed and f.views)

    def __repr__(self) -> str:
        return "Case(encoding=%r, selector=%r, text=\n%s)" % (self.encoding.name, self.selector, self.text)


SEGMENTS = [(["PIC", "X"], ["A", "B", "C"], "Z"), (["PIC", "9"], ["1", "2", "3"], "9"),
            (["PIC", "X(2)"], ["A", "B1", "C"], "ZZ")]


@st.composite
def cases(draw: Any, encoding: str) -> Case:
    enc = DataEncoding(encoding)
    source = _Source(draw, enc.ebcdic)
    shape = draw(st.sampled_from(["plain", "plain", "selected", "records", "records-selected"]))
    seg_clauses, seg_keys, other = draw(st.sampled_from(SEGMENTS))
    selector, keys, governed = None, {}, None
    if shape in ("plain", "selected"):
        selected = shape == "selected"
        records = [source.record("REC", draw(st.integers(3, 9)), seg_clauses if selected else None,
                                 force_region=selected)]
        if selected:
            assert source.region is not None
            governed, members = source.region[0], [source.region[0]] + source.region[1]
    else:
        records = []
        for index in range(draw(st.integers(2, 3))):
            records.append(source.record("R%d" % (index + 1), draw(st.integers(2, 5)), seg_clauses,
                                         "R1" if index and draw(st.integers(0, 3)) == 0 else None))
        if shape == "records-selected":
            governed, members = "R1", [r.name for r in records]
    if governed is not None:
        numeric = seg_clauses[1] == "9"
        pairs = []
        default = draw(st.sampled_from([None] + members))
        for key, member in zip(seg_keys, members):
            named = member if draw(st.booleans()) else member.lower()
            if member == default:
                pairs.append("*:%s" % named)
                keys[member] = Decimal(other) if numeric else other
            else:
                pairs.append("%s:%s" % (key, named))
                keys[member] = Decimal(key) if numeric else key
        selector = "SEG=" + ",".join(draw(st.permutations(pairs)))
    return Case(_render(draw, records), enc, selector, keys, governed)


# -- values -----------------------------------------------------------------------------------------

ALPHABETS = {name: bytes(range(256)).decode(DataEncoding(name).codec) for name in ENCODINGS}
FLOAT_BYTES: Dict[Tuple[str, int, Any], bytes] = {}  # (format, size, value) -> the bytes it was drawn as
EXACT_FLOATS = [Fraction(1, 2), Fraction(-118625, 1000), Fraction(1), Fraction(100000), Fraction(-3, 4),
                Fraction(1, 1024), Fraction(24691, 2), Fraction(-7), Fraction(0)]


def _hfp(value: Fraction, size: int) -> bytes:
    """IBM hexadecimal floating point of an exactly representable value, worked out by hand."""
    if value == 0:
        return bytes(size)
    digits = 2 * size - 2
    magnitude, power = abs(value), 0
    while magnitude >= Fraction(16) ** power:
        power += 1
    while magnitude < Fraction(16) ** (power - 1):
        power -= 1
    fraction = magnitude / Fraction(16) ** power * 16 ** digits
    assert fraction.denominator == 1
    bits = (1 if value < 0 else 0) << (8 * size - 1) | (power + 64) << (4 * digits) | int(fraction)
    return bits.to_bytes(size, "big")


def _ieee(value: Fraction, size: int) -> bytes:
    return struct.pack("<f" if size == 4 else "<d", float(value))  # exact: the values are binary fractions


def _nearest(value: Fraction) -> int:
    """``value`` rounded to an integer, half to even."""
    whole, rest = divmod(value.numerator, value.denominator)
    if 2 * rest > value.denominator or (2 * rest == value.denominator and whole & 1):
        whole += 1
    return whole


def _float_of(value: Decimal, size: int, fmt: str) -> bytes:
    """The float nearest ``value`` (half to even), by the formats' definitions: IBM HFP (a power of 16
    in excess 64, a 6 or 14 hex digit fraction), IEEE binary32/64 little-endian with subnormals."""
    sign = 1 if value.is_signed() else 0
    magnitude = abs(Fraction(value))
    if fmt == "hfp":
        if magnitude == 0:
            return bytes(size)
        digits, power = 2 * size - 2, 0
        while magnitude >= Fraction(16) ** power:
            power += 1
        while magnitude < Fraction(16) ** (power - 1):
            power -= 1
        fraction = _nearest(magnitude * Fraction(16) ** (digits - power))
        if fraction == 16 ** digits:
            fraction, power = fraction // 16, power + 1
        assert 0 <= power + 64 <= 127, value
        return (sign << (8 * size - 1) | (power + 64) << (4 * digits) | fraction).to_bytes(size, "big")
    precision, width = (24, 8) if size == 4 else (53, 11)
    bias = (1 << (width - 1)) - 1
    if magnitude == 0:
        return (sign << (8 * size - 1)).to_bytes(size, "little")
    exponent = magnitude.numerator.bit_length() - magnitude.denominator.bit_length()
    if Fraction(2) ** exponent > magnitude:
        exponent -= 1
    exponent = max(exponent, 1 - bias)
    significand = _nearest(magnitude * Fraction(2) ** (precision - 1 - exponent))
    if significand == 1 << precision:
        significand, exponent = significand >> 1, exponent + 1
    if significand < 1 << (precision - 1):  # subnormal
        bits = significand
    else:
        assert exponent + bias < (1 << width) - 1, value
        bits = (exponent + bias) << (precision - 1) | (significand - (1 << (precision - 1)))
    return (sign << (8 * size - 1) | bits).to_bytes(size, "little")


def _float_bytes(fmt: str, size: int) -> st.SearchStrategy[bytes]:
    exact = st.sampled_from(EXACT_FLOATS).map(lambda v: (_hfp if fmt == "hfp" else _ieee)(v, size))
    if fmt == "hfp":
        digits = 2 * size - 2
        drawn = st.builds(lambda sign, power, fraction: (sign << (8 * size - 1) | power << (4 * digits)
                                                         | fraction).to_bytes(size, "big"),
                          st.integers(0, 1), st.one_of(st.integers(0, 127), st.integers(60, 70)),
                          st.integers(1 << (4 * digits - 4), (1 << (4 * digits)) - 1))
    else:
        width = 8 if size == 4 else 11
        drawn = st.binary(min_size=size, max_size=size).filter(
            lambda raw: (int.from_bytes(raw, "little") >> (8 * size - 1 - width)) & ((1 << width) - 1)
            != (1 << width) - 1)
        exact = st.one_of(exact, st.just(_ieee(Fraction(0), size)[:-1] + b"\x80"))  # -0
    return st.one_of(exact, drawn)


def _float_value(fmt: str, raw: bytes) -> Decimal:
    value = decode_float(raw, fmt)
    FLOAT_BYTES[fmt, len(raw), value.as_tuple()] = raw
    return value


def _scaled(number: int, scale: int) -> Decimal:
    """The Decimal a field of this scale holds for its stored integer ``number`` (exactly as decoded)."""
    if scale > 0:
        return Decimal("%dE-%d" % (number, scale))
    return Decimal(number * 10 ** -scale)


def _range(field: Field, encoding: DataEncoding) -> Tuple[int, int]:
    """The stored integers a numeric field holds."""
    if field.kind == "edited":
        top = 10 ** field.digits - 1
        return (-top if field.signed else 0), top
    if field.kind == "binary":
        bits = 8 * field.size
        low, high = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if field.signed else (0, (1 << bits) - 1)
        if field.usage != "COMP-5":
            top = 10 ** field.digits - 1
            low, high = max(low, -top if field.signed else 0), min(high, top)
        return low, high
    top = 10 ** field.digits - 1
    return (-top if field.signed else 0), top


def _integers(low: int, high: int) -> st.SearchStrategy[int]:
    edges = sorted({low, high, 0 if low <= 0 else low, min(high, 1), max(low, -1)})
    return st.one_of(st.integers(low, high), st.sampled_from(edges), st.integers(max(low, -99), min(high, 99)))


def _leaf_value(field: Field, encoding: DataEncoding) -> st.SearchStrategy[Any]:
    if field.kind == "text":
        return st.text(st.sampled_from(ALPHABETS[encoding.name]), max_size=field.size).map(lambda s: s.rstrip(" "))
    if field.kind == "float":
        fmt = encoding.float_format
        return _float_bytes(fmt, field.size).map(lambda raw: _float_value(fmt, raw))
    scale = field.scale
    return _integers(*_range(field, encoding)).map(lambda n: _scaled(n, scale))


class _Drawing:
    def __init__(self, case: Case) -> None:
        self.case = case
        self.tables = {id(f.depending_on): f for f in parser_module._walk(case.book.root) if f.depending_on}
        self.forced: Dict[int, Field] = {}
        self.seg: Any = None
        self.counts: Dict[int, int] = {}


def _value(draw: Any, field: Field, drawing: _Drawing, entry: bool = False) -> Any:
    if not entry and (field.occurs > 1 or field.depending_on is not None):
        count = field.occurs if field.depending_on is None else drawing.counts[id(field.depending_on)]
        return [_value(draw, field, drawing, entry=True) for _ in range(count)]
    if field.children:
        out: Dict[str, Any] = {}
        for child in field.children:
            if child.redefines is not None:
                continue
            if child.is_filler:
                continue
            if child.views:
                members = [m for m in [child] + child.views if not m.is_filler]
                member = drawing.forced.get(id(child)) or draw(st.sampled_from(members))
                out[member.json_name] = _value(draw, member, drawing)
            else:
                out[child.json_name] = _value(draw, child, drawing)
        return out
    if field.name == "SEG" and drawing.seg is not None:
        return drawing.seg
    if field.is_count:
        table = drawing.tables[id(field)]
        count = draw(st.integers(table.occurs_min, table.occurs))
        drawing.counts[id(field)] = count
        return Decimal(count)
    return draw(_leaf_value(field, drawing.case.encoding))


@st.composite
def values(draw: Any, case: Case) -> Any:
    """A JSON object the copybook holds: one view per REDEFINES, counts agreeing with their tables."""
    drawing = _Drawing(case)
    if case.governed is not None:
        base = case.governed
        member = draw(st.sampled_from([m for m in [base] + base.views if not m.is_filler]))
        drawing.forced[id(base)] = member
        drawing.seg = case.keys[member.name]
    return _value(draw, case.book.root, drawing, entry=True)


@st.composite
def cases_and_values(draw: Any, encoding: str) -> Tuple[Case, Any]:
    case = draw(cases(encoding))
    return case, draw(values(case))


# -- the bytes a value stands for, worked out here --------------------------------------------------

Span = Tuple[int, int, str, Field]  # (start, end, what: leaf | filler | slack | pad, field)


def _zero(field: Field) -> Decimal:
    return _scaled(0, field.scale)


def _leaf_bytes(field: Field, value: Any, encoding: DataEncoding) -> bytes:
    """One item's bytes for its JSON value, from IBM's and GnuCOBOL's data formats."""
    space = encoding.space
    if field.kind == "text":
        assert isinstance(value, str), value
        return value.encode(encoding.codec).ljust(field.size, space)
    assert isinstance(value, Decimal), (field, value)
    if field.kind == "float":
        raw = _float_of(value, field.size, encoding.float_format)
        drawn = FLOAT_BYTES.get((encoding.float_format, field.size, value.as_tuple()))
        assert drawn is None or drawn == raw, (value, drawn.hex(), raw.hex())
        return raw
    assert not (value.is_zero() and value.is_signed()), "a negative zero reads as 0: %r" % value
    if field.kind == "edited":
        assert field.edit is not None
        return field.edit.encode(value).encode(encoding.codec)
    stored = Fraction(value) * Fraction(10) ** field.scale
    assert stored.denominator == 1, (field, value)
    number = int(stored)
    if field.kind == "binary":
        if field.usage == "COMP-5" and not encoding.ebcdic:  # GnuCOBOL on x86: the host's order
            return number.to_bytes(field.size, "little", signed=field.signed)
        return number.to_bytes(field.size, "big", signed=field.signed)  # the mainframe; COMP everywhere
    negative = number < 0
    digits = str(abs(number)).rjust(field.digits, "0")
    assert len(digits) == field.digits, (field, value)
    if field.kind == "packed":
        if not field.sign_nibble:
            return bytes.fromhex(digits.rjust(2 * field.size, "0"))
        return bytes.fromhex(digits.rjust(2 * field.size - 1, "0") + ("d" if negative else "c" if field.signed
                                                                          else "f"))
    assert field.kind == "zoned"
    body = bytearray(0xF0 + int(d) for d in digits) if encoding.ebcdic else bytearray(digits.encode())
    if not field.signed:
        return bytes(body)
    if field.sign_separate:
        if encoding.ebcdic:
            sign = bytes([EBCDIC["minus"] if negative else EBCDIC["plus"]])
        else:
            sign = b"-" if negative else b"+"
        return sign + bytes(body) if field.sign_leading else bytes(body) + sign
    at = 0 if field.sign_leading else -1
    if encoding.ebcdic:
        body[at] = (0xD0 if negative else 0xC0) | (body[at] & 0x0F)
    elif negative:
        body[at] = 0x70 + body[at] - 0x30  # GnuCOBOL: p-y
    return bytes(body)


def _blank_bytes(field: Field, encoding: DataEncoding) -> bytes:
    if field.children:
        return b"".join(_blank_bytes(c, encoding) * c.occurs for c in field.children if c.redefines is None)
    if field.kind == "text":
        return encoding.space * field.size
    return _leaf_bytes(field, _zero(field), encoding)


class _Writer:
    def __init__(self, encoding: DataEncoding) -> None:
        self.encoding = encoding
        self.out = bytearray()
        self.spans: List[Span] = []
        self.counts: Dict[int, int] = {}

    def span(self, data: bytes, what: str, field: Field) -> None:
        self.spans.append((len(self.out), len(self.out) + len(data), what, field))
        self.out += data

    def item(self, field: Field, value: Any) -> None:
        if field.occurs > 1 or field.depending_on is not None:
            assert isinstance(value, list), (field, value)
            expected = field.occurs if field.depending_on is None else self.counts[id(field.depending_on)]
            assert len(value) == expected, (field, value)
            for entry in value:
                self.one(field, entry)
        else:
            self.one(field, value)

    def one(self, field: Field, value: Any) -> None:
        if not field.children:
            data = _leaf_bytes(field, value, self.encoding)
            if field.is_count:
                self.counts[id(field)] = int(value)
            self.span(data, "leaf", field)
            return
        assert isinstance(value, dict), (field, value)
        for child in field.children:
            if child.redefines is not None:
                continue
            if child.slack:
                self.span(bytes(child.slack), "slack", child)
            if child.views:
                members = [m for m in [child] + child.views if not m.is_filler]
                given = [m for m in members if value.get(m.json_name) is not None]
                assert len(given) == 1, (child, value)
                start = len(self.out)
                self.item(given[0], value[given[0].json_name])
                if child.level != 1:  # a region of a record: its rest is spaces
                    self.span(self.encoding.space * (child.size * child.occurs - (len(self.out) - start)), "pad",
                              child)
            elif child.is_filler:
                times = child.occurs if child.depending_on is None else self.counts[id(child.depending_on)]
                self.span(_blank_bytes(child, self.encoding) * times, "filler", child)
            else:
                self.item(child, value[child.json_name])


def _reference(book: Copybook, value: Any) -> Tuple[bytes, List[Span]]:
    """The record ``value`` stands for (one view per REDEFINES), and what each byte of it is."""
    writer = _Writer(book.encoding)
    writer.one(book.root, value)
    return bytes(writer.out), writer.spans


# -- comparing values -------------------------------------------------------------------------------

def _exact(value: Any) -> Any:
    """Decimals by sign, digits and exponent (1.20 is not 1.2 here), and by type."""
    if isinstance(value, Decimal):
        return ("decimal", value.as_tuple())
    if isinstance(value, dict):
        return {k: _exact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_exact(v) for v in value]
    return (type(value).__name__, value)


def _agrees(case: Case, field: Field, expected: Any, got: Any, entry: bool = False, path: str = "") -> None:
    """``got`` (decoded) holds ``expected`` exactly; a view not given may be in it (any value) or null,
    except under the selector's REDEFINES, where only the chosen view is."""
    if not entry and (field.occurs > 1 or field.depending_on is not None):
        assert isinstance(got, list) and len(got) == len(expected), (path, got)
        for index, (e, g) in enumerate(zip(expected, got)):
            _agrees(case, field, e, g, True, "%s[%d]" % (path, index))
        return
    if not field.children:
        assert _exact(got) == _exact(expected), (path, expected, got)
        return
    assert isinstance(got, dict), (path, got)
    keys: Set[str] = set()
    for child in field.children:
        if child.redefines is not None or child.is_filler:
            continue
        if child.views:
            members = [m for m in [child] + child.views if not m.is_filler]
            chosen = [m for m in members if expected.get(m.json_name) is not None]
            assert len(chosen) == 1
            if child is case.governed:
                keys.add(chosen[0].json_name)
            else:
                keys.update(m.json_name for m in members)
            name = chosen[0].json_name
            assert name in got and got[name] is not None, (path, name, got)
            _agrees(case, chosen[0], expected[name], got[name], path=path + "." + name)
        else:
            keys.add(child.json_name)
            _agrees(case, child, expected[child.json_name], got.get(child.json_name),
                    path=path + "." + child.json_name)
    assert set(got) == keys, (path, sorted(got), sorted(keys))


def _one_view(field: Field, value: Any, choice: int, entry: bool = False) -> Any:
    """A decoded value with one view per REDEFINES: the ``choice``-th (cyclically) of those not null."""
    if not entry and (field.occurs > 1 or field.depending_on is not None):
        return [_one_view(field, v, choice, True) for v in value]
    if not field.children:
        return value
    out = {}
    for child in field.children:
        if child.redefines is not None or child.is_filler:
            continue
        if child.views:
            members = [m for m in [child] + child.views if not m.is_filler and value.get(m.json_name) is not None]
            assert members, "every view of %s is null" % child.name
            member = members[choice % len(members)]
            out[member.json_name] = _one_view(member, value[member.json_name], choice)
        else:
            out[child.json_name] = _one_view(child, value[child.json_name], choice)
    return out


def _outcome(call: Any) -> Any:
    """What a decode gives: ("value", exactly), or ("refused", field, message); nothing else may escape."""
    try:
        return ("value", _exact(call()))
    except RecordError as exc:
        return ("refused", exc.field, exc.message)


def _paths(case: Case) -> Set[str]:
    """Every JSON path an error may name: the record's name, each item, each table entry."""
    root = case.book.root
    found = {root.name}
    for selector in case.selectors:
        found.add(selector.field.lower().replace("-", "_"))

    def walk(field: Field, prefix: str) -> None:
        for child in field.children:
            if child.is_filler:
                continue
            path = prefix + "." + child.json_name if prefix else child.json_name
            found.add(path)
            if child.occurs > 1 or child.depending_on is not None:
                for index in range(child.occurs):
                    found.add("%s[%d]" % (path, index))
                    walk(child, "%s[%d]" % (path, index))
            else:
                walk(child, path)
    walk(root, "")
    return found


# -- what decoding may excuse -----------------------------------------------------------------------

POSITIVE_OVERPUNCH = dict(zip(b"{ABCDEFGHI", b"0123456789"))
NEGATIVE_OVERPUNCH = dict(zip(b"}JKLMNOPQR", b"pqrstuvwxy"))


def _lenient(field: Field, raw: bytes, encoding: DataEncoding, blank_as_zero: bool) -> bytes:
    """What the encoder writes for an item's bytes decode accepted: each documented leniency undone."""
    space = encoding.space[0]
    if field.kind == "zoned" or (field.kind == "packed" and field.sign_nibble):
        if raw and all(b == space for b in raw) and (blank_as_zero or field.blank_when_zero):
            return _leaf_bytes(field, _zero(field), encoding)
    out = bytearray(raw)
    if field.kind == "zoned" and field.signed and field.sign_separate:
        at, body = (0, out[1:]) if field.sign_leading else (-1, out[:-1])
        zero = all(b == (0xF0 if encoding.ebcdic else 0x30) for b in body)
        minus, plus = (EBCDIC["minus"], EBCDIC["plus"]) if encoding.ebcdic else (ord("-"), ord("+"))
        if out[at] == minus and zero:
            out[at] = plus
    elif field.kind == "zoned" and field.signed:
        at = 0 if field.sign_leading else len(out) - 1
        if encoding.ebcdic:
            zone, digit = out[at] >> 4, out[at] & 0x0F
            negative = zone in (0xB, 0xD)
            zero = digit == 0 and all(b == 0xF0 for i, b in enumerate(out) if i != at)
            out[at] = (0xD0 if negative and not zero else 0xC0) | digit
        else:
            out[at] = POSITIVE_OVERPUNCH.get(out[at], NEGATIVE_OVERPUNCH.get(out[at], out[at]))
            if out[at] == ord("p") and all(b == 0x30 for i, b in enumerate(out) if i != at):
                out[at] = 0x30  # negative zero
    elif field.kind == "packed" and field.sign_nibble:
        nibbles = out.hex()
        digits, sign = nibbles[:-1], nibbles[-1]
        negative = sign in ("bd" if encoding.ebcdic else "d") and set(digits) != {"0"}
        out = bytearray(bytes.fromhex(digits + ("d" if negative else "c" if field.signed else "f")))
    return bytes(out)


def _is_padding(rest: bytes, encoding: DataEncoding) -> bool:
    return not rest.strip(encoding.space) or not rest.strip(b"\0")


def _explained(case: Case, data: bytes, value: Any, blank_as_zero: bool, trailing: str) -> None:
    """``value``, decoded from ``data``, re-encodes to ``data`` but for the leniencies, the bytes no view
    reads (FILLER, slack, a region past its view) and, with trailing='padding', padding after the end."""
    book, encoding = case.book, case.encoding
    lengths = []
    for choice in range(3):
        one = _one_view(book.root, value, choice)
        reference, spans = _reference(book, one)
        assert book.encode(one) == reference
        for start, end, what, field in spans:
            if what == "leaf":
                assert _lenient(field, data[start:end], encoding, blank_as_zero) == reference[start:end], (
                    "%s at %d: decoded %r from %s, which re-encodes as %s" % (
                        field.name, start, value, data[start:end].hex(), reference[start:end].hex()))
        lengths.append(len(reference))
    rest = data[max(lengths):]
    assert not rest if trailing == "exact" else _is_padding(rest, encoding) if trailing == "padding" else True


# -- properties ----------------------------------------------------------------------------------

@pytest.mark.parametrize("encoding", ENCODINGS)
@given(data=st.data())
@BUDGET
def test_decode_of_encode_is_the_value(encoding, data):
    case, value = data.draw(cases_and_values(encoding), label="case, value")
    book = case.book
    record = book.encode(value)
    if not book.variable:
        assert len(record) == book.record_length
    _agrees(case, book.root, value, book.decode(record), entry=True)
    event("selector" if case.selector else "views" if any(f.views for f in parser_module._walk(book.root))
          else "no REDEFINES")


@pytest.mark.parametrize("encoding", ENCODINGS)
@given(data=st.data())
@BUDGET
def test_canonical_bytes_decode_and_re_encode_to_themselves(encoding, data):
    """The record worked out here is the codec's record, reads as the value, and re-encodes exactly."""
    case, value = data.draw(cases_and_values(encoding), label="case, value")
    book = case.book
    reference, _ = _reference(book, value)
    note("reference bytes %s" % reference.hex())
    assert book.encode(value).hex() == reference.hex()
    decoded = book.decode(reference)
    _agrees(case, book.root, value, decoded, entry=True)
    assert book.encode(_matching(book.root, value, decoded)) == reference  # the views given, as decoded


def _matching(field: Field, expected: Any, decoded: Any, entry: bool = False) -> Any:
    """``decoded`` with only the views ``expected`` gives."""
    if not entry and (field.occurs > 1 or field.depending_on is not None):
        return [_matching(field, e, d, True) for e, d in zip(expected, decoded)]
    if not field.children:
        return decoded
    out = {}
    for child in field.children:
        if child.redefines is not None or child.is_filler:
            continue
        members = [m for m in [child] + child.views if not m.is_filler]
        for member in members:
            if expected.get(member.json_name) is not None:
                out[member.json_name] = _matching(member, expected[member.json_name], decoded[member.json_name])
    return out


INTERESTING = {
    True: [0x40, 0x00, 0xFF, 0xF0, 0xF9, 0xC0, 0xC5, 0xD0, 0xD7, 0xA3, 0xB3, 0xE3, 0x4E, 0x60, 0x0C, 0x0D, 0x0F,
           0x1C, 0x1D, 0x1F, 0x25, 0x15, 0x5B, 0x6B, 0x4B, 0x5C, 0xC3, 0xD9, 0x81, 0x80, 0x7F],
    False: list(b" 0159{}AIJRpy+-$,.*/CRDB") + [0x00, 0x0C, 0x0D, 0x0F, 0x1C, 0x1D, 0x1F, 0x0A, 0x80, 0xFF, 0x7F],
}


@st.composite
def _mutations(draw: Any, record: bytes, spans: List[Span], encoding: DataEncoding, most: int = 3) -> bytes:
    """A record lightly changed: bytes (often ones that mean something in the encoding), nibbles, a
    whole item blanked or replaced, its end cut or extended."""
    out = bytearray(record)
    leaves = [(start, end) for start, end, what, _ in spans if what == "leaf" and end > start]
    for _ in range(draw(st.integers(0, most))):
        if not out:
            break
        at = draw(st.integers(0, len(out) - 1))
        how = draw(st.sampled_from(["byte", "interesting", "interesting", "low", "high", "blank", "item"]))
        if how in ("blank", "item") and leaves:
            start, end = draw(st.sampled_from(leaves))
            out[start:end] = encoding.space * (end - start) if how == "blank" else \
                draw(st.binary(min_size=end - start, max_size=end - start))
        elif how == "byte":
            out[at] = draw(st.integers(0, 255))
        elif how == "interesting":
            out[at] = draw(st.sampled_from(INTERESTING[encoding.ebcdic]))
        elif how == "low":
            out[at] = (out[at] & 0xF0) | draw(st.integers(0, 15))
        else:
            out[at] = (out[at] & 0x0F) | draw(st.integers(0, 15)) << 4
    end = draw(st.sampled_from(["", "", "", "cut", "space", "zero", "junk"]))
    if end == "cut" and out:
        del out[-1]
    elif end:
        out += {"space": encoding.space, "zero": b"\0", "junk": b"\xc1"}[end] * draw(st.integers(1, 3))
    return bytes(out)


def _careful(book: Copybook, fully: bool):
    """Patches under which a new Copybook decodes with the careful closures only (``fully``: and each
    number with its careful decoder, not its short path)."""
    stack = ExitStack()
    for module in (fast_decode, codec_module):  # where it is defined, and where the codec may have imported it
        if hasattr(module, "compile_group"):
            stack.enter_context(mock.patch.object(module, "compile_group",
                                                  lambda children, plan, careful, *rest: careful))
    if fully:
        stack.enter_context(mock.patch.object(fields_module, "_fast_number", lambda *args: None))
    return stack


@pytest.mark.parametrize("encoding", ENCODINGS)
@given(data=st.data())
@BUDGET
def test_the_fast_and_the_careful_decoder_agree(encoding, data):
    case, value = data.draw(cases_and_values(encoding), label="case, value")
    book = case.book
    reference, spans = _reference(book, value)
    record = data.draw(_mutations(reference, spans, case.encoding), label="record")
    note("record %s" % record.hex())
    blank_as_zero = data.draw(st.booleans(), label="blank_as_zero")
    trailing = data.draw(st.sampled_from(["exact", "padding", "ignored"]), label="trailing")
    fast = _outcome(lambda: book.decode(record, blank_as_zero, trailing))
    for fully in (False, True):
        with _careful(book, fully):
            other = Copybook(book.root, book.encoding, case.selectors[0] if case.selectors else None)
            careful = _outcome(lambda: other.decode(record, blank_as_zero, trailing))
        assert fast == careful, "fully careful" if fully else "careful groups"
    event(fast[0])


@pytest.mark.parametrize("encoding", ENCODINGS)
@given(data=st.data())
@BUDGET
def test_decode_json_is_decode_digit_for_digit(encoding, data):
    case, value = data.draw(cases_and_values(encoding), label="case, value")
    book = case.book
    reference, spans = _reference(book, value)
    record = data.draw(_mutations(reference, spans, case.encoding, most=2), label="record")
    note("record %s" % record.hex())
    blank_as_zero = data.draw(st.booleans(), label="blank_as_zero")
    trailing = data.draw(st.sampled_from(["exact", "padding", "ignored"]), label="trailing")
    plain = _outcome(lambda: book.decode(record, blank_as_zero, trailing))
    text = _outcome(lambda: json.loads(book.decode_json(record, blank_as_zero, trailing), parse_float=Decimal,
                                       parse_int=Decimal))
    assert text == plain
    event(plain[0])


def _formats(draw: Any, case: Case, records: List[bytes]) -> List[Tuple[str, RecordFormat]]:
    longest = max(len(r) for r in records)
    block = draw(st.integers(longest + 8, max(longest + 8, 2 * sum(len(r) + 4 for r in records) + 8)))
    return [("fixed", RecordFormat("fixed", lrecl=case.book.record_length)),
            ("variable", RecordFormat("variable")),
            ("variable blocked", RecordFormat("variable", blocked=True, block_size=block)),
            ("lines", RecordFormat("lines", newline=case.encoding.newline))]


@pytest.mark.parametrize("encoding", ENCODINGS)
@given(data=st.data())
@BUDGET
def test_every_record_format_gives_the_values_back(encoding, data):
    case = data.draw(cases(encoding), label="case")
    book, space = case.book, case.encoding.space
    assert case.encoding.newline == NEWLINES[encoding]
    items = data.draw(st.lists(values(case), min_size=1, max_size=4), label="values")
    records = [book.encode(item) for item in items]
    for name, fmt in _formats(data.draw, case, records):
        chosen = list(zip(items, records))
        if name == "fixed":
            chosen = [(item, record.ljust(book.record_length, space)) for item, record in chosen]
        if name == "lines":
            chosen = [(item, record) for item, record in chosen if fmt.newline not in record]
            event("lines: %d of %d records hold no newline" % (len(chosen), len(records)))
        stream = io.BytesIO()
        writer = RecordWriter(stream, fmt)
        for _, record in chosen:
            writer.write(record)
        writer.close()
        stream.seek(0)
        read = [record for _, _, record in read_records(stream, fmt)]
        assert read == [record for _, record in chosen], name
        for (item, _), record in zip(chosen, read):
            decoded = book.decode(record, trailing="padding" if name == "fixed" else "exact")
            _agrees(case, book.root, item, decoded, entry=True)


@pytest.mark.parametrize("encoding", ENCODINGS)
@given(data=st.data())
@BUDGET
def test_one_byte_changed_or_a_number_blanked_is_refused_naming_a_field_or_re_encodes(encoding, data):
    """Hostile bytes: refused with a RecordError naming a path of the copybook, or a value that is
    exactly what the bytes say (re-encoding gives them back but for the documented leniencies)."""
    case, value = data.draw(cases_and_values(encoding), label="case, value")
    book, enc = case.book, case.encoding
    record, spans = _reference(book, value)
    trailing = "padding" if book.variable and data.draw(st.booleans(), label="padded") else "exact"
    if trailing == "padding":
        record = record.ljust(book.record_length, enc.space)
    changed = bytearray(record)
    numbers = [(start, end) for start, end, what, field in spans
               if what == "leaf" and field.kind in ("zoned", "packed", "edited")]
    how = data.draw(st.sampled_from(["byte", "interesting", "low", "high"] + (["blank"] if numbers else [])),
                    label="how")
    if how == "blank":  # one number all spaces: BLANK WHEN ZERO, blank_as_zero
        start, end = data.draw(st.sampled_from(numbers), label="item")
        changed[start:end] = enc.space * (end - start)
    else:
        at = data.draw(st.integers(0, len(record) - 1), label="at")
        byte = data.draw(st.integers(0, 255) if how == "byte" else st.sampled_from(INTERESTING[enc.ebcdic])
                         if how == "interesting" else st.integers(0, 15), label="byte")
        changed[at] = byte if how in ("byte", "interesting") else (
            (changed[at] & 0xF0) | byte if how == "low" else (changed[at] & 0x0F) | byte << 4)
    changed = bytes(changed)
    note("changed %s" % changed.hex())
    blank_as_zero = data.draw(st.booleans(), label="blank_as_zero")
    try:
        decoded = book.decode(changed, blank_as_zero=blank_as_zero, trailing=trailing)
    except RecordError as exc:
        assert exc.field in _paths(case), (exc.field, exc.message)
        assert exc.message
        event("refused")
        return
    event("accepted" if changed != record else "unchanged")
    _explained(case, changed, decoded, blank_as_zero, trailing)


# -- what the properties found, each as its smallest example ---------------------------------------

def _book(text: str, encoding: str = "cp037") -> Copybook:
    return Copybook.parse(text, "test.cpy", DataEncoding(encoding))


FILLER_TABLE = """\
       01  FT-REC.
           05  FT-COUNT        PIC 9.
           05  FILLER          PIC X(2) OCCURS 0 TO 3 TIMES DEPENDING ON FT-COUNT.
           05  FT-CODE         PIC X(2).
"""


def test_a_filler_table_of_varying_length_is_written_as_long_as_its_count_says():
    """The decoder skips FT-COUNT entries of the FILLER table; the encoder must write as many, not
    all 3 (it wrote f1 404040404040 c1c2, which the decoder then refused: 9 bytes, its counts make it 5)."""
    book = _book(FILLER_TABLE)
    value = {"count": Decimal(1), "code": "AB"}
    assert book.encode(value).hex() == "f1" "4040" "c1c2"
    assert book.decode(bytes.fromhex("f1" "4040" "c1c2")) == value


RECORDS_ONE_ENDING_IN_FILLER = """\
       01  R1.
           05  SEG             PIC X.
           05  F1              PIC X.
       01  R2.
           05  SEG             PIC X.
           05  FILLER          PIC X(2).
"""


@pytest.mark.parametrize("encoding", ["ascii", "cp037"])
def test_a_short_record_reads_beside_a_longer_kind_that_ends_in_filler(encoding):
    """Without a selector every 01 record is tried: R2 needs 3 bytes, R1's record has 2, so R2 is null.
    The FILLER's bytes were skipped without looking whether the record holds them, R2 'ended' at
    byte 3, and the record was refused: 'record is 2 bytes; its counts make it 3'."""
    book = _book(RECORDS_ONE_ENDING_IN_FILLER, encoding)
    value = {"r1": {"seg": "A", "f1": "B"}}
    record = book.encode(value)
    assert len(record) == 2
    assert book.decode(record) == {"r1": {"seg": "A", "f1": "B"}, "r2": None}


BINARY_TABLE = """\
       01  BT-REC.
           05  BT-COUNT        PIC 9.
           05  BT-ENTRY OCCURS 1 TO 2 TIMES DEPENDING ON BT-COUNT.
               10  BT-SMALL    PIC 9 COMP.
           05  BT-CODE         PIC X(2).
"""


@pytest.mark.parametrize("trailing", ["exact", "ignored"])
def test_a_table_of_binary_items_ends_where_its_count_says(trailing):
    """fast_decode's in-line table loop kept its length in ``n``, which each in-line binary item
    reassigns: the table 'ended' after BT-SMALL's value entries, not BT-COUNT's. 'record is 5
    bytes; its counts make it 4', and with trailing='ignored' BT-CODE read as '\\x01A'."""
    book = _book(BINARY_TABLE, "ascii")
    value = {"count": Decimal(2), "entry": [{"small": Decimal(1)}, {"small": Decimal(1)}], "code": "AB"}
    record = book.encode(value)
    assert record == b"2\x01\x01AB"
    assert book.decode(record, trailing=trailing) == value


TABLES_IN_A_TABLE = """\
       01  TT-REC.
           05  TT-OUTER OCCURS 2.
               10  TT-PAIR OCCURS 2.
                   15  TT-LETTER   PIC X.
               10  TT-GROUP.
                   15  TT-CODE     PIC X OCCURS 2.
"""


def test_a_group_after_an_in_line_table_is_counted_once():
    """fast_decode: after an in-line table the next step (TT-GROUP, a group holding a table) rebinds
    ``p`` to its end, and its size was then added again: each TT-OUTER entry 'ended' 2 bytes late, so
    the second was read from the wrong place: 'outer[1].group.code[0]: the record ends at byte 8'."""
    book = _book(TABLES_IN_A_TABLE, "ascii")
    value = {"outer": [{"pair": [{"letter": "a"}, {"letter": "b"}], "group": {"code": ["C", "D"]}},
                       {"pair": [{"letter": "e"}, {"letter": "f"}], "group": {"code": ["G", "H"]}}]}
    assert book.encode(value) == b"abCDefGH"
    assert book.decode(b"abCDefGH") == value


P_SCALED = """\
       01  PS-REC.
           05  PS-TINY         PIC VPP99.
           05  PS-PACKED       PIC SVP9(3) COMP-3.
"""


@pytest.mark.parametrize("encoding", ["ascii", "cp037"])
def test_decode_json_writes_p_scaled_numbers_as_decode_reads_them(encoding):
    """decode gives 0.0012 and -0.0123; decode_json wrote 0.12 and -0.123: its in-line number text
    put the point before the stored digits, without the zeros the P positions stand for."""
    book = _book(P_SCALED, encoding)
    value = {"tiny": Decimal("0.0012"), "packed": Decimal("-0.0123")}
    record = book.encode(value)
    assert book.decode(record) == value
    assert json.loads(book.decode_json(record), parse_float=Decimal) == value


def test_decode_json_of_a_record_with_a_filler_table_of_varying_length_is_json():
    """decode skips the FILLER table; decode_json wrote '{"count":1,"","code":"A"}', which is no JSON."""
    book = _book(FILLER_TABLE, "ascii")
    record = b"1  AB"
    assert book.decode(record) == {"count": Decimal(1), "code": "AB"}
    assert json.loads(book.decode_json(record), parse_float=Decimal, parse_int=Decimal) == book.decode(record)
