"""copybook.parser: the layout a copybook describes, and clear refusals of what it cannot read."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Dict, List, Tuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bootstrap_sdk.copybook import Copybook, CopybookError, Field
from bootstrap_sdk.copybook.parser import parse
from test_copybook_codec import BOOK, FORMS


def test_layout_and_names():
    assert BOOK.record_length == 8 + 4 + 7 + 3 + 5 + 3 + 5 + 3 + 5 + 3 + 2 + 4 + 4 + 2 + (3 + 3 * 3) + 2 * 7
    names = [f.json_name for f in BOOK.root.children if not f.is_filler]
    assert names[:3] == ["text", "alpha", "unsigned"], "the shared R- prefix is dropped"


@pytest.mark.parametrize("text, message", [
    ("       01 A.\n           05 B PIC X(2).\n           05 C PIC X.\n           05 D REDEFINES B PIC 99.\n",
     "D REDEFINES B, which is not the item just before it"),
    ("       01 A.\n           05 B PIC X(2).\n           05 C REDEFINES B PIC X(3).\n",
     "C \\(3 bytes\\) is larger than B \\(2 bytes\\)"),
    ("       01 A.\n           05 N PIC 9.\n           05 B PIC X OCCURS 1 TO 5 DEPENDING ON M.\n",
     "DEPENDING ON M: no field of the record A has that name"),
    ("       01 A.\n           05 N PIC X.\n           05 B PIC X OCCURS 1 TO 5 DEPENDING ON N.\n",
     "the count must be a whole number"),
    ("       01 A.\n           05 B PIC X OCCURS 1 TO 5 DEPENDING ON N.\n           05 N PIC 9.\n",
     "the count comes after the table"),
    ("       01 A.\n           05 N PIC 9.\n           05 B PIC X OCCURS 5 TO 1 DEPENDING ON N.\n",
     "the smallest count is larger than the largest"),
    ("       01 A.\n           05 B PIC X OCCURS 1 TO 5.\n", "without DEPENDING ON"),
    ("       01 A.\n           05 B PIC +9.9E+99.\n", "PIC \\+9.9E\\+99"),
    ("       01 A.\n           05 B PIC XXBXX.\n", "alphanumeric-edited picture"),
    ("       01 A.\n           05 B COMP-2 PIC 9.\n", "takes no PIC"),
    ("       01 A.\n           05 B PIC 9(3)P9.\n", "P comes in one run at either end"),
    ("      * nothing here\n", "no record found"),
])
def test_unsupported_copybooks_say_why(text, message):
    with pytest.raises(CopybookError, match=message):
        Copybook.parse(text)


def test_parse_gives_the_sized_tree_the_codec_uses():
    root = parse(FORMS)
    assert root.size == BOOK.record_length
    assert [f.json_name for f in root.children] == [f.json_name for f in BOOK.root.children]


@pytest.mark.parametrize("text, message", [
    ("       01 A.\n           05 B PIC X(2).\n       01 C.\n           05 D PIC X.\n", None),
    ("       01 A.\n           05 B PIC X(2).\n               10 C PIC X.\n", "under an elementary item"),
    ("       01 A.\n", "a group with no fields"),
    ("       X A.\n", "expected a level number"),
])
def test_structure_errors_name_the_entry(text, message):
    if message is None:  # several records: kinds of record that share their bytes (the largest's length)
        root = parse(text)
        assert (root.size, [r.name for r in root.children]) == (2, ["A", "C"])
        assert root.children[1].redefines is root.children[0]
        return
    with pytest.raises(CopybookError, match=message):
        parse(text)


@pytest.mark.parametrize("text, message", [
    ("       01 A.\n           05 B PIC X OCCURS \u00b2.\n", "a fixed count is required"),
    ("       \u00b2 A.\n", "expected a level number"),
])
def test_digits_outside_ascii_are_refused_as_copybook_errors(text, message):
    with pytest.raises(CopybookError, match=message):
        parse(text)


# -- GnuCOBOL's own layout: what cobc accepts is read exactly so, or refused at init -----------

needs_cobc = pytest.mark.skipif(shutil.which("cobc") is None, reason="GnuCOBOL is set up by scripts/setup.sh")

LAYOUT_PROGRAM = """\
       IDENTIFICATION DIVISION.
       PROGRAM-ID. LAYOUT.
       DATA DIVISION.
       WORKING-STORAGE SECTION.
       COPY BOOK.
       01  P0 USAGE POINTER.
       01  P0N REDEFINES P0 PIC 9(18) COMP-5.
       01  P1 USAGE POINTER.
       01  P1N REDEFINES P1 PIC 9(18) COMP-5.
       01  D PIC 9(9).
       PROCEDURE DIVISION.
           SET P0 TO ADDRESS OF {root}
{lines}           STOP RUN.
"""


def cobc_layout(tmp_path: Path, copybook: bytes, root: str, names: List[str]) -> Dict[str, Tuple[int, int]]:
    """{name: (offset, bytes)} as GnuCOBOL lays the copybook out: a program prints them. A name in a
    table is given with its subscripts, R-B(1), for its first occurrence."""
    lines = "".join("           SET P1 TO ADDRESS OF %s\n"
                    "           COMPUTE D = P1N - P0N\n"
                    "           DISPLAY \"%s \" D \" \"\n"
                    "               FUNCTION BYTE-LENGTH(%s)\n" % (name, name.split("(")[0], name)
                    for name in [root] + names)
    (tmp_path / "BOOK.cpy").write_bytes(copybook)
    (tmp_path / "LAYOUT.cob").write_text(LAYOUT_PROGRAM.format(root=root, lines=lines))
    subprocess.run(["cobc", "-x", "-I", str(tmp_path), "-o", str(tmp_path / "layout"), str(tmp_path / "LAYOUT.cob")],
                   check=True, capture_output=True)
    out = subprocess.run([str(tmp_path / "layout")], check=True, capture_output=True, text=True).stdout
    return {name: (int(offset), int(size)) for name, offset, size in (line.split() for line in out.splitlines())}


def parsed_layout(root: Field) -> Dict[str, Tuple[int, int]]:
    """{name: (offset, bytes)} as the parser lays the record out (first occurrences: R-B(1))."""
    found: Dict[str, Tuple[int, int]] = {}

    def walk(field: Field, offset: int, tables: int) -> None:
        tables += field.occurs > 1
        found[field.name + ("(%s)" % ", ".join(["1"] * tables) if tables else "")] = (offset, field.size)
        for child in field.children:
            walk(child, offset, tables)
            offset += child.size * child.occurs

    walk(root, 0, 0)
    return {name: place for name, place in found.items() if not name.startswith("FILLER")}


# Copybooks cobc accepts and the parser reads: each is checked against cobc's own layout (at the end).
ACCEPTED: Dict[str, bytes] = {"every supported form": FORMS.encode("latin-1")}


def accepted(name: str, text: str, encoding: str = "latin-1") -> str:
    ACCEPTED[name] = text.encode(encoding)
    return text


# 1. Every USAGE the codec does not implement is refused by name; COMP-X and COMP-6 are read.

COMP_X_AND_COMP_6 = accepted("comp-x and comp-6", "".join(
    ["       01  REC.\n"]
    + ["           05  R-X%d   PIC 9(%d) COMP-X.\n"
       "           05  R-SX%d  PIC S9(%d) COMP-X.\n"
       "           05  R-P%d   PIC 9(%d) COMP-6.\n"
       "           05  R-SP%d  PIC S9(%d) COMP-6.\n" % ((digits, digits) * 4) for digits in range(1, 19)]
    + ["           05  R-SCALED-X  PIC 9(3)V9 USAGE IS COMPUTATIONAL-X.\n",
       "           05  R-SCALED-P  PIC 9(2)V9 COMPUTATIONAL-6.\n"]))


def test_comp_x_and_comp_6_are_laid_out_as_gnucobol_lays_them_out():
    root = parse(COMP_X_AND_COMP_6)  # R-SPn: cobc makes a signed COMP-6 a COMP-3
    sizes = {f.name: f.size for f in root.children}
    assert [sizes["R-X%d" % d] for d in range(1, 19)] == [1, 1, 2, 2, 3, 3, 3, 4, 4, 5, 5, 5, 6, 6, 7, 7, 8, 8]
    assert [sizes["R-SX%d" % d] for d in range(1, 19)] == [sizes["R-X%d" % d] for d in range(1, 19)]
    assert [sizes["R-P%d" % d] for d in range(1, 7)] == [1, 1, 2, 2, 3, 3]
    assert [sizes["R-SP%d" % d] for d in range(1, 7)] == [1, 2, 2, 3, 3, 4]
    assert (sizes["R-SCALED-X"], sizes["R-SCALED-P"]) == (2, 2)
    first = parse("       01  REC.\n           05 R-A PIC 9(4) COMP-X.\n           05 R-B PIC 9(4) COMP-6.\n")
    assert [(f.kind, f.size) for f in first.children] == [("binary", 2), ("packed", 2)]
    assert not first.children[0].little_endian and not first.children[1].sign_nibble


@pytest.mark.parametrize("clauses", [
    "PIC 9(4) COMP-N", "PIC 9(4) COMPUTATIONAL-N", "POINTER", "PROGRAM-POINTER", "USAGE IS INDEX", "INDEX",
    "BINARY-LONG", "BINARY-LONG UNSIGNED", "BINARY-SHORT SIGNED", "BINARY-CHAR", "BINARY-DOUBLE", "BINARY-C-LONG",
    "SIGNED-INT", "UNSIGNED-SHORT", "FLOAT-EXTENDED", "FLOAT-DECIMAL-16", "FLOAT-DECIMAL-34",
    "PIC X(5) NATIONAL", "PIC 9(4) COMP-0", "PIC 9(4) USAGE DISPLAY-1",
])
def test_usages_the_codec_does_not_implement_are_refused_by_name(clauses):
    usage = [w for w in clauses.split() if w not in ("PIC", "USAGE", "IS", "SIGNED", "UNSIGNED")
             and not w.startswith(("9", "X"))][0]
    with pytest.raises(CopybookError) as caught:
        parse("       01  REC.\n           05  R-A  %s.\n           05  R-B  PIC X.\n" % clauses)
    assert "copybook line 2: USAGE %s is not supported (05 R-A): " % usage in str(caught.value)


# 2. The real reason: no "group with no fields", no "edited pictures".

@pytest.mark.parametrize("clauses, message", [
    ("BINARY-LONG", "USAGE BINARY-LONG is not supported (05 R-A): in the copybook the runtime reads, "
                    "PIC S9(9) COMP-5 describes the same 4 bytes"),
    ("FLOAT-EXTENDED", "USAGE FLOAT-EXTENDED is not supported (05 R-A): the codec reads the 4- and 8-byte floats"),
    ("PIC N(5)", "PIC N(5) is a national (UTF-16) picture, which is not supported (05 R-A)"),
    ("PIC 1(8)", "PIC 1(8) is a boolean picture, which is not supported"),
])
def test_usages_and_pictures_say_the_real_reason(clauses, message):
    with pytest.raises(CopybookError) as caught:
        parse("       01  REC.\n           05  R-A  %s.\n" % clauses)
    assert message in str(caught.value)
    assert "group with no fields" not in str(caught.value) and "edited" not in str(caught.value)


# 3. A copybook that ends after a keyword: a CopybookError, never an IndexError.

@pytest.mark.parametrize("ending, message", [
    ("PIC", "line 2: PIC without a picture string (05 R-A): write the picture after PIC"),
    ("PIC IS", "line 2: PIC without a picture string"),
    ("PICTURE.", "line 2: PIC without a picture string"),
    ("PIC X OCCURS", "line 2: OCCURS without a count (05 R-A)"),
    ("PIC X OCCURS.", "line 2: OCCURS without a count"),
    ("PIC X OCCURS 3 INDEXED BY", "line 2: OCCURS ... INDEXED BY without a name"),
    ("PIC X OCCURS 3 ASCENDING KEY IS", "line 2: OCCURS ... KEY IS without a name"),
    ("PIC 9 USAGE", "line 2: USAGE without a usage (05 R-A)"),
    ("PIC 9 USAGE IS", "line 2: USAGE without a usage"),
    ("PIC 9 VALUE", "line 2: VALUE without a value (05 R-A)"),
    ("PIC 9 VALUE IS.", "line 2: VALUE without a value"),
    ("PIC S9 SIGN", "line 2: SIGN without LEADING or TRAILING (05 R-A)"),
    ("PIC S9 SIGN IS", "line 2: SIGN without LEADING or TRAILING"),
    ("PIC 9 BLANK WHEN", "line 2: BLANK without WHEN ZERO"),
    ("PIC X REDEFINES", "line 2: REDEFINES without the name of the item it redefines (05 R-A)"),
    ("PIC X(3)", "line 2: 05 R-A has no period at its end: GnuCOBOL requires one"),
])
def test_a_copybook_ending_after_a_keyword_is_a_copybook_error(ending, message):
    with pytest.raises(CopybookError) as caught:
        parse("       01  REC.\n           05  R-A %s" % ending)
    assert message in str(caught.value)


# 4. GnuCOBOL's inline comment *>, in fixed and free format, outside literals.

INLINE_COMMENTS = accepted("inline comments", "       01  REC.  *> the record\n"
                                               "           05  R-A PIC X(6).  *> the id\n"
                                               "           05  R-B PIC X(4) VALUE '*> x'. *> a literal's\n"
                                               "      *>   05  R-C PIC X(9).\n"
                                               "           05  R-D PIC 9(3)V99.*>tight\n")


def test_inline_comments_are_stripped():
    root = parse(INLINE_COMMENTS)
    assert [(f.name, f.size) for f in root.children] == [("R-A", 6), ("R-B", 4), ("R-D", 5)]
    free = parse("01 REC. *> free format\n  05 R-A PIC X(6). *> the id\n*> a line\n  05 R-B PIC 9.\n")
    assert [(f.name, f.size) for f in free.children] == [("R-A", 6), ("R-B", 1)]


# 5. A period inside a literal does not end the entry.

PERIODS_IN_LITERALS = accepted("periods in literals", "       01  REC.\n"
                                                       "           05  R-A PIC X(4) VALUE 'A. B'.\n"
                                                       "           05  R-B PIC X(4) VALUE \"C. D\".\n"
                                                       "           05  R-C PIC X(4) VALUE 'I''M. X'.\n"
                                                       "           05  R-D PIC X(2) VALUE X'2E20'.\n"
                                                       "           05  R-E PIC 9V9 VALUE 1.5.\n")


def test_periods_inside_literals_do_not_end_an_entry():
    root = parse(PERIODS_IN_LITERALS)
    assert [(f.name, f.size) for f in root.children] == [("R-A", 4), ("R-B", 4), ("R-C", 4), ("R-D", 2),
                                                          ("R-E", 2)]


# 6. A UTF-8 byte-order mark at the start of the file.

BYTE_ORDER_MARK = accepted("byte-order mark", "\ufeff       01  REC.\n           05  R-A PIC X(6).\n"
                                                "           05  R-B PIC 9(3).\n", encoding="utf-8")


def test_a_leading_utf8_byte_order_mark_is_ignored(tmp_path):
    text = BYTE_ORDER_MARK
    root = parse(text)
    assert parse(text.encode("utf-8").decode("latin-1")).size == 9  # as load() reads it, byte by byte
    assert root.size == 9 and [f.name for f in root.children] == ["R-A", "R-B"]
    (tmp_path / "BOM.cpy").write_bytes(text.encode("utf-8"))
    assert Copybook.load(str(tmp_path / "BOM.cpy")).record_length == 9
    (tmp_path / "WIDE.cpy").write_bytes(text.encode("utf-16"))
    with pytest.raises(CopybookError, match="the file is UTF-16 .*: save it as ASCII, latin-1 or UTF-8"):
        Copybook.load(str(tmp_path / "WIDE.cpy"))


# 7. A fragment without an 01 level: refused (cobc refuses it too, outside a COPY under an 01).

def test_a_fragment_without_an_01_level_is_refused():
    with pytest.raises(CopybookError) as caught:
        parse("           05  R-A PIC X(6).\n           05  R-B PIC X(24).\n")
    assert str(caught.value) == (
        "copybook line 1: 05 R-A comes before any 01 level: the copybook needs one 01 level record containing the "
        "fields (add a line such as '01 RECORD-NAME.' above it)")


# 8. A missing period: the next entry is never swallowed.

@pytest.mark.parametrize("body, message", [
    ("           05  R-A PIC X(6)\n           05  R-B PIC X(24).\n",
     "line 3: 05 R-B starts inside R-A's entry: is a period missing at the end of line 2?"),
    ("           05  R-A PIC 9(6) VALUE 0\n           05  R-B PIC X(24).\n",
     "line 3: 05 R-B starts inside R-A's entry: is a period missing at the end of line 2?"),
    ("           05  R-A PIC X OCCURS 3 TIMES\n           05  R-B PIC X(24).\n",
     "line 3: 05 R-B starts inside R-A's entry"),
    ("           05  R-A PIC X OCCURS 3 INDEXED BY R-I\n           05  R-B PIC X(24).\n",
     "line 3: 05 R-B starts inside R-A's entry"),
    ("           05  R-A PIC X(6)\n           05  PIC X(24).\n",
     "line 3: 05 FILLER starts inside R-A's entry"),
    ("           05  R-A PIC X.\n               88  R-OK VALUE 'Y' 'Z'\n           05  R-B PIC X(24).\n",
     "line 4: 05 R-B starts inside R-OK's entry: is a period missing at the end of line 3?"),
    ("           05  R-A PIC 9.\n               88  R-LOW VALUE 1 THRU 3\n           05  R-B PIC X(24).\n",
     "line 4: 05 R-B starts inside R-LOW's entry"),
    ("           05  R-A PIC X.\n       78  K VALUE 5\n           05  R-B PIC X(24).\n",
     "line 4: 05 R-B starts inside K's entry"),
    ("           05  R-G\n               10  R-B PIC X(24).\n",
     "line 3: 10 R-B starts inside R-G's entry: is a period missing at the end of line 2?"),
])
def test_a_missing_period_is_found_not_swallowed(body, message):
    with pytest.raises(CopybookError) as caught:
        parse("       01  REC.\n" + body)
    assert message in str(caught.value)


# Siblings: clauses and forms cobc accepts, laid out as it does, or refused with the line and a way out.

OTHER_FORMS = accepted("other forms", """\
       01  REC IS EXTERNAL.
           05  R-A VALUE 0 PIC 9(4).
           78  R-K VALUE 10 * 2.
           05  R-G COMP-3.
               10  R-G1 PIC S9(4).
               10  R-G2 PIC 9(5) DISPLAY.
           05  R-S SIGN LEADING SEPARATE.
               10  R-S1 PIC S9(4).
               10  R-S2 PIC 9(5).
               10  R-S3 PIC S9(3) SIGN TRAILING.
           05  R-J PIC X(3) JUSTIFIED RIGHT.
           05  R-Z PIC 9(3) BLANK WHEN ZERO.
           05  R-C PIC S9(3) SIGN IS TRAILING SEPARATE CHARACTER.
           05  R-Y PIC X(3) SYNC.
           05  R-Q PIC 9(5) COMP-3 SYNCHRONIZED.
           05  R-L PIC 9(3)
      -            V99.
           05  R-V PIC X(3) VALUE "ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFGHIJKLMNOPQRSTUVW
      -    "XYZ. A".
