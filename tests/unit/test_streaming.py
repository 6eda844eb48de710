"""streaming: which results stream, and how a handler's iterator becomes chunks and trailers."""

from __future__ import annotations

import base64
import json
from typing import Iterator, List, Optional

import pytest

from bootstrap_sdk import streaming
from bootstrap_sdk.errors import FunctionError
from bootstrap_sdk.payload import is_stream
from bootstrap_sdk.streaming import ResponseStream


def _generator() -> Iterator[str]:
    yield "x"


class _Iterator:
    """A hand-written iterator with a close() that records being called."""

    def __init__(self, items: List[object], fail_with: Optional[BaseException] = None, close_raises: bool = False) -> None:
        self.items = list(items)
        self.fail_with = fail_with
        self.close_raises = close_raises
        self.closed = 0
        self.pulled = 0

    def __iter__(self) -> "_Iterator":
        return self

    def __next__(self) -> object:
        if self.items:
            self.pulled += 1
            return self.items.pop(0)
        if self.fail_with is not None:
            raise self.fail_with
        raise StopIteration

    def close(self) -> None:
        self.closed += 1
        if self.close_raises:
            raise RuntimeError("close failed")


@pytest.mark.parametrize("value", [
    _generator(), iter([b"a"]), iter(()), map(str, [1]), (c for c in "ab"), _Iterator([]), iter({"k": 1}),
])
def test_iterators_and_generators_stream(value):
    assert is_stream(value) is True


@pytest.mark.parametrize("value", [
    [b"a"], (b"a",), {"k": 1}, "text", b"bytes", bytearray(b"x"), memoryview(b"x"), None, 42, {1, 2}, range(3),
])
def test_plain_values_do_not_stream(value):
    assert is_stream(value) is False


def _drain(stream: ResponseStream) -> List[bytes]:
    stream.start()
    return list(stream.chunks())


def _decoded_error(stream: ResponseStream) -> dict:
    trailers = dict(stream.trailers())
    assert set(trailers) == {"Lambda-Runtime-Function-Error-Type", "Lambda-Runtime-Function-Error-Body"}
    return json.loads(base64.b64decode(trailers["Lambda-Runtime-Function-Error-Body"], validate=True))


def test_items_become_chunks_and_str_is_utf8():
    stream = ResponseStream(iter(["héllo ", b"\x00\xff", bytearray(b"ba"), memoryview(b"mv"), "€"]), "req-1")
    chunks = _drain(stream)
    assert chunks == ["héllo ".encode("utf-8"), b"\x00\xff", b"ba", b"mv", b"\xe2\x82\xac"]
    assert all(type(chunk) is bytes for chunk in chunks)
    assert stream.sent == sum(len(chunk) for chunk in chunks)
    assert stream.error is None
    assert stream.trailers() == []


def test_start_raises_an_error_from_before_the_first_item():
    def failing() -> Iterator[bytes]:
        raise FunctionError("no data", "Data.Missing")
        yield b"never"  # pragma: no cover

    stream = ResponseStream(failing(), "req-1")
    with pytest.raises(FunctionError) as caught:
        stream.start()
    assert caught.value.error_type == "Data.Missing"
    assert stream.error is None and stream.sent == 0


def test_start_rejects_a_first_item_of_the_wrong_type():
    stream = ResponseStream(iter([42]), "req-1")
    with pytest.raises(TypeError, match="yields bytes or str, not int"):
        stream.start()


def test_start_skips_empty_items_to_the_first_byte():
    source = _Iterator(["", b"", "first", "second"])
    stream = ResponseStream(source, "req-1")
    stream.start()
    assert source.pulled == 3  # up to and including the first non-empty item, no further
    assert list(stream.chunks()) == [b"first", b"second"]


def test_an_empty_stream_sends_nothing():
    stream = ResponseStream(iter(["", b""]), "req-1")
    assert _drain(stream) == []
    assert stream.sent == 0 and stream.error is None


def test_an_error_after_the_first_chunk_goes_to_the_trailers():
    def failing_later() -> Iterator[str]:
        yield "part one"
        yield "part two"
        raise ValueError("disk on fire")

    stream = ResponseStream(failing_later(), "req-77")
    assert _drain(stream) == [b"part one", b"part two"]  # chunks() itself does not raise
    assert stream.error is not None and stream.error.error_type == "ValueError"
    assert dict(stream.trailers())["Lambda-Runtime-Function-Error-Type"] == "Function.ValueError"
    body = _decoded_error(stream)
    assert body["errorType"] == "ValueError"
    assert body["errorMessage"] == "disk on fire"
    assert body["requestId"] == "req-77"
    assert isinstance(body["stackTrace"], list) and any("failing_later" in line for line in body["stackTrace"])


def test_a_function_error_mid_stream_keeps_its_error_type():
    stream = ResponseStream(_Iterator(["a"], fail_with=FunctionError("bad row 3", "Validation.BadRow")), "r")
    _drain(stream)
    assert dict(stream.trailers())["Lambda-Runtime-Function-Error-Type"] == "Validation.BadRow"
    body = _decoded_error(stream)
    assert (body["errorType"], body["errorMessage"]) == ("Validation.BadRow", "bad row 3")


def test_an_item_of_the_wrong_type_ends_the_stream_with_an_error():
    finished = []

    def mixed() -> Iterator[object]:
        try:
            yield "ok"
            yield {"not": "bytes"}
            yield "never sent"
        finally:
            finished.append(True)

    stream = ResponseStream(mixed(), "req-1")
    assert _drain(stream) == [b"ok"]
    assert stream.error is not None and stream.error.error_type == "TypeError"
    assert "not dict" in stream.error.message
    assert finished == [True]  # the generator was closed, its finally ran
    assert _decoded_error(stream)["errorType"] == "TypeError"


