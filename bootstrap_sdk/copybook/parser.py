"""Copybook text → a tree of fields: the layout of its records.

A copybook's 01 records become trees of ``Field``s with their sizes, laid out as GnuCOBOL
lays them out — or, with ``ibm=True`` (mainframe data), as IBM Enterprise COBOL does: the
one difference the codec needs is a binary item of 1 to 4 digits, a halfword there and a
byte or two here. Several 01 records are kinds of record sharing their bytes (a
multi-segment file): the tree's root is then a group of them, the first redefined by the
others. Supported: PIC X/A (text), PIC 9 with S, V and P (``S9(5)V99``, ``9(3)PP``,
``VPP99``), numeric-edited pictures (``edited``); USAGE DISPLAY (zoned: trailing overpunch
by default, or ``SIGN LEADING``/``TRAILING`` ``[SEPARATE]``), COMP-3/PACKED-DECIMAL, COMP-6,
COMP/BINARY/COMP-4 (big-endian), COMP-5 (native), COMP-X, COMP-1/COMP-2 (floats) and
GnuCOBOL's FLOAT-SHORT/-LONG; USAGE and SIGN on a group; groups; ``OCCURS n`` and
``OCCURS m TO n DEPENDING ON`` (nested too, its count a whole number before it);
``REDEFINES`` (the item just before, no larger unless at the 01 level); SYNCHRONIZED
binary and float items (the slack bytes before them laid out); FILLER; level-88
conditions and constants (level 78, ``CONSTANT AS``: no storage; a number among them may
be a count, ``OCCURS MAX-ITEMS``, ``X(NAME-LEN)``); VALUE, JUSTIFIED, BLANK WHEN ZERO,
EXTERNAL, GLOBAL. Fixed or free format (a copybook the two read differently is refused
unless a ``>>SOURCE FORMAT`` line says which), ``*>`` comments, continuation lines, a
UTF-8 byte-order mark.

Everything else is refused with a ``CopybookError`` that names the line and the clause
and says what to do: RENAMES, national and boolean items, pointers, indexes, the
fixed-size BINARY-LONG family, COMP-N, alphanumeric-edited and floating-point-edited
pictures, REDEFINES or SYNC where the layout cannot be known, and any word the reader
does not know — a copybook is read exactly as the compiler lays it out, or not at all.

JSON names are the COBOL names lower-cased with ``-`` as ``_``; a prefix every field of
a record shares (``PI-`` in ``PI-EMP-ID``, ``PI-HOURS``) is dropped.
"""

from __future__ import annotations

from itertools import zip_longest
from typing import TYPE_CHECKING, Dict, List, Optional, Tuple

if TYPE_CHECKING:
    from .edited import EditedPicture


class CopybookError(Exception):
    """The copybook itself cannot be used (says which entry and why)."""


class Field:
    """One entry of the record: a group (``children``) or an elementary item."""

    def __init__(self, level: int, name: str, line: int = 0) -> None:
        self.level = level
        self.name = name
        self.line = line        # where its entry starts in the copybook
        self.json_name = name.lower().replace("-", "_")
        self.children: List["Field"] = []
        self.occurs = 1
        self.picture = ""
        self.usage = ""         # as written (COMP-3, BINARY...), or inherited from its group
        self.kind = "group"     # group | text | zoned | packed | binary | float | edited
        self.digits = 0         # integer + fraction digits
        self.scale = 0          # digits after the implied point
        self.signed = False
        self.sign_leading = False
        self.sign_separate = False
        self.sign_nibble = True  # packed: False for COMP-6, whose last nibble is a digit
        self.blank_when_zero = False  # BLANK WHEN ZERO: the program writes 0 as spaces
        self.little_endian = False
        self.size = 0           # bytes of one occurrence (its largest, when a table inside depends on a count)
        self.redefines: Optional["Field"] = None  # the item whose bytes it shares (REDEFINES)
        self.views: List["Field"] = []  # on a redefined item: the items that redefine it
        self.occurs_min = 1     # OCCURS m TO n DEPENDING ON: m (occurs is n)
        self.depending_on: Optional["Field"] = None  # the count of an OCCURS DEPENDING ON table
        self.is_count = False   # some table's count: its decoded value decides that table's length
        self.align = 0          # SYNCHRONIZED: the boundary its offset in the record is a multiple of
        self.slack = 0          # bytes the compiler leaves before it for that alignment
        self.edit: Optional["EditedPicture"] = None  # kind "edited": how its text shows a number
        self.variable = False   # its size depends on a count (a DEPENDING ON table inside)

    @property
    def is_filler(self) -> bool:
        return self.name == "FILLER"

    def __repr__(self) -> str:
        return "Field(%s %s %s x%d, %d bytes)" % (self.level, self.name, self.picture or self.kind, self.occurs,
                                                  self.size)


# -- usages ------------------------------------------------------------------------------------

_USAGES = {
    "DISPLAY": "DISPLAY",
    "COMP-3": "COMP-3", "COMPUTATIONAL-3": "COMP-3", "PACKED-DECIMAL": "COMP-3",
    "COMP-6": "COMP-6", "COMPUTATIONAL-6": "COMP-6",
    "COMP": "COMP", "COMPUTATIONAL": "COMP", "COMP-4": "COMP", "COMPUTATIONAL-4": "COMP", "BINARY": "COMP",
    "COMP-5": "COMP-5", "COMPUTATIONAL-5": "COMP-5",
    "COMP-X": "COMP-X", "COMPUTATIONAL-X": "COMP-X",
    # floating point: 4 and 8 bytes, IBM hexadecimal in mainframe data, IEEE in GnuCOBOL's (the
    # data's encoding says which); GnuCOBOL's FLOAT-SHORT/LONG are the same two
    "COMP-1": "COMP-1", "COMPUTATIONAL-1": "COMP-1", "FLOAT-SHORT": "COMP-1",
    "COMP-2": "COMP-2", "COMPUTATIONAL-2": "COMP-2", "FLOAT-LONG": "COMP-2",
}
_FLOAT_USAGES = ("COMP-1", "COMP-2")
_BINARY_USAGES = ("COMP", "COMP-5", "COMP-X")
_SUPPORTED = "DISPLAY, COMP-3 (PACKED-DECIMAL), COMP-6, COMP (BINARY, COMP-4), COMP-5, COMP-X, COMP-1 and COMP-2"
_FIXED_BINARY = {  # usage: (bytes, the PIC that describes the same bytes)
    "BINARY-CHAR": (1, "S9(2) COMP-5"), "BINARY-SHORT": (2, "S9(4) COMP-5"), "BINARY-LONG": (4, "S9(9) COMP-5"),
    "BINARY-DOUBLE": (8, "S9(18) COMP-5"), "BINARY-C-LONG": (8, "S9(18) COMP-5"),
    "SIGNED-SHORT": (2, "S9(4) COMP-5"), "SIGNED-INT": (4, "S9(9) COMP-5"), "SIGNED-LONG": (8, "S9(18) COMP-5"),
    "UNSIGNED-SHORT": (2, "9(4) COMP-5"), "UNSIGNED-INT": (4, "9(9) COMP-5"), "UNSIGNED-LONG": (8, "9(18) COMP-5"),
}
_FLOATS = ("FLOAT-EXTENDED",
           "FLOAT-BINARY-32", "FLOAT-BINARY-64", "FLOAT-BINARY-128", "FLOAT-BINARY-7", "FLOAT-BINARY-16",
           "FLOAT-BINARY-34", "FLOAT-DECIMAL-7", "FLOAT-DECIMAL-16", "FLOAT-DECIMAL-34")
