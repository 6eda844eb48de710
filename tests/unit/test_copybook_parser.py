"""copybook.parser: the layout a copybook describes, and clear refusals of what it cannot read."""

from __future__ import annotations

import pytest

from bootstrap_sdk.copybook import Copybook, CopybookError
from bootstrap_sdk.copybook.parser import parse
from test_copybook_codec import BOOK, FORMS


def test_layout_and_names():
    assert BOOK.record_length == 8 + 4 + 7 + 3 + 5 + 3 + 5 + 3 + 5 + 3 + 2 + 4 + 4 + 2 + (3 + 3 * 3) + 2 * 7
    names = [f.json_name for f in BOOK.root.children if not f.is_filler]
    assert names[:3] == ["text", "alpha", "unsigned"], "the shared R- prefix is dropped"


@pytest.mark.parametrize("text, message", [
    ("       01 A.\n           05 B PIC X(2).\n           05 C REDEFINES B PIC 99.\n", "REDEFINES is not supported"),
    ("       01 A.\n           05 N PIC 9.\n           05 B PIC X OCCURS 1 TO 5 DEPENDING ON N.\n",
     "DEPENDING"),
    ("       01 A.\n           05 B PIC ZZ9.99.\n", "PIC ZZ9.99 is not supported"),
    ("       01 A.\n           05 B COMP-2.\n", "COMP-2 is not supported"),
    ("       01 A.\n           05 B PIC 9(3)P.\n", "not supported"),
    ("      * nothing here\n", "no record found"),
])
def test_unsupported_copybooks_say_why(text, message):
    with pytest.raises(CopybookError, match=message):
        Copybook.parse(text)


def test_parse_gives_the_sized_tree_the_codec_uses():
    root = parse(FORMS)
    assert root.size == BOOK.record_length
    assert [f.json_name for f in root.children] == [f.json_name for f in BOOK.root.children]


@pytest.mark.parametrize("text, message", [
    ("       01 A.\n           05 B PIC X(2).\n       01 C.\n           05 D PIC X.\n", None),
    ("       01 A.\n           05 B PIC X(2).\n               10 C PIC X.\n", "under an elementary item"),
    ("       01 A.\n", "a group with no fields"),
    ("       X A.\n", "expected a level number"),
])
def test_structure_errors_name_the_entry(text, message):
    if message is None:  # only the first record is read
        assert parse(text).size == 2
        return
    with pytest.raises(CopybookError, match=message):
        parse(text)


@pytest.mark.parametrize("text, message", [
    ("       01 A.\n           05 B PIC X OCCURS \u00b2.\n", "a fixed count is required"),
    ("       \u00b2 A.\n", "expected a level number"),
])
def test_digits_outside_ascii_are_refused_as_copybook_errors(text, message):
    with pytest.raises(CopybookError, match=message):
        parse(text)
