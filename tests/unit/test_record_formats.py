"""copybook.record_formats: fixed, variable (RDW, BDW) and line framing, read and written."""

from __future__ import annotations

import io
import pickle
import tracemalloc
from typing import Any, BinaryIO, Dict, Iterator, List, Optional, Tuple, cast
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bootstrap_sdk.copybook import record_formats
from bootstrap_sdk.copybook.record_formats import (FORMATS, RecordFormat, RecordFormatError, RecordWriter,
                                                   read_records)

BUDGET = settings(max_examples=200, deadline=None, derandomize=True, database=None)
F80 = RecordFormat("fixed", lrecl=80)
V = RecordFormat("variable")
VB = RecordFormat("variable", blocked=True)
LINES = RecordFormat("lines")
EBCDIC_LINES = RecordFormat("lines", newline=b"\x25")


def read(data: bytes, fmt: RecordFormat, start_index: int = 0) -> List[Tuple[int, int, bytes]]:
    return list(read_records(io.BytesIO(data), fmt, start_index))


def write(records: List[bytes], fmt: RecordFormat) -> bytes:
    out = io.BytesIO()
    writer = RecordWriter(out, fmt)
    for record in records:
        writer.write(record)
    writer.close()
    assert writer.count == len(records) and not out.closed
    return out.getvalue()


def refusal(data: bytes, fmt: RecordFormat) -> Tuple[List[Tuple[int, int, bytes]], RecordFormatError]:
    """The records read before the error, and the error."""
    got: List[Tuple[int, int, bytes]] = []
    with pytest.raises(RecordFormatError) as caught:
        for item in read_records(io.BytesIO(data), fmt):
            got.append(item)
    return got, caught.value


# -- known answers from hand-assembled bytes ---------------------------------------------------------------------

def test_fixed_known_answer() -> None:
    data = bytes.fromhex("c1c2c3" "f1f2f3" "404040")
    assert read(data, RecordFormat("fixed", lrecl=3)) == [
        (0, 0, b"\xc1\xc2\xc3"), (1, 3, b"\xf1\xf2\xf3"), (2, 6, b"\x40\x40\x40")]
    assert read(data, RecordFormat("fixed", lrecl=9)) == [(0, 0, data)]


def test_variable_known_answer() -> None:
    data = bytes.fromhex("000a0000" "c1c2c3c4c5c6" "00040000" "00050000" "f1")
    assert read(data, V) == [(0, 0, b"\xc1\xc2\xc3\xc4\xc5\xc6"), (1, 10, b""), (2, 14, b"\xf1")]


def test_variable_blocked_known_answer_two_byte_bdw() -> None:
    data = bytes.fromhex("00160000" "000a0000" "c1c2c3c4c5c6" "00080000" "c7c8c9d1"
                         "000c0000" "00080000" "f1f2f3f4")
    assert read(data, VB) == [(0, 4, b"\xc1\xc2\xc3\xc4\xc5\xc6"), (1, 14, b"\xc7\xc8\xc9\xd1"),
                              (2, 26, b"\xf1\xf2\xf3\xf4")]


def test_variable_blocked_known_answer_extended_bdw() -> None:
    small = bytes.fromhex("80000016" "000a0000" "c1c2c3c4c5c6" "00080000" "c7c8c9d1")
    assert read(small, VB) == [(0, 4, b"\xc1\xc2\xc3\xc4\xc5\xc6"), (1, 14, b"\xc7\xc8\xc9\xd1")]
    # a real large block: 65544 bytes (0x00010008) holding two 32770-byte records (0x8002 counts the RDW)
    big = (bytes.fromhex("80010008") + (bytes.fromhex("80020000") + b"\x40" * 32766) * 2
           + bytes.fromhex("00080000" "00040000"))
    got = read(big, RecordFormat("variable", blocked=True, max_length=32766))
    assert [(i, o, len(r)) for i, o, r in got] == [(0, 4, 32766), (1, 32774, 32766), (2, 65548, 0)]


