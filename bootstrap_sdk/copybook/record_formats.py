"""How records sit in a dataset: fixed, variable (RDW, optionally BDW) or lines — framing only.

The framing is kept apart from the record layout (the copybook) and from the code page, so
that every format works with every copybook and every code page: this module hands out and
takes in the data bytes of each record and never looks inside them. Reading streams in
constant memory (chunks of ``CHUNK_SIZE``); errors name the record's index and byte offset.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from itertools import accumulate, chain, count
from typing import BinaryIO, Iterator, List, Tuple

FORMATS = ("fixed", "variable", "lines")
CHUNK_SIZE = 1 << 20
MAX_RDW_DATA = 0xFFFF - 4  # the RDW's 2-byte length counts the RDW itself
_ALIASES = {"f": ("fixed", False), "fb": ("fixed", False), "fixed": ("fixed", False),
            "v": ("variable", False), "variable": ("variable", False), "vb": ("variable", True),
            "lines": ("lines", False), "text": ("lines", False)}
_HALVES = struct.Struct(">HH")
Record = Tuple[int, int, bytes]


class RecordFormatError(ValueError):
    """A record that cannot be framed: ``index`` (from 0) and ``offset`` (byte) say where."""

    def __init__(self, index: int, offset: int, message: str) -> None:
        super().__init__(index, offset, message)
        self.index, self.offset, self.message = index, offset, message

    def __str__(self) -> str:
        return "record %d at byte %d: %s" % (self.index, self.offset, self.message)


@dataclass(frozen=True)
class RecordFormat:
    """``kind`` in FORMATS; ``lrecl`` for fixed, ``blocked`` (BDWs) for variable, ``newline`` for lines."""

    kind: str
    lrecl: int = 0
    blocked: bool = False
    newline: bytes = b"\n"
    max_length: int = 32760
    block_size: int = 32760

    def __post_init__(self) -> None:
        if self.kind not in FORMATS:
            raise ValueError("record format %r: choose one of %s" % (self.kind, ", ".join(FORMATS)))
        if self.kind == "fixed" and self.lrecl <= 0:
            raise ValueError("fixed records need an LRECL > 0, not %r" % (self.lrecl,))
        if self.kind != "fixed" and self.lrecl:
            raise ValueError("lrecl applies to fixed records only (%s records: use max_length)" % self.kind)
        if self.blocked and self.kind != "variable":
            raise ValueError("blocked (BDWs present) applies to variable records only")
        if self.kind == "lines" and not (isinstance(self.newline, bytes) and self.newline):
            raise ValueError("lines need a non-empty newline byte sequence, not %r" % (self.newline,))
        top = MAX_RDW_DATA if self.kind == "variable" else 1 << 62
        if not 0 <= self.max_length <= top:
            raise ValueError("max_length must be 0..%d, not %d" % (top, self.max_length))
        if not 8 <= self.block_size <= 0x7FFFFFFF:
            raise ValueError("block_size must be 8..%d, not %d" % (0x7FFFFFFF, self.block_size))

    @classmethod
    def parse(cls, text: str, lrecl: int = 0, newline: bytes = b"\n") -> "RecordFormat":
        """``F``/``FB``/``fixed``, ``V``/``variable``, ``VB`` (with BDWs), ``lines``/``text``."""
        key = text.strip().lower()
        if key not in _ALIASES:
            why = "spanned records (VS/VBS) are not supported; " if key in ("vs", "vbs") else ""
            raise ValueError("record format %r: %schoose one of F, FB, fixed, V, variable, VB, lines, text"
                             % (text, why))
        kind, blocked = _ALIASES[key]
        return cls(kind, lrecl=lrecl, blocked=blocked, newline=newline if kind == "lines" else b"\n")


def read_records(stream: BinaryIO, fmt: RecordFormat, start_index: int = 0) -> Iterator[Record]:
    """Yield ``(index, offset, data)`` per record; offset is where its framing starts."""
    try:
        base = stream.tell()
    except (OSError, ValueError):
        base = 0
    if fmt.kind == "fixed":
        return _fixed(stream, fmt.lrecl, start_index, base)
    if fmt.kind == "lines":
        return _lines(stream, fmt.newline, fmt.max_length, start_index, base)
    return _variable(stream, fmt, start_index, base)


def _fixed(stream: BinaryIO, lrecl: int, index: int, base: int) -> Iterator[Record]:
    rest = b""
    while True:
        chunk = stream.read(CHUNK_SIZE)
        if not chunk:
            break
        data = rest + chunk if rest else chunk
        full = len(data) - len(data) % lrecl
        pieces = map(data.__getitem__, map(slice, range(0, full, lrecl), range(lrecl, full + 1, lrecl)))
        yield from zip(count(index), range(base, base + full, lrecl), pieces)
        index, base, rest = index + full // lrecl, base + full, data[full:]
    if rest:
        raise RecordFormatError(index, base, "the last record is %d bytes; LRECL is %d" % (len(rest), lrecl))


def _lines(stream: BinaryIO, newline: bytes, limit: int, index: int, base: int) -> Iterator[Record]:
    step, rest = len(newline), b""
    while True:
        chunk = stream.read(CHUNK_SIZE)
        if not chunk:
            break
        lines = (rest + chunk).split(newline)
        rest = lines.pop()
        if lines:
            offsets = list(accumulate(chain((base,), map(step.__add__, map(len, lines)))))
            if max(map(len, lines)) > limit:
                first = next(i for i, line in enumerate(lines) if len(line) > limit)
                yield from zip(count(index), offsets, lines[:first])
                raise RecordFormatError(index + first, offsets[first],
                                        "the line is longer than max_length %d" % limit)
            yield from zip(count(index), offsets, lines)
            index, base = index + len(lines), offsets[-1]
        if len(rest) >= limit + step:
            raise RecordFormatError(index, base, "the line is longer than max_length %d" % limit)
    if len(rest) > limit:
        raise RecordFormatError(index, base, "the line is longer than max_length %d" % limit)
    if rest:
        yield index, base, rest


def _variable(stream: BinaryIO, fmt: RecordFormat, index: int, base: int) -> Iterator[Record]:
    unpack, blocked, limit = _HALVES.unpack_from, fmt.blocked, fmt.max_length + 4
    buf, pos, n, block, block_end = b"", 0, 0, 0, 0 if fmt.blocked else 1 << 62
    want, eof = "", False
    while True:
        while True:
            if blocked and pos == block_end:
                if n - pos < 4:
                    want = "bdw"
                    break
                length, low = unpack(buf, pos)
                if length & 0x8000:
                    length = (length << 16 | low) & 0x7FFFFFFF
                elif low:
                    raise RecordFormatError(index, base + pos, "BDW bytes 3-4 are %04x, not zero" % low)
                if length < 8:
                    raise RecordFormatError(index, base + pos, "BDW length %d is less than 8" % length)
                block, block_end, pos = pos, pos + length, pos + 4
            if block_end - pos < 4:
                raise RecordFormatError(index, base + pos, "the block at byte %d (BDW length %d) ends %d bytes "
                                        "after the last record: records must fill it exactly"
                                        % (base + block, block_end - block, block_end - pos))
            if n - pos < 4:
                want = "rdw"
                break
            length, segment = unpack(buf, pos)
            if length < 4 or length > limit or segment:
                raise RecordFormatError(index, base + pos, _bad_rdw(length, segment, limit))
            end = pos + length
            if end > block_end:
                raise RecordFormatError(index, base + pos, "the RDW (length %d) overruns the block at byte %d "
                                        "(BDW length %d) by %d bytes" % (length, base + block,
                                                                         block_end - block, end - block_end))
            if end > n:
                want = "data"
                break
            yield index, base + pos, buf[pos + 4:end]
            index, pos = index + 1, end
        if eof:
            break
        chunk = stream.read(CHUNK_SIZE)
        eof = not chunk
        buf, base, block, block_end = buf[pos:] + chunk, base + pos, block - pos, block_end - pos
        pos, n = 0, len(buf)
    if want == "bdw" and n:
        raise RecordFormatError(index, base, "the BDW is cut short: %d bytes remain of 4" % n)
    if want == "rdw" and n:
        raise RecordFormatError(index, base, "the RDW is cut short: %d bytes remain of 4" % n)
    if want == "data":
        promised = unpack(buf, 0)[0]
        raise RecordFormatError(index, base, "the RDW promises %d bytes (%d of data) but only %d remain"
                                % (promised, promised - 4, n))
    if blocked and n < block_end:
        raise RecordFormatError(index, base, "the block at byte %d promises %d bytes but ends after %d"
                                % (base + block, block_end - block, n - block))


def _bad_rdw(length: int, segment: int, limit: int) -> str:
    if segment:
        return "RDW segment bytes are %04x: spanned records (VS/VBS) are not supported" % segment
    if length < 4:
        return "RDW length %d is less than 4 (the length counts the RDW itself)" % length
    return "RDW length %d is longer than max_length %d + 4" % (length, limit - 4)


class RecordWriter:
    """Writes records framed as ``fmt`` says; ``close`` flushes the pending block."""

    def __init__(self, stream: BinaryIO, fmt: RecordFormat) -> None:
        self._stream, self._fmt = stream, fmt
        self.count = 0
        self._offset = 0  # where the next record's framing starts (if it joins the pending block)
        self._block: List[bytes] = []
        self._block_len = 4

    def write(self, record: bytes) -> None:
        fmt, index = self._fmt, self.count
        fail = None
        if fmt.kind == "fixed" and len(record) != fmt.lrecl:
            fail = "the record is %d bytes; LRECL is %d" % (len(record), fmt.lrecl)
        elif fmt.kind != "fixed" and len(record) > fmt.max_length:
            fail = "the record is %d bytes; max_length is %d" % (len(record), fmt.max_length)
        elif fmt.kind == "lines" and (record + fmt.newline).find(fmt.newline) != len(record):
            fail = "the record contains the newline sequence %r" % (fmt.newline,)
            if fmt.newline not in record:
                fail = "the record's last bytes run into the newline sequence %r" % (fmt.newline,)
        elif fmt.blocked and len(record) + 8 > fmt.block_size:
            fail = "a %d-byte record does not fit a block of %d (BDW and RDW take 8)" % (len(record), fmt.block_size)
        if fail:
            raise RecordFormatError(index, self._offset + (4 if fmt.blocked and not self._block else 0), fail)
        if fmt.kind == "fixed":
            framed = record
        elif fmt.kind == "lines":
            framed = record + fmt.newline
        else:
            framed = _HALVES.pack(len(record) + 4, 0) + record
        if fmt.blocked:
            if self._block_len + len(framed) > fmt.block_size:
                self._flush()
            if not self._block:
                self._offset += 4
            self._block.append(framed)
            self._block_len += len(framed)
        else:
            self._stream.write(framed)
        self._offset += len(framed)
        self.count += 1

    def _flush(self) -> None:
        if self._block:
            size = self._block_len
            bdw = _HALVES.pack(size, 0) if size <= 32760 else (size | 0x80000000).to_bytes(4, "big")
            self._stream.write(bdw + b"".join(self._block))
            self._block, self._block_len = [], 4

    def close(self) -> None:
        self._flush()
