#!/usr/bin/env python3
"""Benchmark: decoding a mainframe dataset of 100 MB and more, speed and peak memory.

Makes (in a temporary directory) a customer-accounts file as a mainframe unloads one:
cp037, RECFM=VB, records of the CUSTACCT layout below — a consumer or a business (a
REDEFINES chosen by the record type), an address and contact block, packed balances and
rates, binary fields, and 0 to 12 recent transactions (OCCURS DEPENDING ON), about 880
bytes a record on average — from a pool of generated records, until it holds --megabytes
(default 110). Then, each in its own process pinned to one core:
- values: every record read (record_formats) and decoded (Copybook.decode) to its JSON
  value, the library's own use;
- json-lines: ``cobol-data decode`` of the file to /dev/null, the command's use;
- convert: ``cobol-data convert`` to ASCII fixed records (no target: for the record).
MB/s counts input bytes over the process's whole run (start-up included), the best of
--repeat runs (default 3; the median is printed too: this kind of machine is shared, and
a run can lose a third of its speed to a neighbour); peak memory is the process's maximum
resident set, for the whole file (the largest of the runs) and for its first tenth: it
must not grow with the file's size.
Targets: values and json-lines >= 20 MB/s of input; peak memory over the whole file no
more than 8 MB above the tenth's. Exit 1 if one is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any, Dict, List, Tuple

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bootstrap_sdk.copybook import Copybook, DataEncoding, Selector  # noqa: E402
from bootstrap_sdk.copybook.record_formats import RecordFormat, RecordWriter  # noqa: E402

COPYBOOK = """\
      * CUSTACCT - one customer account: a consumer or a business, its
      * address and contact, balances, and up to 24 recent transactions.
       01  CUSTOMER-ACCOUNT.
           05  CA-RECORD-TYPE          PIC X.
               88  CA-CONSUMER         VALUE 'C'.
               88  CA-BUSINESS         VALUE 'B'.
           05  CA-ACCOUNT-NO           PIC 9(12).
           05  CA-BRANCH               PIC S9(4) COMP.
           05  CA-OPENED-DATE          PIC 9(8).
           05  CA-HOLDER.
               10  CA-PERSON.
                   15  CA-TITLE        PIC X(4).
                   15  CA-FIRST-NAME   PIC X(20).
                   15  CA-MIDDLE-NAME  PIC X(20).
                   15  CA-LAST-NAME    PIC X(30).
                   15  CA-BIRTH-DATE   PIC 9(8).
                   15  CA-NATIONAL-ID  PIC X(11).
                   15  FILLER          PIC X(7).
               10  CA-COMPANY REDEFINES CA-PERSON.
                   15  CA-COMPANY-NAME PIC X(60).
                   15  CA-TAX-ID       PIC X(12).
                   15  CA-EMPLOYEES    PIC 9(7) COMP-3.
                   15  CA-SECTOR       PIC X(4).
                   15  FILLER          PIC X(20).
           05  CA-ADDRESS.
               10  CA-STREET-1         PIC X(40).
               10  CA-STREET-2         PIC X(40).
               10  CA-CITY             PIC X(30).
               10  CA-REGION           PIC X(20).
               10  CA-POSTCODE         PIC X(10).
               10  CA-COUNTRY          PIC X(3).
           05  CA-CONTACT.
               10  CA-PHONE            PIC X(16).
               10  CA-MOBILE           PIC X(16).
               10  CA-EMAIL            PIC X(60).
           05  CA-STATUS               PIC X.
           05  CA-CURRENCY             PIC X(3).
           05  CA-BALANCE              PIC S9(13)V99 COMP-3.
           05  CA-AVAILABLE            PIC S9(13)V99 COMP-3.
           05  CA-CREDIT-LIMIT         PIC S9(11)V99 COMP-3.
           05  CA-INTEREST-RATE        PIC S9(3)V9(4) COMP-3.
           05  CA-LAST-STATEMENT       PIC 9(8).
           05  CA-NOTES                PIC X(80).
           05  CA-TXN-COUNT            PIC S9(4) COMP.
           05  CA-TRANSACTION OCCURS 0 TO 24 TIMES
                   DEPENDING ON CA-TXN-COUNT.
               10  CA-TXN-DATE         PIC 9(8).
               10  CA-TXN-AMOUNT       PIC S9(11)V99 COMP-3.
               10  CA-TXN-CODE         PIC X(4).
               10  CA-TXN-REFERENCE    PIC X(16).
               10  CA-TXN-DESCRIPTION  PIC X(30).