_ADDRESSES = ("POINTER", "PROGRAM-POINTER", "FUNCTION-POINTER", "PROCEDURE-POINTER", "INDEX", "OBJECT", "HANDLE",
              "WINDOW", "MUTEX", "THREAD", "SEMAPHORE", "EVENT")
_OTHER_USAGES = ("COMP-N", "COMPUTATIONAL-N", "COMP-0", "COMPUTATIONAL-0", "COMP-9", "COMP-15", "NATIONAL",
                 "DISPLAY-1", "BIT", "CONDITION-VALUE")


def _unsupported_usage(word: str) -> Optional[str]:
    """What to do about USAGE ``word``, which the codec does not read; None if it is no such usage."""
    if word in _FIXED_BINARY:
        size, picture = _FIXED_BINARY[word]
        return ("in the copybook the runtime reads, PIC %s describes the same %d byte%s (for values of up to %s "
                "digits)" % (picture, size, "" if size == 1 else "s", picture.split("(")[1].split(")")[0]))
    if word in _FLOATS:
        return ("the codec reads the 4- and 8-byte floats (COMP-1, COMP-2); describe the field as one of them, or "
                "as PIC S9(n)V9(m) DISPLAY or COMP-3, in the copybook and the program")
    if word in _ADDRESSES:
        return ("an address or an index means nothing outside the program: describe its bytes as FILLER "
                "(PIC X(n)), which the codec skips")
    if word in _OTHER_USAGES:
        return "the codec reads %s" % _SUPPORTED
    return None


# -- clause words ------------------------------------------------------------------------------

_FIGURATIVE = ("ZERO", "ZEROS", "ZEROES", "SPACE", "SPACES", "HIGH-VALUE", "HIGH-VALUES", "LOW-VALUE",
               "LOW-VALUES", "QUOTE", "QUOTES", "NULL", "NULLS")
_VALUE_WORDS = ("THRU", "THROUGH", "ALL", "&", "WHEN", "SET", "TO", "FALSE", "IS", "ARE") + _FIGURATIVE
_CLAUSE_WORDS = frozenset(("PIC", "PICTURE", "USAGE", "VALUE", "VALUES", "OCCURS", "REDEFINES", "RENAMES", "SIGN",
                           "LEADING", "TRAILING", "SYNC", "SYNCHRONIZED", "JUST", "JUSTIFIED", "BLANK", "EXTERNAL",
                           "GLOBAL", "IS", "BASED", "CONSTANT", "ANY", "TYPEDEF", "TYPE", "SAME", "GROUP-USAGE",
                           "DYNAMIC", "PROPERTY", "DEPENDING", "SEPARATE")) | frozenset(_USAGES) \
    | frozenset(_FIXED_BINARY) | frozenset(_FLOATS) | frozenset(_ADDRESSES) | frozenset(_OTHER_USAGES)
# Words that end a list of names (KEY IS, INDEXED BY) and are never the name of an entry.
_KEYWORDS = _CLAUSE_WORDS | frozenset(("TIMES", "INDEXED", "ASCENDING", "DESCENDING", "KEY", "BY", "TO", "ON",
                                       "CHARACTER", "RIGHT", "LEFT", "WHEN", "AS", "ARE", "THRU", "THROUGH", "FALSE",
                                       "ALL")) | frozenset(_FIGURATIVE)
_LEVELS = frozenset(list(range(1, 50)) + [66, 77, 78, 88])
_LITERAL_PREFIXES = ("X", "Z", "N", "NX", "B", "BX", "H", "U", "UX")


class _Token:
    __slots__ = ("line", "kind", "text")

    def __init__(self, line: int, kind: str, text: str) -> None:
        self.line = line
        self.kind = kind    # word | literal | period
        self.text = text

    def __repr__(self) -> str:
        return "_Token(%d, %s, %r)" % (self.line, self.kind, self.text)


def _is_level(token: Optional[_Token]) -> bool:
    return (token is not None and token.kind == "word" and token.text.isascii() and token.text.isdigit()
            and len(token.text) <= 2 and int(token.text) in _LEVELS)


def _is_name(text: str) -> bool:
    """Whether ``text`` can be the name of an entry: a COBOL word with a letter, not a keyword."""
    return (any(c.isalpha() for c in text) and all(c.isalnum() or c in "-_:" for c in text)
            and text.upper() not in _KEYWORDS)


def _is_number(text: str) -> bool:
    body = text[1:] if text[:1] in "+-" else text
    return bool(body) and body.isascii() and body.replace(".", "", 1).replace(",", "", 1).isdigit()


# -- source text → tokens ----------------------------------------------------------------------

def _fixed_like(line: str) -> bool:
    """Whether fixed format can read the line: an indicator in column 7 (columns 1-6 are anything)."""
    return len(line) <= 6 or line[6] in " *-/Dd$" or line[6:].lstrip().startswith(">>")


def _directive(code: str) -> Optional[str]:
    """The directive on a line's code (``>>SOURCE FORMAT IS FREE``, ``$SET ...``), upper-cased, or None."""
    stripped = code.strip()
    if stripped.startswith(">>") or (stripped.startswith("$") and stripped[1:2].isalpha()):
        return stripped.upper()
    return None


def _source_format(directive: str) -> Optional[str]:
    """``free`` or ``fixed`` for a directive that sets the source format, else None."""
    words = directive.replace('"', " ").replace("'", " ").replace("(", " ").replace(")", " ").split()
    if words[0] == ">>" and len(words) > 1:
        words = [">>" + words[1]] + words[2:]
    if words[0] == ">>SOURCE" and [w for w in words[1:] if w not in ("FORMAT", "IS")] in (["FREE"], ["FIXED"]):
        return words[-1].lower()
    if words[0] == "$SET" and words[1:] in (["SOURCEFORMAT", "FREE"], ["SOURCEFORMAT", "FIXED"]):
        return words[2].lower()
    return None


def _code(line: str, fixed: bool) -> Tuple[str, str]:
    """(the indicator, the code) of a line: columns 7 and 8-72 in fixed format (a directive from column
    7), the whole line in free format (``*`` for a comment line)."""
    if not fixed:
        stripped = line.lstrip()
        return ("*" if stripped.startswith("*") else " "), line
    indicator = line[6] if len(line) > 6 else " "
    if indicator in "$>":
        return " ", line[6:72]
    return indicator, line[7:72]


def _lines(text: str) -> List[str]:
    """The lines as cobc sees them: split at newlines only (\x85 is latin-1 text), tabs expanded."""
    return [raw.rstrip("\r").expandtabs(8) for raw in text.split("\n")]


