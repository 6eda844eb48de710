"""copybook codec on GnuCOBOL's own (ASCII) records: the known answers come from GnuCOBOL.

One COBOL program, compiled once for the module, fills WORKING-STORAGE records laid out by
the copybooks below with known values (MOVE, COMPUTE) and prints each record's exact bytes
as hex (a binary record in a text line could hold a newline). It also WRITEs a file whose
two 01 records differ in length. The codec must decode those bytes to the values the
program moved, and encode the values back to the same bytes: it reads and writes the
records GnuCOBOL programs do, byte for byte.

``-fodoslide`` makes GnuCOBOL lay out the items after an OCCURS DEPENDING ON table where
IBM COBOL does (and the codec): right after the table's current entries. Without it
GnuCOBOL 3.1 refuses them, and with ``-fcomplex-odo`` alone it leaves them at the table's
largest size.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from decimal import Decimal
from typing import Any, Dict, List, Optional

import pytest

from bootstrap_sdk.copybook import Copybook, RecordError, Selector

D = Decimal

COPYBOOKS = {
    "RDREC": """\
       01  RD-REC.
           05  RD-ID           PIC X.
           05  RD-CUST.
               10  RD-NAME     PIC X(6).
               10  RD-BAL      PIC S9(5)V99 COMP-3.
           05  RD-ACCT REDEFINES RD-CUST.
               10  RD-ACCT-NO  PIC 9(6).
               10  RD-RATE     PIC S9V9(3) COMP.
           05  RD-TAIL         PIC X(2).
""",
    "ODREC": """\
       01  OD-REC.
           05  OD-ID           PIC X(4).
           05  OD-COUNT        PIC 9(2).
           05  OD-ITEM OCCURS 0 TO 3 TIMES DEPENDING ON OD-COUNT.
               10  OD-SKU      PIC X(3).
               10  OD-QTY      PIC S9(3) COMP-3.
               10  OD-PRICE    PIC S9(3)V99.
           05  OD-TOTAL        PIC S9(5)V99 COMP-3.
           05  OD-NOTE         PIC X(4).
""",
    "FLREC": """\
       01  FL-REC.
           05  FL-ONE          COMP-1.
           05  FL-NEG          COMP-2.
           05  FL-HALF         COMP-1.
           05  FL-EIGHTHS      COMP-2.
           05  FL-BIG          COMP-2.
           05  FL-TENTH-SHORT  COMP-1.
""",
    "SCREC": """\
       01  SC-REC.
           05  SC-HUNDREDS     PIC 9(3)PP.
           05  SC-TINY         PIC VPP99.
           05  SC-BINARY       PIC S99PP COMP.
           05  SC-SIGNED       PIC SVP9(3) SIGN LEADING SEPARATE.
""",
    "EDREC": """\
       01  ED-REC.
           05  ED-PLAIN        PIC ZZ9.99.
           05  ED-AMOUNT       PIC ZZ,ZZ9.99-.
           05  ED-CREDIT       PIC $ZZ9.99CR.
           05  ED-STARS        PIC ***,**9.99.
           05  ED-FLOAT        PIC $$$,$$9.99.
           05  ED-PLUS         PIC +++9.
           05  ED-DATE         PIC 99/99/99.
           05  ED-BLANK        PIC ZZ9.99 BLANK WHEN ZERO.
""",
    "SYREC": """\
       01  SY-REC.
           05  SY-FLAG         PIC X.
           05  SY-FULL         PIC S9(9) COMP SYNC.
           05  SY-CODE         PIC X(3).
           05  SY-HALF         PIC S9(4) COMP SYNC.
           05  SY-LONG         COMP-2 SYNC.
           05  SY-SHORT        COMP-1 SYNC.
           05  SY-NATIVE       PIC S9(4) COMP-5 SYNC.
           05  SY-END          PIC X.
""",
    "SNREC": """\
       01  SN-REC.
           05  SN-LEAD-SEP     PIC S9(3)V9 SIGN LEADING SEPARATE.
           05  SN-TRAIL-SEP    PIC S9(3) SIGN TRAILING SEPARATE.
           05  SN-LEADING      PIC S9(3) SIGN LEADING.
           05  SN-TRAILING     PIC S9(3).
           05  SN-PACKED       PIC S9(3) COMP-3.
           05  SN-BINARY       PIC S9(4) COMP.
           05  SN-NATIVE       PIC S9(4) COMP-5.
           05  SN-SMALL        PIC S99 COMP.