@pytest.mark.parametrize("data, fmt, expected", [
    (b"ab\ncd\n\nef", LINES, [(0, 0, b"ab"), (1, 3, b"cd"), (2, 6, b""), (3, 7, b"ef")]),
    (b"ab\ncd\n", LINES, [(0, 0, b"ab"), (1, 3, b"cd")]),
    (b"\n", LINES, [(0, 0, b"")]),
    (b"a\r\nb\rc\r\n", RecordFormat("lines", newline=b"\r\n"), [(0, 0, b"a"), (1, 3, b"b\rc")]),
    (bytes.fromhex("c1c225" "c3" "25" "25" "c4"), EBCDIC_LINES,
     [(0, 0, b"\xc1\xc2"), (1, 3, b"\xc3"), (2, 5, b""), (3, 6, b"\xc4")]),
    (bytes.fromhex("c1c20a25"), EBCDIC_LINES, [(0, 0, b"\xc1\xc2\x0a")]),  # 0x0a is no newline in EBCDIC
])
def test_lines_known_answer(data: bytes, fmt: RecordFormat, expected: List[Tuple[int, int, bytes]]) -> None:
    assert read(data, fmt) == expected


@pytest.mark.parametrize("fmt", [F80, V, VB, LINES, EBCDIC_LINES])
def test_an_empty_stream_yields_nothing(fmt: RecordFormat) -> None:
    assert read(b"", fmt) == []


def test_start_index_and_the_streams_own_position() -> None:
    stream = io.BytesIO(b"HEADER" + bytes.fromhex("00060000c1c2" "00050000c3"))
    stream.seek(6)
    assert list(read_records(stream, V, start_index=10)) == [(10, 6, b"\xc1\xc2"), (11, 12, b"\xc3")]
    with pytest.raises(RecordFormatError) as caught:
        list(read_records(io.BytesIO(bytes(85)), F80, start_index=7))
    assert (caught.value.index, caught.value.offset) == (8, 80)


def test_the_writer_produces_the_hand_assembled_bytes() -> None:
    assert write([b"\xc1\xc2\xc3\xc4\xc5\xc6", b""], V) == bytes.fromhex("000a0000c1c2c3c4c5c6" "00040000")
    assert write([b"\xc1\xc2\xc3\xc4\xc5\xc6", b"\xc7\xc8\xc9\xd1"], RecordFormat("variable", blocked=True,
                                                                               block_size=22)) \
        == bytes.fromhex("00160000" "000a0000c1c2c3c4c5c6" "00080000c7c8c9d1")
    assert write([b"\xc1\xc2\xc3\xc4\xc5\xc6", b"\xc7\xc8\xc9\xd1"], RecordFormat("variable", blocked=True,
                                                                               block_size=21)) \
        == bytes.fromhex("000e0000" "000a0000c1c2c3c4c5c6" "000c0000" "00080000c7c8c9d1")
    assert write([b"\xc1\xc2", b""], EBCDIC_LINES) == bytes.fromhex("c1c2" "25" "25")
    assert write([b"ab", b"cd"], RecordFormat("fixed", lrecl=2)) == b"abcd"


def test_blocks_over_32760_bytes_get_an_extended_bdw() -> None:
    records = [bytes([i]) * 30000 for i in range(5)]
    fmt = RecordFormat("variable", blocked=True, max_length=30000, block_size=100000)
    data = write(records, fmt)
    assert data[:4] == (0x80000000 | 4 + 3 * 30004).to_bytes(4, "big")
    assert [r for _, _, r in read(data, fmt)] == records


# -- refusals: index, offset, words --------------------------------------------------------------------------------

def test_a_truncated_fixed_record() -> None:
    got, error = refusal(bytes(80) * 2 + bytes(37), F80)
    assert len(got) == 2
    assert (error.index, error.offset) == (2, 160)
    assert error.message == "the last record is 37 bytes; LRECL is 80"
    assert str(error) == "record 2 at byte 160: the last record is 37 bytes; LRECL is 80"


