"""copybook.codec: round trips for every PIC form, GnuCOBOL agreeing, clear errors."""

from __future__ import annotations

import re
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bootstrap_sdk.copybook import DataEncoding, Copybook, RecordCodec, RecordError, codec

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
    ({"text": "TOO LONG!"}, "text", "9 characters, 1 too many for PIC X(8)"),
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
    with pytest.raises(RecordError, match="^REC: record is 3 bytes; the copybook describes"):
        BOOK.decode(b"abc")
    good = BOOK.encode(_sample())
    with pytest.raises(RecordError, match=r"^\[1\]: the last record is 1 bytes; the copybook describes 84$"):
        BOOK.decode_many(good + b"x")
    with pytest.raises(RecordError, match=r"^\[1\]: line 2 is 85 bytes \('HELLO .*x'\), not an 84-byte REC record$"):
        BOOK.decode_many(good + b"\n" + good + b"x\n", b"\n")
    data = bytearray(good)
    data[12] = ord("x")
    with pytest.raises(RecordError, match="^unsigned: '.*' is not a number"):
        BOOK.decode(bytes(data))
    with pytest.raises(RecordError, match=r"^\[1\]\.unsigned: '.*' is not a number"):
        BOOK.decode_many(good + bytes(data))


def test_digits_outside_ascii_are_not_numbers():
    """latin-1 holds '\u00b2', which str.isdigit() calls a digit: a RecordError, not a ValueError."""
    data = bytearray(BOOK.encode(_sample()))
    data[12] = 0xB2
    with pytest.raises(RecordError, match="^unsigned: .* is not a number"):
        BOOK.decode(bytes(data))


def test_free_format_and_continuation_of_statements():
    book = Copybook.parse("01 ORDER.\n  05 ORDER-ID PIC 9(6).\n  05 ORDER-TOTAL\n     PIC S9(5)V99 COMP-3.\n")
    assert book.record_length == 10
    assert book.decode(book.encode({"id": 7, "total": Decimal("-1.25")})) == {"id": 7, "total": Decimal("-1.25")}


# -- decoding is exactly as strict as encoding ------------------------------------------------

PAY = Copybook.parse("""\
       01  PAY.
           05  PAY-EMPLOYEE.
               10  PAY-RATE      PIC 9(4).
               10  PAY-ADJ       PIC S9(3).
               10  PAY-LEAD      PIC S9(3) SIGN LEADING SEPARATE.
               10  PAY-TRAIL     PIC S9(3) SIGN TRAILING SEPARATE.
           05  PAY-ITEMS OCCURS 3.
               10  PAY-AMOUNT    PIC 9(4) COMP-3.
               10  PAY-SAMOUNT   PIC S9(3) COMP-3.
               10  PAY-COUNT     PIC 99 COMP.
               10  PAY-NAME      PIC X(3).
""")
# Offsets: rate 0, adj 4, lead 7, trail 11; items[i] at 15 + 9i: amount +0, samount +3, count +5, name +6.
PAY_VALUE = {"employee": {"rate": 1200, "adj": -12, "lead": 7, "trail": -3},
             "items": [{"amount": 1, "samount": -2, "count": 3, "name": "ab"}] * 3}
PAY_RECORD = PAY.encode(PAY_VALUE)


def _patched(offset: int, data: bytes) -> bytes:
    record = bytearray(PAY_RECORD)
    record[offset:offset + len(data)] = data
    return bytes(record)


def test_the_attack_record_is_well_formed_otherwise():
    assert PAY.record_length == 42
    assert PAY.decode(PAY_RECORD) == PAY_VALUE