""",
    "C5REC": """\
       01  C5-REC.
           05  C5-HALF         PIC S9(4) COMP-5.
           05  C5-UHALF        PIC 9(4) COMP-5.
           05  C5-FULL         PIC S9(9) COMP-5.
""",
    "MRREC": """\
       01  MR-CUST.
           05  MC-TYPE         PIC X.
           05  MC-NAME         PIC X(10).
       01  MR-ACCT.
           05  MA-TYPE         PIC X.
           05  MA-NUMBER       PIC 9(5).
           05  MA-BALANCE      PIC S9(7)V99 COMP-3.
""",
    "CARDS": """\
       01  SHORT-REC.
           05  SR-TYPE         PIC X.
           05  SR-CODE         PIC X(3).
       01  LONG-REC.
           05  LR-TYPE         PIC X.
           05  LR-AMOUNT       PIC S9(7) COMP-3.
           05  LR-NOTE         PIC X(5).
""",
}


def dump(label: str, record: str) -> str:
    """Statements printing ``label`` and the record's bytes (its current length: ODO-aware)."""
    return """\
           MOVE "%s" TO DUMP-LABEL
           MOVE FUNCTION LENGTH(%s) TO DUMP-LEN
           MOVE %s TO DUMP-BUF
           PERFORM DUMP-RECORD
""" % (label, record, record)