@pytest.mark.parametrize("data, fmt, index, offset, words", [
    (bytes.fromhex("000a0000c1c2c3c4c5c6" "0004"), V, 1, 10, ["RDW", "cut short", "2 bytes remain"]),
    (bytes.fromhex("00030000c1"), V, 0, 0, ["RDW length 3", "less than 4"]),
    (bytes.fromhex("00040000" "000a0000c1c2c3"), V, 1, 4, ["promises 10 bytes", "7 remain"]),
    (bytes.fromhex("000a0100c1c2c3c4c5c6"), V, 0, 0, ["spanned", "not supported"]),
    (bytes.fromhex("000a0002c1c2c3c4c5c6"), V, 0, 0, ["spanned", "not supported"]),
    (bytes.fromhex("000a0000c1c2c3c4c5c6"), RecordFormat("variable", max_length=5), 0, 0,
     ["RDW length 10", "longer than max_length 5"]),
    (bytes.fromhex("00060000" "0004"), VB, 0, 0, ["BDW length 6", "less than 8"]),
    (bytes.fromhex("80000007" "000400"), VB, 0, 0, ["BDW length 7", "less than 8"]),
    (bytes.fromhex("00080000" "00040000" "000c"), VB, 1, 8, ["BDW", "cut short", "2 bytes remain"]),
    (bytes.fromhex("00080001" "00040000"), VB, 0, 0, ["BDW bytes 3-4", "not zero"]),
    # the BDW says 18 bytes; the second RDW (8 bytes at 14) ends at 22
    (bytes.fromhex("00120000" "000a0000c1c2c3c4c5c6" "00080000c7c8c9d1"), VB, 1, 14,
     ["overruns the block at byte 0", "BDW length 18", "by 4 bytes"]),
    # the BDW says 16 bytes; the one record fills 14, leaving 2: too few for an RDW
    (bytes.fromhex("00100000" "000a0000c1c2c3c4c5c6" "c7c8"), VB, 1, 14,
     ["block at byte 0", "BDW length 16", "ends 2 bytes after the last record", "fill it exactly"]),
    # the BDW says 28 bytes but holds 22; the next block's BDW is then read as an RDW of 12 bytes
    (bytes.fromhex("001c0000" "000a0000c1c2c3c4c5c6" "00080000c7c8c9d1" "000c0000" "00080000f1f2f3f4"), VB, 2, 22,
     ["RDW (length 12) overruns the block at byte 0", "BDW length 28", "by 6 bytes"]),
    # the BDW promises more than the stream holds
    (bytes.fromhex("00200000" "000a0000c1c2c3c4c5c6"), VB, 1, 14, ["block at byte 0 promises 32 bytes", "after 14"]),
    (bytes.fromhex("00100000" "000a0000c1c2"), VB, 0, 4, ["RDW promises 10 bytes", "6 remain"]),
    (b"abc\nabcdefgh\nab\n", RecordFormat("lines", max_length=5), 1, 4, ["longer than max_length 5"]),
    (b"abc\nabcdefgh", RecordFormat("lines", max_length=5), 1, 4, ["longer than max_length 5"]),
    (b"x" * 100000, RecordFormat("lines", max_length=10), 0, 0, ["longer than max_length 10"]),
])
def test_refusals(data: bytes, fmt: RecordFormat, index: int, offset: int, words: List[str]) -> None:
    got, error = refusal(data, fmt)
    assert [i for i, _, _ in got] == list(range(index)), "the good records before the error are all read"
    assert (error.index, error.offset) == (index, offset), str(error)
    for word in words:
        assert word in error.message
    assert str(error).startswith("record %d at byte %d: " % (index, offset))


@pytest.mark.parametrize("fmt, records, index, offset, words", [
    (RecordFormat("fixed", lrecl=3), [b"abc", b"ab"], 1, 3, ["2 bytes", "LRECL is 3"]),
    (RecordFormat("fixed", lrecl=3), [b"abcd"], 0, 0, ["4 bytes", "LRECL is 3"]),
    (LINES, [b"ab", b"c\nd"], 1, 3, ["contains the newline"]),
    (EBCDIC_LINES, [b"\xc1\x25"], 0, 0, ["contains the newline"]),
    (RecordFormat("lines", newline=b"aa"), [b"xa"], 0, 0, ["run into the newline"]),
    (RecordFormat("lines", max_length=2), [b"abc"], 0, 0, ["3 bytes", "max_length is 2"]),
    (RecordFormat("variable", max_length=4), [b"abcd", b"abcde"], 1, 8, ["5 bytes", "max_length is 4"]),
    (RecordFormat("variable", blocked=True, block_size=12), [b"abcd", b"abcde"], 1, 12, ["does not fit"]),
])
def test_writer_refusals(fmt: RecordFormat, records: List[bytes], index: int, offset: int,
                         words: List[str]) -> None:
    writer = RecordWriter(io.BytesIO(), fmt)
    with pytest.raises(RecordFormatError) as caught:
        for record in records:
            writer.write(record)
    assert (caught.value.index, caught.value.offset) == (index, offset), str(caught.value)
    assert all(word in caught.value.message for word in words), caught.value.message
    assert writer.count == index


