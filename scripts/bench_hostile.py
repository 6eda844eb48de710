#!/usr/bin/env python3
"""Benchmark: what hostile input costs before it is refused.

- Numbers (the copybook codec): each hostile JSON number — a huge or tiny exponent, 5,000
  digits, an exponent given as text — goes through RecordCodec.encode_event and must be
  refused (Copybook.InvalidEvent, naming the field) in microseconds: target <= 1 ms each
  (1e999990 took 12 s of CPU before the fix).
- Headers (the Runtime API client): a local server answers GET /next with a 64 MB header;
  the client must give up within the 64 KiB cap: target <= 1 s and <= 16 MB of Python
  allocations (it took 14.5 s and 157 MB before the fix).
Exit 1 if a target is missed.
"""

from __future__ import annotations

import socket
import sys
import threading
import time
import tracemalloc
from pathlib import Path
from typing import Tuple

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bootstrap_sdk.copybook import Copybook, RecordCodec, RecordError  # noqa: E402
from bootstrap_sdk.http_connection import ConnectionLost, HttpConnection  # noqa: E402

COPYBOOK = """       01  REC.
           05  R-NAME    PIC X(5).
           05  R-AMOUNT  PIC S9(7)V99 COMP-3.
"""
NUMBERS = [b"1e999990", b"1e999999999", b"1e-999999999", b"-1e999999999", b"9" * 5000, b'"1e999999999"',
           b"0." + b"0" * 5000 + b"1"]
HEADER_BYTES = 64 * 1024 * 1024


def time_numbers() -> float:
    """The slowest refusal, in µs (best of 5 per number, to see the work, not the noise)."""
    codec = RecordCodec(Copybook.parse(COPYBOOK), None, b"")
    worst = 0.0
    for number in NUMBERS:
        body = b'{"name": "ADA", "amount": ' + number + b"}"
        best = float("inf")
        for _ in range(5):
            started = time.perf_counter()
            try:
                codec.encode_event(body)
            except RecordError as exc:
                assert exc.field == "amount", exc
            else:
                raise AssertionError("%r was accepted" % number[:20])
            best = min(best, time.perf_counter() - started)
        print("  %-22s refused in %8.1f µs" % (number[:20].decode(), best * 1e6))
        worst = max(worst, best)
    return worst * 1e6


def time_header() -> Tuple[float, float]:
    """(seconds, peak MB of Python allocations) to refuse a 64 MB header."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)

    def serve() -> None:
        conn, _ = server.accept()
        try:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nX-Flood: ")
            chunk = b"a" * (1 << 20)
            for _ in range(HEADER_BYTES // len(chunk)):
                conn.sendall(chunk)
        except OSError:
            pass  # the client hung up: what it should do
        finally:
            conn.close()
            server.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    connection = HttpConnection("127.0.0.1:%d" % server.getsockname()[1])
    tracemalloc.start()
    started = time.perf_counter()
    try:
        connection.request("GET", "/2018-06-01/runtime/invocation/next", ())
    except ConnectionLost as exc:
        print("  refused: %s" % exc)
    else:
        raise AssertionError("a 64 MB header was accepted")
    seconds = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()
    connection.close()
    thread.join(5)
    return seconds, peak


def main() -> int:
    print("hostile numbers through the copybook codec:")
    worst_us = time_numbers()
    print("hostile header (%d MB) through the Runtime API client:" % (HEADER_BYTES >> 20))
    seconds, peak_mb = time_header()
    print("  given up after %.3f s, peak allocations %.2f MB" % (seconds, peak_mb))
    checks = [
        ("slowest number refusal %.1f µs" % worst_us, "<= 1000 µs", worst_us <= 1000),
        ("64 MB header refused in %.3f s" % seconds, "<= 1 s", seconds <= 1.0),
        ("64 MB header peak allocations %.2f MB" % peak_mb, "<= 16 MB", peak_mb <= 16),
    ]
    for what, target, ok in checks:
        print("%s (target %s): %s" % (what, target, "PASS" if ok else "FAIL"))
    return 0 if all(ok for _, _, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
