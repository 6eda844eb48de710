"""JSON ↔ records, as a parsed copybook lays them out, in a dataset's encoding.

``Copybook.encode`` turns a JSON object (or a list of them) into the bytes of records a
legacy program reads; ``decode`` turns the records it writes back into JSON. Numbers are
``decimal.Decimal`` both ways — never floats — with exactly the scale their PIC gives.
The encoding (``codepages``) says how text, signs and floats are written: ``ascii`` is
GnuCOBOL's own data, the EBCDIC code pages a mainframe's. One item's bytes are ``fields``'s
business; this module lays the items out: groups, tables, views and counts.

- **OCCURS DEPENDING ON**: a table holds as many entries as its count field says, so the
  record's length follows the count; a count outside ``OCCURS m TO n`` is an error naming it.
  Encoding takes the table's entries from the JSON list and requires the count to agree.
- **REDEFINES** (and a copybook's several 01 records, which share their bytes the same way):
  decoding gives every view, each under its own name (``null`` for a view its bytes are not
  valid as), or, with a ``Selector``, the one view a segment-id field's value chooses.
  Encoding takes exactly one view and refuses two. The bytes of a region past the view
  written are spaces; a view's own bytes past its end are not read.
- **SYNCHRONIZED** items have the slack bytes the compiler leaves before them (written as
  0x00, never read).

Decoding is as strict as encoding: a record is accepted only if the encoder could have
written it for some value (``fields`` lists the few exceptions real data needs), so a
corrupt record is an error, never a plausible amount. Errors name the field by its JSON
path: ``employee.rate``, ``items[2].amount``, ``[6].tax_rate`` (record 6 of a list, from 0).
Records read as lines (stdio mode) must each be one line of exactly the record's length;
any other line is named with its number, its length and an excerpt of what it holds.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any, Callable, Dict, List, Optional, Sequence, Set, Tuple, Union

from . import parser
from .codepages import ASCII, DataEncoding
from .fast_decode import compile_group, fragment, record_text
from .fields import NUMBER_MARK, as_decimal, decoder, encoder, excerpt, kind_of
from .parser import Field

RECORD_SHAPES = ("one", "batch", "one-for-one")
TRAILING = ("exact", "padding", "ignored")  # what may follow a record's end: Copybook.decode
# Bytes that stop a line record read by ACCEPT: tested on GnuCOBOL 3.1 (0x03 is Ctrl-C to it).
_BREAKS_ACCEPT = {0x0A: "a newline (0x0a), which would split the line",
                  0x03: "the byte 0x03, which GnuCOBOL's ACCEPT reads as Ctrl-C"}
_CONTROL = re.compile(rb"[\x00-\x1f\x7f]")

_Decode = Callable[[bytes, int, "_State"], Tuple[Any, int]]
_Selectors = Union[None, "Selector", Sequence["Selector"]]
_Encode = Callable[[Any, bytearray, "_State"], None]


class RecordError(ValueError):
    """A value does not fit its field, or a record does not fit the copybook; names the field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__("%s: %s" % (field, message))
        self.field = field
        self.message = message

    def under(self, name: str) -> "RecordError":
        """The same error, named from one group further out (``items[2]`` + ``amount``)."""
        if not self.field:
            return RecordError(name, self.message)
        return RecordError(name + (self.field if self.field.startswith("[") else "." + self.field), self.message)


