"""cobol-data: datasets ↔ JSON Lines and between formats, run as a user runs it (a process).

The EBCDIC dataset here is assembled by hand (hex), not by the codec, so a decode that
agrees with it checks the command against an independent answer.
"""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import List

import pytest

COPYBOOK = """\
      * two kinds of record, told apart by their first byte
       01  CUSTOMER-REC.
           05  CU-TYPE             PIC X.
           05  CU-ID               PIC 9(4).
           05  CU-NAME             PIC X(6).
           05  CU-ORDERS           PIC S9(4) COMP.
           05  CU-ORDER OCCURS 0 TO 3 TIMES DEPENDING ON CU-ORDERS.
               10  CU-AMOUNT       PIC S9(5)V99 COMP-3.
       01  NOTE-REC.
           05  NT-TYPE             PIC X.
           05  NT-TEXT             PIC X(10).
"""
SELECT = "TYPE=C:CUSTOMER-REC,N:NOTE-REC"

# RECFM=VB in cp037: one block (BDW 4 bytes) of three records, each behind its RDW.
#   C 0042 'ALICE ' 2 orders: +12.50, -3.00   (1+4+6+2+2*4 = 21 bytes of data)
#   N 'HELLO!'                                 (1+10 = 11)
#   C 0007 'BOB   ' 0 orders                  (13)
RECORDS = [
    "c3" "f0f0f4f2" "c1d3c9c3c540" "0002" "0001250c" "0000300d",
    "d5" "c8c5d3d3d65a40404040",
    "c3" "f0f0f0f7" "c2d6c2404040" "0000",
]
EXPECTED = [
    {"customer_rec": {"type": "C", "id": 42, "name": "ALICE", "orders": 2,
                      "order": [{"amount": Decimal("12.50")}, {"amount": Decimal("-3.00")}]}},
    {"note_rec": {"type": "N", "text": "HELLO!"}},
    {"customer_rec": {"type": "C", "id": 7, "name": "BOB", "orders": 0, "order": []}},
]


def _vb(records: List[str]) -> bytes:
    body = b"".join((len(bytes.fromhex(r)) + 4).to_bytes(2, "big") + b"\0\0" + bytes.fromhex(r) for r in records)
    return (len(body) + 4).to_bytes(2, "big") + b"\0\0" + body


def cobol_data(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bootstrap_sdk.copybook.cli", *args], input=stdin,
                          capture_output=True, timeout=120)


@pytest.fixture
def files(tmp_path: Path) -> Path:
    (tmp_path / "BOOK.cpy").write_text(COPYBOOK)
    (tmp_path / "data.vb").write_bytes(_vb(RECORDS))
    return tmp_path


def test_decode_gives_one_json_object_a_record(files: Path):
    result = cobol_data("decode", str(files / "BOOK.cpy"), str(files / "data.vb"), "--encoding", "cp037",
                        "--format", "VB", "--select", SELECT)
    assert result.returncode == 0, result.stderr.decode()
    lines = result.stdout.decode().splitlines()
    assert [json.loads(line, parse_float=Decimal) for line in lines] == EXPECTED
    assert '"amount":12.50' in lines[0], "numbers are written digit for digit"


def test_convert_to_ascii_fixed_and_back_gives_the_same_bytes(files: Path):
    to_ascii = cobol_data("convert", str(files / "BOOK.cpy"), str(files / "data.vb"), "--from", "cp037:VB",
                          "--to", "ascii:F", "-o", str(files / "data.dat"), "--select", SELECT)
    assert to_ascii.returncode == 0, to_ascii.stderr.decode()
    fixed = (files / "data.dat").read_bytes()
    # records padded to the largest kind of record (25 bytes), with ASCII spaces
    assert len(fixed) == 3 * 25 and fixed[:11] == b"C0042ALICE " and fixed[25:50] == b"NHELLO!".ljust(25)
    back = cobol_data("convert", str(files / "BOOK.cpy"), str(files / "data.dat"), "--from", "ascii:F",
                      "--to", "cp037:VB", "-o", str(files / "back.vb"), "--select", SELECT)
    assert back.returncode == 0, back.stderr.decode()
    assert (files / "back.vb").read_bytes() == (files / "data.vb").read_bytes()