def _tokens(lines: List[str], source: str, fixed: bool) -> List[_Token]:
    """The copybook's words, literals and separator periods, each with its line number, read in fixed
    or free format from the start (a >>SOURCE FORMAT directive switches)."""
    tokens: List[_Token] = []
    open_quote = ""  # a literal the last line left open (fixed format: continued on the next)
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        indicator, code = _code(line, fixed)
        if indicator in "*/Dd":  # comments; debugging lines (compiled only WITH DEBUGGING MODE)
            continue
        if indicator not in " -":
            raise CopybookError("%s line %d: %r in column 7 is no indicator GnuCOBOL knows (fixed format: "
                                "columns 1-6 sequence numbers, 7 the indicator, 8-72 the code)"
                                % (source, number, indicator))
        directive = _directive(code)
        if directive is not None and not open_quote:
            if directive.split()[0] == ">>D":  # a debugging line: compiled only WITH DEBUGGING MODE
                continue
            switched = _source_format(directive)
            if switched is None:
                raise CopybookError("%s line %d: the directive %s is not supported: remove it from the copybook "
                                    "the runtime reads (>>SOURCE FORMAT IS FREE or FIXED is read)"
                                    % (source, number, directive.split()[0]))
            fixed = switched == "fixed"
            continue
        if open_quote and indicator != "-":
            raise CopybookError("%s line %d: a literal is not closed: end it with %s (or continue it on a line with "
                                "- in column 7)" % (source, tokens[-1].line, open_quote))
        open_quote = _lex(code, number, tokens, indicator == "-", open_quote, fixed, source)
    if open_quote:
        raise CopybookError("%s line %d: a literal is not closed: end it with %s" % (source, tokens[-1].line,
                                                                                  open_quote))
    return tokens


def _continued_literal(quote: str, fixed: bool, source: str, number: int) -> str:
    """A literal left open at the end of a line: fixed format continues it on the next
    line (the quote that will close it is returned); free format has no continuation."""
    if not fixed:
        raise CopybookError("%s line %d: a literal is not closed: end it with %s on the same line"
                            % (source, number, quote))
    return quote


def _lex(code: str, number: int, tokens: List[_Token], continuation: bool, open_quote: str, fixed: bool,
         source: str) -> str:
    """Adds the tokens of one line's code; returns the quote of a literal left open, or ''."""
    i, end = 0, len(code)
    if continuation:
        if open_quote:  # the literal goes on after the quote that starts the continuation
            while i < end and code[i] == " ":
                i += 1
            if i == end or code[i] != open_quote:
                raise CopybookError("%s line %d: a continued literal must go on after a %s"
                                    % (source, number, open_quote))
            i, open_quote = _literal_end(code, i + 1, open_quote)
            if open_quote:
                return open_quote
        elif tokens and tokens[-1].kind == "word":  # a word continued: its rest follows directly
            while i < end and code[i] == " ":
                i += 1
            j = _word_end(code, i)
            tokens[-1].text += code[i:j]
            i = j
        else:  # cobc would glue it to whatever ends the line before: a period, a literal
            raise CopybookError("%s line %d: a continuation line (- in column 7) that continues no word or literal "
                                "of line %d: put a space in column 7" % (source, number, tokens[-1].line if tokens
                                                                         else number))
    while i < end:
        char = code[i]
        if char.isspace():
            i += 1
        elif code.startswith("*>", i):
            break
        elif char == "." and _separator_at(code, i + 1):
            tokens.append(_Token(number, "period", "."))
            i += 1
        elif char in ",;" and _separator_at(code, i + 1):
            i += 1
        elif char in "'\"":
            j, quote = _literal_end(code, i + 1, char)
            tokens.append(_Token(number, "literal", code[i:j]))
            if quote:
                return _continued_literal(quote, fixed, source, number)
            i = j
        else:
            j = _word_end(code, i)
            word = code[i:j]
            if j < end and code[j] in "'\"" and word.upper() in _LITERAL_PREFIXES:  # X'0A', N"..."
                k, quote = _literal_end(code, j + 1, code[j])
                tokens.append(_Token(number, "literal", code[i:k]))
                if quote:
                    return _continued_literal(quote, fixed, source, number)
                i = k
                continue
            tokens.append(_Token(number, "word", word))
            i = j
    return ""


def _separator_at(code: str, i: int) -> bool:
    """Whether a period or comma before ``i`` is a separator: followed by a space, the end, or a comment."""
    return i >= len(code) or code[i].isspace() or code.startswith("*>", i)


def _word_end(code: str, i: int) -> int:
    j = i
    while j < len(code) and not code[j].isspace() and code[j] not in "'\"" and not code.startswith("*>", j):
        j += 1
    while j > i + 1 and code[j - 1] in ".,;" and _separator_at(code, j):  # X(6). -> X(6) and a period
        j -= 1
    return j


def _literal_end(code: str, i: int, quote: str) -> Tuple[int, str]:
    """(the index after the closing quote, '') — or (the end, quote) when the line ends first."""
    while True:
        j = code.find(quote, i)
        if j < 0:
            return len(code), quote
        if code.startswith(quote * 2, j):  # a doubled quote is a quote inside the literal
            i = j + 2
            continue
        return j + 1, ""


def _entries(tokens: List[_Token]) -> List[Tuple[List[_Token], bool]]:
    """Each entry's tokens, and whether a period ended it."""
    entries: List[Tuple[List[_Token], bool]] = []
    current: List[_Token] = []
    for token in tokens:
        if token.kind == "period":
            if current:
                entries.append((current, True))
            current = []
        else:
            current.append(token)
    if current:
        entries.append((current, False))
    return entries


# -- one entry's clauses -----------------------------------------------------------------------

class _Entry:
    """What one data description entry says, before it is placed in the tree."""

    def __init__(self, level: int, name: str, line: int) -> None:
        self.level = level
        self.name = name
        self.line = line
        self.picture = ""
        self.picture_line = line
        self.usage = ""
        self.usage_line = line
        self.occurs = 1
        self.sign = ""          # LEADING | TRAILING (as written)
        self.sign_separate = False
        self.sync = False
        self.constant = level == 78  # a level 78, or an 01 ... CONSTANT AS: a name for a value, no storage
        self.values: List[str] = []  # a VALUE clause's words, as written
        self.seen: Dict[str, int] = {}
        self.redefines = ""     # the name it redefines
        self.depending: List[str] = []  # DEPENDING ON: the count's name, then its qualifiers (OF/IN)
        self.depending_line = line
        self.occurs_min = 1