@pytest.mark.parametrize("offset, data, field, message", [
    # Spaces are not zeros: "12  " used to read as 1200, "1 2 " as 1020.
    (0, b"12  ", "employee.rate", "'12  ' is not a number (PIC 9(4)): ' ' is not a digit"),
    (0, b"1 2 ", "employee.rate", "'1 2 ' is not a number (PIC 9(4)): ' ' is not a digit"),
    (0, b"  12", "employee.rate", "'  12' is not a number"),
    (0, b"    ", "employee.rate", "'    ' is blank, not a number (PIC 9(4))"),
    # An unsigned zoned field has no overpunched sign.
    (0, b"120p", "employee.rate", "'p' is not a digit (an unsigned field has no overpunched sign)"),
    (0, b"120A", "employee.rate", "'A' is not a digit (an unsigned field has no overpunched sign)"),
    (0, b"12\xb23", "employee.rate", "'²' is not a digit"),
    # A signed zoned field: the overpunch only where the sign goes, and only a sign there.
    (4, b"12 ", "employee.adj", "'12 ' is not a number (PIC S9(3)): ' ' is not a digit"),
    (4, b"1p2", "employee.adj", "'p' is not a digit"),
    (4, b"12!", "employee.adj", "'!' is not a digit"),
    # SIGN SEPARATE: + or - exactly where the clause puts it.
    (7, b"1+23", "employee.lead", "no + or - where SIGN LEADING SEPARATE puts it"),
    (7, b" 123", "employee.lead", "no + or - where SIGN LEADING SEPARATE puts it"),
    (7, b"-1-3", "employee.lead", "'-' is not a digit"),
    (7, b"+12 ", "employee.lead", "' ' is not a digit"),
    (11, b"+123", "employee.trail", "no + or - where SIGN TRAILING SEPARATE puts it"),
    (11, b"12+ ", "employee.trail", "no + or - where SIGN TRAILING SEPARATE puts it"),
    # Packed: 5 digit nibbles in a 4-digit field (99999 used to decode), the pad nibble set.
    (15 + 18, bytes.fromhex("99999f"), "items[2].amount", "bytes 99999f hold 99999, more digits than PIC 9(4) holds (4)"),
    (15, bytes.fromhex("10000f"), "items[0].amount", "bytes 10000f hold 10000, more digits than PIC 9(4) holds"),
    # Packed signs: D on an unsigned field used to decode as negative; B, A, E are not read.
    (15, bytes.fromhex("00123d"), "items[0].amount", "bytes 00123d are a negative packed number, but PIC 9(4) is "
                                                     "unsigned"),
    (15, bytes.fromhex("00123b"), "items[0].amount", "end in the sign B; packed signs read are C and F"),
    (15 + 9, bytes.fromhex("00123a"), "items[1].amount", "end in the sign A"),
    (15 + 9 + 3, bytes.fromhex("123e"), "items[1].samount", "end in the sign E"),
    (15 + 9 + 3, bytes.fromhex("123b"), "items[1].samount", "end in the sign B"),
    (15 + 9 + 3, bytes.fromhex("1a3c"), "items[1].samount", "bytes 1a3c are not packed decimal"),
    (15 + 9 + 3, bytes.fromhex("123f")[:1] + b"\x00", "items[1].samount", "end in the sign 0"),
    # Binary beyond its PIC: FF in a PIC 99 COMP used to decode as 255.
    (15 + 5, b"\xff", "items[0].count", "bytes ff hold 255, more digits than PIC 99 holds (2)"),
    (15 + 18 + 5, b"\x64", "items[2].count", "bytes 64 hold 100, more digits than PIC 99 holds (2)"),
])
def test_a_lying_record_is_refused_naming_the_field(offset, data, field, message):
    with pytest.raises(RecordError) as caught:
        PAY.decode(_patched(offset, data))
    assert caught.value.field == field
    assert message in caught.value.message
    with pytest.raises(RecordError) as caught:  # and with the record's index in a list
        PAY.decode_many(PAY_RECORD * 2 + _patched(offset, data))
    assert caught.value.field == "[2]." + field


def test_blank_as_zero_reads_only_an_all_space_field_as_zero():
    blank_rate = _patched(0, b"    ")
    assert PAY.decode(blank_rate, blank_as_zero=True)["employee"]["rate"] == 0
    blank_packed = _patched(15, b"   ")
    assert PAY.decode(blank_packed, blank_as_zero=True)["items"][0]["amount"] == 0
    assert PAY.decode_many(blank_rate + blank_packed, blank_as_zero=True)[1]["items"][0]["amount"] == 0
    with pytest.raises(RecordError, match=r"^\[1\]\.items\[0\]\.amount: '   ' is blank"):
        PAY.decode_many(PAY_RECORD + blank_packed)
    for partly in (b"12  ", b"  12", b"1 2 "):
        with pytest.raises(RecordError, match="^employee.rate: .* is not a digit"):
            PAY.decode(_patched(0, partly), blank_as_zero=True)
    # Spaces in a binary field are a number (0x20 = 32), lenient or not: nothing to read as blank.
    assert PAY.decode(_patched(15 + 5, b" "))["items"][0]["count"] == 32