def test_the_error_is_a_value_error_that_pickles() -> None:
    error = RecordFormatError(3, 120, "bad")
    assert isinstance(error, ValueError)
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.index, copy.offset, copy.message, str(copy)) == (3, 120, "bad", "record 3 at byte 120: bad")


# -- formats and their names -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("F", RecordFormat("fixed", lrecl=80)), ("fb", RecordFormat("fixed", lrecl=80)),
    ("Fixed", RecordFormat("fixed", lrecl=80)),
])
def test_parse_fixed(text: str, expected: RecordFormat) -> None:
    assert RecordFormat.parse(text, lrecl=80) == expected


def test_parse_others() -> None:
    assert RecordFormat.parse("v") == V
    assert RecordFormat.parse("VB") == VB
    assert RecordFormat.parse("Lines") == LINES
    assert RecordFormat.parse("TEXT", newline=b"\x25") == EBCDIC_LINES
    assert FORMATS == ("fixed", "variable", "lines")


@pytest.mark.parametrize("text, words", [
    ("U", ["choose one of", "F", "FB", "V", "VB", "lines"]),
    ("VBS", ["spanned", "not supported"]),
    ("F", ["LRECL"]),  # no lrecl
])
def test_parse_refusals(text: str, words: List[str]) -> None:
    with pytest.raises(ValueError) as caught:
        RecordFormat.parse(text)
    assert all(word in str(caught.value) for word in words), str(caught.value)


@pytest.mark.parametrize("kwargs, words", [
    ({"kind": "vsam"}, ["choose one of", "fixed, variable, lines"]),
    ({"kind": "fixed"}, ["LRECL > 0"]),
    ({"kind": "variable", "lrecl": 84}, ["fixed records only"]),
    ({"kind": "fixed", "lrecl": 80, "blocked": True}, ["variable records only"]),
    ({"kind": "lines", "newline": b""}, ["non-empty newline"]),
    ({"kind": "variable", "max_length": 70000}, ["max_length"]),
    ({"kind": "variable", "blocked": True, "block_size": 7}, ["block_size"]),
])
def test_format_refusals(kwargs: Dict[str, Any], words: List[str]) -> None:
    with pytest.raises(ValueError) as caught:
        RecordFormat(**kwargs)
    assert all(word in str(caught.value) for word in words), str(caught.value)


# -- chunk boundaries ------------------------------------------------------------------------------------------------

SAMPLES = [
    (RecordFormat("fixed", lrecl=7), b"".join(bytes([i]) * 7 for i in range(40))),
    (V, write([bytes([i]) * (i % 13) for i in range(60)], V)),
    (VB, write([bytes([i]) * (i % 13) for i in range(60)], RecordFormat("variable", blocked=True, block_size=40))),
    (RecordFormat("lines", newline=b"\r\n"), b"".join(b"r%d\r\n" % i for i in range(50)) + b"tail\r"),
    (RecordFormat("lines", newline=b"\r\n", max_length=8), b"".join(b"r%d\r\n" % i for i in range(50)) + b"0123456789"),
    (RecordFormat("fixed", lrecl=7), bytes(7 * 30 + 3)),
    (VB, write([b"abc"] * 30, VB) + bytes.fromhex("0008")),
]


@pytest.mark.parametrize("fmt, data", SAMPLES)
@pytest.mark.parametrize("chunk", [1, 2, 3, 5, 64])
def test_small_chunks_give_the_same_records_and_errors(fmt: RecordFormat, data: bytes, chunk: int) -> None:
    def outcome() -> Tuple[List[Tuple[int, int, bytes]], Optional[str]]:
        got: List[Tuple[int, int, bytes]] = []
        try:
            for item in read_records(io.BytesIO(data), fmt):
                got.append(item)
        except RecordFormatError as exc:
            return got, str(exc)
        return got, None

    expected = outcome()
    assert expected[0]
    with mock.patch.object(record_formats, "CHUNK_SIZE", chunk):
        assert outcome() == expected


@pytest.mark.parametrize("fmt, size", [(RecordFormat("fixed", lrecl=1000), 1000), (V, 1004), (VB, 1004),
                                        (LINES, 1001)])
def test_records_across_the_default_chunk_boundary(fmt: RecordFormat, size: int) -> None:
    records = [bytes([65 + i % 26]) * 1000 for i in range(2100)]  # about 2 MiB: two boundaries
    got = read(write(records, fmt), fmt)
    assert [r for _, _, r in got] == records
    if not fmt.blocked:
        assert [o for _, o, _ in got] == [i * size for i in range(len(records))]


