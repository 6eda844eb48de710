"""copybook.codec: round trips for every PIC form, GnuCOBOL agreeing, clear errors."""

from __future__ import annotations

import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bootstrap_sdk.copybook import Copybook, RecordCodec, RecordError

FORMS = """\
      * One field of every supported form.
       01  REC.
           05  R-TEXT          PIC X(8).
           05  R-ALPHA         PIC A(4).
           05  R-UNSIGNED      PIC 9(5)V99.
           05  R-FRACTION      PIC V999.
           05  R-TRAILING      PIC S9(4)V9.
           05  R-LEADING       PIC S9(3) SIGN IS LEADING.
           05  R-LEAD-SEP      PIC S9(3)V9 SIGN LEADING SEPARATE.
           05  R-TRAIL-SEP     PIC S99 SIGN TRAILING SEPARATE.
           05  R-PACKED        PIC S9(7)V99 COMP-3.
           05  R-PACKED-EVEN   PIC 9(4) PACKED-DECIMAL.
           05  R-BINARY        PIC S9(4) COMP.
           05  R-BINARY-BIG    PIC 9(9) BINARY.
           05  R-NATIVE        PIC S9(9) COMP-5.
           05  FILLER          PIC X(2).
           05  R-GROUP.
               10  R-CODE      PIC X(3).
               10  R-AMOUNTS   PIC S9(3)V99 COMP-3 OCCURS 3 TIMES.
           05  R-TABLE OCCURS 2 TIMES.
               10  R-KEY       PIC 9(2).
               10  R-NAME      PIC X(5).
               88  R-EMPTY     VALUE SPACES.
"""

BOOK = Copybook.parse(FORMS)


def decimals(digits: int, scale: int, signed: bool) -> st.SearchStrategy[Decimal]:
    bound = 10 ** digits - 1
    return st.integers(-bound if signed else 0, bound).map(lambda n: Decimal(n).scaleb(-scale))


TEXT = st.text(st.characters(min_codepoint=32, max_codepoint=255, blacklist_characters=" "), max_size=8)
RECORDS = st.fixed_dictionaries({
    "text": TEXT,
    "alpha": st.text(st.sampled_from("ABCXYZ"), max_size=4),
    "unsigned": decimals(7, 2, False),
    "fraction": decimals(3, 3, False),
    "trailing": decimals(5, 1, True),
    "leading": decimals(3, 0, True),
    "lead_sep": decimals(4, 1, True),
    "trail_sep": decimals(2, 0, True),
    "packed": decimals(9, 2, True),
    "packed_even": decimals(4, 0, False),
    "binary": decimals(4, 0, True),
    "binary_big": decimals(9, 0, False),
    "native": decimals(9, 0, True),
    "group": st.fixed_dictionaries({"code": st.text(st.sampled_from("ABC123"), max_size=3),
                                    "amounts": st.lists(decimals(5, 2, True), min_size=3, max_size=3)}),
    "table": st.lists(st.fixed_dictionaries({"key": decimals(2, 0, False),
                                             "name": st.text(st.sampled_from("abcde"), max_size=5)}),
                      min_size=2, max_size=2),
})


@given(RECORDS)
@settings(max_examples=200)
def test_every_form_round_trips_exactly(record):
    data = BOOK.encode(record)
    assert len(data) == BOOK.record_length
    assert BOOK.decode(data) == record
    assert BOOK.encode(BOOK.decode(data)) == data


@given(st.lists(RECORDS, min_size=0, max_size=4))
@settings(max_examples=50)
def test_many_records_with_and_without_separators(records):
    for separator in (b"", b"\n"):
        assert BOOK.decode_many(BOOK.encode_many(records, separator), separator) == records


def test_decoded_numbers_keep_their_scale():
    record = BOOK.decode(BOOK.encode(_sample()))
    assert str(record["unsigned"]) == "12345.60" and str(record["fraction"]) == "0.005"
    assert str(record["packed"]) == "-1234567.89"


def test_known_bytes():
    data = BOOK.encode(_sample())
    assert data[:8] == b"HELLO   "
    assert data[12:19] == b"1234560"
    assert data[22:27] == b"0001r"          # -1.2 as S9(4)V9, GnuCOBOL's overpunch
    assert data[27:30] == b"t50"            # -450, sign leading
    assert data[30:35] == b"-0073"          # -7.3 leading separate
    assert data[35:38] == b"08+"            # 8 trailing separate
    assert data[38:43] == bytes.fromhex("123456789d")
    assert data[43:46] == bytes.fromhex("00042f")
    assert data[46:48] == (-3).to_bytes(2, "big", signed=True)
    assert data[52:56] == (-5).to_bytes(4, "little", signed=True)
    assert data[56:58] == b"  "             # FILLER