class Selector:
    """Which view a record uses: a segment-id field's value → a REDEFINES item or 01 record.

    ``Selector.parse("SEG-ID=C:CUSTOMER-DATA,A:ACCOUNT-DATA,*:OTHER-DATA")``: the field is
    any item at a fixed place in the record (before any OCCURS DEPENDING ON table, in no
    table); its value, as text without trailing spaces (numbers as written, 7 or 12.50),
    picks the view; ``*`` is for every other value. All the views are of one REDEFINES (or
    are the copybook's 01 records). A value no entry maps is an error naming the record.
    """

    def __init__(self, field: str, views: Dict[str, str], default: Optional[str] = None) -> None:
        self.field = field.strip().upper()
        self.views = {key: name.strip().upper() for key, name in views.items()}
        self.default = default.strip().upper() if default else None

    @classmethod
    def parse(cls, text: str) -> "Selector":
        field, equals, rest = text.partition("=")
        if not equals or not field.strip() or not rest.strip():
            raise ValueError("a selector is FIELD=VALUE:VIEW[,VALUE:VIEW...] (e.g. SEG-ID=C:CUSTOMER,A:ACCOUNT), "
                             "not %r" % text[:80])
        views: Dict[str, str] = {}
        default = None
        for pair in rest.split(","):
            value, colon, view = pair.strip().rpartition(":")
            if not colon or not view.strip():
                raise ValueError("%r in the selector is not VALUE:VIEW" % pair.strip()[:40])
            if value == "*":
                default = view
            elif value in views:
                raise ValueError("the value %r is in the selector twice" % value)
            else:
                views[value] = view
        return cls(field, views, default)

    @classmethod
    def parse_many(cls, text: str) -> List["Selector"]:
        """Selectors separated by ``;``, one per REDEFINES: ``SEG=C:CUST,A:ACCT;KIND=P:PERSON,B:FIRM``."""
        return [cls.parse(part) for part in text.split(";") if part.strip()]

    def applies_to(self, root: Field) -> bool:
        """Whether the record holds the selector's field and a view it names (by COBOL or
        JSON name): a copybook with neither REDEFINES nor those names is not its business."""
        fields = parser._walk(root)
        return any(_named(f, self.field) for f in fields) and any(
            _named(f, name) for f in fields if f.redefines is not None or f.views for name in self.names())

    def names(self) -> List[str]:
        return sorted(set(self.views.values()) | ({self.default} if self.default else set()))

    def __repr__(self) -> str:
        pairs = ["%s:%s" % item for item in self.views.items()] + (["*:%s" % self.default] if self.default else [])
        return "Selector(%r)" % ("%s=%s" % (self.field, ",".join(pairs)))


class _State:
    """What one record's decoding or encoding has learnt so far: counts, the view chosen."""

    __slots__ = ("counts", "written", "text")

    def __init__(self, text: Optional[str] = None) -> None:
        self.counts: Dict[int, int] = {}
        self.written: List[Field] = []  # views encoded, checked against the selectors
        self.text = text  # the record's bytes decoded in its code page (fast_decode slices it)


