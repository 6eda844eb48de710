"""copybook.edited: numeric-edited pictures, against what GnuCOBOL's MOVE writes; clear refusals."""

from __future__ import annotations

import shutil
import subprocess
from decimal import Decimal
from typing import Dict, List, Tuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bootstrap_sdk.copybook.edited import EditedPicture

# (picture, BLANK WHEN ZERO, value): a GnuCOBOL program MOVEs each value to a field of that
# picture and DISPLAYs it; that text is the known answer.
CASES: List[Tuple[str, bool, str]] = [
    ("ZZZ,ZZ9.99", False, "0"), ("ZZZ,ZZ9.99", False, "1234.5"), ("ZZZ,ZZ9.99", False, "7"),
    ("ZZZ,ZZ9.99", False, "123456.78"),
    ("ZZ9.99CR", False, "-1"), ("ZZ9.99CR", False, "1"), ("ZZ9.99CR", False, "0"), ("ZZ9.99CR", False, "-12.5"),
    ("ZZ9.99DB", False, "-1"), ("ZZ9.99DB", False, "1"),
    ("+ZZ9", False, "5"), ("+ZZ9", False, "-5"), ("+ZZ9", False, "0"),
    ("-ZZ9", False, "5"), ("-ZZ9", False, "-5"),
    ("ZZ9+", False, "5"), ("ZZ9+", False, "-5"),
    ("ZZ9-", False, "5"), ("ZZ9-", False, "-5"),
    ("$$,$$9.99", False, "0"), ("$$,$$9.99", False, "1234"), ("$$,$$9.99", False, "234"),
    ("$$,$$9.99", False, "4"), ("$$,$$9.99", False, "12"),
    ("++++9", False, "0"), ("++++9", False, "-5"), ("++++9", False, "5"), ("++++9", False, "1234"),
    ("++++9", False, "-1234"),
    ("----9.99", False, "5"), ("----9.99", False, "-5"), ("----9.99", False, "-0.5"), ("----9.99", False, "0"),
    ("***,**9.99", False, "0"), ("***,**9.99", False, "12.34"),
    ("Z(4).ZZ", False, "0"), ("Z(4).ZZ", False, "0.05"), ("Z(4).ZZ", False, "1.5"),
    ("9(8).9(2)", False, "1"), ("9(8).9(2)", False, "12345678.9"),
    ("99/99/99", False, "123456"), ("99/99/99", False, "10101"),
    ("9(3)B9(2)", False, "12345"),
    ("990099", False, "1234"), ("990099", False, "0"),
    ("ZZ9.99", True, "0"), ("ZZ9.99", True, "1"), ("ZZ9.99CR", True, "0"), ("ZZ9.99CR", True, "-1"),
    ("99/99", True, "0"), ("+ZZ9", True, "0"), ("$$$9.99-", True, "0"),
    ("$$$.$$", False, "0"), ("$$$.$$", False, "0.05"), ("$$$.$$", False, "12.34"),
    ("+++.++", False, "0"), ("+++.++", False, "-0.05"), ("---.--", False, "0.5"),
    ("***.**", False, "0"), ("***.**", False, "0.05"), ("$***.**", False, "0"), ("***.**CR", False, "0"),
    ("***.**CR", False, "-1.5"),
    ("$ZZ9-", False, "-5"), ("$ZZ9-", False, "5"), ("$$$9CR", False, "-5"), ("$+++9", False, "-5"),
    ("$+++9", False, "123"), ("ZZZVZZ", False, "0.05"), ("ZZZVZZ", False, "0"), (".ZZ", False, "0.05"),
    ("$$,$$CR", False, "-6"), (".ZZ", False, "0"), ("$,$$$9", False, "9999"), ("$,$$$9", False, "5"), ("$$$,999", False, "123"),
    ("ZZ,999", False, "123"), ("ZZ,999", False, "1123"), ("ZZBZZ9", False, "5"), ("ZZBZZ9", False, "1234"),
    ("**B**9", False, "5"), ("0ZZ9", False, "5"), ("B$$$9", False, "5"), ("ZZZ00", False, "5"),
    ("ZZZ00", False, "0"), ("Z9/99/99", False, "10101"), ("ZZ9.", False, "5"), ("++", False, "-5"),
    ("Z,ZZZ.ZZ+", False, "123.45"), ("*,***.**+", False, "-123.45"),
    ("$Z,ZZZ,ZZZ.ZZCR", False, "12345.67"), ("$B*,***,***.**BBDB", False, "-12345.67"),
    ("$$$,$$$,$$9.99CR", False, "-1234567.89"), ("-9(5)", False, "-42"), ("9(3).9(3)-", False, "-0.001"),
]