FILL = "".join([
    # REDEFINES: a customer, then an account (its 8 bytes of the 10: the rest stays spaces)
    """\
           MOVE SPACES TO RD-REC
           MOVE "C" TO RD-ID
           MOVE "SMITH" TO RD-NAME
           MOVE -1234.5 TO RD-BAL
           MOVE "OK" TO RD-TAIL
""", dump("RD-CUST", "RD-REC"), """\
           MOVE SPACES TO RD-REC
           MOVE "A" TO RD-ID
           MOVE 1234 TO RD-ACCT-NO
           MOVE 0.5 TO RD-RATE
           MOVE "OK" TO RD-TAIL
""", dump("RD-ACCT", "RD-REC"),
    # OCCURS DEPENDING ON: the count first, then the items (they slide with it)
    """\
           MOVE 0 TO OD-COUNT
           MOVE "ORD0" TO OD-ID
           MOVE 0 TO OD-TOTAL
           MOVE "NONE" TO OD-NOTE
""", dump("OD-0", "OD-REC"), """\
           MOVE 2 TO OD-COUNT
           MOVE "ORD2" TO OD-ID
           MOVE "ABC" TO OD-SKU(1)
           MOVE 5 TO OD-QTY(1)
           MOVE 1.25 TO OD-PRICE(1)
           MOVE "XY" TO OD-SKU(2)
           MOVE -12 TO OD-QTY(2)
           MOVE -0.5 TO OD-PRICE(2)
           COMPUTE OD-TOTAL = OD-QTY(1) * OD-PRICE(1)
                            + OD-QTY(2) * OD-PRICE(2)
           MOVE "NOTE" TO OD-NOTE
""", dump("OD-2", "OD-REC"), """\
           MOVE 3 TO OD-COUNT
           MOVE "ORD3" TO OD-ID
           MOVE "AAA" TO OD-SKU(1)
           MOVE 1 TO OD-QTY(1)
           MOVE 0.01 TO OD-PRICE(1)
           MOVE "BBB" TO OD-SKU(2)
           MOVE 999 TO OD-QTY(2)
           MOVE 999.99 TO OD-PRICE(2)
           MOVE "CCC" TO OD-SKU(3)
           MOVE -999 TO OD-QTY(3)
           MOVE -999.99 TO OD-PRICE(3)
           MOVE -0.01 TO OD-TOTAL
           MOVE "FULL" TO OD-NOTE
""", dump("OD-3", "OD-REC"),
    # COMP-1 and COMP-2
    """\
           MOVE 1 TO FL-ONE
           MOVE -118.625 TO FL-NEG
           COMPUTE FL-HALF = 1 / 2
           MOVE 0.375 TO FL-EIGHTHS
           MOVE 10000000000 TO FL-BIG
           MOVE 0.1 TO FL-TENTH-SHORT
""", dump("FL", "FL-REC"),
    # P scaling
    """\
           MOVE 12300 TO SC-HUNDREDS
           MOVE 0.0012 TO SC-TINY
           MOVE -4500 TO SC-BINARY
           MOVE -0.0007 TO SC-SIGNED
""", dump("SC", "SC-REC"),
    # numeric-edited: values, then zeros (BLANK WHEN ZERO the other way round)
    """\
           MOVE 5 TO ED-PLAIN
           MOVE -1234.5 TO ED-AMOUNT
           MOVE -12.3 TO ED-CREDIT
           MOVE 42.5 TO ED-STARS
           MOVE 1234.5 TO ED-FLOAT
           MOVE -7 TO ED-PLUS
           MOVE 123199 TO ED-DATE
           MOVE 0 TO ED-BLANK
""", dump("ED-1", "ED-REC"), """\
           MOVE 0 TO ED-PLAIN ED-AMOUNT ED-CREDIT ED-STARS ED-FLOAT
                     ED-PLUS ED-DATE
           MOVE 7.25 TO ED-BLANK
""", dump("ED-0", "ED-REC"),
    # SYNCHRONIZED: slack is left as GnuCOBOL initialized it
    """\
           MOVE "Y" TO SY-FLAG
           MOVE 100000 TO SY-FULL
           MOVE "ABC" TO SY-CODE
           MOVE -1 TO SY-HALF
           MOVE 1 TO SY-LONG
           MOVE -118.625 TO SY-SHORT
           MOVE 258 TO SY-NATIVE
           MOVE "Z" TO SY-END
""", dump("SY", "SY-REC"),
    # signs, packed, binary
    """\
           MOVE -12.5 TO SN-LEAD-SEP
           MOVE 7 TO SN-TRAIL-SEP
           MOVE -45 TO SN-LEADING
           MOVE -123 TO SN-TRAILING
           MOVE -5 TO SN-PACKED
           MOVE -2 TO SN-BINARY
           MOVE 258 TO SN-NATIVE
           MOVE -7 TO SN-SMALL
""", dump("SN-1", "SN-REC"), """\
           MOVE 99.9 TO SN-LEAD-SEP
           MOVE -999 TO SN-TRAIL-SEP
           MOVE 45 TO SN-LEADING
           MOVE 0 TO SN-TRAILING
           MOVE 999 TO SN-PACKED
           MOVE 9999 TO SN-BINARY
           MOVE -258 TO SN-NATIVE
           MOVE 99 TO SN-SMALL
""", dump("SN-2", "SN-REC"),
    # COMP-5 holds what its bytes hold, beyond its PIC's digits
    """\
           COMPUTE C5-HALF = 32767
           COMPUTE C5-UHALF = 65535
           COMPUTE C5-FULL = 2147483647
""", dump("C5", "C5-REC"),
    # several 01 records in WORKING-STORAGE: one of each
    """\
           MOVE "C" TO MC-TYPE
           MOVE "JONES" TO MC-NAME
           MOVE "A" TO MA-TYPE
           MOVE 42 TO MA-NUMBER
           MOVE -123.45 TO MA-BALANCE
""", dump("MR-CUST", "MR-CUST"), dump("MR-ACCT", "MR-ACCT"),
    # several 01 records of an FD, which share its record area: each WRITTEN to a file
    """\
           OPEN OUTPUT CARD-FILE
           MOVE SPACES TO LONG-REC
           MOVE "S" TO SR-TYPE
           MOVE "AB" TO SR-CODE
           WRITE SHORT-REC
           MOVE SPACES TO LONG-REC
           MOVE "L" TO LR-TYPE
           MOVE 5 TO LR-AMOUNT
           MOVE "HI" TO LR-NOTE
           WRITE LONG-REC
           CLOSE CARD-FILE
"""])