class Copybook:
    """The layout of a record (or of several kinds of record), its encoder and decoder."""

    def __init__(self, root: Field, encoding: DataEncoding = ASCII, selector: _Selectors = None) -> None:
        self.root = root
        self.encoding = encoding
        self.record_length = root.size  # the largest, when a table's count varies it
        self.variable = root.variable
        self.selectors: List[Selector] = [] if selector is None else [selector] if isinstance(selector, Selector) \
            else list(selector)
        self._pickers: Dict[int, _Pick] = {}  # id(a REDEFINES' first item): its selector's choice
        for one in self.selectors:
            base, pick = _selection(root, one, encoding)
            if base in self._pickers:
                raise ValueError("two selectors choose views of the same REDEFINES (%s)" % one.field)
            self._pickers[base] = pick
        self._decoders: Dict[Tuple[bool, bool], _Decode] = {}
        self._record_text = record_text(encoding)
        self._text: Optional[Tuple[str, str]] = None  # (copybook text, source) or (its path, ""): for using()
        self._encoder = _encoder(root, encoding)

    @classmethod
    def parse(cls, text: str, source: str = "copybook", encoding: DataEncoding = ASCII,
              selector: _Selectors = None) -> "Copybook":
        """The copybook's records, laid out as the data's machine lays them out: EBCDIC data
        comes from IBM COBOL (a binary item of 1 to 4 digits is a halfword), ascii from GnuCOBOL."""
        book = cls(parser.parse(text, source, ibm=encoding.ebcdic), encoding, selector)
        book._text = (text, source)
        return book

    @classmethod
    def load(cls, path: str, encoding: DataEncoding = ASCII, selector: _Selectors = None) -> "Copybook":
        book = cls(parser.load(path, ibm=encoding.ebcdic), encoding, selector)
        book._text = (path, "")
        return book

    def using(self, encoding: DataEncoding) -> "Copybook":
        """The same records in another encoding (what a conversion writes), laid out again
        when the other machine's layout differs."""
        if self._text is not None and encoding.ebcdic != self.encoding.ebcdic:
            text, source = self._text
            root = parser.parse(text, source, ibm=encoding.ebcdic) if source else parser.load(text, encoding.ebcdic)
            book = Copybook(root, encoding, self.selectors)
            book._text = self._text
            return book
        return Copybook(self.root, encoding, self.selectors)

    # -- JSON → bytes ------------------------------------------------------------------------
    def encode(self, value: Any) -> bytes:
        """One record from a JSON object (as long as its counts make it)."""
        return self._encode(value, "")

    def encode_many(self, value: Any, separator: bytes = b"") -> bytes:
        """A JSON list of objects → records (each followed by ``separator``); an object → one."""
        if not isinstance(value, list):
            return self.encode(value) + separator
        return b"".join(self._encode(item, "[%d]" % index) + separator for index, item in enumerate(value))

    def _encode(self, value: Any, path: str) -> bytes:
        out = bytearray()
        state = _State()
        try:
            self._encoder(value, out, state)
            if self._pickers:
                self._check_views(bytes(out), state)
        except RecordError as exc:
            raise (exc.under(path) if path else exc if exc.field else RecordError(self.root.name, exc.message)) \
                from None
        return bytes(out)

    def _check_views(self, record: bytes, state: _State) -> None:
        """Each view given must be the one its selector's field, as encoded, chooses."""
        for view in state.written:
            pick = self._pickers.get(id(view.redefines or view))
            if pick is None:
                continue
            chosen = pick(record)
            if chosen is not view:
                raise RecordError(view.json_name, "given, but %s selects %s: give %s instead" % (
                    pick.field.json_name, chosen.name, chosen.json_name))

    def blank(self) -> bytes:
        """The record as INITIALIZE leaves it: text fields spaces, numbers zero, tables empty."""
        return _blank(self.root, self.encoding).ljust(self.record_length, self.encoding.space)

    # -- bytes → JSON ------------------------------------------------------------------------
    def decode(self, data: bytes, blank_as_zero: bool = False, trailing: str = "exact") -> Any:
        """One record → a JSON object; ``blank_as_zero`` reads all-space numeric fields as 0.

        ``trailing``: what may follow the record's end (its counts decide where that is) in
        ``data``: nothing (``exact``), the encoding's spaces or 0x00 bytes (``padding``: a
        fixed-length file's slot), anything (``ignored``: memory a program was called with).
        """
        _check_trailing(trailing)
        return self._decode(data, "", blank_as_zero, trailing)

    def decode_many(self, data: bytes, separator: bytes = b"", blank_as_zero: bool = False) -> List[Any]:
        """Records as the program wrote them (each followed by ``separator``, if any)."""
        return [self._decode(record, "[%d]" % index, blank_as_zero)
                for index, record in enumerate(self.split(data, separator))]

    def split(self, data: bytes, separator: bytes = b"") -> List[bytes]:
        """The records in ``data``, unread; their count is checked before their contents.

        With a separator, every record is a line of exactly the record's length (of any
        length, when a count decides it); without, records are the record's length end to end.
        """
        if self.variable and separator:
            if data.endswith(separator):
                data = data[:-len(separator)]
            return data.split(separator) if data else []
        if self.variable:
            raise RecordError(self.root.name, "the records' length follows their counts (OCCURS DEPENDING ON): "
                              "records end to end cannot be told apart; write them as lines or variable-length "
                              "records (RDW)")
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
            data.count(separator, 0, offset) + 1, len(line), excerpt(line), article, length, self.root.name,
            " (it ends in \\r: lines must end in \\n alone)" if line.endswith(b"\r") and separator == b"\n" else "")

    def decode_json(self, data: bytes, blank_as_zero: bool = False, trailing: str = "exact") -> str:
        """One record → its JSON text, as ``decode`` reads it (numbers digit for digit), at the
        speed of the standard library's C encoder: what a dataset's conversion runs on."""
        _check_trailing(trailing)
        return fragment(self._decode(data, "", blank_as_zero, trailing, marked=True))

    def _decode(self, data: bytes, path: str, blank_as_zero: bool, trailing: str = "exact",
                marked: bool = False) -> Any:
        if not self.variable and len(data) != self.record_length and (
                trailing == "exact" or len(data) < self.record_length):
            raise RecordError(path or self.root.name, "record is %d bytes; the copybook describes %d"
                              % (len(data), self.record_length))
        decode = self._decoders.get((blank_as_zero, marked))
        if decode is None:
            decode = self._decoders[blank_as_zero, marked] = _decoder(self.root, self.encoding, blank_as_zero,
                                                                      self._pickers, marked)
        try:
            try:
                text: Optional[str] = self._record_text(data)
            except UnicodeDecodeError:  # a byte outside the code page: the careful decoder names its field
                text = None
            state = _State(text)
            value, end = decode(data, 0, state)
        except RecordError as exc:
            raise (exc.under(path) if path else exc if exc.field else RecordError(self.root.name, exc.message)) \
                from None
        if end > len(data):
            raise RecordError(path or self.root.name, "record is %d bytes; its counts make it %d" % (len(data), end))
        if end < len(data) and trailing != "ignored":
            rest = data[end:]
            if trailing == "exact" or rest.strip(self.encoding.space) and rest.strip(b"\0"):
                raise RecordError(path or self.root.name, "record is %d bytes; %s %d, and the %d bytes after it "
                                  "(%s) are not padding" % (
                                      len(data), "its counts make it" if self.variable else "the copybook describes",
                                      end, len(rest), excerpt(rest)) if trailing == "padding" else
                                  "record is %d bytes; its counts make it %d" % (len(data), end))
        return value