# -- constant memory -------------------------------------------------------------------------------------------------

class GeneratedStream(io.RawIOBase):
    """A non-seekable stream whose bytes come from a generator, never held whole."""

    def __init__(self, pieces: Iterator[bytes]) -> None:
        self._pieces = pieces
        self._piece = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: "bytearray | memoryview") -> int:  # type: ignore[override]
        while not self._piece:
            piece = next(self._pieces, None)
            if piece is None:
                return 0
            self._piece = memoryview(piece)
        size = min(len(buffer), len(self._piece))
        buffer[:size] = self._piece[:size]
        self._piece = self._piece[size:]
        return size


def test_a_50_mb_variable_file_is_read_in_constant_memory() -> None:
    record = bytes.fromhex("01f40000") + bytes(range(248)) * 2  # 500 bytes, RDW included
    block = record * 2000  # 1,000,000 bytes
    blocks = 52

    def pieces() -> Iterator[bytes]:
        for _ in range(blocks):
            yield block

    stream = cast(BinaryIO, GeneratedStream(pieces()))
    count = last = 0
    tracemalloc.start()
    try:
        for index, offset, data in read_records(stream, V):
            count, last = count + 1, offset
            assert len(data) == 496
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert count == blocks * 2000 and last == blocks * len(block) - 500
    assert peak < 8 * 2**20, "peak %d bytes reading %d" % (peak, blocks * len(block))


# -- properties ------------------------------------------------------------------------------------------------------

chunks = st.sampled_from([1, 3, 17, 4096, 1 << 20])


def round_trip(records: List[bytes], fmt: RecordFormat, chunk: int) -> List[Tuple[int, int, bytes]]:
    data = write(records, fmt)
    with mock.patch.object(record_formats, "CHUNK_SIZE", chunk):
        got = read(data, fmt)
    assert [r for _, _, r in got] == records
    assert [i for i, _, _ in got] == list(range(len(records)))
    return got


@BUDGET
@given(st.integers(1, 40).flatmap(lambda n: st.tuples(st.just(n), st.lists(st.binary(min_size=n, max_size=n)))),
       chunks)
def test_fixed_round_trip(case: Tuple[int, List[bytes]], chunk: int) -> None:
    lrecl, records = case
    got = round_trip(records, RecordFormat("fixed", lrecl=lrecl), chunk)
    assert [o for _, o, _ in got] == [i * lrecl for i in range(len(records))]


@BUDGET
@given(st.lists(st.binary(max_size=300)), chunks)
def test_variable_round_trip(records: List[bytes], chunk: int) -> None:
    got = round_trip(records, V, chunk)
    offsets = [0]
    for record in records:
        offsets.append(offsets[-1] + 4 + len(record))
    assert [o for _, o, _ in got] == offsets[:-1]


@BUDGET
@given(st.integers(8, 600).flatmap(lambda size: st.tuples(st.just(size), st.lists(st.binary(max_size=size - 8)))),
       chunks)
def test_variable_blocked_round_trip(case: Tuple[int, List[bytes]], chunk: int) -> None:
    block_size, records = case
    fmt = RecordFormat("variable", blocked=True, block_size=block_size)
    data = write(records, fmt)
    position = 0
    while position < len(data):  # every block is at most block_size, BDW included
        length = int.from_bytes(data[position:position + 2], "big")
        assert 8 <= length <= block_size
        position += length
    round_trip(records, fmt, chunk)


def fits(record: bytes, newline: bytes) -> bool:
    return (record + newline).find(newline) == len(record)


@BUDGET
@given(st.sampled_from([b"\n", b"\x25", b"\r\n", b"aa", b"\x00\x01\x00"]).flatmap(
    lambda nl: st.tuples(st.just(nl), st.lists(st.binary(max_size=200).filter(lambda r: fits(r, nl))))), chunks)
def test_lines_round_trip(case: Tuple[bytes, List[bytes]], chunk: int) -> None:
    newline, records = case
    got = round_trip(records, RecordFormat("lines", newline=newline), chunk)
    offsets = [0]
    for record in records:
        offsets.append(offsets[-1] + len(newline) + len(record))
    assert [o for _, o, _ in got] == offsets[:-1]