class _Clauses:
    """Reads one entry's clauses; every word must belong to a clause it knows."""

    def __init__(self, tokens: List[_Token], entry: _Entry, source: str,
                 constants: Optional[Dict[str, str]] = None) -> None:
        self.tokens = tokens
        self.constants = constants or {}
        self.entry = entry
        self.who = "%02d %s" % (entry.level, entry.name)
        self.source = source
        self.i = 0

    def fail(self, line: int, message: str) -> CopybookError:
        return CopybookError("%s line %d: %s" % (self.source, line, message))

    def peek(self, ahead: int = 0) -> Optional[_Token]:
        index = self.i + ahead
        return self.tokens[index] if index < len(self.tokens) else None

    def word(self, *choices: str) -> Optional[str]:
        """The next token's text (upper-cased) if it is a word among ``choices``: taken."""
        token = self.peek()
        if token is not None and token.kind == "word" and token.text.upper() in choices:
            self.i += 1
            return token.text.upper()
        return None

    def next_entry_here(self) -> bool:
        """Whether the next tokens start another entry (``05 R-B``, ``05 PIC``): a period is missing."""
        token, after = self.peek(), self.peek(1)
        if not _is_level(token):
            return False
        if after is None or after.kind != "word":
            return False
        return after.text.upper() in ("PIC", "PICTURE") or _is_name(after.text)

    def operand(self, clause: _Token, missing: str) -> _Token:
        """The word a clause needs (PIC's picture, OCCURS' count...); ``missing`` says what it is."""
        token = self.peek()
        if token is None or token.kind != "word" or self.next_entry_here():
            raise self.fail(clause.line, missing)
        self.i += 1
        return token

    def parse(self) -> None:
        entry, who = self.entry, self.who
        while self.i < len(self.tokens):
            token = self.tokens[self.i]
            if _is_level(token):
                raise self.level_inside()
            if token.kind != "word":
                raise self.unexpected(token)
            word = token.text.upper()
            self.i += 1
            if entry.level in (78, 88) and word not in ("VALUE", "VALUES"):
                raise self.fail(token.line, "%s in %s: a level %02d entry takes only VALUE (a %s); is it meant as "
                                            "a data item, with a level from 01 to 49?" % (
                                                word[:40], who, entry.level,
                                                "condition" if entry.level == 88 else "constant"))
            if word in ("PIC", "PICTURE"):
                self.once("PIC", token)
                self.word("IS")
                picture = self.operand(token, "PIC without a picture string (%s): write the picture after PIC, "
                                              "e.g. PIC X(6) or PIC S9(5)V99" % who)
                entry.picture, entry.picture_line = picture.text.upper(), picture.line
            elif word == "USAGE":
                self.word("IS")
                self.usage(self.operand(token, "USAGE without a usage (%s): write one, e.g. USAGE COMP-3" % who))
            elif word in _USAGES or _unsupported_usage(word) is not None:
                self.usage(token)
            elif word == "CONSTANT" and self.i == 1 and entry.level in (1, 77):  # 01 MAX-N CONSTANT AS 10
                entry.constant = True
                self.word("AS")
                if not self.values() and not self.next_entry_here():
                    raise self.fail(token.line, "CONSTANT without a value (%s)" % who)
            elif word in ("VALUE", "VALUES"):
                self.once("VALUE", token)
                self.word("IS", "ARE")
                if not self.values() and not self.next_entry_here():
                    raise self.fail(token.line, "VALUE without a value (%s): write one, e.g. VALUE SPACES, or "
                                                "remove VALUE" % who)
            elif word == "OCCURS":
                self.occurs(token)
            elif word in ("SIGN", "LEADING", "TRAILING"):
                self.once("SIGN", token)
                if word == "SIGN":
                    self.word("IS")
                    word = self.word("LEADING", "TRAILING") or ""
                    if not word:
                        raise self.fail(token.line, "SIGN without LEADING or TRAILING (%s): write SIGN LEADING "
                                                    "or SIGN TRAILING, SEPARATE if the sign has a byte of its "
                                                    "own" % who)
                entry.sign = word
                if self.word("SEPARATE"):
                    entry.sign_separate = True
                    self.word("CHARACTER")
            elif word in ("SYNC", "SYNCHRONIZED"):
                self.once("SYNCHRONIZED", token)
                self.word("LEFT", "RIGHT")
                entry.sync = True
            elif word in ("JUST", "JUSTIFIED"):  # how MOVE aligns text: the bytes are the same
                self.once("JUSTIFIED", token)
                self.word("RIGHT")
            elif word == "BLANK":  # the program writes 0 as spaces, which the codec reads as 0
                self.once("BLANK WHEN ZERO", token)
                self.word("WHEN")
                if not self.word("ZERO", "ZEROS", "ZEROES"):
                    raise self.fail(token.line, "BLANK without WHEN ZERO (%s)" % who)
            elif word == "IS" and self.word("EXTERNAL", "GLOBAL"):  # where the storage is, not its layout
                pass
            elif word in ("EXTERNAL", "GLOBAL", "BASED"):
                if word == "EXTERNAL" and self.word("AS"):  # AS 'its name outside'
                    if self.peek() is None or self.next_entry_here():
                        raise self.fail(token.line, "EXTERNAL AS without a name (%s)" % who)
                    self.i += 1
            elif word == "REDEFINES":
                self.once("REDEFINES", token)
                redefined = self.operand(token, "REDEFINES without the name of the item it redefines (%s)" % who)
                entry.redefines = redefined.text.upper()
            elif word == "RENAMES":
                raise self.fail(token.line, "RENAMES is not supported (%s): leave the 66 level out" % who)
            elif word == "DEPENDING":
                raise self.fail(token.line, "DEPENDING ON without OCCURS (%s): write OCCURS m TO n TIMES "
                                            "DEPENDING ON a count" % who)
            else:
                self.i -= 1
                raise self.unexpected(token)

    def once(self, clause: str, token: _Token) -> None:
        if clause in self.entry.seen:
            raise self.fail(token.line, "a second %s clause in %s (the first is on line %d): remove one"
                            % (clause, self.who, self.entry.seen[clause]))
        self.entry.seen[clause] = token.line

    def usage(self, token: _Token) -> None:
        word = token.text.upper()
        advice = _unsupported_usage(word)
        if advice is not None or word not in _USAGES:
            raise self.fail(token.line, "USAGE %s is not supported (%s): %s" % (
                word, self.who, advice or "the codec reads %s" % _SUPPORTED))
        self.once("USAGE", token)
        self.entry.usage, self.entry.usage_line = _USAGES[word], token.line

    def values(self) -> int:
        """Skips a VALUE clause's literals: how many tokens. A level 88 takes a list (ranges, FALSE), a
        constant an expression; any other entry one literal, and more clauses may follow it."""
        taken = 0
        while True:
            token = self.peek()
            if token is None:
                return taken
            text = token.text.upper()
            after = self.peek(1)
            if self.next_entry_here() and after is not None:
                if self.entry.constant or self.entry.level == 88 or after.text.upper() not in ("PIC", "PICTURE"):
                    return taken  # "05 R-B" after the values: the next entry, its period missing
            if token.kind == "word" and not _is_number(text) and text not in _VALUE_WORDS \
                    and not self.entry.constant:  # a constant's value may be an expression: LENGTH OF R-A
                return taken
            self.i += 1
            taken += 1
            self.entry.values.append(token.text)
            if not self.entry.constant and self.entry.level != 88 and text not in ("ALL", "&", "IS") \
                    and self.word("&") is None:
                return taken

    def occurs(self, token: _Token) -> None:
        self.once("OCCURS", token)
        count = self.operand(token, "OCCURS without a count (%s): write how many, e.g. OCCURS 12" % self.who)
        try:
            number = _count(count.text, self.constants)
        except ValueError as exc:
            detail = exc.args[0] or ": a fixed count is required (a number, or a level 78 constant)"
            raise self.fail(token.line, "OCCURS %s (%s)%s" % (count.text[:20], self.who, detail)) from None
        least = None
        if self.word("TO"):
            least = number
            most = self.operand(token, "OCCURS %d TO without the largest count (%s)" % (number, self.who))
            try:
                number = _count(most.text, self.constants)
            except ValueError as exc:
                raise self.fail(token.line, "OCCURS %d TO %s (%s)%s" % (least, most.text[:20], self.who, exc.args[0]
                                                                         or ": a number is required")) from None
        self.word("TIMES")
        if self.word("DEPENDING"):
            self.word("ON")
            count = self.operand(token, "DEPENDING ON without the name of the count (%s)" % self.who)
            self.entry.depending = [count.text.upper()]
            while self.word("OF", "IN"):
                self.entry.depending.append(self.operand(token, "DEPENDING ON %s OF without a name (%s)" % (
                    count.text.upper(), self.who)).text.upper())
            self.entry.depending_line = count.line
            # OCCURS n DEPENDING ON (no TO) is IBM's form: from 0 to n
            self.entry.occurs_min = 0 if least is None else least
            if self.entry.occurs_min > number:
                raise self.fail(token.line, "OCCURS %d TO %d (%s): the smallest count is larger than the largest"
                                % (self.entry.occurs_min, number, self.who))
        elif least is not None:
            raise self.fail(token.line, "OCCURS %d TO %d without DEPENDING ON (%s): name the field that holds the "
                                        "count" % (least, number, self.who))
        self.entry.occurs = number
        if self.entry.occurs < 1:  # the codec would write a field the record's length leaves out
            raise self.fail(token.line, "OCCURS 0 (%s): a table needs at least one entry" % self.who)
        while True:
            if self.word("ASCENDING", "DESCENDING"):
                self.word("KEY")
                self.word("IS")
                self.names(token, "KEY IS")
            elif self.word("INDEXED"):
                self.word("BY")
                self.names(token, "INDEXED BY")
            else:
                return

    def names(self, clause: _Token, phrase: str) -> None:
        """Skips the names of a KEY IS or INDEXED BY phrase (index names take no bytes in the record)."""
        taken = 0
        while True:
            token = self.peek()
            if token is None or token.kind != "word" or not _is_name(token.text):
                break
            self.i += 1
            taken += 1
        if not taken:
            raise self.fail(clause.line, "OCCURS ... %s without a name (%s)" % (phrase, self.who))

    def level_inside(self) -> CopybookError:
        token, after = self.tokens[self.i], self.peek(1)
        name = after.text.upper() if after is not None and after.kind == "word" and _is_name(after.text) \
            else "FILLER"
        before = self.tokens[self.i - 1] if self.i else None
        return self.fail(token.line, "%s %s starts inside %s's entry: is a period missing at the end of line %d?"
                         % (token.text, name, self.entry.name, before.line if before else self.entry.line))

    def unexpected(self, token: _Token) -> CopybookError:
        before = self.tokens[self.i - 1] if self.i else None
        hint = ""
        if before is not None and before.line != token.line:
            hint = " (is a period missing at the end of line %d?)" % before.line
        what = token.text if token.kind == "word" else "the literal %s" % token.text
        return self.fail(token.line, "%s in %s is no clause this reader knows%s: it reads PIC, USAGE (%s), "
                                     "OCCURS n, SIGN, VALUE, JUSTIFIED, BLANK WHEN ZERO; remove it, or leave the "
                                     "copybook out and pass the program's bytes as they are"
                         % (what[:40], self.who, hint, _SUPPORTED))


