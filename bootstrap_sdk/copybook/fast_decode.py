"""A group's decoder written out as one Python function, for datasets of millions of records.

The record codec's careful decoder walks a list of steps and calls a function per item:
exact, and its errors name the field, but a record of forty items costs forty calls. Here
the same group becomes straight-line code: the record is decoded from its code page once
(``record_text``) and each item sliced from that text; text, unsigned zoned numbers,
packed and binary numbers are converted in line; plain groups and tables of plain entries
are unrolled into their parent; anything else (signed zoned, floats, edited, a REDEFINES,
a table of groups) calls its item's decoder or step. Whatever the short path does not
accept, and any error, reruns the careful decoder, which decides and says why — so the two
always agree (a property test holds them together).

Two shapes: ``marked=False`` builds the JSON value (dicts, lists, Decimals); ``marked=True``
writes the JSON text itself (``Copybook.decode_json``), numbers digit for digit as ``str()``
of their Decimal writes them and text escaped as ``json`` escapes it, so a dataset's
conversion never builds the objects it only prints. Text goes into the object's template
between quotes as it is, unless one of the object's text items holds a character JSON
escapes (one search over them all), when each is escaped. The source holds numbers and generated
names only: nothing of the copybook's text reaches it.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any, Callable, Dict, List, Sequence, Tuple

from .codepages import DataEncoding
from .fields import NUMBER_MARK, decoder
from .parser import Field

Step = Tuple[Any, int, Any]  # (JSON key, bytes before it, its decoder), as the careful group has them


class Raw(str):
    """JSON text a marked decoder made (a group, a table): put into its parent as it is."""

    __slots__ = ()


def fragment(value: Any) -> str:
    """JSON text of what a marked careful decoder returns: text escaped, marked numbers
    unmarked, Raw pieces as they are."""
    if isinstance(value, Raw):
        return value
    if isinstance(value, str):
        if value.startswith(NUMBER_MARK):
            return value[1:-1]
        return _escape(value)
    if isinstance(value, dict):
        return "{" + ",".join(_escape(key) + ":" + fragment(item) for key, item in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(fragment(item) for item in value) + "]"
    if value is None:
        return "null"
    return str(value)  # a Decimal (a count), as the plain decoder gives it


_escape: Callable[[str], str] = json.encoder.encode_basestring
_NEEDS_ESCAPE = re.compile('[\x00-\x1f"\\\\]')  # what JSON text escapes


class _Group:
    """The lines of one group's function, and the names its source refers to."""

    def __init__(self, careful: Callable[..., Any], encoding: DataEncoding, blank_as_zero: bool,
                 marked: bool) -> None:
        self.names: Dict[str, Any] = {"careful": careful, "D": Decimal, "esc": _escape, "frag": fragment,
                                      "Raw": Raw, "needs": _NEEDS_ESCAPE.search}
        self.encoding = encoding
        self.blank_as_zero = blank_as_zero
        self.marked = marked
        self.body: List[str] = []

    def name(self, prefix: str, value: Any) -> str:
        """A generated name bound to ``value`` in the function's namespace."""
        key = "%s%d" % (prefix, len(self.names))
        self.names[key] = value
        return key

    def item(self, field: Field, text_at: str, raw: str, out: "_Object") -> List[str]:
        """Lines that decode one plain item: from the record's text at ``text_at`` (an
        expression of u's offsets) or its raw bytes, into ``out``."""
        if field.kind == "text":
            value = "u[%s].rstrip(' ')" % text_at
            if not self.marked:
                return [out.set(field.json_name, value)]
            return ["%s = %s" % (out.slot(field.json_name, text=True), value)]  # escaped, if need be, by finish
        plain = self.name("d", decoder(field, self.encoding, self.blank_as_zero))
        slot = out.slot(field.json_name)
        call = "%s = %s" % (slot, ("str(%s(%s))" if self.marked else "%s(%s)") % (plain, raw))
        scale = field.scale
        if scale < 0 or scale > 6 or scale > field.digits:  # P scaling, and str() of a Decimal with more places:
            return [call]                                     # the item's decoder
        if self.marked:
            number = "(x[:-%d].lstrip('0') or '0') + '.' + x[-%d:]" % (scale, scale) if scale \
                else "(x.lstrip('0') or '0')"
            positive, negative = number, "'-' + " + number
        else:
            positive = "D(x + 'E-%d')" % scale if scale else "D(x)"
            negative = "D('-' + x + 'E-%d')" % scale if scale else "D('-' + x)"
        if field.kind == "zoned" and not field.signed:  # digits only (F0-F9 in EBCDIC: decoded, '0'-'9')
            return ["x = u[%s]" % text_at,
                    "if x.isascii() and x.isdigit():",
                    "    %s = %s" % (slot, positive),
                    "else:",
                    "    " + call]
        if field.kind == "packed" and field.sign_nibble and field.size * 2 - 1 == field.digits:
            lines = ["x = %s.hex()" % raw,
                     "s = x[-1]",
                     "x = x[:-1]",
                     "if x.isdigit() and s %s:" % ("in 'cf'" if field.signed else "== 'f'"),
                     "    %s = %s" % (slot, positive)]
            if field.signed:  # a negative zero, and signs A, B, E, are the careful decoder's
                lines += ["elif s == 'd' and x.isdigit() and x.strip('0'):",
                          "    %s = %s" % (slot, negative)]
            return lines + ["else:", "    " + call]
        if field.kind == "binary" and not scale:
            order = "little" if field.little_endian and self.encoding.comp5_little_endian else "big"
            limit = 10 ** field.digits if field.usage != "COMP-5" else 1 << (8 * field.size)  # COMP-5: its bytes'
            return ["w = int.from_bytes(%s, '%s', signed=%s)" % (raw, order, field.signed),
                    "if -%d < w < %d:" % (limit, limit),
                    "    %s = %s" % (slot, "str(w)" if self.marked else "D(w)"),
                    "else:",
                    "    " + call]
        return [call]