def _sample():
    return {"text": "HELLO", "alpha": "ABC", "unsigned": Decimal("12345.6"), "fraction": Decimal("0.005"),
            "trailing": Decimal("-1.2"), "leading": Decimal(-450), "lead_sep": Decimal("-7.3"), "trail_sep": 8,
            "packed": Decimal("-1234567.89"), "packed_even": 42, "binary": -3, "binary_big": 7, "native": -5,
            "group": {"code": "A1", "amounts": [1, Decimal("-2.50"), 0]},
            "table": [{"key": 1, "name": "ab"}, {"key": 2, "name": "cd"}]}


@pytest.mark.parametrize("change, field, message", [
    ({"unsigned": Decimal("123456.78")}, "unsigned", "does not fit PIC 9(5)V99"),
    ({"unsigned": Decimal("1.234")}, "unsigned", "more than 2 decimal places"),
    ({"unsigned": Decimal("-1")}, "unsigned", "is negative, but PIC 9(5)V99 is unsigned"),
    ({"unsigned": "12a"}, "unsigned", "'12a' is not a number"),
    ({"unsigned": True}, "unsigned", "expected a number"),
    ({"unsigned": 1.5}, "unsigned", "got a float"),
    ({"text": "TOO LONG!"}, "text", "too long for PIC X(8)"),
    ({"text": "€uro"}, "text", "characters that latin-1 cannot hold"),
    ({"text": 5}, "text", "expected text"),
    ({"group": {"code": "A", "amounts": [1, 2, 3, 4]}}, "group.amounts", "4 items, but OCCURS 3"),
    ({"group": {"code": "A", "amounts": [1, "x", 3]}}, "group.amounts[1]", "'x' is not a number"),
    ({"table": [{"key": 1}]}, "table[0].name", "missing"),
    ({"extra": 1}, "REC", "unknown field extra"),
    ({"group": "flat"}, "group", "expected an object"),
])
def test_invalid_values_name_the_field(change, field, message):
    record = _sample()
    record.update(change)
    with pytest.raises(RecordError) as caught:
        BOOK.encode(record)
    assert caught.value.field == field
    assert message in caught.value.message


def test_missing_field_is_named():
    record = _sample()
    del record["packed"]
    with pytest.raises(RecordError, match="^packed: missing$"):
        BOOK.encode(record)


def test_shorter_tables_are_padded():
    record = _sample()
    record["table"] = [{"key": 9, "name": "z"}]
    assert BOOK.decode(BOOK.encode(record))["table"] == [{"key": 9, "name": "z"}, {"key": 0, "name": ""}]


def test_bad_records_are_reported():
    with pytest.raises(RecordError, match="record is 3 bytes; the copybook describes"):
        BOOK.decode(b"abc")
    with pytest.raises(RecordError, match="not a whole number"):
        BOOK.decode_many(b"x" * (BOOK.record_length + 1))
    data = bytearray(BOOK.encode(_sample()))
    data[12] = ord("x")
    with pytest.raises(RecordError, match="UNSIGNED: '.*' is not a number"):
        BOOK.decode(bytes(data))


def test_digits_outside_ascii_are_not_numbers():
    """latin-1 holds '\u00b2', which str.isdigit() calls a digit: a RecordError, not a ValueError."""
    data = bytearray(BOOK.encode(_sample()))
    data[12] = 0xB2
    with pytest.raises(RecordError, match="UNSIGNED: .* is not a number"):
        BOOK.decode(bytes(data))


def test_free_format_and_continuation_of_statements():
    book = Copybook.parse("01 ORDER.\n  05 ORDER-ID PIC 9(6).\n  05 ORDER-TOTAL\n     PIC S9(5)V99 COMP-3.\n")
    assert book.record_length == 10
    assert book.decode(book.encode({"id": 7, "total": Decimal("-1.25")})) == {"id": 7, "total": Decimal("-1.25")}


def test_record_codec_object_in_object_out_list_in_list_out():
    book = Copybook.parse("01 R.\n  05 R-N PIC 9(2).\n  05 R-T PIC X.\n")
    codec = RecordCodec(book, book, b"\n")
    records, many = codec.encode_event(b'{"n": 5, "t": "a"}')
    assert (records, many) == (b"05a\n", False)
    assert codec.decode_output(b"07b\n", many) == {"n": 7, "t": "b"}
    records, many = codec.encode_event(b'[{"n": 1, "t": ""}, {"n": 2.0, "t": "c"}]')
    assert records == b"01 \n02c\n" and many
    assert codec.decode_output(b"01 \n02c", many) == [{"n": 1, "t": ""}, {"n": 2, "t": "c"}]