"""
SELECT = "RECORD-TYPE=C:PERSON,B:COMPANY"
ENCODING = "cp037"
TARGET_MB_S = 20.0
MEMORY_SLACK_MB = 8.0

FIRST = ["ADA", "GRACE", "ALAN", "EDSGER", "BARBARA", "DONALD", "FRANCES", "JOHN", "KATHERINE", "NIKLAUS"]
LAST = ["LOVELACE", "HOPPER", "TURING", "DIJKSTRA", "LISKOV", "KNUTH", "ALLEN", "BACKUS", "JOHNSON", "WIRTH"]
CITIES = ["SPRINGFIELD", "RIVERTON", "LAKEWOOD", "FAIRVIEW", "MIDDLETON", "GREENVILLE"]
CODES = [("POS", "CARD PURCHASE"), ("ATM", "CASH WITHDRAWAL"), ("DD", "DIRECT DEBIT"), ("SAL", "SALARY"),
         ("TRF", "TRANSFER"), ("INT", "INTEREST")]


def account(rng: random.Random, number: int) -> Dict[str, Any]:
    """One generated account, the way such files look: mostly consumers, some businesses."""
    def money(limit: int) -> Decimal:
        return Decimal(rng.randint(-limit, limit)).scaleb(-2)
    consumer = rng.random() < 0.75
    if consumer:
        holder = {"person": {"title": rng.choice(["MR", "MS", "DR", ""]), "first_name": rng.choice(FIRST),
                             "middle_name": rng.choice(["", "J", "MARIE"]), "last_name": rng.choice(LAST),
                             "birth_date": Decimal(rng.randint(1940, 2005) * 10000 + rng.randint(1, 12) * 100 + 1),
                             "national_id": "ID%09d" % rng.randint(0, 10 ** 9 - 1)}}
    else:
        holder = {"company": {"company_name": "%s %s LTD" % (rng.choice(LAST), rng.choice(["TRADING", "HOLDINGS"])),
                              "tax_id": "TX%010d" % number, "employees": Decimal(rng.randint(1, 500000)),
                              "sector": rng.choice(["MANU", "RETL", "FINS", "AGRI"])}}
    moves = rng.randint(0, 12)
    return {"record_type": "C" if consumer else "B", "account_no": Decimal(number),
            "branch": Decimal(rng.randint(1, 9999)), "opened_date": Decimal(20000101 + rng.randint(0, 25) * 10000),
            "holder": holder,
            "address": {"street_1": "%d %s STREET" % (rng.randint(1, 999), rng.choice(LAST)), "street_2": "",
                        "city": rng.choice(CITIES), "region": "STATE", "postcode": "%05d" % rng.randint(0, 99999),
                        "country": "USA"},
            "contact": {"phone": "+1 555 %04d" % rng.randint(0, 9999), "mobile": "",
                        "email": "customer%d@example.com" % number},
            "status": rng.choice("AAAAS"), "currency": "USD", "balance": money(10 ** 9), "available": money(10 ** 9),
            "credit_limit": Decimal(rng.choice([0, 500000, 1000000])), "interest_rate": Decimal("1.2500"),
            "last_statement": Decimal(20261031), "notes": rng.choice(["", "", "PAPERLESS STATEMENTS"]),
            "txn_count": Decimal(moves),
            "transaction": [{"txn_date": Decimal(20261101 + rng.randint(0, 27)), "txn_amount": money(10 ** 7),
                             "txn_code": code, "txn_reference": "REF%08d" % rng.randint(0, 10 ** 8),
                             "txn_description": text}
                            for code, text in (rng.choice(CODES) for _ in range(moves))]}


def make_dataset(directory: Path, megabytes: int, seed: int = 20261128) -> Tuple[Path, Path, int]:
    """(the whole file, its first tenth, its record count): cp037 VB."""
    book = Copybook.parse(COPYBOOK, encoding=DataEncoding(ENCODING), selector=Selector.parse_many(SELECT))
    rng = random.Random(seed)
    pool = [book.encode(account(rng, number)) for number in range(1, 4001)]
    target = megabytes * 1_000_000
    whole, tenth = directory / "accounts.vb", directory / "accounts-tenth.vb"
    count = 0
    with open(whole, "wb") as handle, open(tenth, "wb") as small:
        writer, small_writer = RecordWriter(handle, RecordFormat("variable", blocked=True)), \
            RecordWriter(small, RecordFormat("variable", blocked=True))
        written = 0
        while written < target:
            record = pool[rng.randrange(len(pool))]
            writer.write(record)
            if written < target // 10:
                small_writer.write(record)
            written += len(record) + 4
            count += 1
        writer.close()
        small_writer.close()
    return whole, tenth, count


VALUES = """\
import os, sys, time
os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
sys.path.insert(0, sys.argv[1])
from bootstrap_sdk.copybook import Copybook, DataEncoding, Selector
from bootstrap_sdk.copybook.record_formats import RecordFormat, read_records
book = Copybook.parse(sys.argv[3], encoding=DataEncoding(sys.argv[4]), selector=Selector.parse_many(sys.argv[5]))
decode = book.decode
count = 0
with open(sys.argv[2], "rb") as handle:
    for _, _, record in read_records(handle, RecordFormat("variable", blocked=True)):
        decode(record)
        count += 1