@pytest.mark.parametrize("fail_with", [None, RuntimeError("boom")])
def test_the_iterators_close_is_called(fail_with):
    source = _Iterator(["a", "b"], fail_with=fail_with)
    _drain(ResponseStream(source, "req-1"))
    assert source.closed == 1


def test_a_close_that_raises_does_not_replace_the_outcome():
    source = _Iterator(["a", "b"], close_raises=True)
    stream = ResponseStream(source, "req-1")
    assert _drain(stream) == [b"a", b"b"]
    assert source.closed == 1
    assert stream.error is None


def test_the_stream_limit_cuts_the_stream_with_an_error(monkeypatch):
    monkeypatch.setattr(streaming, "STREAM_LIMIT", 10)
    source = _Iterator(["12345", "6789", "0", "X", "never"])
    stream = ResponseStream(source, "req-1")
    assert _drain(stream) == [b"12345", b"6789", b"0"]  # exactly the limit is allowed
    assert stream.sent == 10
    assert stream.error is not None and stream.error.error_type == "ValueError"
    assert "exceeds 10 bytes" in stream.error.message
    assert source.items == ["never"]  # nothing pulled past the offending item
    assert source.closed == 1
    assert _decoded_error(stream)["errorMessage"] == "streamed response exceeds 10 bytes"


def test_a_first_item_over_the_limit_is_an_ordinary_error(monkeypatch):
    """Before any byte is sent the error can still be a plain /error: start() raises it."""
    monkeypatch.setattr(streaming, "STREAM_LIMIT", 4)
    stream = ResponseStream(iter(["123456789", "never"]), "req-1")
    with pytest.raises(ValueError, match="streamed response exceeds 4 bytes"):
        stream.start()
    assert stream.sent == 0


# -- any exception, any moment: the stream ends properly and the iterator is closed ----------

class _Custom(BaseException):
    pass


BASE_EXCEPTIONS = [SystemExit(3), KeyboardInterrupt(), GeneratorExit(), _Custom("custom")]


@pytest.mark.parametrize("exc", BASE_EXCEPTIONS, ids=lambda e: type(e).__name__)
def test_a_base_exception_after_the_first_chunk_goes_to_the_trailers(exc):
    source = _Iterator(["first", "second"], fail_with=exc)
    stream = ResponseStream(source, "req-1")
    assert _drain(stream) == [b"first", b"second"]
    assert stream.error is not None and stream.error.error_type == type(exc).__name__
    assert _decoded_error(stream)["errorType"] == type(exc).__name__
    assert source.closed == 1


@pytest.mark.parametrize("exc", BASE_EXCEPTIONS, ids=lambda e: type(e).__name__)
def test_a_base_exception_before_the_first_chunk_is_raised_by_start(exc):
    stream = ResponseStream(_Iterator([], fail_with=exc), "req-1")
    with pytest.raises(type(exc)):
        stream.start()


def test_a_str_item_with_a_lone_surrogate_is_a_marshal_error():
    stream = ResponseStream(iter(["ok", "bad \udcff"]), "req-1")
    assert _drain(stream) == [b"ok"]
    assert stream.error is not None and stream.error.error_type == "Runtime.MarshalError"
    assert "surrogates not allowed" in _decoded_error(stream)["errorMessage"]
    with pytest.raises(FunctionError, match="Unable to marshal streamed item"):
        ResponseStream(iter(["\udcff"]), "req-1").start()


def test_an_iter_that_raises_is_raised_by_start():
    class BadIter:
        def __iter__(self):
            raise SystemExit("from __iter__")

        def __next__(self):  # pragma: no cover
            return b"never"

    with pytest.raises(SystemExit, match="from __iter__"):
        ResponseStream(BadIter(), "req-1").start()  # type: ignore[arg-type]


@pytest.mark.parametrize("exc", [RuntimeError("close failed"), SystemExit(2), KeyboardInterrupt()],
                         ids=lambda e: type(e).__name__)
def test_a_close_that_raises_anything_is_logged_and_the_outcome_kept(exc, monkeypatch):
    from bootstrap_sdk import logs

    warned: List[str] = []
    monkeypatch.setattr(logs, "warning", lambda message, **extra: warned.append(message))
    source = _Iterator(["a"])
    source.close = lambda: (_ for _ in ()).throw(exc)  # type: ignore[method-assign]
    stream = ResponseStream(source, "req-1")
    assert _drain(stream) == [b"a"]
    assert stream.error is None
    assert len(warned) == 1 and "close() raised %s" % type(exc).__name__ in warned[0]


def test_abandoned_chunks_close_the_iterator_once_and_catch_nothing():
    """GeneratorExit thrown into chunks() by whoever stops reading is not the handler's error."""
    source = _Iterator(["a", "b", "c"])
    stream = ResponseStream(source, "req-1")
    stream.start()
    chunks = stream.chunks()
    assert next(chunks) == b"a"
    chunks.close()
    assert source.closed == 1 and stream.error is None
    stream.close()
    assert source.closed == 1


def test_the_iterator_iter_returned_is_closed_too():
    inner = _Iterator(["a"])

    class Outer:
        def __init__(self) -> None:
            self.closed = 0

        def __iter__(self):
            return inner

        def __next__(self):  # pragma: no cover
            raise StopIteration

        def close(self) -> None:
            self.closed += 1

    outer = Outer()
    _drain(ResponseStream(outer, "req-1"))  # type: ignore[arg-type]
    assert (outer.closed, inner.closed) == (1, 1)