@pytest.mark.parametrize("offset, data, field, value", [
    (4, b"12{", "adj", Decimal(120)),     # the ASCII-translated EBCDIC overpunch
    (4, b"12A", "adj", Decimal(121)),
    (4, b"12}", "adj", Decimal(-120)),
    (4, b"12J", "adj", Decimal(-121)),
    (4, b"12q", "adj", Decimal(-121)),    # GnuCOBOL's own
])
def test_both_overpunch_conventions_are_read(offset, data, field, value):
    assert PAY.decode(_patched(offset, data))["employee"][field] == value


@pytest.mark.parametrize("offset, data", [
    (4, b"00p"), (4, b"00}"), (7, b"-000"), (11, b"000-"), (15 + 3, bytes.fromhex("000d")),
])
def test_a_negative_zero_reads_as_zero(offset, data):
    """Programs write one (MOVE -0.4 TO a PIC S9 field); JSON must not get -0."""
    record = PAY.decode(_patched(offset, data))
    values = [record["employee"]["adj"], record["employee"]["lead"], record["employee"]["trail"],
              record["items"][0]["samount"]]
    zero = [v for v in values if v == 0]
    assert zero and all(not v.is_signed() and str(v) == "0" for v in zero)


def test_packed_c_and_f_are_positive_on_any_field():
    assert PAY.decode(_patched(15, bytes.fromhex("00123c")))["items"][0]["amount"] == 123
    assert PAY.decode(_patched(18, bytes.fromhex("123f")))["items"][0]["samount"] == 123


def test_text_the_encoding_cannot_read_names_the_field():
    seven_bits = DataEncoding("ascii")
    seven_bits.codec = "ascii"  # every code page offered maps all 256 bytes: a narrower one shows the error
    with pytest.raises(RecordError) as caught:
        Copybook(PAY.root, seven_bits).decode(_patched(15 + 18 + 6, b"\xe9  "))
    assert (caught.value.field, caught.value.message) == ("items[2].name", "byte 0xe9 is not ascii text")


# -- hostile numbers are refused at once ------------------------------------------------------

RATES = Copybook.parse("01 R.\n  05 R-NAME PIC X(4).\n  05 R-TAX-RATE PIC V999.\n  05 R-AMOUNT PIC S9(7)V99 COMP-3.\n")
BIG = "1" + "0" * 100_000


@pytest.mark.parametrize("number, message", [
    # These used to cost 12 s of CPU, answer decimal.Overflow, or be taken as 0.000.
    ("1e999990", "1.000000000000e+999990 does not fit PIC V999"),
    ("1e999999999", "1.000000000000e+999999999 does not fit PIC V999"),
    ("-1e999999999", "-1.000000000000e+999999999 is negative, but PIC V999 is unsigned"),
    ("1e-999999999", "1.000000000000e-999999999 has more than 3 decimal places (PIC V999)"),
    ("1e-999990", "1.000000000000e-999990 has more than 3 decimal places"),
    (BIG, "1.000000000000e+100000 does not fit PIC V999"),  # cut short in the message
    ("0." + "0" * 100_000 + "1", "more than 3 decimal places"),
    ('"1e999999999"', "1.000000000000e+999999999 does not fit PIC V999"),
    ('"1e' + "9" * 40 + '"', "does not fit PIC V999"),      # past Decimal's own exponent limit
    ('"' + BIG + '"', "does not fit PIC V999"),
    ("NaN", "NaN is not a finite number"),
    ("-Infinity", "-Infinity is not a finite number"),
    ('"NaN"', "'NaN' is not a number (PIC V999)"),
    ('"\\u0661\\u0662"', "is not a number (PIC V999)"),         # Arabic-Indic digits Decimal() takes
    ('"0_5"', "'0_5' is not a number"),
    ('"0x10"', "'0x10' is not a number"),
])
def test_hostile_numbers_are_refused_naming_the_record_and_field(number, message):
    codec_ = RecordCodec(RATES, RATES, b"", records="batch")
    good = '{"name": "A", "tax_rate": 0.185, "amount": 1}'
    body = "[" + ", ".join([good] * 6 + ['{"name": "A", "tax_rate": %s, "amount": 1}' % number]) + "]"
    with pytest.raises(RecordError) as caught:
        codec_.encode_event(body.encode())
    assert caught.value.field == "[6].tax_rate"
    assert message in caught.value.message