class _Object:
    """Where a group's values go: a dict (``r[k] = ...``), or, marked, local variables that a
    template of the object's JSON text takes in order."""

    def __init__(self, group: _Group, var: str) -> None:
        self.group = group
        self.var = var
        self.parts: List[Tuple[str, str]] = []  # marked: (JSON text before the value, its variable)
        self.texts: List[bool] = []  # marked: whether each part is text the template quotes
        self.last_slot = ""

    def start(self) -> str:
        return "%s = {}" % self.var if not self.group.marked else "pass"

    def slot(self, key: str, text: bool = False) -> str:
        """Where the member ``key`` is assigned (once per member, however many lines assign it);
        ``text``: a string the template quotes (when the record needs no escaping)."""
        if not self.group.marked:
            self.last_slot = "%s[%s]" % (self.var, self.group.name("k", key))
        else:
            self.last_slot = "%s_%d" % (self.var, len(self.parts))
            self.parts.append((_escape(key) + ":", self.last_slot))
            self.texts.append(text)
        return self.last_slot

    def set(self, key: str, value: str) -> str:
        return "%s = %s" % (self.slot(key), value)

    def last(self) -> str:
        """The expression of the member whose slot was taken last."""
        return self.last_slot

    def merge(self, value: str) -> str:
        """A REDEFINES' views (a dict from its step), each under its own name."""
        if not self.group.marked:
            return "%s.update(%s)" % (self.var, value)
        var = "%s_%d" % (self.var, len(self.parts))
        self.parts.append(("", var))
        self.texts.append(False)
        return "%s = frag(%s)[1:-1]" % (var, value)

    def finish(self, assign: str) -> List[str]:
        """Lines that put the finished object in ``assign`` (``"%s"`` where it goes): a dict,
        or, marked, its JSON text. Its text members go into the template between quotes as
        they are, unless one holds a character JSON escapes (one search over them all):
        then each is escaped."""
        if not self.group.marked:
            return [] if assign % self.var == "%s = %s" % (self.var, self.var) else [assign % self.var]
        def template(quoted: bool) -> str:
            return "{" + ",".join(prefix.replace("%", "%%") + ('"%s"' if quoted and text else "%s")
                                  for (prefix, _), text in zip(self.parts, self.texts)) + "}"
        values = "(%s)" % "".join(var + ", " for _, var in self.parts)
        quoted = assign % ("%s %% %s" % (self.group.name("t", template(True)), values))
        texts = [var for (_, var), text in zip(self.parts, self.texts) if text]
        if not texts:
            return [quoted]
        escaped = assign % ("%s %% %s" % (self.group.name("t", template(False)), values))
        needs = "needs(%s)" % texts[0] if len(texts) == 1 else "needs(''.join((%s)))" % "".join(
            var + ", " for var in texts)
        return ["if %s:" % needs, "    " + "; ".join("%s = esc(%s)" % (var, var) for var in texts),
                "    " + escaped, "else:", "    " + quoted]