\t   05  R-T PIC X(2).
{past_72}
      D    05  R-D PIC X(9).
       77  W-COUNT PIC X(9).
""".format(past_72="           05  R-E PIC X.".ljust(72) + "PAST 72."))


def test_forms_cobc_accepts_are_laid_out_as_it_lays_them_out():
    root = parse(OTHER_FORMS)
    assert root.size == 4 + (3 + 5) + (5 + 5 + 3) + 3 + 3 + 4 + 3 + 3 + 5 + 3 + 2 + 1
    group = {f.name: f for f in root.children[1].children + root.children[2].children}
    assert (group["R-G2"].kind, group["R-S1"].sign_leading, group["R-S1"].sign_separate) == ("zoned", True, True)
    assert (group["R-S2"].size, group["R-S3"].sign_leading) == (5, False)


SWITCHED_FORMAT = accepted("switched format", "       >>SOURCE FORMAT IS FREE\n01 REC.\n  05 R-A PIC X(6). *> c\n"
                                                ">>SOURCE FORMAT IS FIXED\n           05 R-B PIC X(3).\n")


CONSTANTS = accepted("constants", """\
       01  MAX-N CONSTANT AS 3.
       78  NAME-LEN VALUE 4.
       01  REC.
           05  R-A PIC X(NAME-LEN).
           78  R-K VALUE LENGTH OF R-A.
           05  R-T OCCURS MAX-N TIMES INDEXED BY R-I.
               10  R-B PIC 9(NAME-LEN) COMP-3 OCCURS 2.
               10  R-C PIC X.
           05  R-D PIC X(2).