def _check_trailing(trailing: str) -> None:
    """A mistyped ``trailing`` would otherwise read as ``padding``, in silence."""
    if trailing not in TRAILING:
        raise ValueError("trailing must be one of %s, not %r" % (", ".join(TRAILING), trailing))


# -- the selector ------------------------------------------------------------------------------

class _Pick:
    """A selector at work: a record's bytes → the view its segment-id field chooses."""

    def __init__(self, field: Field, offset: int, read: Callable[[bytes], Any], choices: Dict[str, Field],
                 default: Optional[Field]) -> None:
        self.field, self.offset, self.read, self.choices, self.default = field, offset, read, choices, default

    def __call__(self, record: bytes) -> Field:
        raw = record[self.offset:self.offset + self.field.size]
        try:
            value = self.read(raw)
        except ValueError as exc:
            raise RecordError(self.field.json_name, "the selector's field: %s" % exc) from None
        key = value if isinstance(value, str) else str(value)
        view = self.choices.get(key)
        if view is None and not isinstance(value, str):
            view = next((v for k, v in self.choices.items() if _same_number(k, value)), None)
        view = view or self.default
        if view is None:
            raise RecordError(self.field.json_name, "%r selects no view (the selector maps %s; add *:VIEW for any "
                              "other value)" % (key, ", ".join(repr(k) for k in self.choices)))
        return view


def _selection(root: Field, selector: Selector, encoding: DataEncoding) -> Tuple[int, _Pick]:
    """(the id of the REDEFINES' first item, the function from a record to its chosen view)."""
    places = _fixed_places(root)
    found = [(field, offset) for field, offset in places if _named(field, selector.field) and not field.children]
    if not found:
        raise ValueError("the selector's field %s is no elementary item at a fixed place in the record (before any "
                         "OCCURS DEPENDING ON table, in no table)" % selector.field)
    field, offset = found[0]
    views: Dict[str, Field] = {}
    for name in selector.names():
        matches = [f for f in parser._walk(root) if _named(f, name) and (f.redefines is not None or f.views)]
        if not matches:
            raise ValueError("the selector's view %s is no item of a REDEFINES (nor a 01 record)" % name)
        views[name] = matches[0]
    bases = {id(view.redefines or view) for view in views.values()}
    if len(bases) > 1:
        raise ValueError("the selector's views %s are not all views of one REDEFINES" % ", ".join(views))
    base = next(iter(views.values()))
    base = base.redefines or base
    read = decoder(field, encoding, True)
    choices = {key: views[name] for key, name in selector.views.items()}
    return id(base), _Pick(field, offset, read, choices, views[selector.default] if selector.default else None)


def _named(field: Field, name: str) -> bool:
    """Whether ``name`` (a COBOL name, or a JSON name, in any case) names the field."""
    return field.name == name or field.json_name == name.lower().replace("-", "_")


def _same_number(text: str, value: Decimal) -> bool:
    try:
        return Decimal(text) == value
    except ArithmeticError:
        return False


def _fixed_places(root: Field) -> List[Tuple[Field, int]]:
    """Every item at a fixed offset in the record (in no table, before any varying table)."""
    places: List[Tuple[Field, int]] = []

    def walk(field: Field, offset: int) -> bool:
        """False once a table whose length varies is met: nothing after it has a fixed place."""
        places.append((field, offset))
        cursor = offset
        for child in field.children:
            start = starts.get(id(child.redefines), cursor) if child.redefines is not None else cursor + child.slack
            starts[id(child)] = start
            if child.occurs == 1 and child.depending_on is None:
                if not walk(child, start):
                    return False
            if child.redefines is None:
                cursor = start + child.size * child.occurs
            if child.depending_on is not None or child.variable:
                return False
        return True
    starts: Dict[int, int] = {}
    walk(root, 0)
    return places