def test_hostile_python_numbers_are_refused_too():
    base = {"name": "A", "amount": 1}
    for number, message in [(10 ** 100_000, "a number of about 100000 digits does not fit PIC V999"),
                            (-10 ** 100_000, "does not fit PIC V999"),
                            (Decimal(BIG), "does not fit"),
                            (Decimal("1e999999999999999999"), "does not fit"),
                            (Decimal("1e-999999999999999999"), "more than 3 decimal places"),
                            (Decimal("sNaN"), "sNaN is not a finite number")]:
        with pytest.raises(RecordError) as caught:
            RATES.encode(dict(base, tax_rate=number))
        assert caught.value.field == "tax_rate" and message in caught.value.message


def test_big_but_exact_numbers_still_fit():
    assert RATES.decode(RATES.encode({"name": "", "tax_rate": "0e999999999", "amount": "1." + "0" * 5000})) == {
        "name": "", "tax_rate": 0, "amount": 1}
    assert RATES.encode({"name": "", "tax_rate": Decimal("-0"), "amount": 0}) == RATES.encode(
        {"name": "", "tax_rate": 0, "amount": 0})


# -- RecordCodec: shapes, counts and errors that point ----------------------------------------

LINE = Copybook.parse("01 R.\n  05 R-N PIC 9(2).\n  05 R-T PIC X.\n")


def test_record_shapes_are_named():
    assert codec.RECORD_SHAPES == ("one", "batch", "one-for-one")
    with pytest.raises(ValueError, match="records must be one of one, batch, one-for-one, not 'many'"):
        RecordCodec(LINE, LINE, b"\n", records="many")


def test_one_record_in_exactly_one_out():
    one = RecordCodec(LINE, LINE, b"\n")
    assert one.encode_event(b'{"n": 5, "t": "a"}') == (b"05a\n", 1)
    assert one.decode_output(b"07b\n", 1) == {"n": 7, "t": "b"}
    assert one.decode_output(b"07b", 1) == {"n": 7, "t": "b"}  # a last line without its newline
    with pytest.raises(RecordError) as caught:
        one.encode_event(b'[{"n": 1, "t": ""}]')
    assert caught.value.field == "event"
    assert caught.value.message == ("the program takes one record: send a JSON object, not a list "
                                    "(BOOTSTRAP_SDK_EXEC_RECORDS=batch or one-for-one makes it take a list)")
    with pytest.raises(RecordError, match="^event: the program takes one record: send a JSON object, not a number$"):
        one.encode_event(b"5")
    with pytest.raises(RecordError, match="^output: the program wrote no record$"):
        one.decode_output(b"", 1)  # used to answer []
    with pytest.raises(RecordError, match="^output: the program wrote 2 records; it takes one record and must "
                                          "write one$"):
        one.decode_output(b"07b\n08c\n", 1)
    with pytest.raises(RecordError, match="^n: 'x7' is not a number"):
        one.decode_output(b"x7b\n", 1)


def test_a_batch_is_a_list_in_and_a_list_out():
    batch = RecordCodec(LINE, LINE, b"\n", records="batch")
    assert batch.encode_event(b'[{"n": 1, "t": ""}, {"n": 2.0, "t": "c"}]') == (b"01 \n02c\n", 2)
    assert batch.encode_event(b"[]") == (b"", 0)
    assert batch.decode_output(b"01 \n02c", 2) == [{"n": 1, "t": ""}, {"n": 2, "t": "c"}]
    assert batch.decode_output(b"", 2) == []
    assert batch.decode_output(b"01 \n" * 3, 2) == [{"n": 1, "t": ""}] * 3
    with pytest.raises(RecordError) as caught:
        batch.encode_event(b'{"n": 1, "t": ""}')
    assert (caught.value.field, caught.value.message) == (
        "event", "the program takes a batch of records (BOOTSTRAP_SDK_EXEC_RECORDS=batch): send a JSON list of "
                 "objects, not an object")
    with pytest.raises(RecordError, match=r"^\[1\]: expected an object, got a number$"):
        batch.encode_event(b'[{"n": 1, "t": ""}, 7]')
    with pytest.raises(RecordError, match=r"^\[2\]\.n: 'x3' is not a number"):
        batch.decode_output(b"01 \n02 \nx3 \n", 3)