PROGRAM = """\
       IDENTIFICATION DIVISION.
       PROGRAM-ID. RECORDS.
       ENVIRONMENT DIVISION.
       INPUT-OUTPUT SECTION.
       FILE-CONTROL.
           SELECT CARD-FILE ASSIGN TO "CARDS.DAT"
               ORGANIZATION IS SEQUENTIAL.
       DATA DIVISION.
       FILE SECTION.
       FD  CARD-FILE.
       COPY CARDS.
       WORKING-STORAGE SECTION.
%s
       01  DUMP-LABEL          PIC X(12).
       01  DUMP-BUF            PIC X(200).
       01  DUMP-HEX            PIC X(400).
       01  DUMP-LEN            PIC 9(4) COMP.
       01  DUMP-I              PIC 9(4) COMP.
       01  DUMP-BYTE           PIC 9(3) COMP.
       01  DUMP-HI             PIC 9(2) COMP.
       01  DUMP-LO             PIC 9(2) COMP.
       01  HEX-DIGITS          PIC X(16) VALUE "0123456789abcdef".
       PROCEDURE DIVISION.
%s
           STOP RUN.
       DUMP-RECORD.
           MOVE SPACES TO DUMP-HEX
           PERFORM VARYING DUMP-I FROM 1 BY 1 UNTIL DUMP-I > DUMP-LEN
               COMPUTE DUMP-BYTE =
                   FUNCTION ORD(DUMP-BUF(DUMP-I:1)) - 1
               DIVIDE DUMP-BYTE BY 16 GIVING DUMP-HI REMAINDER DUMP-LO
               MOVE HEX-DIGITS(DUMP-HI + 1:1)
                 TO DUMP-HEX(DUMP-I * 2 - 1:1)
               MOVE HEX-DIGITS(DUMP-LO + 1:1) TO DUMP-HEX(DUMP-I * 2:1)
           END-PERFORM
           DISPLAY FUNCTION TRIM(DUMP-LABEL) " "
                   DUMP-HEX(1:DUMP-LEN * 2).
""" % ("".join("       COPY %s.\n" % name for name in COPYBOOKS if name != "CARDS"), FILL.rstrip("\n"))


class Written:
    """What the program wrote: each dumped record by its label, and the file's records."""

    def __init__(self, dumped: Dict[str, bytes], cards: List[bytes]) -> None:
        self.dumped = dumped
        self.cards = cards


def _variable_records(data: bytes) -> List[bytes]:
    """GnuCOBOL's variable-length sequential file (COB_VARSEQ_FORMAT 0): each record after a
    2-byte big-endian length and 2 bytes 00."""
    records, offset = [], 0
    while offset < len(data):
        assert data[offset + 2:offset + 4] == b"\0\0", data[offset:offset + 4]
        length = int.from_bytes(data[offset:offset + 2], "big")
        records.append(data[offset + 4:offset + 4 + length])
        offset += 4 + length
    return records


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Written:
    """The program compiled once and run once: the records of every test of this module."""
    cobc = shutil.which("cobc")
    if cobc is None:
        pytest.skip("cobc (GnuCOBOL) is not installed: these known answers come from it")
    tmp = tmp_path_factory.mktemp("gnucobol_records")
    for name, text in COPYBOOKS.items():
        (tmp / ("%s.cpy" % name)).write_text(text)
    (tmp / "RECORDS.cob").write_text(PROGRAM)
    compiled = subprocess.run([cobc, "-x", "-fodoslide", "-I", str(tmp), "-o", str(tmp / "records"),
                               str(tmp / "RECORDS.cob")], capture_output=True, text=True, timeout=120)
    assert compiled.returncode == 0, compiled.stderr
    env = {key: value for key, value in os.environ.items() if key != "COB_FILE_PATH"}
    env["COB_VARSEQ_FORMAT"] = "0"
    ran = subprocess.run([str(tmp / "records")], cwd=tmp, env=env, capture_output=True, timeout=60)
    assert ran.returncode == 0, ran.stderr
    dumped = {}
    for line in ran.stdout.decode("ascii").splitlines():
        label, _, hex_bytes = line.partition(" ")
        dumped[label] = bytes.fromhex(hex_bytes)
    return Written(dumped, _variable_records((tmp / "CARDS.DAT").read_bytes()))


def book(name: str, selector: Optional[str] = None) -> Copybook:
    return Copybook.parse(COPYBOOKS[name], name + ".cpy", selector=Selector.parse(selector) if selector else None)


def both_ways(copybook: Copybook, data: bytes, value: Any) -> None:
    """GnuCOBOL's bytes decode to the values it was given, which encode to the same bytes."""
    assert copybook.decode(data) == value
    assert copybook.encode(value).hex() == data.hex()


# -- REDEFINES --------------------------------------------------------------------------------

CUSTOMER = {"id": "C", "cust": {"name": "SMITH", "bal": D("-1234.50")}, "tail": "OK"}
ACCOUNT = {"id": "A", "acct": {"acct_no": D(1234), "rate": D("0.500")}, "tail": "OK"}