# -- pictures ----------------------------------------------------------------------------------

_EDITING = "Z*+-$CRDB0/,.E"


def _count(text: str, constants: Dict[str, str]) -> int:
    """A count: digits, or the name of a constant (level 78, CONSTANT AS) whose value is digits."""
    value = constants.get(text.upper(), text)
    if value.isascii() and value.isdigit():
        if len(value.lstrip("0")) > 9:  # as cobc: and int() of a long string is slow, or refused
            raise ValueError(": at most 9 digits")
        return int(value)
    if text.upper() in constants:
        raise ValueError(": the constant %s is %s, which this reader does not compute; write the number" % (
            text.upper(), value[:40]))
    raise ValueError("")


def _picture(picture: str, constants: Optional[Dict[str, str]] = None) -> Tuple[str, int, int, bool]:
    """(category, digits or characters, scale, signed) of a PIC string; ValueError(why, what to do) if refused."""
    symbols: List[Tuple[str, int]] = []
    i = 0
    while i < len(picture):
        symbol = picture[i]
        i += 1
        count = 1
        if i < len(picture) and picture[i] == "(":
            close = picture.find(")", i)
            repeat = picture[i + 1:close] if close > 0 else ""
            try:
                count = _count(repeat, constants or {})
            except ValueError as exc:
                raise ValueError("is not a picture", "a repeat count is a number in parentheses, X(12)%s"
                                 % exc.args[0]) from None
            if count < 1:
                raise ValueError("is not a picture", "a repeat count must be at least 1")
            i = close + 1
        if symbols and symbols[-1][0] == symbol:
            symbols[-1] = (symbol, symbols[-1][1] + count)
        else:
            symbols.append((symbol, count))
    letters = {s for s, _ in symbols}
    if "N" in letters:
        raise ValueError("is a national (UTF-16) picture, which is not supported",
                         "text here is PIC X (latin-1); PIC N(n) takes 2n bytes, which FILLER PIC X(2n) skips")
    if "1" in letters:
        raise ValueError("is a boolean picture, which is not supported", "describe its bytes as FILLER PIC X(n)")
    if letters & {"X", "A"} and letters & set(_EDITING + "B"):
        raise ValueError("is an alphanumeric-edited picture, which is not supported",
                         "describe its bytes as PIC X(n): the codec reads them as text")
    if letters & set(_EDITING + "B") and letters <= set(_EDITING + "B9VSP"):
        return "edited", 0, 0, False  # edited.EditedPicture reads it
    if not letters <= set("SV9XAP"):
        raise ValueError("is not a picture the codec reads", "it reads PIC X, A and 9 with S, V and P, and "
                                                             "numeric-edited pictures")
    if letters & {"X", "A"}:
        if letters & {"S", "V"}:
            raise ValueError("is not a picture", "text (X, A) takes no S or V")
        return "text", sum(count for _, count in symbols), 0, False
    signed = symbols[0][0] == "S"
    rest = symbols[1:] if signed else symbols
    if any(s == "S" for s, _ in rest) or (signed and symbols[0][1] > 1):
        raise ValueError("is not a picture", "S comes once, first")
    points = [n for n, (s, _) in enumerate(rest) if s == "V"]
    if len(points) > 1 or (points and rest[points[0]][1] > 1):
        raise ValueError("is not a picture", "V comes at most once")
    digits = sum(count for s, count in rest if s == "9")
    scale = sum(count for s, count in rest[points[0] + 1:] if s == "9") if points else 0
    scaling = [(n, count) for n, (s, count) in enumerate(rest) if s == "P"]
    if scaling:  # P: a digit position the field does not store, at one end: 9(3)PP is hundreds, PP99 .00nn
        body = [s for s, _ in rest if s != "V"]
        if len(scaling) > 1 or body[0] != "P" and body[-1] != "P" or not digits:
            raise ValueError("is not a picture", "P comes in one run at either end of the digits, e.g. 9(3)PP or "
                                                 "VPP99")
        if body[-1] == "P":
            if points and points[0] < scaling[0][0]:
                raise ValueError("is not a picture", "trailing P cannot follow V")
            scale = -scaling[0][1]
        else:
            scale = digits + scaling[0][1]
    return "number", digits, scale, signed


def _expanded(picture: str, constants: Optional[Dict[str, str]] = None) -> str:
    """A picture with its repeats written out: Z(3)9.9(2) is ZZZ9.99 (CR, DB stay as they are)."""
    out, i = [], 0
    while i < len(picture):
        symbol = picture[i]
        i += 1
        if i < len(picture) and picture[i] == "(":
            close = picture.find(")", i)
            out.append(symbol * _count(picture[i + 1:close], constants or {}))
            i = close + 1
        else:
            out.append(symbol)
    return "".join(out)