def test_one_for_one_counts_records_out_against_records_in():
    same = RecordCodec(LINE, LINE, b"", records="one-for-one")
    records, count = same.encode_event(b'[{"n": 1, "t": ""}, {"n": 2, "t": "c"}]')
    assert (records, count) == (b"01 02c", 2)
    assert same.decode_output(b"03x04y", count) == [{"n": 3, "t": "x"}, {"n": 4, "t": "y"}]
    with pytest.raises(RecordError, match="^output: 2 records in, 3 out: the program must write one record for each"):
        same.decode_output(b"03x04y05z", count)
    with pytest.raises(RecordError, match="^output: 1 record in, 0 out"):
        same.decode_output(b"", 1)
    assert same.decode_output(b"", 0) == []
    with pytest.raises(RecordError, match="BOOTSTRAP_SDK_EXEC_RECORDS=one-for-one"):
        same.encode_event(b'{"n": 1, "t": ""}')


def test_without_copybooks_bytes_pass_through_and_are_counted():
    raw = RecordCodec(None, None, b"", records="one-for-one")
    assert raw.encode_event(b'{"a": 1}') == (b'{"a": 1}', 1)
    assert raw.encode_event(b' [1, 2, {"b": 3}]') == (b' [1, 2, {"b": 3}]', 3)
    assert raw.encode_event(b"[not json") == (b"[not json", 1)
    assert raw.encode_event(b"\x00\x01binary") == (b"\x00\x01binary", 1)
    huge = b"[" + b"9" * 5000 + b", 2]"  # past int()'s 4300-digit limit
    assert raw.encode_event(huge) == (huge, 2)
    assert raw.decode_output(b"\x00anything", 1) == b"\x00anything"
    out_only = RecordCodec(None, LINE, b"\n", records="one-for-one")
    assert out_only.decode_output(b"01a\n02b\n", out_only.encode_event(b"[{}, {}]")[1]) == [
        {"n": 1, "t": "a"}, {"n": 2, "t": "b"}]


def test_the_event_itself_is_checked():
    one = RecordCodec(LINE, LINE, b"\n")
    with pytest.raises(RecordError, match="^event: not JSON: "):
        one.encode_event(b"{")
    with pytest.raises(RecordError, match="^event: not JSON this runtime reads: nested too deeply$"):
        one.encode_event(b"[" * 100_000)
    with pytest.raises(RecordError, match="^n: given twice in the event$"):
        one.encode_event(b'{"n": 1, "t": "", "n": 1000}')
    with pytest.raises(RecordError, match=r"^n: 1\.0+e\+5000 does not fit PIC 9\(2\)$"):  # not int()'s limit
        one.encode_event(b'{"n": 1' + b"0" * 5000 + b', "t": ""}')


STDIO = Copybook.parse("""\
       01  S.
           05  S-EMPLOYEE.
               10  S-NAME     PIC X(4).
               10  S-RATE     PIC 9(3) COMP-3.
           05  S-ITEMS OCCURS 3.
               10  S-CODE     PIC X(2).
               10  S-COUNT    PIC 9(4) COMP.
""")


def _stdio_event(name="ab", rate=1, code="x", count=1):
    return {"employee": {"name": name, "rate": rate},
            "items": [{"code": "a", "count": 1}, {"code": "b", "count": 1}, {"code": code, "count": count}]}


@pytest.mark.parametrize("change, field, message", [
    ({"name": "a\nb"}, "employee.name", "holds a newline (0x0a), which would split the line"),
    ({"name": "\u0003"}, "employee.name", "holds the byte 0x03, which GnuCOBOL's ACCEPT reads as Ctrl-C"),
    ({"name": "a\tb"}, "employee.name", "holds the control character 0x09; text read by ACCEPT"),
    ({"name": "\u007f"}, "employee.name", "the control character 0x7f"),
    ({"name": "\u0000"}, "employee.name", "the control character 0x00"),
    ({"code": "\r"}, "items[2].code", "the control character 0x0d"),
    ({"rate": 30}, "employee.rate", "as PIC 9(3) it is the bytes 030f, which hold the byte 0x03"),
    ({"count": 10}, "items[2].count", "as PIC 9(4) it is the bytes 000a, which hold a newline (0x0a)"),
    ({"count": 3}, "items[2].count", "keep packed and binary fields out of records read with ACCEPT"),
])
def test_line_records_refuse_bytes_that_break_accept_naming_the_field(change, field, message):
    event = _stdio_event(**change)
    single = RecordCodec(STDIO, STDIO, b"\n")
    with pytest.raises(RecordError) as caught:
        single.encode_event(_json(event))
    assert caught.value.field == field and message in caught.value.message
    batch = RecordCodec(STDIO, STDIO, b"\n", records="batch")
    with pytest.raises(RecordError) as caught:
        batch.encode_event(_json([_stdio_event()] * 6 + [event]))
    assert caught.value.field == "[6]." + field
    # Files are binary-safe: the same record is fine in file mode.
    assert RecordCodec(STDIO, STDIO, b"").encode_event(_json(event))[0] == STDIO.encode(event)