def test_redefines_views_chosen_by_the_segment_id(written):
    copybook = book("RDREC", "RD-ID=C:RD-CUST,A:RD-ACCT")
    both_ways(copybook, written.dumped["RD-CUST"], CUSTOMER)
    both_ways(copybook, written.dumped["RD-ACCT"], ACCOUNT)


def test_redefines_every_view_with_null_for_an_invalid_one(written):
    """SMITH is no PIC 9(6); 001234 then 01F4 2020 is no packed S9(5)V99 (F is no digit)."""
    copybook = book("RDREC")
    both_ways(copybook, written.dumped["RD-CUST"], dict(CUSTOMER, acct=None))
    both_ways(copybook, written.dumped["RD-ACCT"], dict(ACCOUNT, cust=None))


# -- OCCURS DEPENDING ON ----------------------------------------------------------------------

@pytest.mark.parametrize("label, value", [
    ("OD-0", {"id": "ORD0", "count": D(0), "item": [], "total": D(0), "note": "NONE"}),
    ("OD-2", {"id": "ORD2", "count": D(2), "item": [
        {"sku": "ABC", "qty": D(5), "price": D("1.25")}, {"sku": "XY", "qty": D(-12), "price": D("-0.50")}],
        "total": D("12.25"), "note": "NOTE"}),
    ("OD-3", {"id": "ORD3", "count": D(3), "item": [
        {"sku": "AAA", "qty": D(1), "price": D("0.01")}, {"sku": "BBB", "qty": D(999), "price": D("999.99")},
        {"sku": "CCC", "qty": D(-999), "price": D("-999.99")}], "total": D("-0.01"), "note": "FULL"}),
])
def test_odo_records_are_as_long_as_their_count_with_the_items_after_the_table(written, label, value):
    data = written.dumped[label]
    assert len(data) == 4 + 2 + 10 * len(value["item"]) + 4 + 4
    both_ways(book("ODREC"), data, value)


def test_an_odo_record_with_more_after_it_is_refused_unless_padding_or_ignored(written):
    copybook = book("ODREC")
    data = written.dumped["OD-0"]
    with pytest.raises(RecordError) as caught:
        copybook.decode(data + b"  ")
    assert caught.value.field == "OD-REC"
    assert copybook.decode(data + b"  ", trailing="padding")["note"] == "NONE"
    assert copybook.decode(data + b"xy", trailing="ignored")["note"] == "NONE"


# -- COMP-1, COMP-2 ---------------------------------------------------------------------------

def test_comp_1_and_comp_2_are_ieee_little_endian(written):
    data = written.dumped["FL"]
    assert data[:4].hex() == "0000803f"  # 1.0 as binary32, little-endian: GnuCOBOL on x86
    assert data[4:12].hex() == "0000000000a85dc0"  # -118.625 as binary64
    # exact binary fractions only in COMP-2: GnuCOBOL 3.1's MOVE 0.1 writes 3FB9999999999999, the
    # double below the nearest one to 0.1 (which the codec reads, rightly, as 0.09999999999999999)
    both_ways(book("FLREC"), data, {"one": D(1), "neg": D("-118.625"), "half": D("0.5"), "eighths": D("0.375"),
                                    "big": D(10000000000), "tenth_short": D("0.1")})


# -- P scaling --------------------------------------------------------------------------------

def test_p_scaling(written):
    """9(3)PP stores 12300 as 123, VPP99 0.0012 as 12, S99PP COMP -4500 as -45. (Not
    S99PP COMP-3: GnuCOBOL 3.1.2 writes 000D for MOVE -4500 to it, and a COMPUTE into it wrote
    over the next field.)"""
    data = written.dumped["SC"]
    assert data.hex() == b"123".hex() + b"12".hex() + "d3" + b"-007".hex()  # -45 in 1 byte: -4500
    both_ways(book("SCREC"), data, {"hundreds": D(12300), "tiny": D("0.0012"), "binary": D(-4500),
                                    "signed": D("-0.0007")})


# -- numeric-edited ---------------------------------------------------------------------------

