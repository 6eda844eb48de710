"""A group's decoder written out as one Python function, for datasets of millions of records.

The record codec's careful decoder walks a list of steps and calls a function per item:
exact, and its errors name the field, but a record of forty items costs forty calls. Here
the same group becomes straight-line code: each run of fixed-place items is decoded from
the code page in one call and sliced; text, unsigned zoned numbers and positive packed
numbers are converted in line; anything else (signed zoned, binary, floats, edited, a
table, a REDEFINES) calls its item's decoder or step. Whatever the short path does not
accept, and any error, reruns the careful decoder, which decides and says why — so the two
always agree (a property test holds them together).

The source holds numbers and generated names only: nothing of the copybook's text reaches
it. ``marked`` numbers are text for ``Copybook.decode_json``: digits exactly as ``str()`` of
the Decimal writes them, between ``NUMBER_MARK``s.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Callable, Dict, List, Sequence, Tuple

from .codepages import DataEncoding
from .fields import NUMBER_MARK, decoder
from .parser import Field

Step = Tuple[Any, int, Any]  # (JSON key, bytes before it, its decoder), as the careful group has them


def compile_group(children: Sequence[Field], plan: Sequence[Step], careful: Callable[..., Any],
                  encoding: DataEncoding, blank_as_zero: bool, marked: bool) -> Callable[..., Any]:
    """The fast twin of ``careful`` for a group with these children (REDEFINES views left out)."""
    names: Dict[str, Any] = {"careful": careful, "D": Decimal, "M": NUMBER_MARK}
    body: List[str] = []
    base, at = "o", 0       # the next item is at base + at
    run: List[str] = []      # the lines of the current run of fixed-place items
    run_start = 0

    def flush(run_end: int) -> None:
        """The run's lines, after the offset in the record's text (state.text) they slice from."""
        nonlocal run
        if any("u[" in line for line in run):
            body.append("b = %s" % _at(base, run_start))
        body.extend(run)
        run = []

    for index, ((key, slack, decode), child) in enumerate(zip(plan, children)):
        at += slack
        if decode is None:  # FILLER: its bytes (and slack) are skipped
            continue
        names["k%d" % index] = key
        simple = not child.children and child.occurs == 1 and child.depending_on is None and not child.views
        if simple and not child.is_count:
            start, end = at - run_start, at - run_start + child.size  # in u
            raw = "data[%s:%s]" % (_at(base, at), _at(base, at + child.size))
            names["d%d" % index] = decoder(child, encoding, blank_as_zero, marked)
            run.extend(_item(str(index), child, start, end, raw, marked,
                             child.little_endian and encoding.comp5_little_endian))
            at += child.size
            continue
        if _plain_group(child):  # its items join the run, into a dict of their own
            names["k%d" % index] = key
            target = "g%d" % index
            run.append("%s = {}" % target)
            inner = at
            for number, item in enumerate(child.children):
                if not item.is_filler:
                    name = "%d_%d" % (index, number)
                    names["k" + name] = item.json_name
                    names["d" + name] = decoder(item, encoding, blank_as_zero, marked)
                    raw = "data[%s:%s]" % (_at(base, inner), _at(base, inner + item.size))
                    run.extend(_item(name, item, inner - run_start, inner - run_start + item.size, raw, marked,
                                     item.little_endian and encoding.comp5_little_endian, target))
                inner += item.size
            run.append("r[k%d] = %s" % (index, target))
            at += child.size
            continue
        flush(at)
        if _inline_table(child):
            body.extend(_table_lines(index, child, _at(base, at), names, encoding, blank_as_zero, marked))
            base, at = "p", 0
            run_start = at
            continue
        names["s%d" % index] = decode
        body.append("v, p = s%d(data, %s, state)" % (index, _at(base, at)))
        body.append("r.update(v)" if not key else "r[k%d] = v" % index)
        if child.variable or child.depending_on is not None or child.views:
            base, at = "p", 0
        else:
            at += child.size * child.occurs
        run_start = at
    flush(at)
    lines = ["def group(data, o, state):", "    u = state.text", "    if u is None:",
             "        return careful(data, o, state)", "    try:", "        r = {}"]
    lines += ["        " + line for line in body]
    lines += ["        end = %s" % _at(base, at),
              "        if end > len(data):",
              "            return careful(data, o, state)",
              "        return r, end",
              "    except (ValueError, IndexError, KeyError):",
              "        return careful(data, o, state)"]
    exec(compile("\n".join(lines), "<copybook group>", "exec"), names)
    return names["group"]  # type: ignore[no-any-return]


def _at(base: str, offset: int) -> str:
    return "%s + %d" % (base, offset) if offset else base


def _plain_group(field: Field) -> bool:
    """A group of plain items, once: its items are decoded in line with its parent's."""
    return bool(field.children) and field.occurs == 1 and field.depending_on is None and not field.views \
        and not field.variable and _plain_items(field)