def test_other_bytes_in_packed_and_binary_fields_pass_accept():
    """Only 0x0a and 0x03 break GnuCOBOL's ACCEPT (every byte was tried): 0x01 is fine there."""
    records, _ = RecordCodec(STDIO, STDIO, b"\n").encode_event(_json(_stdio_event(count=1, rate=1)))
    assert b"\x01" in records and records.endswith(b"\n")


def _json(value):
    import json
    return json.dumps(value).encode()

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


# -- stdio output that is not a record: the line, its length and what it holds ----------------

PAY_OUT = Copybook.parse("""\
       01  PAY-OUT.
           05  PO-EMP-ID               PIC X(6).
           05  PO-STATUS               PIC X(2).
           05  PO-REGULAR-HOURS        PIC 9(3)V9.
           05  PO-OVERTIME-HOURS       PIC 9(3)V9.
           05  PO-GROSS-PAY            PIC S9(6)V99.
           05  PO-TAX                  PIC S9(6)V99 COMP-3.
           05  PO-NET-PAY              PIC S9(6)V99.
           05  PO-YTD-GROSS            PIC S9(8)V99 COMP-3.
           05  PO-AVG-DAILY-HOURS      PIC 9(2)V99.
           05  PO-MESSAGE              PIC X(30).
""")
PAY_OUT_VALUE = {"emp_id": "E00017", "status": "OK", "regular_hours": 40, "overtime_hours": 0, "gross_pay": 1,
                 "tax": 0, "net_pay": 1, "ytd_gross": 1, "avg_daily_hours": 8, "message": ""}


def test_a_debug_line_in_stdio_output_names_its_line_length_and_bytes():
    record = PAY_OUT.encode(PAY_OUT_VALUE)
    assert len(record) == 77
    one = RecordCodec(None, PAY_OUT, b"\n")
    with pytest.raises(RecordError) as caught:
        one.decode_output(b"PAYROLL STARTING\n" + record + b"\n", 1)
    assert (caught.value.field, caught.value.message) == (
        "output", "output line 1 is 16 bytes ('PAYROLL STARTING'), not a 77-byte PAY-OUT record: write debug "
                  "output UPON SYSERR (stderr); stdout is for PAY-OUT records only")
    batch = RecordCodec(None, PAY_OUT, b"\n", records="batch")
    with pytest.raises(RecordError, match=r"^output: output line 3 is 12 bytes \('PAYROLL DONE'\), not a 77-byte "
                                          r"PAY-OUT record: write debug output UPON SYSERR"):
        batch.decode_output(record + b"\n" + record + b"\nPAYROLL DONE\n", 2)
    # Bounded, and control characters escaped: a terminal's escape codes stay in the message as text.
    noisy = b"\x1b[31mERROR\x1b[0m caf\xe9 'x' \\ \t" + b"-" * 1000
    with pytest.raises(RecordError) as caught:
        one.decode_output(noisy + b"\n", 1)
    assert caught.value.message.startswith(
        "output line 1 is 1027 bytes ('\\x1b[31mERROR\\x1b[0m caf\\xe9 \\'x\\' \\\\ \\x09-----...------------'), "
        "not a 77-byte PAY-OUT record")
    assert len(caught.value.message) < 300 and "\x1b" not in caught.value.message
    # Every line of one wrong length: the copybook is the suspect, not debug output.
    with pytest.raises(RecordError, match=r"line 1 is 80 bytes .*: every line is 80 bytes: does the output "
                                          r"copybook describe the record the program writes\?$"):
        batch.decode_output(b"x" * 80 + b"\n" + b"y" * 80 + b"\n", 2)
    with pytest.raises(RecordError, match=r"line 1 is 78 bytes .* record \(it ends in \\r: lines must end in \\n "
                                          r"alone\)"):
        one.decode_output(record + b"\r\n", 1)
    # The records themselves are read as strictly as ever; file mode keeps its message.
    assert one.decode_output(record + b"\n", 1)["emp_id"] == "E00017"
    with pytest.raises(RecordError, match=r"^\[0\]: the last record is 16 bytes; the copybook describes 77$"):
        RecordCodec(None, PAY_OUT, b"").decode_output(b"PAYROLL STARTING", 1)