def _comp_x_size(digits: int) -> int:
    """GnuCOBOL's COMP-X size: the fewest bytes that hold ``digits`` nines (as cobc 3.1 lays it out)."""
    size = 1
    while 256 ** size <= 10 ** digits - 1:
        size += 1
    return size


# -- the tree ----------------------------------------------------------------------------------

def parse(text: str, source: str = "copybook", ibm: bool = False) -> Field:
    """The first record of ``text``: its root field, sized, with its JSON names set.

    GnuCOBOL reads a copybook in the format the program is compiled in: fixed (columns 8-72)
    unless ``cobc -free``. Both readings are tried: a copybook only one of them reads is read
    so; one both read alike, too; one they read as different records is refused, asking for
    a ``>>SOURCE FORMAT`` line that says which.
    """
    if text.startswith("\ufeff"):
        text = text[1:]
    elif text.startswith("\xef\xbb\xbf"):  # a UTF-8 byte-order mark read as latin-1
        text = text[3:]
    lines = _lines(text)
    readings: Dict[bool, Field] = {}
    errors: Dict[bool, CopybookError] = {}
    for fixed in (True, False):
        try:
            readings[fixed] = _parse(lines, source, fixed, ibm)
        except CopybookError as exc:
            errors[fixed] = exc
    if len(readings) == 2:
        _same_in_both_formats(readings[True], readings[False], source)
    if readings:
        return readings[True] if True in readings else readings[False]
    raise errors[all(_fixed_like(line) for line in lines if line.strip())]


def _same_in_both_formats(fixed: Field, free: Field, source: str) -> None:
    """Refuses a copybook that fixed and free format read as two different records."""
    def shape(field: Optional[Field]) -> Tuple[object, ...]:
        if field is None:
            return ()
        return (field.level, field.name, field.line, field.kind, field.occurs, field.digits, field.scale,
                field.signed, field.sign_leading, field.sign_separate, field.little_endian, field.sign_nibble,
                field.size if not field.children else 0)

    for a, b in zip_longest(_walk(fixed), _walk(free)):
        if shape(a) != shape(b):
            where = a if a is not None else b
            assert where is not None
            read = ["%02d %s, %d bytes" % (f.level, f.name, f.size) if f is not None else "nothing" for f in (a, b)]
            raise CopybookError(
                "%s line %d: the copybook reads as two different records in fixed format (%d bytes: columns 8-72) "
                "and free format (%d bytes), first here (fixed: %s; free: %s): GnuCOBOL reads it in the format the "
                "program is compiled in (fixed unless cobc -free); say which with a first line '       >>SOURCE "
                "FORMAT IS FIXED' or '>>SOURCE FORMAT IS FREE'" % (source, where.line, fixed.size, free.size,
                                                                    read[0], read[1]))


def _parse(lines: List[str], source: str, fixed: bool, ibm: bool = False) -> Field:
    """The copybook's records, read in fixed or free format: its one 01 record, or, when it
    has several, a group of them that share their bytes (each 01 is one kind of record)."""
    stack: List[Tuple[Field, _Entry]] = []
    records: List[Field] = []
    tables: List[Tuple[Field, _Entry]] = []  # OCCURS DEPENDING ON tables, their counts resolved at the end
    storageless = 0  # level 78 and 88 entries
    constants: Dict[str, str] = {}  # name: value, as written
    for tokens, ended in _entries(_tokens(lines, source, fixed)):
        first = tokens[0]
        number = first.line
        if not (first.kind == "word" and first.text.isascii() and first.text.isdigit()):
            statement = " ".join(t.text for t in tokens)
            if first.text.upper() in ("COPY", "REPLACE", "EXEC", "INCLUDE"):
                raise CopybookError("%s line %d: %s: a copybook that copies others is not read (the runtime reads "
                                    "this one file): put the entries it copies in this file"
                                    % (source, number, statement[:40]))
            raise CopybookError("%s line %d: expected a level number, got %r" % (source, number, statement[:40]))
        if not _is_level(first):
            raise CopybookError("%s line %d: %s is not a level number (01-49, 66, 77, 78, 88)"
                                % (source, number, first.text[:12]))
        level = int(first.text)
        if level == 66:
            raise CopybookError("%s line %d: RENAMES is not supported: leave the 66 level out" % (source, number))
        if level == 77 and records:
            break  # an independent item after the records: working storage, not a record
        named = len(tokens) > 1 and tokens[1].kind == "word" and tokens[1].text.upper() not in _KEYWORDS \
            and not tokens[1].text.isdigit()
        name = tokens[1].text.upper() if named else "FILLER"
        if named and not (_is_name(name) and name[0] != "-" and name[-1] != "-" and len(name) <= 63):
            raise CopybookError("%s line %d: %s is not a COBOL name (letters, digits and hyphens, with a letter, "
                                "not starting or ending with a hyphen)" % (source, number, name[:40]))
        entry = _Entry(level, name, number)
        _Clauses(tokens[2:] if named else tokens[1:], entry, source, constants).parse()
        if not ended:
            raise CopybookError("%s line %d: %02d %s has no period at its end: GnuCOBOL requires one; add it"
                                % (source, tokens[-1].line, level, name))
        if entry.constant or level == 88:  # a constant, a condition: no storage
            if entry.constant:
                constants[name] = " ".join(entry.values)
            storageless += 1
            continue
        if not records and level != 1 and level != 77:
            raise CopybookError("%s line %d: %02d %s comes before any 01 level: the copybook needs one 01 level "
                                "record containing the fields (add a line such as '01 RECORD-NAME.' above it)"
                                % (source, number, level, name))
        field = Field(level, name, number)
        field.occurs = entry.occurs
        field.occurs_min = entry.occurs_min if entry.depending else entry.occurs
        if level in (1, 77):
            if entry.occurs > 1 or "OCCURS" in entry.seen:
                raise CopybookError("%s line %d: OCCURS on the %02d level (%s): the codec reads one record; "
                                    "describe one, without OCCURS" % (source, number, level, name))
            if entry.redefines and entry.redefines not in [r.name for r in records]:
                raise CopybookError("%s line %d: %s REDEFINES %s, which is no 01 record before it"
                                    % (source, number, name, entry.redefines))
            if records:
                _finish(records[-1], source)
            records.append(field)
            stack = []
        else:
            parent = _parent(stack, field, source)
            if entry.redefines:
                _redefine(parent, field, entry, source)
            parent.children.append(field)
        stack.append((field, entry))
        if entry.depending:
            tables.append((field, entry))
        if entry.picture or entry.usage in _FLOAT_USAGES:
            _elementary(field, entry, [e for _, e in stack[:-1]], source, constants, ibm)
        elif entry.sync:
            raise CopybookError("%s line %d: SYNCHRONIZED on the group %02d %s: GnuCOBOL may insert slack bytes "
                                "the codec does not lay out; remove SYNC" % (source, number, level, name))
    if not records:
        raise CopybookError("%s: no record found%s" % (source, ": its constants and level 88 conditions lay out "
                                                              "no bytes; the codec needs an 01 level record"
                                                       if storageless else ""))
    _finish(records[-1], source)
    for record in records:
        _resolve_counts(record, [t for t in tables if t[0] in _walk(record)], source)
        _layout(record, 0, source)
        _strip_prefix(record)
    if len(records) == 1:
        return records[0]
    # several kinds of record: they share the bytes, as REDEFINES do, each its own length
    root = Field(0, "|".join(record.name for record in records), records[0].line)
    root.children = records
    for record in records[1:]:
        record.redefines = records[0]
        records[0].views.append(record)
    root.size = max(record.size for record in records)
    root.variable = any(record.variable for record in records) or len({r.size for r in records}) > 1
    return root