@pytest.mark.parametrize("label, value", [
    ("ED-1", {"plain": D(5), "amount": D("-1234.5"), "credit": D("-12.3"), "stars": D("42.5"),
              "float": D("1234.5"), "plus": D(-7), "date": D(123199), "blank": D(0)}),
    ("ED-0", {"plain": D(0), "amount": D(0), "credit": D(0), "stars": D(0), "float": D(0), "plus": D(0),
              "date": D(0), "blank": D("7.25")}),
])
def test_numeric_edited_fields_as_a_move_writes_them(written, label, value):
    both_ways(book("EDREC"), written.dumped[label], value)


# -- SYNCHRONIZED -----------------------------------------------------------------------------

SLACK = (1, 2, 3, 11, 14, 15)  # FULL at 4, HALF at 12, LONG at 16 (SHORT at 24, NATIVE at 28: aligned)


def test_sync_items_are_where_gnucobol_aligns_them(written):
    """GnuCOBOL leaves its own initial bytes in the slack (spaces or zeros); the codec writes
    0x00 there and never reads it: the values and every other byte agree."""
    data = written.dumped["SY"]
    assert len(data) == 31
    value = {"flag": "Y", "full": D(100000), "code": "ABC", "half": D(-1), "long": D(1), "short": D("-118.625"),
             "native": D(258), "end": "Z"}
    copybook = book("SYREC")
    assert copybook.decode(data) == value
    encoded = copybook.encode(value)
    assert len(encoded) == len(data)
    assert [encoded[i] for i in SLACK] == [0] * len(SLACK)
    assert [b for i, b in enumerate(encoded) if i not in SLACK] == [b for i, b in enumerate(data) if i not in SLACK]


# -- signs, packed, binary --------------------------------------------------------------------

@pytest.mark.parametrize("label, value", [
    ("SN-1", {"lead_sep": D("-12.5"), "trail_sep": D(7), "leading": D(-45), "trailing": D(-123), "packed": D(-5),
              "binary": D(-2), "native": D(258), "small": D(-7)}),
    ("SN-2", {"lead_sep": D("99.9"), "trail_sep": D(-999), "leading": D(45), "trailing": D(0), "packed": D(999),
              "binary": D(9999), "native": D(-258), "small": D(99)}),
])
def test_signs_packed_and_binary(written, label, value):
    """GnuCOBOL's defaults: an overpunched sign p-y for negative, COMP big-endian, COMP-5
    little-endian, PIC S99 COMP one byte."""
    data = written.dumped[label]
    assert len(data) == 5 + 4 + 3 + 3 + 2 + 2 + 2 + 1
    both_ways(book("SNREC"), data, value)


def test_comp_5_holds_the_full_range_of_its_bytes(written):
    """COMP-5 is native binary: GnuCOBOL (and IBM COBOL: "not limited by the PICTURE") store
    32767 in a PIC S9(4) COMP-5, 65535 in 9(4), 2147483647 in S9(9)."""
    data = written.dumped["C5"]
    assert data.hex() == "ff7f" "ffff" "ffffff7f"
    both_ways(book("C5REC"), data, {"half": D(32767), "uhalf": D(65535), "full": D(2147483647)})


# -- several 01 records -----------------------------------------------------------------------

MR_CUST = {"mr_cust": {"type": "C", "name": "JONES"}}
MR_ACCT = {"mr_acct": {"type": "A", "number": D(42), "balance": D("-123.45")}}


def test_several_01_records_chosen_by_a_type_field(written):
    copybook = book("MRREC", "MC-TYPE=C:MR-CUST,A:MR-ACCT")
    both_ways(copybook, written.dumped["MR-CUST"], MR_CUST)
    both_ways(copybook, written.dumped["MR-ACCT"], MR_ACCT)


def test_several_01_records_without_a_selector(written):
    """JONES is no PIC 9(5): the account view of the customer record is null."""
    both_ways(book("MRREC"), written.dumped["MR-CUST"], dict(MR_CUST, mr_acct=None))


def test_several_01_records_of_different_lengths_as_gnucobol_writes_them(written):
    """An FD's 01 records share its record area; GnuCOBOL WRITEs each at its own length
    (a variable-length file: 4 bytes, then 10)."""
    short, long = written.cards
    assert (short, long) == (b"SAB ", b"L\0\0\0\x5cHI   ")
    copybook = book("CARDS", "SR-TYPE=S:SHORT-REC,L:LONG-REC")
    both_ways(copybook, long, {"long_rec": {"type": "L", "amount": D(5), "note": "HI"}})
    both_ways(copybook, short, {"short_rec": {"type": "S", "code": "AB"}})