# -- COMP-X and COMP-6 ------------------------------------------------------------------------

NEW_FORMS = """\
       01  NREC.
           05  N-X2          PIC 9(2) COMP-X.
           05  N-X4          PIC 9(4) COMP-X.
           05  N-SX4         PIC S9(4) COMP-X.
           05  N-SX7         PIC S9(7) COMP-X.
           05  N-X10V2       PIC 9(10)V99 COMP-X.
           05  N-SX18        PIC S9(18) COMP-X.
           05  N-P3          PIC 9(3) COMP-6.
           05  N-P3V1        PIC 9(3)V9 COMP-6.
           05  N-SP5         PIC S9(5) COMP-6.
           05  N-GROUP       COMP-3.
               10  N-G1      PIC S9(5)V99.
               10  N-G2      PIC 9(4) COMP-X.
           05  N-SIGNS       SIGN LEADING SEPARATE.
               10  N-S1      PIC S9(3)V9.
               10  N-S2      PIC S9(3) SIGN TRAILING.
"""
NEW = Copybook.parse(NEW_FORMS)


@pytest.mark.parametrize("field, value, data", [  # the bytes GnuCOBOL 3.1 writes for the same MOVE
    ("x4", 1234, "04d2"), ("sx4", -2, "fffe"), ("p3", 123, "0123"), ("p3v1", Decimal("12.5"), "0125"),
    ("sp5", -5, "00005d"), ("x2", 99, "63"), ("sx7", -8388608, "800000"), ("sx7", 8388607, "7fffff"),
    ("x10v2", Decimal("9999999999.99"), "e8d4a50fff"), ("sx18", -1, "ff" * 8),
])
def test_comp_x_and_comp_6_bytes(field, value, data):
    offsets, offset = {}, 0
    for child in NEW.root.children:
        offsets[child.json_name] = (offset, child.size)
        offset += child.size
    at, size = offsets[field]
    record = NEW.encode(dict(_new_value(), **{field: value}))
    assert record[at:at + size].hex() == data
    assert NEW.decode(record)[field] == value


def _new_value():
    return {"x2": 0, "x4": 0, "sx4": 0, "sx7": 0, "x10v2": 0, "sx18": 0, "p3": 0, "p3v1": 0, "sp5": 0,
            "group": {"g1": 0, "g2": 0}, "signs": {"s1": 0, "s2": 0}}


def test_comp_x_and_comp_6_are_as_strict_as_the_rest():
    record = bytearray(NEW.encode(_new_value()))
    with pytest.raises(RecordError, match=r"^sx7: 9999999 does not fit the 3 bytes of PIC S9\(7\) COMP-X$"):
        NEW.encode(dict(_new_value(), sx7=9999999))  # GnuCOBOL itself would read it back as -6777217
    record[0:1] = b"\x64"  # 100 in a PIC 9(2) COMP-X
    with pytest.raises(RecordError, match="^x2: bytes 64 hold 100, more digits than PIC 9"):
        NEW.decode(bytes(record))
    record[0:1] = b"\x00"
    p3 = next(i for i, f in enumerate(NEW.root.children) if f.name == "N-P3")
    at = sum(f.size for f in NEW.root.children[:p3])
    for data, message in [(b"\x01\x2a", "bytes 012a are not COMP-6 (a digit is not 0-9)"),
                          (b"\x11\x23", "bytes 1123 hold 1123, more digits than PIC 9(3) holds (3)")]:
        record[at:at + 2] = data
        with pytest.raises(RecordError, match="^p3: " + re.escape(message)):
            NEW.decode(bytes(record))
    record[at:at + 2] = b"  "  # 0x2020: four digits, one more than the pad nibble allows
    with pytest.raises(RecordError, match="more digits than PIC 9"):
        NEW.decode(bytes(record), blank_as_zero=True)


