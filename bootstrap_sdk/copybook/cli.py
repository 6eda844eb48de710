"""``cobol-data``: a dataset's records ↔ JSON Lines, and from one encoding and format to another.

The step every migration off a mainframe needs before the recompiled program runs: the
files it reads were written in EBCDIC, often as variable-length records, and GnuCOBOL on
Linux reads ASCII fixed-length ones. Every record is decoded exactly (``copybook.codec``)
and streamed (``copybook.record_formats``), so a file of any size converts in constant
memory; the first record that does not fit stops the run with its index, byte offset and
field.

Exit codes: 0 done; 1 a record does not fit (nothing after it is written); 2 bad command
line; 3 an input cannot be read, or the copybook or an option is unusable.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any, BinaryIO, Dict, Iterator, List, Optional, Tuple

from .codec import Copybook, RecordError, Selector
from .codepages import ENCODINGS, DataEncoding
from .parser import CopybookError, Field
from .record_formats import RecordFormat, RecordFormatError, RecordWriter, read_records

EXIT_RECORD = 1
EXIT_INPUT = 3

EPILOG = """\
formats: F or FB (fixed: every record LRECL bytes, the copybook's length unless --lrecl),
V (each record behind its 4-byte RDW), VB (V in blocks, each behind its BDW), lines (each
record a line: a newline in the encoding, 0x25 in cp037, 0x15 in cp1047).

encodings: ascii is GnuCOBOL's own data (latin-1 text, its sign overpunch, IEEE floats,
COMP-5 little-endian); cp037, cp1140, cp500, cp273 and cp1047 are EBCDIC as a mainframe
writes it (zoned signs in the zone nibble, IBM hexadecimal floats, COMP-5 big-endian).

--select FIELD=VALUE:VIEW,...: which view of a REDEFINES (or which 01 record) each record
uses, by the value of a segment-id field; * stands for any other value; several
selectors, one per REDEFINES, are separated by ';'. Without one, decode gives every view
(null where the bytes are not valid as it) and encode takes the one given.

examples:
  cobol-data layout CUSTOMER.cpy
  cobol-data decode CUSTOMER.cpy customers.vb --encoding cp037 --format VB -o customers.jsonl
  cobol-data encode CUSTOMER.cpy customers.jsonl --format F -o customers.dat
  cobol-data convert CUSTOMER.cpy customers.vb --from cp037:VB --to ascii:F -o customers.dat \\
      --select SEGMENT-ID=C:CUSTOMER-DATA,A:ACCOUNT-DATA