def _finish(record: Field, source: str) -> None:
    if record.picture or record.kind == "float":
        raise CopybookError("%s line %d: %02d %s is a single elementary item: the codec maps a record to a JSON "
                            "object of its fields; put it under a group (01 %s. 05 %s-DATA PIC %s.), which lays "
                            "out the same bytes" % (source, record.line, record.level, record.name, record.name,
                                                   record.name, record.picture))


def _redefine(parent: Field, field: Field, entry: _Entry, source: str) -> None:
    """Places a REDEFINES: its item must be the sibling just before it (or what that redefines)."""
    before = parent.children[-1] if parent.children else None
    base = before.redefines or before if before is not None else None
    if base is None or base.name != entry.redefines or base.level != field.level:
        raise CopybookError("%s line %d: %02d %s REDEFINES %s, which is not the item just before it at level %02d "
                            "(GnuCOBOL and IBM COBOL require that)" % (source, entry.line, entry.level, entry.name,
                                                                        entry.redefines, entry.level))
    if entry.depending or base.depending_on is not None:
        raise CopybookError("%s line %d: %02d %s REDEFINES %s, and one of them is an OCCURS DEPENDING ON table: "
                            "COBOL does not allow that" % (source, entry.line, entry.level, entry.name, base.name))
    field.redefines = base
    base.views.append(field)


def _resolve_counts(record: Field, tables: List[Tuple[Field, "_Entry"]], source: str) -> None:
    """Links each OCCURS DEPENDING ON table to its count: a whole number before it in the record,
    outside it, in no table the table itself is not in."""
    order = _walk(record)
    for table, entry in tables:
        name, qualifiers = entry.depending[0], entry.depending[1:]
        found = [f for f in order if f.name == name and _qualified(record, f, qualifiers)]
        who = "%02d %s OCCURS ... DEPENDING ON %s" % (entry.level, entry.name, " OF ".join(entry.depending))
        if not found:
            raise CopybookError("%s line %d: %s: no field of the record %s has that name (the count must be in "
                                "the record, before the table)" % (source, entry.depending_line, who, record.name))
        if len(found) > 1:
            raise CopybookError("%s line %d: %s: %d fields have that name; qualify it (DEPENDING ON %s OF GROUP)"
                                % (source, entry.depending_line, who, len(found), name))
        count = found[0]
        if count.kind not in ("zoned", "packed", "binary") or count.scale != 0:
            raise CopybookError("%s line %d: %s: the count must be a whole number (PIC 9(n), DISPLAY, COMP or "
                                "COMP-3), not %s" % (source, entry.depending_line, who, count.picture or "a group"))
        if order.index(count) > order.index(table):
            raise CopybookError("%s line %d: %s: the count comes after the table; it must come before"
                                % (source, entry.depending_line, who))
        outer = [f for f in _ancestors(record, count) if f.occurs > 1]
        if any(f not in _ancestors(record, table) for f in outer) or count.redefines is not None:
            raise CopybookError("%s line %d: %s: the count is in a table (or a REDEFINES) the table is not in: "
                                "each table needs one count" % (source, entry.depending_line, who))
        table.depending_on = count
        count.is_count = True


def _qualified(record: Field, field: Field, qualifiers: List[str]) -> bool:
    names = [f.name for f in _ancestors(record, field)]
    for qualifier in qualifiers:
        if qualifier not in names:
            return False
        names = names[:names.index(qualifier)]
    return True


def _ancestors(record: Field, field: Field) -> List[Field]:
    """The groups ``field`` is in, the record first."""
    def down(group: Field, path: List[Field]) -> Optional[List[Field]]:
        for child in group.children:
            if child is field:
                return path + [group]
            found = down(child, path + [group])
            if found is not None:
                return found
        return None
    return down(record, []) or []


def _layout(field: Field, offset: Optional[int], source: str) -> None:
    """Sizes, and the slack bytes SYNCHRONIZED items take, for ``field`` at ``offset`` in its
    record (None: after a table whose length varies, where nothing can be aligned)."""
    if not field.children:
        if not field.picture and field.kind != "float":
            raise CopybookError("%s line %d: %02d %s is a group with no fields: give it a PIC, or fields under it"
                                % (source, field.line, field.level, field.name))
        return
    cursor = 0
    starts: Dict[int, Tuple[int, Optional[int]]] = {}  # id(base): where it starts (relative, absolute)
    known = offset is not None
    for child in field.children:
        base = child.redefines
        if base is not None:
            relative, absolute = starts[id(base)]
        else:
            relative, absolute = cursor, (offset + cursor if known and offset is not None else None)
            if child.align:
                if absolute is None:
                    raise CopybookError("%s line %d: SYNCHRONIZED %02d %s comes after an OCCURS DEPENDING ON table, "
                                        "so its offset varies and no slack bytes can align it: remove SYNC"
                                        % (source, child.line, child.level, child.name))
                child.slack = -absolute % child.align
                relative, absolute = relative + child.slack, absolute + child.slack
            starts[id(child)] = (relative, absolute)
        _layout(child, absolute, source)
        aligned = max([f.align for f in _walk(child)])
        if child.occurs > 1 and aligned and (child.size % aligned or absolute is None or absolute % aligned):
            raise CopybookError("%s line %d: the table %02d %s holds SYNCHRONIZED items, and its %d-byte entries "
                                "would need slack bytes between them, which the codec does not lay out: make each "
                                "entry a multiple of %d bytes (a FILLER at its end) or remove SYNC"
                                % (source, child.line, child.level, child.name, child.size, aligned))
        if base is not None:
            if child.size * child.occurs > base.size * base.occurs:
                raise CopybookError("%s line %d: %02d %s (%d bytes) is larger than %s (%d bytes), which it "
                                    "REDEFINES: make it no larger (only an 01 record may be)"
                                    % (source, child.line, child.level, child.name, child.size * child.occurs,
                                       base.name, base.size * base.occurs))
            continue
        cursor = relative + child.size * child.occurs
        if child.variable or child.depending_on is not None:
            known = False
            field.variable = True
    field.size = cursor


def _parent(stack: List[Tuple[Field, _Entry]], field: Field, source: str) -> Field:
    """The group ``field`` goes under; pops the entries it ends. The levels must match GnuCOBOL's rules."""
    current = stack[-1][0]
    if field.level > current.level:
        if current.picture:
            raise CopybookError("%s line %d: %02d %s is under an elementary item (%02d %s has a PIC): give it a "
                                "level no higher than %02d, or make %s a group"
                                % (source, field.line, field.level, field.name, current.level, current.name,
                                   current.level, current.name))
        return current
    while len(stack) > 1 and stack[-1][0].level > field.level:
        stack.pop()
    if stack[-1][0].level != field.level or len(stack) == 1:
        if len(stack) == 1 and stack[0][0].level >= field.level:
            raise CopybookError("%s line %d: %02d %s is outside the record %s: give it a level above %02d"
                                % (source, field.line, field.level, field.name, stack[0][0].name, stack[0][0].level))
        raise CopybookError("%s line %d: level %02d of %s matches no item above it (GnuCOBOL: no previous data "
                            "item of level %02d): use the level of its siblings" % (source, field.line, field.level,
                                                                                   field.name, field.level))
    stack.pop()
    return stack[-1][0]