def compile_group(children: Sequence[Field], plan: Sequence[Step], careful: Callable[..., Any],
                  encoding: DataEncoding, blank_as_zero: bool, marked: bool) -> Callable[..., Any]:
    """The fast twin of ``careful`` for a group with these children (REDEFINES views left out)."""
    group = _Group(careful, encoding, blank_as_zero, marked)
    out = _Object(group, "r")
    body = group.body
    body.append(out.start())
    base, at = "o", 0        # the next item is at base + at
    run_start = 0            # the offset (from base) where the current run's b points
    body.append("b = o")
    for (key, slack, decode), child in zip(plan, children):
        at += slack
        if decode is None:  # FILLER: its bytes (and slack) are skipped
            continue
        if _plain(child):
            body += group.item(child, _span(at - run_start, child.size), _bytes(base, at, child.size), out)
            if child.is_count:  # a table's length: a whole number, its text in JSON
                body.append("state.counts[%s] = int(%s)" % (group.name("c", id(child)), out.last()))
            at += child.size
            continue
        if _plain_group(child):  # its items join the run, in an object of their own
            inner = _Object(group, "g%d" % len(group.names))
            body.append(inner.start())
            offset = at
            for item in child.children:
                if not item.is_filler:
                    body += group.item(item, _span(offset - run_start, item.size), _bytes(base, offset, item.size),
                                       inner)
                offset += item.size
            body += inner.finish(out.slot(key) + " = %s")
            at += child.size
            continue
        if _inline_table(child):
            body += _table_lines(group, child, _at(base, at), out, key)
            base, at, run_start = "p", 0, 0
            body.append("b = p")
            continue
        step = group.name("s", decode)
        body.append("v, q = %s(data, %s, state)" % (step, _at(base, at)))
        if key is None:  # a REDEFINES: its views, each under its own name
            body.append(out.merge("v"))
        elif key:  # ("": a FILLER table whose count varies: only its length counts)
            body.append(out.set(key, "frag(v)" if marked else "v"))
        if child.variable or child.depending_on is not None or child.views:
            base, at, run_start = "p", 0, 0
            body += ["p = q", "b = p"]
        else:
            at += child.size * child.occurs
    # The careful decoder for anything the short path does not take: its value, as JSON text when marked.
    fallback = ["v, p = careful(data, o, state)", "return Raw(frag(v)), p"] if marked else \
        ["return careful(data, o, state)"]
    body += out.finish("r = Raw(%s)" if marked else "r = %s")
    lines = ["def group(data, o, state):", "    u = state.text", "    if u is None:"]
    lines += ["        " + line for line in fallback]
    lines += ["    try:"] + ["        " + line for line in body]
    lines += ["        end = %s" % _at(base, at), "        if end > len(data):"]
    lines += ["            " + line for line in fallback]
    lines += ["        return r, end", "    except (ValueError, IndexError, KeyError):"]
    lines += ["        " + line for line in fallback]
    exec(compile("\n".join(lines), "<copybook group>", "exec"), group.names)
    return group.names["group"]  # type: ignore[no-any-return]


def _at(base: str, offset: int) -> str:
    return "%s + %d" % (base, offset) if offset else base


def _span(start: int, size: int) -> str:
    """u's slice for an item ``start`` bytes after b."""
    return "b + %d:b + %d" % (start, start + size) if start else "b:b + %d" % size


def _bytes(base: str, offset: int, size: int) -> str:
    return "data[%s:%s]" % (_at(base, offset), _at(base, offset + size))


def _plain(field: Field) -> bool:
    return not field.children and field.occurs == 1 and field.depending_on is None and not field.views \
        and field.redefines is None


def _plain_group(field: Field) -> bool:
    """A group of plain items, once: its items are decoded in line with its parent's."""
    return bool(field.children) and field.occurs == 1 and field.depending_on is None and not field.views \
        and not field.variable and _plain_items(field)


def _plain_items(field: Field) -> bool:
    return all(_plain(c) and not c.is_count and not c.slack for c in field.children)


def _inline_table(field: Field) -> bool:
    """A table whose entries are fixed runs of plain items: decoded in a loop in line."""
    if field.views or field.is_count or field.occurs == 1 and field.depending_on is None or not field.children:
        return False
    return _plain_items(field)


def _table_lines(group: _Group, field: Field, start: str, out: _Object, key: str) -> List[str]:
    """A table of plain entries: its length from its count (checked, else the careful decoder
    decides), each entry's items decoded in line; leaves ``p`` after the table."""
    lines = ["b0 = " + start]
    if field.depending_on is not None:
        lines += ["n = state.counts[%s]" % group.name("c", id(field.depending_on)),
                  "if n < %d or n > %d:" % (field.occurs_min, field.occurs),
                  "    raise KeyError(n)"]  # the careful decoder names the count and its range
    else:
        lines.append("n = %d" % field.occurs)  # (n: the entries; items use w, x, s, never n)
    entry = _Object(group, "e%d" % len(group.names))
    lines += ["t = []", "for i in range(n):", "    b = b0 + i * %d" % field.size, "    " + entry.start()]
    at = 0
    for item in field.children:
        if not item.is_filler:
            lines += ["    " + line for line in group.item(item, _span(at, item.size),
                                                             "data[b + %d:b + %d]" % (at, at + item.size), entry)]
        at += item.size
    lines += ["    " + line for line in entry.finish("t.append(%s)")]
    lines += [
              out.set(key, "'[' + ','.join(t) + ']'" if group.marked else "t"),
              "p = b0 + n * %d" % field.size]
    return lines


def record_text(encoding: DataEncoding) -> Callable[[bytes], str]:
    """The whole record's bytes as text in its code page, which the groups slice: one decode
    per record instead of one per item."""
    if encoding.codec == "latin-1":
        return lambda data: data.decode("latin-1")
    import codecs

    codec = encoding.codec
    try:
        table = bytes(range(256)).decode(codec)
    except UnicodeDecodeError:  # a code page with bytes it does not map: UnicodeDecodeError per record
        return lambda data: data.decode(codec)
    charmap = codecs.charmap_decode
    return lambda data: charmap(data, "strict", table)[0]