""")


def test_constants_give_counts_and_sizes():
    root = parse(CONSTANTS)
    assert [(f.name, f.size, f.occurs) for f in root.children] == [("R-A", 4, 1), ("R-T", 7, 3), ("R-D", 2, 1)]
    with pytest.raises(CopybookError, match="line 3: OCCURS MAX-N \\(05 R-B\\): the constant MAX-N is 2 \\+ 3, which "
                                            "this reader does not compute; write the number"):
        parse("       78  MAX-N VALUE 2 + 3.\n       01  REC.\n           05  R-B PIC X OCCURS MAX-N.\n")
    with pytest.raises(CopybookError, match="line 2: OCCURS MAX-N \\(05 R-B\\): a fixed count is required"):
        parse("       01  REC.\n           05  R-B PIC X OCCURS MAX-N.\n")


SEQUENCE_AREA = accepted("sequence area", "CHG001 01  REC.\n"
                                          "    *>     05  R-A PIC X(4).\n"
                                          + "000300     05  R-B PIC X(2).".ljust(72) + "PAYR0300\n")
FIXED_SAID = accepted("fixed format said", "       >>SOURCE FORMAT IS FIXED\n" + SEQUENCE_AREA)


def test_a_copybook_fixed_and_free_format_read_differently_is_refused():
    """cobc reads columns 1-6 as a sequence area in fixed format, and "*>" there as a comment in free."""
    with pytest.raises(CopybookError) as caught:
        parse("       01  REC.\n    *>     05  R-A PIC X(4).\n           05  R-B PIC X(2).\n")
    assert str(caught.value) == (
        "copybook line 2: the copybook reads as two different records in fixed format (6 bytes: columns 8-72) and "
        "free format (2 bytes), first here (fixed: 05 R-A, 4 bytes; free: 05 R-B, 2 bytes): GnuCOBOL reads it in "
        "the format the program is compiled in (fixed unless cobc -free); say which with a first line '       "
        ">>SOURCE FORMAT IS FIXED' or '>>SOURCE FORMAT IS FREE'")
    assert [(f.name, f.size) for f in parse(FIXED_SAID).children] == [("R-A", 4), ("R-B", 2)]
    assert [(f.name, f.size) for f in parse(SEQUENCE_AREA).children] == [("R-A", 4), ("R-B", 2)]  # free: no reading
    free = ">>SOURCE FORMAT IS FREE\n01  REC.\n    *>     05  R-A PIC X(4).\n           05  R-B PIC X(2).\n"
    assert [(f.name, f.size) for f in parse(free).children] == [("R-B", 2)]


def test_free_format_directives_and_line_ends():
    assert parse(SWITCHED_FORMAT).size == 9
    assert parse("      $SET SOURCEFORMAT\"FREE\"\n01 REC.\n  05 R-A PIC X(6).\n").size == 6
    assert parse("       01  REC.\r\n           05  R-A PIC X.\r\n").size == 1
    assert parse("      * caf\x85 \x0c comment\n       01  REC.\n           05  R-A PIC X.\n").size == 1
    assert parse("       01  REC.\n           05  R-A PIC X.\n      >>D  DISPLAY 'X'.\n").size == 1


@pytest.mark.parametrize("body, message", [
    ("           05  R-N PIC 9.\n           05  R-T PIC X OCCURS 1 TO 3 DEPENDING ON R-N.\n"
     "           05  R-B PIC S9(4) COMP SYNC.\n",
     "line 4: SYNCHRONIZED 05 R-B comes after an OCCURS DEPENDING ON table"),
    ("           05  R-T OCCURS 2.\n               10  R-B PIC S9(4) COMP SYNC.\n               10  R-A PIC X.\n",
     "line 2: the table 05 R-T holds SYNCHRONIZED items, and its 3-byte entries would need slack bytes"),
    ("           05  R-G SYNC.\n               10  R-B PIC X.\n", "line 2: SYNCHRONIZED on the group 05 R-G"),
    ("           05  R-G.\n               10  R-A PIC X.\n             07  R-B PIC X.\n",
     "line 4: level 07 of R-B matches no item above it"),
    ("           50  R-A PIC X.\n", "line 2: 50 is not a level number"),
    ("           05  R-A PIC X PIC X(2).\n", "line 2: a second PIC clause in 05 R-A"),
    ("           05  R-A PIC 9 COMP COMP-3.\n", "line 2: a second USAGE clause in 05 R-A"),
    ("           05  R-A PIC 9(3) SIGN LEADING SEPARATE.\n", "SIGN on 05 R-A, whose PIC 9(3) has no S"),
    ("           05  R-A PIC S9(3) COMP-3 SIGN LEADING.\n", "SIGN on 05 R-A, which is COMP-3"),
    ("           05  R-A PIC S9(3) BLANK WHEN ZERO.\n", "BLANK WHEN ZERO on 05 R-A"),
    ("           05  R-A PIC 9(3)V9 BLANK WHEN ZERO.\n", "line 2: BLANK WHEN ZERO on 05 R-A, whose PIC 9(3)V9 has a V"),
    ("           05  R-A PIC X(3) COMP-5.\n", "line 2: PIC X(3) with USAGE COMP-5 (05 R-A) is not supported"),
    ("           05  R-A PIC 9(3) JUSTIFIED RIGHT.\n", "line 2: JUSTIFIED on the number 05 R-A"),
    ("           05  R-G COMP-3.\n               10  R-A PIC X(3).\n",
     "line 3: text PIC X(3) (10 R-A) cannot be COMP-3 (USAGE COMP-3 of its group, line 2)"),
    ("           05  R-A PIC X(3) FOO.\n", "line 2: FOO in 05 R-A is no clause this reader knows"),
    ("           05  R-A PIC X(3) GLOBAL\n           VALUE ALL 'X' BAR.\n",
     "line 3: BAR in 05 R-A is no clause this reader knows"),
    ("           05  R-A PIC X(999999999999).\n", "line 2: PIC X(999999999999) is not a picture"),
    ("           05  R-A PIC 9(19) COMP-X.\n", "binary items hold at most 18 digits"),
    ("           05  R-A PIC X VALUE 'OPEN\n           05  R-B PIC X.\n", "line 2: a literal is not closed"),
    ("       COPY OTHER.\n", "line 2: COPY OTHER: a copybook that copies others is not read"),
    ("      >>IF X DEFINED\n", "line 2: the directive >>IF is not supported"),
    ("           66  R-R RENAMES R-A.\n", "line 2: RENAMES is not supported"),
    ("           05  R-A PIC X(4).\n      -    05  R-B PIC X.\n",
     "line 3: a continuation line (- in column 7) that continues no word or literal of line 2"),
    ("           05  -R-A PIC X(4).\n", "line 2: -R-A is not a COBOL name"),
    ("           05  R-A PIC X.\n               88  R-OK PIC X VALUE 'Y'.\n",
     "line 3: PIC in 88 R-OK: a level 88 entry takes only VALUE (a condition)"),
])
def test_other_forms_are_refused_naming_the_line_and_clause(body, message):
    with pytest.raises(CopybookError) as caught:
        parse("       01  REC.\n" + body)
    assert message in str(caught.value)


@pytest.mark.parametrize("text, message", [
    ("       01  REC PIC X(10).\n", "line 1: 01 REC is a single elementary item: the codec maps a record to a JSON "
                                    "object of its fields; put it under a group (01 REC. 05 REC-DATA PIC X(10).)"),
    ("       77  REC PIC X(10).\n", "line 1: 77 REC is a single elementary item"),
    ("       01  REC OCCURS 2.\n           05  R-A PIC X.\n", "line 1: OCCURS on the 01 level (REC)"),
    ("       78  K VALUE 1.\n       01  MAX-N CONSTANT AS 10.\n",
     "no record found: its constants and level 88 conditions lay out no bytes"),
])
def test_records_the_codec_cannot_map_are_refused(text, message):
    with pytest.raises(CopybookError) as caught:
        parse(text)
    assert message in str(caught.value)


PIECES = ["       01  REC.\n", "           05  R-A", " PIC", " X(3)", " 9(4)", " S9(3)V9", " COMP-X", " COMP-6",
          " COMP-3", " OCCURS", " 2", " VALUE", " 'A. B'", ' "', "'", " *> c", ".", "\n", "\n      -    ", "\n      *",
          "               88  R-OK", "       78  K", " SIGN", " LEADING", " SEPARATE", " USAGE", " IS", " TO",
          " DEPENDING", " INDEXED BY", " SYNC", " REDEFINES", "\ufeff", "\r", "\t", ">>SOURCE FORMAT FREE\n",
          " CONSTANT AS", " BLANK WHEN ZERO", " (", ")", " 99999999999", " 05", " 10", " 77"]


@given(st.lists(st.sampled_from(PIECES), max_size=30))
@settings(max_examples=300)
def test_any_text_is_a_record_or_a_copybook_error_never_a_traceback(pieces):
    try:
        root = parse("".join(pieces))
    except CopybookError:
        return
    assert root.size == sum(child.size * child.occurs for child in root.children) > 0


def test_a_77_level_ends_the_record_like_an_01():
    assert parse("       01  REC.\n           05  R-A PIC X.\n       77  K PIC 9.\n").size == 1


@needs_cobc
@pytest.mark.parametrize("name", sorted(ACCEPTED))
def test_gnucobol_lays_out_every_accepted_copybook_as_the_parser_does(name, tmp_path):
    """Every field's offset and size, as cobc compiles the copybook (COPY into WORKING-STORAGE)."""
    text = ACCEPTED[name]
    root = parse(text.decode("latin-1"))
    ours = parsed_layout(root)
    names = [field for field in ours if field != root.name]
    assert cobc_layout(tmp_path, text, root.name, names) == {name.split("(")[0]: place for name, place in ours.items()}