AGREE_NEW_PROGRAM = """\
       IDENTIFICATION DIVISION.
       PROGRAM-ID. AGREENEW.
       ENVIRONMENT DIVISION.
       INPUT-OUTPUT SECTION.
       FILE-CONTROL.
           SELECT RECIN ASSIGN TO "RECIN" ORGANIZATION IS SEQUENTIAL.
       DATA DIVISION.
       FILE SECTION.
       FD  RECIN.
       01  RECIN-DATA PIC X(%d).
       WORKING-STORAGE SECTION.
       COPY NEWFORMS.
       PROCEDURE DIVISION.
           OPEN INPUT RECIN
           READ RECIN INTO NREC
           CLOSE RECIN
           ADD 1 TO N-X2 N-X4 N-SX4 N-SX7 N-X10V2 N-SX18 N-P3 N-P3V1
                    N-SP5 N-G1 N-G2 N-S1 N-S2
           DISPLAY FUNCTION LENGTH(NREC)
           DISPLAY NREC
           STOP RUN.
""" % NEW.record_length


@pytest.fixture(scope="module")
def agree_new(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("agree-new")
    (tmp / "NEWFORMS.cpy").write_text(NEW_FORMS)
    (tmp / "AGREENEW.cob").write_text(AGREE_NEW_PROGRAM)
    subprocess.run(["cobc", "-x", "-I", str(tmp), "-o", str(tmp / "agree"), str(tmp / "AGREENEW.cob")], check=True,
                   capture_output=True)
    return tmp / "agree"


NEW_RECORDS = st.fixed_dictionaries({  # each leaves room for the +1
    "x2": decimals(2, 0, False).filter(lambda v: v < 99), "x4": decimals(4, 0, False).filter(lambda v: v < 9999),
    "sx4": decimals(4, 0, True).filter(lambda v: v < 9999),
    "sx7": st.integers(-8388608, 8388606).map(Decimal),  # 3 bytes: not every 7-digit number
    "x10v2": decimals(12, 2, False).filter(lambda v: v < Decimal("9999999998.99")),
    "sx18": decimals(18, 0, True).filter(lambda v: v < 10 ** 18 - 1),
    "p3": decimals(3, 0, False).filter(lambda v: v < 999), "p3v1": decimals(4, 1, False).filter(lambda v: v < 998),
    "sp5": decimals(5, 0, True).filter(lambda v: v < 99999),
    "group": st.fixed_dictionaries({"g1": decimals(7, 2, True).filter(lambda v: v < 99998),
                                    "g2": decimals(4, 0, False).filter(lambda v: v < 9999)}),
    "signs": st.fixed_dictionaries({"s1": decimals(4, 1, True).filter(lambda v: v < 998),
                                    "s2": decimals(3, 0, True).filter(lambda v: v < 999)}),
})


@pytest.mark.skipif(shutil.which("cobc") is None, reason="GnuCOBOL is set up by scripts/setup.sh")
@given(NEW_RECORDS)
@settings(max_examples=40)
def test_gnucobol_reads_and_writes_comp_x_comp_6_and_group_clauses_like_the_codec(agree_new, record):
    (agree_new.parent / "rec.bin").write_bytes(NEW.encode(record))
    done = subprocess.run([str(agree_new)], env={"DD_RECIN": str(agree_new.parent / "rec.bin")},
                          capture_output=True, check=True)
    length, _, output = done.stdout.partition(b"\n")
    assert int(length) == NEW.record_length == 1 + 2 + 2 + 3 + 5 + 8 + 2 + 2 + 3 + (4 + 2) + (5 + 3)
    result = NEW.decode_many(output, b"\n")[0]
    plus_one = {key: value + 1 for key, value in record.items() if not isinstance(value, dict)}
    plus_one["group"] = {key: value + 1 for key, value in record["group"].items()}
    plus_one["signs"] = {key: value + 1 for key, value in record["signs"].items()}
    assert result == plus_one


def test_blank_when_zero_fields_read_spaces_as_zero():
    """GnuCOBOL writes 0 in a PIC 9(3) BLANK WHEN ZERO field as spaces, 5 as 005."""
    book = Copybook.parse("01 REC.\n  05 R-A PIC 9(3) BLANK WHEN ZERO.\n  05 R-B PIC 9(3).\n")
    assert book.decode(b"   000") == {"a": 0, "b": 0}
    assert book.decode(b"005007") == {"a": 5, "b": 7}
    assert book.encode({"a": 0, "b": 0}) == b"000000"  # digits: the program reads them as 0
    with pytest.raises(RecordError, match="^a: ' 5 ' is not a number"):
        book.decode(b" 5 000")
    with pytest.raises(RecordError, match="^b: '   ' is blank"):
        book.decode(b"000   ")