"""


class _Usage(Exception):
    """An input or option that cannot be used (exit 3)."""


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="cobol-data", formatter_class=argparse.RawDescriptionHelpFormatter,
                                description="Decode, encode and convert datasets of COBOL records.", epilog=EPILOG)
    commands = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def common(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("copybook", help="the copybook that lays out the records (its 01 records, fixed or free "
                                          "format)")
        sub.add_argument("--select", metavar="FIELD=VALUE:VIEW,...",
                         help="the view each record uses, chosen by a segment-id field's value (';' between "
                              "selectors for several REDEFINES)")
        sub.add_argument("--json", action="store_true",
                         help="machine output on stderr: progress, the summary and any error as JSON lines")
        sub.add_argument("--progress", action="store_true",
                         help="report progress on stderr every 2 seconds (the default when stderr is a terminal)")

    layout = commands.add_parser("layout", help="print each field's offset, size and JSON name",
                                 description="Print the record layout as the codec reads it: each field's offset, "
                                             "length, type and JSON path.")
    layout.add_argument("copybook", help="the copybook to lay out")
    layout.add_argument("--json", action="store_true", help="the layout as one JSON document")

    for name, summary, description, source, target in (
            ("decode", "records → JSON Lines", "Decode a dataset's records into JSON Lines, one object a record.",
             "the dataset", "the JSON Lines file"),
            ("encode", "JSON Lines → records", "Encode JSON Lines, one object a record, into a dataset.",
             "the JSON Lines file", "the dataset")):
        sub = commands.add_parser(name, help=summary, epilog=EPILOG, description=description,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
        common(sub)
        sub.add_argument("input", nargs="?", default="-", help="%s (default: stdin)" % source)
        sub.add_argument("-o", "--output", default="-", help="%s (default: stdout)" % target)
        _data_options(sub)
        if name == "decode":
            sub.add_argument("--blank-numbers", choices=("error", "zero"), default="error",
                             help="an all-space numeric field: an error (default), or read as 0")

    convert = commands.add_parser("convert", help="records in one encoding and format → another", epilog=EPILOG,
                                  formatter_class=argparse.RawDescriptionHelpFormatter,
                                  description="Convert a dataset between encodings and record formats, decoding "
                                              "and re-encoding every record (so every value is checked).")
    common(convert)
    convert.add_argument("input", help="the dataset to read ('-': stdin)")
    convert.add_argument("-o", "--output", required=True, help="the dataset to write ('-': stdout)")
    convert.add_argument("--from", dest="source", required=True, metavar="ENCODING:FORMAT",
                         help="the input's encoding and format, e.g. cp037:VB")
    convert.add_argument("--to", dest="target", required=True, metavar="ENCODING:FORMAT",
                         help="the output's encoding and format, e.g. ascii:F")
    convert.add_argument("--from-lrecl", type=int, default=0, help="the input's LRECL (F/FB)")
    convert.add_argument("--to-lrecl", type=int, default=0, help="the output's LRECL (F/FB)")
    convert.add_argument("--blank-numbers", choices=("error", "zero"), default="error",
                         help="an all-space numeric field: an error (default), or read (and written) as 0")
    return p


def _data_options(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("--encoding", default="ascii", choices=ENCODINGS,
                     help="the records' encoding (default ascii: GnuCOBOL's own data)")
    sub.add_argument("--format", default="F", metavar="F|FB|V|VB|lines",
                     help="how records sit in the dataset (default F)")
    sub.add_argument("--lrecl", type=int, default=0,
                     help="F/FB: the record length (default: the copybook's, its largest when a count varies it)")


def main(argv: Optional[List[str]] = None) -> int:
    """The command: its exit code (see the module's docstring)."""
    args = parser().parse_args(argv)
    report = _Reporter(args.json, getattr(args, "progress", False))
    try:
        if args.command == "layout":
            return _layout(args)
        return _run(args, report)
    except _Usage as exc:
        report.error(str(exc), None)
        return EXIT_INPUT
    except KeyboardInterrupt:
        report.error("interrupted", None)
        return 130


def _book(path: str, encoding: str, select: Optional[str]) -> Copybook:
    try:
        selector = Selector.parse_many(select) if select else None
        return Copybook.load(path, DataEncoding(encoding), selector)
    except OSError as exc:
        raise _Usage("copybook %s: %s" % (path, exc.strerror)) from None
    except (CopybookError, ValueError) as exc:
        raise _Usage(str(exc)) from None


def _format(text: str, book: Copybook, lrecl: int) -> RecordFormat:
    try:
        if text.strip().lower() in ("f", "fb", "fixed"):
            return RecordFormat.parse(text, lrecl=lrecl or book.record_length)
        if lrecl:
            raise ValueError("--lrecl is for F/FB records (%s records carry their own lengths)" % text)
        return RecordFormat.parse(text, newline=book.encoding.newline)
    except ValueError as exc:
        raise _Usage(str(exc)) from None


def _run(args: argparse.Namespace, report: "_Reporter") -> int:
    if args.command == "convert":
        source_encoding, source_format = _pair(args.source, "--from")
        target_encoding, target_format = _pair(args.target, "--to")
        reader = _book(args.copybook, source_encoding, args.select)
        writer = reader.using(_encoding(target_encoding))
        formats = (_format(source_format, reader, args.from_lrecl), _format(target_format, writer, args.to_lrecl))
    else:
        reader = writer = _book(args.copybook, args.encoding, args.select)
        formats = (_format(args.format, reader, args.lrecl),) * 2
    if formats[1].kind == "fixed" and formats[1].lrecl < writer.record_length and args.command != "decode":
        raise _Usage("LRECL %d is shorter than the copybook's record (%d bytes)" % (formats[1].lrecl,
                                                                                    writer.record_length))
    source = _open(args.input, "rb")
    total = _size(source)
    try:
        target = _open(args.output, "wb")
    except _Usage:
        source.close()
        raise
    blank = getattr(args, "blank_numbers", "error") == "zero"
    report.start(total)
    count = 0
    try:
        if args.command == "decode":
            count = _decode(source, target, reader, formats[0], blank, report)
        elif args.command == "encode":
            count = _encode(source, target, writer, formats[1], report)
        else:
            count = _convert(source, target, reader, writer, formats, blank, report)
    except (RecordError, RecordFormatError) as exc:
        report.failed(exc)
        return EXIT_RECORD
    finally:
        source.close()
        target.flush()
        if target is not sys.stdout.buffer:
            target.close()
    report.done(count)
    return 0


def _pair(text: str, option: str) -> Tuple[str, str]:
    encoding, colon, kind = text.partition(":")
    if not colon or not encoding or not kind:
        raise _Usage("%s %s: give ENCODING:FORMAT, e.g. cp037:VB or ascii:F" % (option, text))
    return encoding.lower(), kind


def _encoding(name: str) -> DataEncoding:
    try:
        return DataEncoding(name)
    except ValueError as exc:
        raise _Usage(str(exc)) from None


def _open(path: str, mode: str) -> BinaryIO:
    if path == "-":
        return sys.stdin.buffer if "r" in mode else sys.stdout.buffer
    try:
        return open(path, mode)  # type: ignore[return-value]  # binary: "rb" or "wb"; closed by _run
    except OSError as exc:
        raise _Usage("%s: %s" % (path, exc.strerror)) from None


def _size(stream: BinaryIO) -> Optional[int]:
    try:
        size = os.fstat(stream.fileno()).st_size
        return size if size > 0 else None
    except (OSError, ValueError):
        return None


def _trailing(fmt: RecordFormat) -> str:
    return "padding" if fmt.kind == "fixed" else "exact"


def _decode(source: BinaryIO, target: BinaryIO, book: Copybook, fmt: RecordFormat, blank: bool,
            report: "_Reporter") -> int:
    trailing = _trailing(fmt)
    lines: List[str] = []
    count = 0

    def flush() -> None:
        if lines:
            target.write(("\n".join(lines) + "\n").encode("utf-8", "surrogatepass"))
            lines.clear()
    try:
        for index, offset, record in read_records(source, fmt):
            try:
                lines.append(book.decode_json(record, blank, trailing))
            except RecordError as exc:
                raise _located(exc, index, offset) from None
            count += 1
            if len(lines) == 512:
                flush()
                report.tick(count, offset)
    finally:  # every record before a bad one is written
        flush()
    return count


def _encode(source: BinaryIO, target: BinaryIO, book: Copybook, fmt: RecordFormat, report: "_Reporter") -> int:
    from .codec import _load_event

    writer = RecordWriter(target, fmt)
    count = 0
    offset = 0
    for number, line in enumerate(source, 1):
        if not line.strip():
            offset += len(line)
            continue
        try:
            value = _load_event(line)
            record = book.encode(value)
        except RecordError as exc:
            raise RecordError("line %d: %s" % (number, exc.field), exc.message) from None
        writer.write(_fit(record, fmt, book))
        count += 1
        offset += len(line)
        if count % 512 == 0:
            report.tick(count, offset)
    writer.close()
    return count


def _convert(source: BinaryIO, target: BinaryIO, reader: Copybook, writer: Copybook,
             formats: Tuple[RecordFormat, RecordFormat], blank: bool, report: "_Reporter") -> int:
    out = RecordWriter(target, formats[1])
    trailing = _trailing(formats[0])
    count = 0
    for index, offset, record in read_records(source, formats[0]):
        try:
            value = reader.decode(record, blank, trailing)
            converted = writer.encode(value)
        except RecordError as exc:
            raise _located(exc, index, offset) from None
        out.write(_fit(converted, formats[1], writer))
        count += 1
        if count % 512 == 0:
            report.tick(count, offset)
    out.close()
    return count


def _fit(record: bytes, fmt: RecordFormat, book: Copybook) -> bytes:
    """A record as the format holds it: a fixed record padded to LRECL with the encoding's spaces."""
    if fmt.kind == "fixed" and len(record) < fmt.lrecl:
        return record + book.encoding.space * (fmt.lrecl - len(record))
    return record


def _located(exc: RecordError, index: int, offset: int) -> RecordFormatError:
    return RecordFormatError(index, offset, "%s: %s" % (exc.field, exc.message))


class _Reporter:
    """Progress, the summary and errors on stderr: as text, or JSON lines with --json."""

    def __init__(self, as_json: bool, progress: bool) -> None:
        self.as_json = as_json
        self.progress = progress or sys.stderr.isatty()
        self.total: Optional[int] = None
        self.started = time.monotonic()
        self.last = self.started
        self.offset = 0

    def _say(self, document: Dict[str, Any], text: str) -> None:
        sys.stderr.write((json.dumps(document) if self.as_json else text) + "\n")
        sys.stderr.flush()

    def start(self, total: Optional[int]) -> None:
        self.total = total

    def tick(self, count: int, offset: int) -> None:
        self.offset = offset
        now = time.monotonic()
        if not self.progress or now - self.last < 2.0:
            return
        self.last = now
        rate = offset / (now - self.started) / 1e6
        share = " (%.0f%%)" % (100.0 * offset / self.total) if self.total else ""
        self._say({"progress": {"records": count, "bytes": offset, "total_bytes": self.total,
                                "mb_per_second": round(rate, 2)}},
                  "%d records, %.1f MB%s, %.1f MB/s" % (count, offset / 1e6, share, rate))

    def done(self, count: int) -> None:
        seconds = time.monotonic() - self.started
        if self.as_json:
            self._say({"done": {"records": count, "seconds": round(seconds, 3)}}, "")
        elif self.progress:
            self._say({}, "%d records in %.1f s" % (count, seconds))

    def failed(self, exc: Exception) -> None:
        if isinstance(exc, RecordFormatError):
            self.error(str(exc), {"record": exc.index, "offset": exc.offset, "message": exc.message})
        else:
            self.error(str(exc), {"message": str(exc)})

    def error(self, message: str, where: Optional[Dict[str, Any]]) -> None:
        self._say({"error": dict(where or {}, message=(where or {}).get("message", message))},
                  "cobol-data: %s" % message)


def _layout(args: argparse.Namespace) -> int:
    try:
        book = Copybook.load(args.copybook)
    except OSError as exc:
        raise _Usage("copybook %s: %s" % (args.copybook, exc.strerror)) from None
    except CopybookError as exc:
        raise _Usage(str(exc)) from None
    rows = list(_rows(book.root, 0, "", True))
    if args.json:
        sys.stdout.write(json.dumps({"record_length": book.record_length, "variable": book.variable,
                                     "fields": [dict(zip(("offset", "size", "level", "name", "type", "path"), row))
                                                for row in rows]}, indent=1) + "\n")
        return 0
    sys.stdout.write("%-8s %6s  %-40s %-28s %s\n" % ("offset", "bytes", "field", "type", "JSON path"))
    for offset, size, level, name, kind, path in rows:
        sys.stdout.write("%-8s %6d  %-40s %-28s %s\n" % (offset, size, "  " * _depth(level) + "%02d %s" % (
            level, name), kind, path))
    sys.stdout.write("record: %d bytes%s\n" % (book.record_length, " at most (a count varies it)"
                                               if book.variable else ""))
    return 0


def _depth(level: int) -> int:
    return 0 if level <= 1 else 1 if level < 10 else 2 if level < 15 else 3


def _rows(field: Field, offset: int, path: str, fixed: bool) -> Iterator[Tuple[Any, ...]]:
    """(offset, size, level, name, type, JSON path) of each field; an offset after a varying table is +N."""
    place = offset if fixed else "+%d" % offset
    kind = "group" if field.children else field.kind if field.kind in ("float",) else \
        "%s %s" % (field.kind, field.picture)
    if field.occurs > 1 or field.depending_on is not None:
        kind += " x%s" % (field.occurs if field.depending_on is None else "%d-%d by %s" % (
            field.occurs_min, field.occurs, field.depending_on.name))
    if field.redefines is not None:
        kind += " redefines %s" % field.redefines.name
    yield (place, field.size, field.level, field.name, kind, path or "(record)")
    cursor = offset
    starts: Dict[int, Tuple[int, bool]] = {}
    for child in field.children:
        start, known = starts[id(child.redefines)] if child.redefines is not None else (cursor + child.slack, fixed)
        starts[id(child)] = (start, known)
        name = "" if child.is_filler else child.json_name
        child_path = (path + "." + name if path else name) if name else "(filler)"
        if child.occurs > 1 or child.depending_on is not None:
            child_path += "[]"
        yield from _rows(child, start, child_path, known)
        if child.redefines is None:
            cursor = start + child.size * child.occurs
            if child.depending_on is not None or child.variable:
                fixed = False


if __name__ == "__main__":
    sys.exit(main())