print(count)
"""


def run_measured(command: List[str], size: int) -> Dict[str, float]:
    """Run ``command`` on one core, its stdout to /dev/null: its time and its peak resident set."""
    started = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 1)
        os.execv(command[0], command)
    _, status, usage = os.wait4(pid, 0)
    seconds = time.perf_counter() - started
    if status != 0:
        raise SystemExit("%s failed (status %d)" % (" ".join(command[:5]), status))
    return {"seconds": seconds, "mb_s": size / seconds / 1e6, "peak_mb": usage.ru_maxrss / 1024}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--megabytes", type=int, default=110, help="the dataset's size (default 110)")
    parser.add_argument("--keep", type=Path, help="make the dataset in this directory and keep it")
    parser.add_argument("--repeat", type=int, default=3, help="runs over the whole file, each mode (default 3)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-datasets-") as scratch:
        directory = args.keep or Path(scratch)
        directory.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        whole, tenth, count = make_dataset(directory, args.megabytes)
        size, small = whole.stat().st_size, tenth.stat().st_size
        print("dataset: %s, %d records, %.1f MB (%.0f bytes a record with its RDW), made in %.1f s" % (
            ENCODING, count, size / 1e6, size / count, time.perf_counter() - started))
        (directory / "CUSTACCT.cpy").write_text(COPYBOOK)
        python = sys.executable
        values = [python, "-c", VALUES, str(ROOT), "", COPYBOOK, ENCODING, SELECT]
        cli = [python, "-m", "bootstrap_sdk.copybook.cli"]
        decode = cli + ["decode", str(directory / "CUSTACCT.cpy"), "", "--encoding", ENCODING, "--format", "VB",
                        "--select", SELECT, "-o", os.devnull]
        convert = cli + ["convert", str(directory / "CUSTACCT.cpy"), "", "--from", ENCODING + ":VB",
                         "--to", "ascii:F", "--select", SELECT, "-o", os.devnull]
        os.environ["PYTHONPATH"] = str(ROOT)
        results: Dict[str, Tuple[Dict[str, float], Dict[str, float]]] = {}
        for name, command, slot in (("values", values, 4), ("json-lines", decode, 5), ("convert", convert, 5)):
            small_run = run_measured(command[:slot] + [str(tenth)] + command[slot + 1:], small)
            runs = [run_measured(command[:slot] + [str(whole)] + command[slot + 1:], size)
                    for _ in range(args.repeat)]
            speeds = sorted(run["mb_s"] for run in runs)
            best = {"mb_s": speeds[-1], "median_mb_s": statistics.median(speeds),
                    "peak_mb": max(run["peak_mb"] for run in runs)}
            results[name] = (small_run, best)
            print("%-11s %6.1f MB/s over %.1f MB, best of %d (median %.1f); peak memory %.1f MB (%.1f MB for the "
                  "first tenth)" % (name, best["mb_s"], size / 1e6, args.repeat, best["median_mb_s"], best["peak_mb"],
                                    small_run["peak_mb"]))
    missed = []
    for name in ("values", "json-lines"):
        tenth_run, whole_run = results[name]
        if whole_run["mb_s"] < TARGET_MB_S:
            missed.append("%s: %.1f MB/s < %.0f" % (name, whole_run["mb_s"], TARGET_MB_S))
        if whole_run["peak_mb"] > tenth_run["peak_mb"] + MEMORY_SLACK_MB:
            missed.append("%s: peak memory grows with the file (%.1f MB for a tenth, %.1f MB for all)" % (
                name, tenth_run["peak_mb"], whole_run["peak_mb"]))
    print(json.dumps({name: {"mb_s": round(runs[1]["mb_s"], 1), "median_mb_s": round(runs[1]["median_mb_s"], 1),
                             "peak_mb": round(runs[1]["peak_mb"], 1), "peak_mb_tenth": round(runs[0]["peak_mb"], 1)}
                      for name, runs in results.items()}))
    for problem in missed:
        print("FAIL " + problem)
    if not missed:
        print("PASS: values and json-lines >= %.0f MB/s of input; peak memory does not grow with the file" %
              TARGET_MB_S)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