# -- decoding ----------------------------------------------------------------------------------

def _decoder(field: Field, encoding: DataEncoding, blank_as_zero: bool, pickers: Dict[int, _Pick],
             marked: bool = False) -> _Decode:
    """The function (record, offset, state) → (the JSON value of ``field``, the offset after it)."""
    if not field.children:
        read = decoder(field, encoding, blank_as_zero, marked and not field.is_count)
        size = field.size
        count = id(field) if field.is_count else None
        mark = NUMBER_MARK if marked else ""

        def leaf(data: bytes, offset: int, state: _State) -> Tuple[Any, int]:
            end = offset + size
            if end > len(data):
                raise _at_end(data, end) or RecordError("", "cut short")
            try:
                value = read(data[offset:end])
            except (ValueError, IndexError) as exc:
                raise RecordError("", str(exc)) from None
            if count is not None:
                state.counts[count] = int(value)
                if mark:
                    value = mark + str(value) + mark
            return value, end
        return leaf
    steps: List[Tuple[Any, ...]] = []
    for child in field.children:
        if child.redefines is not None:
            continue  # decoded with its base, below
        if child.views:
            steps.append(_region(child, encoding, blank_as_zero, pickers, marked))
        elif child.is_filler:
            steps.append((None, child.slack + child.size * child.occurs if not child.depending_on else 0, None))
            if child.depending_on is not None:
                steps[-1] = ("", child.slack, _table(child, encoding, blank_as_zero, pickers, marked))
        elif child.occurs > 1 or child.depending_on is not None:
            steps.append((child.json_name, child.slack, _table(child, encoding, blank_as_zero, pickers, marked)))
        else:
            steps.append((child.json_name, child.slack, _decoder(child, encoding, blank_as_zero, pickers, marked)))
    plan = tuple(steps)

    def group(data: bytes, offset: int, state: _State) -> Tuple[Any, int]:
        out: Dict[str, Any] = {}
        for key, slack, decode in plan:
            if decode is None:  # FILLER: not read, but the record must hold it
                offset += slack
                if offset > len(data):
                    raise RecordError("", "the record ends at byte %d, inside a FILLER (which ends at byte %d)"
                                      % (len(data), offset))
                continue
            try:
                value, offset = decode(data, offset + slack, state)
            except RecordError as exc:
                raise exc.under(key) if key else exc from None
            if key is None or key == "":
                if isinstance(value, dict):
                    out.update(value)  # a region's views, each under its own name
                continue
            out[key] = value
        return out, offset
    return compile_group([c for c in field.children if c.redefines is None], plan, group, encoding, blank_as_zero,
                         marked)


def _at_end(data: bytes, end: int) -> Optional[RecordError]:
    if end > len(data):
        return RecordError("", "the record ends at byte %d, inside this field (which ends at byte %d): is the "
                               "record cut short, or a count wrong?" % (len(data), end))
    return None


def _table(field: Field, encoding: DataEncoding, blank_as_zero: bool, pickers: Dict[int, _Pick],
           marked: bool = False) -> _Decode:
    entry = _decoder(_one(field), encoding, blank_as_zero, pickers, marked)
    count = field.depending_on
    least, most = field.occurs_min, field.occurs

    def table(data: bytes, offset: int, state: _State) -> Tuple[Any, int]:
        if count is None:
            length = most
        else:
            length = state.counts[id(count)]
            if not least <= length <= most:
                raise RecordError("", "its count %s (%s) is %d; OCCURS %d TO %d DEPENDING ON it allows %d to %d"
                                  % (count.name, count.json_name, length, least, most, least, most))
        items = []
        for index in range(length):
            try:
                item, offset = entry(data, offset, state)
            except RecordError as exc:
                raise exc.under("[%d]" % index) from None
            items.append(item)
        return items, offset
    return table


def _one(field: Field) -> Field:
    """One entry of a table: the field without its OCCURS."""
    entry = Field(field.level, field.name, field.line)
    entry.__dict__.update(field.__dict__)
    entry.occurs, entry.occurs_min, entry.depending_on, entry.views, entry.redefines = 1, 1, None, [], None
    return entry