def test_encode_then_decode_round_trips_json_lines(files: Path):
    lines = "".join(json.dumps(value, default=str) + "\n" for value in EXPECTED).encode()
    encoded = cobol_data("encode", str(files / "BOOK.cpy"), "--encoding", "cp1047", "--format", "V",
                         "--select", SELECT, stdin=lines)
    assert encoded.returncode == 0, encoded.stderr.decode()
    decoded = cobol_data("decode", str(files / "BOOK.cpy"), "--encoding", "cp1047", "--format", "V",
                         "--select", SELECT, stdin=encoded.stdout)
    assert [json.loads(line, parse_float=Decimal) for line in decoded.stdout.decode().splitlines()] == EXPECTED


def test_a_lying_rdw_stops_the_run_naming_the_record_and_its_offset(files: Path):
    data = bytearray(_vb(RECORDS))
    data[4 + 25] = 0x40  # the second RDW now promises 0x40xx bytes
    (files / "bad.vb").write_bytes(bytes(data))
    result = cobol_data("decode", str(files / "BOOK.cpy"), str(files / "bad.vb"), "--encoding", "cp037",
                        "--format", "VB", "--select", SELECT, "--json")
    assert result.returncode == 1
    error = json.loads(result.stderr.decode().splitlines()[-1])["error"]
    assert (error["record"], error["offset"]) == (1, 29)
    assert len(result.stdout.decode().splitlines()) == 1, "the record before it was written"


def test_a_record_the_copybook_refuses_names_the_field(files: Path):
    bad = list(RECORDS)
    bad[0] = bad[0][:-8] + "0000300a"  # an amount whose sign nibble is A: positive in mainframe data,
    bad[2] = "c3" "f0f0f0f7" "c2d6c2404040" "0009"  # but 9 orders are beyond OCCURS 0 TO 3
    (files / "bad.vb").write_bytes(_vb(bad))
    result = cobol_data("decode", str(files / "BOOK.cpy"), str(files / "bad.vb"), "--encoding", "cp037",
                        "--format", "VB", "--select", SELECT)
    assert result.returncode == 1
    message = result.stderr.decode()
    assert "record 2 at byte" in message and "customer_rec.order" in message and "9" in message


def test_layout_prints_offsets_sizes_and_json_paths(files: Path):
    result = cobol_data("layout", str(files / "BOOK.cpy"), "--json")
    assert result.returncode == 0, result.stderr.decode()
    layout = json.loads(result.stdout)
    assert layout["variable"] is True and layout["record_length"] == 25
    rows = {row["name"]: row for row in layout["fields"]}
    assert (rows["CU-ORDERS"]["offset"], rows["CU-ORDERS"]["size"]) == (11, 2)
    assert rows["CU-AMOUNT"]["offset"] == 13 and rows["CU-ORDER"]["path"] == "customer_rec.order[]"
    assert rows["CU-ORDER"]["type"] == "group x0-3 by CU-ORDERS" and rows["NOTE-REC"]["offset"] == 0


@pytest.mark.parametrize("args, words", [
    (["decode", "NOPE.cpy", "-"], "NOPE.cpy"),
    (["decode", "{book}", "-", "--format", "VS"], "spanned"),
    (["decode", "{book}", "-", "--select", "TYPE=C"], "VALUE:VIEW"),
    (["decode", "{book}", "-", "--select", "NOSUCH=C:NOTE-REC"], "NOSUCH"),
    (["convert", "{book}", "-", "-o", "-", "--from", "cp037", "--to", "ascii:F"], "ENCODING:FORMAT"),
    (["encode", "{book}", "-", "--format", "F", "--lrecl", "5"], "shorter than the copybook"),
])
def test_unusable_options_exit_3_with_the_reason(files: Path, args: List[str], words: str):
    result = cobol_data(*[a.replace("{book}", str(files / "BOOK.cpy")) for a in args])
    assert result.returncode == 3, result.stderr.decode()
    assert words in result.stderr.decode()