def test_line_records_refuse_bytes_that_break_accept():
    book = Copybook.parse("01 R.\n  05 R-P PIC 9(3) COMP-3.\n  05 R-T PIC X(2).\n")
    codec = RecordCodec(book, book, b"\n")
    with pytest.raises(RecordError, match="byte 0x03"):
        codec.encode_event(b'{"p": 30, "t": ""}')  # packed 030F: the byte 0x03
    with pytest.raises(RecordError, match="newline"):
        codec.encode_event(b'{"p": 1, "t": "a\\n"}')
    assert RecordCodec(book, book, b"").encode_event(b'{"p": 30, "t": ""}')[0] == bytes.fromhex("030f") + b"  "


# -- GnuCOBOL agrees with the codec -----------------------------------------------------------

AGREE_PROGRAM = """\
       IDENTIFICATION DIVISION.
       PROGRAM-ID. AGREE.
      * Reads REC from the file RECIN (binary-safe, unlike ACCEPT, which takes
      * byte 0x03 for Ctrl-C), adds 1 to every number, DISPLAYs it: GnuCOBOL
      * must read and write each form exactly as the codec does.
       ENVIRONMENT DIVISION.
       INPUT-OUTPUT SECTION.
       FILE-CONTROL.
           SELECT RECIN ASSIGN TO "RECIN" ORGANIZATION IS SEQUENTIAL.
       DATA DIVISION.
       FILE SECTION.
       FD  RECIN.
       01  RECIN-DATA PIC X(84).
       WORKING-STORAGE SECTION.
       COPY FORMS.
       01  I PIC 9.
       PROCEDURE DIVISION.
           OPEN INPUT RECIN
           READ RECIN INTO REC
           CLOSE RECIN
           ADD 1 TO R-UNSIGNED R-TRAILING R-LEADING R-LEAD-SEP
                    R-TRAIL-SEP R-PACKED R-PACKED-EVEN R-BINARY
                    R-BINARY-BIG R-NATIVE
           ADD 0.001 TO R-FRACTION
           PERFORM VARYING I FROM 1 BY 1 UNTIL I > 3
               ADD 1 TO R-AMOUNTS (I)
           END-PERFORM
           PERFORM VARYING I FROM 1 BY 1 UNTIL I > 2
               ADD 1 TO R-KEY (I)
           END-PERFORM
           DISPLAY REC
           STOP RUN.
"""


@pytest.fixture(scope="module")
def agree(tmp_path_factory) -> Path:
    if shutil.which("cobc") is None:
        pytest.fail("cobc (GnuCOBOL) is missing: scripts/setup.sh installs Debian's gnucobol3")
    tmp = tmp_path_factory.mktemp("agree")
    (tmp / "FORMS.cpy").write_text(FORMS)
    (tmp / "AGREE.cob").write_text(AGREE_PROGRAM)
    subprocess.run(["cobc", "-x", "-I", str(tmp), "-o", str(tmp / "agree"), str(tmp / "AGREE.cob")], check=True)
    return tmp / "agree"


def _below_max(record):
    """Leave room for +1 in every field (the program adds 1)."""
    def cap(value, digits, scale):
        limit = Decimal(10 ** digits - 1).scaleb(-scale) - 1
        return min(value, limit)
    r = dict(record)
    for name, digits, scale in [("unsigned", 7, 2), ("trailing", 5, 1), ("leading", 3, 0), ("lead_sep", 4, 1),
                                ("trail_sep", 2, 0), ("packed", 9, 2), ("packed_even", 4, 0), ("binary", 4, 0),
                                ("binary_big", 9, 0), ("native", 9, 0)]:
        r[name] = cap(r[name], digits, scale)
    r["fraction"] = min(r["fraction"], Decimal("0.998"))
    r["group"] = dict(r["group"], amounts=[min(a, Decimal("998.99")) for a in r["group"]["amounts"]])
    r["table"] = [dict(t, key=min(t["key"], Decimal(98))) for t in r["table"]]
    return r


@given(RECORDS.map(_below_max))
@settings(max_examples=60)
def test_gnucobol_reads_and_writes_every_form_like_the_codec(agree, record):
    (agree.parent / "rec.bin").write_bytes(BOOK.encode(record))
    done = subprocess.run([str(agree)], env={"DD_RECIN": str(agree.parent / "rec.bin")}, capture_output=True,
                          check=True)
    result = BOOK.decode_many(done.stdout, b"\n")[0]
    expected = dict(record)
    for name in ("unsigned", "trailing", "leading", "lead_sep", "trail_sep", "packed", "packed_even", "binary",
                 "binary_big", "native"):
        expected[name] = record[name] + 1
    expected["fraction"] = record["fraction"] + Decimal("0.001")
    expected["group"] = dict(record["group"], amounts=[a + 1 for a in record["group"]["amounts"]])
    expected["table"] = [dict(t, key=t["key"] + 1) for t in record["table"]]
    assert result == expected
