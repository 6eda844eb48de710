"""Copybook text → a tree of fields: the layout of one fixed-width record.

A copybook's first 01-level record becomes a tree of ``Field``s with their sizes.
Supported: PIC X/A (text), PIC 9 with S, V and repeats (``S9(5)V99``); USAGE DISPLAY
(zoned: GnuCOBOL's trailing overpunch by default, or ``SIGN LEADING``/``TRAILING``
``[SEPARATE]``), COMP-3/PACKED-DECIMAL, and COMP/BINARY/COMP-4 (big-endian) and COMP-5
(little-endian) with GnuCOBOL's default sizes (1, 2, 4 or 8 bytes for up to 2, 4, 9 or
18 digits); groups; ``OCCURS n``; FILLER; level-88 conditions (ignored). Refused with a
clear message: REDEFINES, OCCURS DEPENDING ON, RENAMES, COMP-1/COMP-2, P scaling and
edited pictures.

JSON names are the COBOL names lower-cased with ``-`` as ``_``; a prefix every field of
the record shares (``PI-`` in ``PI-EMP-ID``, ``PI-HOURS``) is dropped.
"""

from __future__ import annotations

import re
from typing import List, Optional, Tuple

_UNSUPPORTED = ("REDEFINES", "RENAMES", "COMP-1", "COMP-2", "COMPUTATIONAL-1", "COMPUTATIONAL-2", "POINTER",
                "INDEX", "DEPENDING")


class CopybookError(Exception):
    """The copybook itself cannot be used (says which entry and why)."""


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
            if not (count.isascii() and count.isdigit()):
                raise CopybookError("%s: OCCURS %s: a fixed count is required" % (where, count))
            if "DEPENDING" in words:
                raise CopybookError("%s: OCCURS DEPENDING ON is not supported" % where)
            field.occurs = int(count)
            if field.occurs < 1:  # the codec would write a field the record's length leaves out
                raise CopybookError("%s: OCCURS 0: a table needs at least one entry" % where)
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


def parse(text: str, source: str = "copybook") -> Field:
    """The first record of ``text``: its root field, sized, with its JSON names set."""
    stack: List[Field] = []
    root: Optional[Field] = None
    for number, statement in _statements(text):
        words = statement.replace(",", " ").split()
        if not words or not (words[0].isascii() and words[0].isdigit()):
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
    _strip_prefix(root)
    return root


def load(path: str) -> Field:
    with open(path, encoding="latin-1") as handle:
        return parse(handle.read(), path)


def _strip_prefix(root: Field) -> None:
    names = [f for f in _walk(root) if f is not root and not f.is_filler]
    if len(names) < 2:
        return
    prefix = names[0].name.split("-", 1)[0] + "-"
    if all(f.name.startswith(prefix) and len(f.name) > len(prefix) for f in names):
        for f in names:
            f.json_name = f.name[len(prefix):].lower().replace("-", "_")


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