def _case_id(case: Tuple[str, bool, str]) -> str:
    picture, blank, value = case
    return f"{picture}{' BWZ' if blank else ''}={value}"


@pytest.fixture(scope="module")
def cobol_answers(tmp_path_factory: pytest.TempPathFactory) -> Dict[Tuple[str, bool, str], str]:
    """What GnuCOBOL writes for every case, from one program built and run once."""
    if shutil.which("cobc") is None:
        pytest.skip("GnuCOBOL (cobc) is not on PATH: scripts/setup.sh installs it")
    tmp = tmp_path_factory.mktemp("edited")
    lines = ["       IDENTIFICATION DIVISION.", "       PROGRAM-ID. EDITED.", "       DATA DIVISION.",
             "       WORKING-STORAGE SECTION.", "       01  SRC PIC S9(18)V9(9)."]
    for n, (picture, blank, _) in enumerate(CASES):
        lines.append(f"       01  F{n} PIC {picture}{' BLANK WHEN ZERO' if blank else ''}.")
    lines.append("       PROCEDURE DIVISION.")
    for n, (_, _, value) in enumerate(CASES):
        lines += [f"           MOVE {value} TO SRC", f"           MOVE SRC TO F{n}",
                  f'           DISPLAY "[" F{n} "]"']
    lines.append("           STOP RUN.")
    (tmp / "EDITED.cob").write_text("\n".join(lines) + "\n")
    subprocess.run(["cobc", "-x", "-o", str(tmp / "edited"), str(tmp / "EDITED.cob")], cwd=tmp, check=True,
                   capture_output=True, timeout=300)
    done = subprocess.run([str(tmp / "edited")], cwd=tmp, check=True, capture_output=True, timeout=60)
    shown = done.stdout.decode("latin-1").splitlines()
    assert len(shown) == len(CASES), done.stdout
    assert all(line.startswith("[") and line.endswith("]") for line in shown), shown
    return {case: line[1:-1] for case, line in zip(CASES, shown)}


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_agrees_with_gnucobol(cobol_answers: Dict[Tuple[str, bool, str], str], case: Tuple[str, bool, str]) -> None:
    picture, blank, value = case
    field = EditedPicture(picture, blank_when_zero=blank)
    written = cobol_answers[case]
    assert field.encode(Decimal(value)) == written
    back = field.decode(written)
    assert back == Decimal(value)
    assert back.as_tuple().exponent == -field.scale


@pytest.mark.parametrize("picture, size, digits, scale, signed", [
    ("ZZZ,ZZ9.99CR", 12, 8, 2, True), ("9(8).9(2)", 11, 10, 2, False), ("$$,$$9.99", 9, 6, 2, False),
    ("+ZZ9", 4, 3, 0, True), ("-9(5)", 6, 5, 0, True), ("***,**9.99", 10, 8, 2, False),
    ("99/99/99", 8, 6, 0, False), ("9(3)B9(2)", 6, 5, 0, False), ("ZZ9.99DB", 8, 5, 2, True),
    ("++++9", 5, 4, 0, True), ("Z(4).ZZ", 7, 6, 2, False), ("ZZZVZZ", 5, 5, 2, False),
    ("$$$.$$", 6, 4, 2, False), ("zz9.99cr", 8, 5, 2, True), ("Z(29)9(9)", 38, 38, 0, False),
])
def test_layout(picture: str, size: int, digits: int, scale: int, signed: bool) -> None:
    field = EditedPicture(picture)
    assert (field.size, field.digits, field.scale, field.signed) == (size, digits, scale, signed)