def _plain_items(field: Field) -> bool:
    return all(not c.children and c.occurs == 1 and c.depending_on is None and not c.views and not c.is_count
               and c.redefines is None and not c.slack for c in field.children)


def _inline_table(field: Field) -> bool:
    """A table whose entries are fixed runs of plain items: decoded in a loop in line."""
    if field.views or field.is_count or field.occurs == 1 and field.depending_on is None or not field.children:
        return False
    return _plain_items(field)


def _table_lines(index: int, field: Field, start: str, names: Dict[str, Any], encoding: DataEncoding,
                 blank_as_zero: bool, marked: bool) -> List[str]:
    """A table of plain entries: its length from its count (checked, else the careful decoder),
    each entry's items decoded in line; leaves ``p`` after the table."""
    lines = ["b0 = " + start]
    if field.depending_on is not None:
        names["c%d" % index] = id(field.depending_on)
        lines += ["n = state.counts[c%d]" % index,
                  "if n < %d or n > %d:" % (field.occurs_min, field.occurs),
                  "    return careful(data, o, state)"]
    else:
        lines.append("n = %d" % field.occurs)
    lines += ["t = []", "for i in range(n):", "    b = b0 + i * %d" % field.size, "    e = {}"]
    at = 0
    for number, child in enumerate(field.children):
        name = "%d_%d" % (index, number)
        if child.is_filler:
            at += child.size
            continue
        names["k" + name] = child.json_name
        names["d" + name] = decoder(child, encoding, blank_as_zero, marked)
        raw = "data[b + %d:b + %d]" % (at, at + child.size) if at else "data[b:b + %d]" % child.size
        lines += ["    " + line for line in _item(name, child, at, at + child.size, raw, marked,
                                                     child.little_endian and encoding.comp5_little_endian, "e")]
        at += child.size
    names["k%d" % index] = field.json_name
    return lines + ["    t.append(e)", "r[k%d] = t" % index, "p = b0 + n * %d" % field.size]


def _item(name: str, field: Field, start: int, end: int, raw: str, marked: bool,
          little_endian: bool, target: str = "r") -> List[str]:
    """Lines that set target[k<name>] from the record's text u[b + start:b + end] or the raw bytes."""
    index = name
    call = "%s[k%s] = d%s(%s)" % (target, index, index, raw)
    text = "u[b + %d:b + %d]" % (start, end) if start else "u[b:b + %d]" % end
    if field.kind == "text":
        return ["%s[k%s] = %s.rstrip(' ')" % (target, index, text)]
    scale = field.scale
    if scale < 0 or scale > 6:  # P scaling, and str() of a Decimal with more places: the item's decoder
        return [call]
    if marked:
        value = "M + %%s(x[:-%d].lstrip('0') or '0') + '.' + x[-%d:] + M" % (scale, scale) if scale \
            else "M + %s(x.lstrip('0') or '0') + M"
        positive, negative = value % "", value % "'-' + "
    else:
        positive = "D(x + 'E-%d')" % scale if scale else "D(x)"
        negative = "D('-' + x + 'E-%d')" % scale if scale else "D('-' + x)"
    if field.kind == "zoned" and not field.signed:  # digits only (F0-F9 in EBCDIC: decoded, '0'-'9')
        return ["x = " + text,
                "if x.isascii() and x.isdigit():",
                "    %s[k%s] = %s" % (target, index, positive),
                "else:",
                "    " + call]
    if field.kind == "packed" and field.sign_nibble and field.size * 2 - 1 == field.digits:
        lines = ["x = %s.hex()" % raw,
                 "s = x[-1]",
                 "x = x[:-1]",
                 "if x.isdigit() and s %s:" % ("in 'cf'" if field.signed else "== 'f'"),
                 "    %s[k%s] = %s" % (target, index, positive)]
        if field.signed:  # a negative zero, and signs A, B, E, are the careful decoder's
            lines += ["elif s == 'd' and x.isdigit() and x.strip('0'):",
                      "    %s[k%s] = %s" % (target, index, negative)]
        return lines + ["else:", "    " + call]
    if field.kind == "binary" and not scale and not marked:
        order = "little" if little_endian else "big"
        limit = 10 ** field.digits if field.usage != "COMP-5" else 1 << (8 * field.size)  # COMP-5: its bytes' range
        return ["n = int.from_bytes(%s, '%s', signed=%s)" % (raw, order, field.signed),
                "if -%d < n < %d:" % (limit, limit),
                "    %s[k%s] = D(n)" % (target, index),
                "else:",
                "    " + call]
    return [call]


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