def _region(base: Field, encoding: DataEncoding, blank_as_zero: bool, pickers: Dict[int, _Pick],
            marked: bool = False) -> Tuple[Any, ...]:
    """The step for a REDEFINES: the item and its views over the same bytes."""
    members = [m for m in [base] + base.views if not m.is_filler]
    readers = [(m, m.json_name, (_table(m, encoding, blank_as_zero, pickers, marked) if m.occurs > 1
                                 else _decoder(m, encoding, blank_as_zero, pickers, marked))) for m in members]
    size = base.size * base.occurs
    pick = pickers.get(id(base))
    records = base.level == 1  # a copybook's 01 records: each kind of record is its own length

    def region(data: bytes, offset: int, state: _State) -> Tuple[Any, int]:
        out: Dict[str, Any] = {}
        first: Optional[RecordError] = None
        if not records and offset + size > len(data):  # a view may read less; the record must hold it all
            raise RecordError(base.json_name, "the record ends at byte %d, inside %s (which ends at byte %d)"
                              % (len(data), base.name, offset + size))
        if pick is not None:
            chosen = pick(data)
            for member, key, read in readers:
                if member is chosen:
                    try:
                        out[key], end = read(data, offset, state)
                    except RecordError as exc:
                        raise exc.under(key) from None
                    return out, end if records else offset + size
        ends = [offset]
        for member, key, read in readers:
            try:
                out[key], end = read(data, offset, state)
                ends.append(end)
            except RecordError as exc:
                out[key] = None  # not a valid view of these bytes
                first = first or exc.under(key)
        if first is not None and all(value is None for value in out.values()):
            raise first
        return out, max(ends) if records else offset + size

    return (None, base.slack, region)


# -- encoding ----------------------------------------------------------------------------------

def _encoder(field: Field, encoding: DataEncoding) -> _Encode:
    """The function (JSON value, the record so far, state) that appends ``field``'s bytes."""
    if not field.children:
        write = encoder(field, encoding)
        count = id(field) if field.is_count else None

        def leaf(value: Any, out: bytearray, state: _State) -> None:
            try:
                out += write(value)
                if count is not None:
                    state.counts[count] = int(as_decimal(field, value))
            except RecordError:
                raise
            except ValueError as exc:
                raise RecordError("", str(exc)) from None
        return leaf
    steps: List[Tuple[Any, ...]] = []
    names: Set[str] = set()
    for child in field.children:
        if child.redefines is not None:
            continue
        if child.views:
            members = [m for m in [child] + child.views if not m.is_filler]
            names.update(m.json_name for m in members)
            steps.append((None, child.slack, _encode_region(child, members, encoding)))
        elif child.is_filler and child.depending_on is not None:  # as many blank entries as its count says
            steps.append((None, child.slack, _blank_table(child, encoding)))
        elif child.is_filler:
            steps.append((None, child.slack, _blank(child, encoding) * child.occurs))
        else:
            names.add(child.json_name)
            step = _encode_table(child, encoding) if child.occurs > 1 or child.depending_on else \
                _encoder(child, encoding)
            steps.append((child.json_name, child.slack, step))
    plan = tuple(steps)
    known = frozenset(names)

    def group(value: Any, out: bytearray, state: _State) -> None:
        if not isinstance(value, dict):
            raise RecordError("", "expected an object, got %s" % kind_of(value))
        twice = getattr(value, "duplicate", None)
        if twice is not None:
            raise RecordError(twice, "given twice in the event")
        if not known.issuperset(value):
            unknown = sorted(set(value) - known)
            raise RecordError("", "unknown field%s %s" % ("s" if len(unknown) > 1 else "", ", ".join(unknown)))
        for key, slack, write in plan:
            if slack:
                out += bytes(slack)
            if key is None:
                if isinstance(write, bytes):
                    out += write
                else:
                    write(value, out, state)
                continue
            if key not in value:
                raise RecordError(key, "missing")
            try:
                write(value[key], out, state)
            except RecordError as exc:
                raise exc.under(key) from None
    return group


def _encode_table(field: Field, encoding: DataEncoding) -> _Encode:
    entry = _encoder(_one(field), encoding)
    count = field.depending_on
    least, most = field.occurs_min, field.occurs
    blank = _blank(_one(field), encoding)

    def table(value: Any, out: bytearray, state: _State) -> None:
        if not isinstance(value, list):
            raise RecordError("", "expected a list of %s items, got %s" % (
                "up to %d" % most if count is None else "%d to %d" % (least, most), kind_of(value)))
        if len(value) > most or (count is not None and len(value) < least):
            raise RecordError("", "%d items, but OCCURS %s" % (len(value), most if count is None
                                                                else "%d TO %d" % (least, most)))
        if count is not None and state.counts.get(id(count)) != len(value):
            raise RecordError("", "%d items, but its count %s (%s) is %s: make them agree" % (
                len(value), count.name, count.json_name, state.counts.get(id(count))))
        for index, item in enumerate(value):
            try:
                entry(item, out, state)
            except RecordError as exc:
                raise exc.under("[%d]" % index) from None
        if count is None:
            out += blank * (most - len(value))  # the rest of the table: blank
    return table