def _elementary(field: Field, entry: _Entry, groups: List[_Entry], source: str,
                constants: Optional[Dict[str, str]] = None, ibm: bool = False) -> None:
    """Kind and size of an elementary item, with the USAGE and SIGN its groups give it.
    ``ibm``: binary sizes as IBM Enterprise COBOL lays them out (a halfword for 1 to 4 digits),
    not GnuCOBOL's default (a byte for 1 or 2)."""
    who = "%02d %s" % (entry.level, entry.name)
    usage, usage_line = entry.usage, entry.usage_line
    sign, separate = entry.sign, entry.sign_separate
    for group in reversed(groups):
        if not usage and group.usage:
            usage, usage_line = group.usage, group.usage_line
        if not sign and group.sign:
            sign, separate = group.sign, group.sign_separate
    usage = usage or "DISPLAY"
    inherited = "" if entry.usage or usage == "DISPLAY" else " (USAGE %s of its group, line %d)" % (usage, usage_line)

    def fail(message: str, line: int = entry.picture_line) -> CopybookError:
        return CopybookError("%s line %d: %s" % (source, line, message))

    field.picture = entry.picture
    if usage in _FLOAT_USAGES:
        if entry.picture:
            raise fail("%s is USAGE %s, which takes no PIC (GnuCOBOL refuses it too): remove the PIC" % (who, usage))
        if entry.sign or "BLANK WHEN ZERO" in entry.seen:
            raise fail("%s on the floating-point item %s: remove it" % (
                "SIGN" if entry.sign else "BLANK WHEN ZERO", who), entry.line)
        field.kind, field.usage, field.size, field.signed = "float", usage, 4 if usage == "COMP-1" else 8, True
        field.picture = usage
        field.align = field.size if entry.sync else 0
        return
    try:
        category, digits, scale, signed = _picture(entry.picture, constants)
    except ValueError as exc:
        raise fail("PIC %s %s (%s): %s" % (entry.picture, exc.args[0], who, exc.args[1])) from None
    if category == "edited":
        from .edited import EditedPicture

        if usage != "DISPLAY":
            raise fail("the edited PIC %s (%s) cannot be %s%s: an edited item is text a program DISPLAYs"
                       % (entry.picture, who, usage, inherited))
        if entry.sign:
            raise fail("SIGN on the edited item %s: its picture says where the sign goes" % who, entry.seen["SIGN"])
        try:
            field.edit = EditedPicture(_expanded(entry.picture, constants), "BLANK WHEN ZERO" in entry.seen)
        except ValueError as exc:
            raise fail("PIC %s %s (%s): %s" % (entry.picture, exc.args[0], who, exc.args[1] if len(exc.args) > 1
                                               else "")) from None
        field.kind, field.usage, field.size = "edited", usage, field.edit.size
        field.digits, field.scale, field.signed = field.edit.digits, field.edit.scale, field.edit.signed
        return
    if category == "text":
        if usage in ("COMP-5", "COMP-X") and "A" not in entry.picture:  # cobc: X(3) COMP-5 is a 4-byte 9(7)
            raise fail("PIC %s with USAGE %s (%s)%s is not supported: GnuCOBOL makes it a binary number of a size of "
                       "its own; describe the field with PIC 9" % (entry.picture, usage, who, inherited))
        if usage != "DISPLAY":
            raise fail("text PIC %s (%s) cannot be %s%s: GnuCOBOL refuses it too" % (entry.picture, who, usage,
                                                                                     inherited))
        if entry.sign:
            raise fail("SIGN on the text item %s: SIGN is for PIC S9 numbers" % who, entry.seen["SIGN"])
        if "BLANK WHEN ZERO" in entry.seen:
            raise fail("BLANK WHEN ZERO on the text item %s: it is for numbers (GnuCOBOL refuses it too)" % who,
                       entry.seen["BLANK WHEN ZERO"])
        field.kind, field.size, field.usage = "text", digits, usage
        return
    field.signed, field.digits, field.scale = signed, digits, scale
    if digits == 0 or digits > 38:
        raise fail("PIC %s has %d digits (1 to 38 are supported)" % (entry.picture, digits))
    if "JUSTIFIED" in entry.seen:
        raise fail("JUSTIFIED on the number %s: JUSTIFIED is for text (GnuCOBOL refuses it too)" % who,
                   entry.seen["JUSTIFIED"])
    if entry.sign and not signed:
        raise fail("SIGN on %s, whose PIC %s has no S: add S to the PIC or remove SIGN (GnuCOBOL refuses it too)"
                   % (who, entry.picture), entry.seen["SIGN"])
    if entry.sign and usage != "DISPLAY":
        raise fail("SIGN on %s, which is %s: SIGN is for DISPLAY numbers (GnuCOBOL refuses it too)"
                   % (who, usage), entry.seen["SIGN"])
    if "BLANK WHEN ZERO" in entry.seen and (usage != "DISPLAY" or signed):
        raise fail("BLANK WHEN ZERO on %s: only unsigned DISPLAY numbers take it (GnuCOBOL refuses it too)" % who,
                   entry.seen["BLANK WHEN ZERO"])
    if "BLANK WHEN ZERO" in entry.seen and scale:  # cobc 3.1: PIC 9(3)V9 BLANK WHEN ZERO is 5 bytes, not 4
        raise fail("BLANK WHEN ZERO on %s, whose PIC %s has a V: GnuCOBOL lays that out as an edited field the "
                   "codec does not read; remove BLANK WHEN ZERO, or give the field no decimals"
                   % (who, entry.picture), entry.seen["BLANK WHEN ZERO"])
    if usage == "COMP-6" and signed:
        usage = "COMP-3"  # GnuCOBOL: "COMP-6 with sign - changing to COMP-3"
    field.usage = usage
    if usage == "COMP-3":
        field.kind, field.size = "packed", digits // 2 + 1
    elif usage == "COMP-6":
        field.kind, field.size, field.sign_nibble = "packed", (digits + 1) // 2, False
    elif usage in _BINARY_USAGES:
        if digits > 18:
            raise fail("%s: binary items hold at most 18 digits, PIC %s has %d%s" % (
                who, entry.picture, digits, ": GnuCOBOL's COMP-X takes more, the codec does not" if usage == "COMP-X"
                else ""))
        field.kind, field.little_endian = "binary", usage == "COMP-5"
        if usage == "COMP-X":
            field.size = _comp_x_size(digits)
        else:
            field.size = 1 if digits <= 2 and not ibm else 2 if digits <= 4 else 4 if digits <= 9 else 8
        field.align = field.size if entry.sync and field.size in (2, 4, 8) else 0
    else:
        field.kind = "zoned"
        field.blank_when_zero = "BLANK WHEN ZERO" in entry.seen
        field.sign_leading = sign == "LEADING" and signed
        field.sign_separate = separate and signed
        field.size = digits + (1 if field.sign_separate else 0)


def load(path: str, ibm: bool = False) -> Field:
    with open(path, "rb") as handle:
        data = handle.read()
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise CopybookError("%s: the file is UTF-16 (it starts with a UTF-16 byte-order mark): save it as ASCII, "
                            "latin-1 or UTF-8" % path)
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    return parse(data.decode("latin-1"), path, ibm)


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