@pytest.mark.parametrize("picture, blank, words", [
    ("+9.9E+99", False, ["floating-point", "E"]),
    ("ZZ9PP", False, ["P"]),
    ("S9(3).99", False, ["'S'", "edited"]),
    ("ZZ9.V99", False, ["V", "'.'"]),
    ("ZZ9.99.9", False, ["more than one decimal point"]),
    ("Z*9.99", False, ["Z", "*"]),
    ("$$++9", False, ["floating", "$", "+"]),
    ("Z(30)9(9)", False, ["39", "38"]),
    ("ZZ9Z", False, ["after a 9"]),
    ("9ZZ", False, ["after a 9"]),
    ("ZZ.Z9", False, ["right of the point"]),
    ("X(5)", False, ["alphanumeric"]),
    ("9(5)", False, ["plain numeric"]),
    ("+ZZ9+", False, ["floating string"]),
    ("ZZ9.99CR-", False, ["more than one sign"]),
    ("ZZ9-B", False, ["rightmost"]),
    ("CR999", False, ["CR", "rightmost"]),
    ("ZZ9.99$", False, ["'$'", "leftmost"]),
    ("-$ZZ9.99", False, ["sign before '$'", "GnuCOBOL"]),
    ("+$$$9", False, ["sign before '$'"]),
    ("$$,$$$-", False, ["floating '$'", "GnuCOBOL"]),
    ("ZZ/ZZ/ZZ", False, ["'/'", "GnuCOBOL", "IBM"]),
    ("ZZ0ZZ9", False, ["'0'", "suppressed"]),
    (",999", False, ["','", "first digit"]),
    ("$,ZZ9.99", False, ["','"]),
    ("***.**", True, ["BLANK WHEN ZERO", "*"]),
    ("9(3", False, ["repeat count"]),
    ("", False, ["empty"]),
    ("CR", False, ["no digit position"]),
    ("ZZ9.99£", False, ["'£'", "currency"]),
    (".$$", False, ["floating", "left of the decimal point"]),
])
def test_refusals_say_why(picture: str, blank: bool, words: List[str]) -> None:
    with pytest.raises(ValueError) as caught:
        EditedPicture(picture, blank_when_zero=blank)
    assert len(caught.value.args) == 2
    why, what_to_do = caught.value.args
    assert f"PIC {picture.upper()}" in why and what_to_do
    for word in words:
        assert word in f"{why} {what_to_do}", (word, why)