def _blank_table(field: Field, encoding: DataEncoding) -> _Encode:
    """A FILLER table whose count varies: its blank entries, as many as the count."""
    blank, count = _blank(_one(field), encoding), field.depending_on
    assert count is not None

    def filler(value: Any, out: bytearray, state: _State) -> None:
        length = state.counts.get(id(count), 0)
        if not field.occurs_min <= length <= field.occurs:
            raise RecordError(count.json_name, "%d; OCCURS %d TO %d DEPENDING ON it allows %d to %d" % (
                length, field.occurs_min, field.occurs, field.occurs_min, field.occurs))
        out += blank * length
    return filler


def _encode_region(base: Field, members: List[Field], encoding: DataEncoding) -> _Encode:
    writers = [(m, m.json_name, _encode_table(m, encoding) if m.occurs > 1 else _encoder(m, encoding))
               for m in members]
    size = base.size * base.occurs

    def region(value: Dict[str, Any], out: bytearray, state: _State) -> None:
        given = [(m, key, write) for m, key, write in writers if value.get(key) is not None]
        if len(given) != 1:
            names = ", ".join(key for _, key, _ in writers)
            raise RecordError("", "give exactly one of %s (they REDEFINE the same bytes), not %s" % (
                names, "none" if not given else " and ".join(key for _, key, _ in given)))
        member, key, write = given[0]
        start = len(out)
        try:
            write(value[key], out, state)
        except RecordError as exc:
            raise exc.under(key) from None
        if base.level != 1:  # a copybook's 01 records are each their own length
            out += encoding.space * (size - (len(out) - start))
        state.written.append(member)
    return region


def _blank(field: Field, encoding: DataEncoding) -> bytes:
    """One occurrence as INITIALIZE leaves it (a varying table: empty)."""
    if field.children:
        parts = []
        for child in field.children:
            if child.redefines is not None:
                continue
            one = _blank(child, encoding)
            parts.append(bytes(child.slack) + (b"" if child.depending_on is not None else one * child.occurs))
            if child.views:
                parts[-1] = parts[-1].ljust(child.slack + child.size * child.occurs, encoding.space)
        return b"".join(parts)
    if field.kind == "text":
        return encoding.space * field.size
    return encoder(field, encoding)(Decimal(0))


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
                if child.redefines is not None:
                    continue  # its bytes are its base's, looked at as the base
                offset += child.slack
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


def _line_byte(record: bytes, path: str) -> Optional[RecordError]:
    """A byte that would break a line read by ACCEPT, named by its place (a record whose
    fields move with its counts)."""
    for byte, what in _BREAKS_ACCEPT.items():
        where = record.find(bytes((byte,)))
        if where >= 0:
            return RecordError(path or "event", "byte %d of the record is %s; keep packed and binary fields out of "
                               "records read with ACCEPT (file mode is binary-safe)" % (where, what))
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
                 records: str = "one", blank_as_zero: bool = False, variable: bool = False) -> None:
        if records not in RECORD_SHAPES:
            raise ValueError("records must be one of %s, not %r" % (", ".join(RECORD_SHAPES), records))
        self.inbound = inbound
        self.outbound = outbound
        self.separator = separator
        self.records = records
        self.blank_as_zero = blank_as_zero
        self.variable = variable  # file mode: each record behind its RDW (RECFM=V), not end to end

    def _padded(self, book: Copybook) -> bool:
        """Fixed-length records of a copybook whose records vary (a count, several 01s): each
        padded to the largest, as a fixed-length file holds them."""
        return book.variable and not self.variable and not self.separator

    def _frame(self, records: List[bytes]) -> bytes:
        """Records as the program reads them: each a line, each behind its RDW, or end to end."""
        if self.variable:
            return b"".join((len(record) + 4).to_bytes(2, "big") + b"\0\0" + record for record in records)
        if self.inbound is not None and self._padded(self.inbound):
            length, space = self.inbound.record_length, self.inbound.encoding.space
            return b"".join(record + space * (length - len(record)) for record in records)
        return b"".join(record + self.separator for record in records)

    def _unframe(self, data: bytes, book: Copybook) -> List[bytes]:
        if self._padded(book):
            if len(data) % book.record_length:
                raise RecordError("[%d]" % (len(data) // book.record_length), "the last record is %d bytes; the "
                                  "records are %d (the copybook's largest)" % (len(data) % book.record_length,
                                                                               book.record_length))
            return [data[i:i + book.record_length] for i in range(0, len(data), book.record_length)]
        if not self.variable:
            return book.split(data, self.separator)
        import io

        from .record_formats import RecordFormat, RecordFormatError, read_records

        try:
            return [record for _, _, record in read_records(io.BytesIO(data), RecordFormat("variable"))]
        except RecordFormatError as exc:
            raise RecordError("[%d]" % exc.index, "at byte %d of the output: %s" % (exc.offset, exc.message)) \
                from None

    def encode_event(self, body: bytes) -> Tuple[bytes, int]:
        """(the records, how many). Raises RecordError naming the field, ``[i].field`` in a batch."""
        if self.inbound is None:
            return body, _count_records(body)
        event = _load_event(body)
        if self.records == "one":
            if not isinstance(event, dict):
                raise RecordError("event", "the program takes one record: send a JSON object, not %s%s" % (
                    kind_of(event), " (BOOTSTRAP_SDK_EXEC_RECORDS=batch or one-for-one makes it take a list)"
                    if isinstance(event, list) else ""))
            items, paths = [event], [""]
        else:
            if not isinstance(event, list):
                raise RecordError("event", "the program takes a batch of records (BOOTSTRAP_SDK_EXEC_RECORDS=%s): "
                                  "send a JSON list of objects, not %s" % (self.records, kind_of(event)))
            items, paths = event, ["[%d]" % index for index in range(len(event))]
        records = []
        for item, path in zip(items, paths):
            record = self.inbound._encode(item, path)
            if self.separator and _CONTROL.search(record):  # rare: look for the field only then
                problem = _line_problem(self.inbound.root, record, 0, path, top=True) \
                    if not self.inbound.variable else _line_byte(record, path)
                if problem is not None:
                    raise problem
            records.append(record)
        return self._frame(records), len(items)

    def decode_output(self, data: bytes, count_in: int) -> Any:
        """The program's records as JSON: an object for ``one``, else a list; or ``data`` with no copybook."""
        if self.outbound is None:
            return data
        try:
            records = self._unframe(data, self.outbound)
        except RecordError as exc:
            if not self.separator:
                raise
            lengths = {len(line) for line in data.rstrip(self.separator).split(self.separator)}
            advice = ("every line is %d bytes: does the output copybook describe the record the program writes?"
                      % lengths.pop() if len(lengths) == 1 and data.count(self.separator) > 1 else
                      "write debug output UPON SYSERR (stderr); stdout is for %s records only"
                      % self.outbound.root.name)
            raise RecordError("output", "output %s: %s" % (exc.message, advice)) from None
        trailing = "padding" if self._padded(self.outbound) else "exact"
        if self.records == "one":
            if len(records) != 1:
                raise RecordError("output", "the program wrote no record" if not records else
                                  "the program wrote %d records; it takes one record and must write one"
                                  % len(records))
            return self.outbound._decode(records[0], "", self.blank_as_zero, trailing)
        if self.records == "one-for-one" and len(records) != count_in:
            raise RecordError("output", "%d record%s in, %d out: the program must write one record for each "
                              "(BOOTSTRAP_SDK_EXEC_RECORDS=one-for-one)" % (
                                  count_in, "" if count_in == 1 else "s", len(records)))
        return [self.outbound._decode(record, "[%d]" % index, self.blank_as_zero, trailing)
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
                                  % (self.parameters[index][1].root.name, kind_of(event)))
            values[index] = (event, "")
        elif self.inputs:
            event = _load_event(body)
            names = [self.name(i) for i in self.inputs]
            if not isinstance(event, dict):
                raise RecordError("event", "the program takes %d records: send a JSON object with the members %s, "
                                  "not %s" % (len(names), ", ".join(names), kind_of(event)))
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
                parts.append(book._encode(value, path).ljust(book.record_length, book.encoding.space))
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
            return self.parameters[index][1]._decode(records[index], "", self.blank_as_zero, "ignored")
        result = {}
        for index in self.outputs:
            name = self.name(index)
            result[name] = self.parameters[index][1]._decode(records[index], name, self.blank_as_zero, "ignored")
        return result or None