@pytest.mark.parametrize("picture, value, words", [
    ("ZZ9.99", "1000", "integer digits"),
    ("ZZ9.99", "1.005", "decimal places"),
    ("ZZ9.99", "-1", "negative"),
    ("ZZ9.99", "NaN", "not a number"),
    ("ZZ9.99", "-Infinity", "not a number"),
    ("Z(29)9(9)", "1E+38", "integer digits"),
    ("ZZ9", "1E-99999", "decimal places"),
    ("ZZ9", "1E+99999", "integer digits"),
])
def test_encode_refuses_what_would_be_truncated(picture: str, value: str, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        EditedPicture(picture).encode(Decimal(value))


def test_encode_exact_values_and_negative_zero() -> None:
    money = EditedPicture("$$,$$9.99CR")
    assert money.encode(Decimal("12.500")) == "   $12.50  "
    assert money.encode(Decimal("-0.00")) == money.encode(Decimal(0)) == "    $0.00  "
    assert EditedPicture("+ZZ9").encode(Decimal("-0")) == "+  0"
    assert EditedPicture("99.9").encode(Decimal("0E+7")) == "00.0"
    assert EditedPicture("Z(29)9(9)").encode(Decimal(10 ** 38 - 1)) == "9" * 38
    assert EditedPicture("ZZZ").encode(Decimal("1.2E+2")) == "120"


@pytest.mark.parametrize("picture, text, words", [
    ("ZZ9.99", "  1.5", "characters"),
    ("ZZ9.99", "001.50", "not what"),
    ("ZZ9.99", "  1.5x", "not what"),
    ("ZZ9.99CR", "  0.00CR", "not what"),
    ("ZZ9.99CR", "  1.00cr", "not what"),
    ("ZZ9.99DB", "  1.00CR", "not what"),
    ("-ZZ9", "-  0", "not what"),
    ("ZZZ,ZZ9", "001,234", "not what"),
    ("ZZZ,ZZ9", "     00", "not what"),
    ("$$,$$9.99", "$   12.00", "not what"),
    ("ZZZ", "0  ", "not what"),
    ("9(3)-", "    ", "not what"),
])
def test_decode_is_strict(picture: str, text: str, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        EditedPicture(picture).decode(text)


def test_decode_keeps_the_scale() -> None:
    assert str(EditedPicture("ZZ9.99").decode("  1.50")) == "1.50"
    assert str(EditedPicture("ZZ9.99").decode("  0.00")) == "0.00"
    assert str(EditedPicture("+ZZ9").decode("-  5")) == "-5"
    assert str(EditedPicture("ZZ9.99", blank_when_zero=True).decode("      ")) == "0.00"
    assert str(EditedPicture("***.**").decode("***.**")) == "0.00"
    assert not EditedPicture("----9.99").decode("    0.00").is_signed()


PICTURES = ["ZZZ,ZZ9.99CR", "ZZ9.99DB", "9(8).9(2)", "$$,$$9.99", "+ZZ9", "-9(5)", "ZZ9+", "ZZ9-",
            "***,**9.99", "99/99/99", "9(3)B9(2)", "990099", "++++9", "----9.99", "Z(4).ZZ", "$$$.$$",
            "+++.++", "***.**CR", "ZZZVZZ", "$ZZ,ZZ9.99-", "$+++,++9.99", "$,$$$9", "ZZ,999", "ZZBZZ9",
            "Z9/99/99", "$B*,***,***.**BBDB", "Z(29)9(9)", "-9(37)", ".ZZ", "ZZ9.", "++", "ZZZ00", "0$$9"]
FIELDS = [EditedPicture(p) for p in PICTURES] + [EditedPicture(p, blank_when_zero=True)
                                                 for p in ("ZZ9.99CR", "$$$,$$9.99", "9(4)-", "+ZZZ.ZZ")]


def _fitting(field: EditedPicture) -> st.SearchStrategy[Decimal]:
    """Values the field holds exactly, small ones (where suppression happens) drawn often."""
    high = 10 ** field.digits - 1
    low = -high if field.signed else 0
    whole = st.one_of(st.integers(low, high), st.integers(max(low, -2000), min(high, 2000)))
    return st.one_of(whole.map(lambda n: Decimal(f"{n}E-{field.scale}")), st.just(Decimal(f"-0E-{field.scale}")))


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_round_trip(data: st.DataObject) -> None:
    field = data.draw(st.sampled_from(FIELDS), label="field")
    value = data.draw(_fitting(field), label="value")
    text = field.encode(value)
    assert len(text) == field.size
    back = field.decode(text)
    assert back == value and back.as_tuple().exponent == -field.scale
    assert not (back.is_signed() and back == 0)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_accepted_text_re_encodes_to_itself(data: st.DataObject) -> None:
    field = data.draw(st.sampled_from(FIELDS), label="field")
    alphabet = sorted(set(field.picture) - set("()V") | set("0123456789 -"))
    char = st.sampled_from(alphabet)
    if data.draw(st.booleans(), label="mutate"):  # one character off a real encoding
        text = field.encode(data.draw(_fitting(field), label="value"))
        at = data.draw(st.integers(0, field.size - 1), label="at")
        text = text[:at] + data.draw(char, label="char") + text[at + 1:]
    else:
        text = data.draw(st.text(char, min_size=field.size, max_size=field.size), label="text")
    try:
        value = field.decode(text)
    except ValueError:
        return
    assert field.encode(value) == text
