"""copybook codec on mainframe data: hand-assembled EBCDIC records and the JSON they hold.

Every byte string here is written out by hand from the EBCDIC code pages and IBM's data
formats (zoned C/D/F signs, packed nibbles, big-endian binary, hexadecimal floating point,
SYNCHRONIZED slack), never produced by the codec's encoder: a known answer the codec must
decode, and re-encode to exactly the same bytes. Bad bytes and bad JSON must be errors that
name the field.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Optional

import pytest

from bootstrap_sdk.copybook import Copybook, DataEncoding, RecordError, Selector


def book(text: str, encoding: str = "cp037", selector: Optional[str] = None) -> Copybook:
    return Copybook.parse(text, "test.cpy", DataEncoding(encoding), Selector.parse(selector) if selector else None)


def numbers_are_decimals(value: Any) -> bool:
    """JSON numbers are exact Decimals, never ints or floats."""
    if isinstance(value, dict):
        return all(numbers_are_decimals(v) for v in value.values())
    if isinstance(value, list):
        return all(numbers_are_decimals(v) for v in value)
    return value is None or isinstance(value, (str, Decimal))


def both_ways(copybook: Copybook, hex_bytes: str, value: Any) -> None:
    """The bytes decode to the value, and the value encodes to exactly the bytes."""
    data = bytes.fromhex(hex_bytes)
    decoded = copybook.decode(data)
    assert decoded == value
    assert numbers_are_decimals(decoded)
    assert copybook.encode(value).hex() == data.hex()


def refused(call, *args: Any, **kwargs: Any) -> RecordError:
    with pytest.raises(RecordError) as caught:
        call(*args, **kwargs)
    return caught.value


D = Decimal

# -- text -------------------------------------------------------------------------------------

TEXT = """\
       01  TX-REC.
           05  TX-CODE         PIC X(3).
           05  TX-NAME         PIC X(8).
"""


@pytest.mark.parametrize("encoding, name, name_bytes", [
    # cp037 (US): [ BA, ] BB, ! 5A, | 4F; lower case a-i 81-89
    ("cp037", "[a!]|", "ba815abb4f404040"),
    # cp1140 is cp037 with the euro sign at 9F
    ("cp1140", "\u20ac9.99", "9ff94bf9f9404040"),
    # cp500 (international): [ 4A, ] 5A, ! 4F, | BB
    ("cp500", "[a!]|", "4a814f5abb404040"),
    # cp273 (German): Ä 4A, [ 63, ! 4F, ] FC, | BB, ß A1
    ("cp273", "\u00c4[!]|\u00df", "4a634ffcbba14040"),
    # cp1047 (z/OS UNIX): [ AD, ] BD, ! 5A, | 4F, ^ 5F
    ("cp1047", "[a!]|^", "ad815abd4f5f4040"),
])
def test_text_is_in_the_code_page_padded_with_0x40(encoding, name, name_bytes):
    """The characters whose bytes differ between the EBCDIC code pages land where each puts them."""
    both_ways(book(TEXT, encoding), "c140f2" + name_bytes, {"code": "A 2", "name": name})


def test_empty_text_is_all_0x40_and_trailing_spaces_are_dropped():
    both_ways(book(TEXT), "404040" + "40" * 8, {"code": "", "name": ""})
    assert book(TEXT).decode(bytes.fromhex("40c140" + "e2d4c9e3c8404040")) == {"code": " A", "name": "SMITH"}


def test_a_character_the_code_page_lacks_is_refused_naming_the_field():
    """cp037 has no euro sign (cp1140 has it, at 9F)."""
    error = refused(book(TEXT, "cp037").encode, {"code": "EUR", "name": "\u20ac5"})
    assert error.field == "name"
    assert "cp037" in error.message and "\u20ac" in error.message
    assert book(TEXT, "cp1140").encode({"code": "EUR", "name": "\u20ac5"}).hex() == "c5e4d9" + "9ff5" + "40" * 6


# -- zoned decimal ----------------------------------------------------------------------------

ZONED = """\
       01  ZN-REC.
           05  ZN-UNSIGNED     PIC 9(4).
           05  ZN-TRAILING     PIC S9(3).
           05  ZN-DECIMALS     PIC S9(3)V99.
           05  ZN-LEADING      PIC S9(3) SIGN LEADING.
           05  ZN-LEAD-SEP     PIC S9(3) SIGN IS LEADING SEPARATE CHARACTER.
           05  ZN-TRAIL-SEP    PIC S9(3) SIGN TRAILING SEPARATE.
"""


@pytest.mark.parametrize("hex_bytes, value", [
    # digits F0-F9; the sign in the zone of the last (LEADING: first) byte: C +, D -;
    # SEPARATE: a byte of its own, + 4E, - 60
    ("f0f0f4f2" "f1f2c3" "f0f1f2f3c4" "c1f2f3" "4ef1f2f3" "f0f0f74e",
     {"unsigned": D(42), "trailing": D(123), "decimals": D("12.34"), "leading": D(123), "lead_sep": D(123),
      "trail_sep": D(7)}),
    ("f9f9f9f9" "f1f2d3" "f0f0f0f0d5" "d1f2f3" "60f0f0f5" "f9f9f960",
     {"unsigned": D(9999), "trailing": D(-123), "decimals": D("-0.05"), "leading": D(-123), "lead_sep": D(-5),
      "trail_sep": D(-999)}),
    ("f0f0f0f0" "f0f0c0" "f0f0f0f0c0" "c0f0f0" "4ef0f0f0" "f0f0f04e",
     {"unsigned": D(0), "trailing": D(0), "decimals": D(0), "leading": D(0), "lead_sep": D(0), "trail_sep": D(0)}),
])
@pytest.mark.parametrize("encoding", ["cp037", "cp1140", "cp500", "cp273", "cp1047"])
def test_zoned_decimal(encoding, hex_bytes, value):
    """Digits, + and - have the same bytes in every one of these code pages."""
    both_ways(book(ZONED, encoding), hex_bytes, value)


def test_zoned_decimals_keep_their_scale():
    decoded = book(ZONED).decode(bytes.fromhex("f0f0f4f2" "f1f2c3" "f0f1f2f3c0" "c1f2f3" "4ef1f2f3" "f0f0f74e"))
    assert str(decoded["decimals"]) == "12.30"


def test_zone_f_on_a_signed_field_is_positive():
    """Unsigned moves and some utilities leave F where the compiler writes C: IBM reads it as +."""
    copybook = book(ZONED)
    data = bytes.fromhex("f0f0f4f2" "f1f2f3" "f0f1f2f3f4" "f1f2f3" "4ef1f2f3" "f0f0f74e")
    assert copybook.decode(data) == {"unsigned": D(42), "trailing": D(123), "decimals": D("12.34"),
                                     "leading": D(123), "lead_sep": D(123), "trail_sep": D(7)}
    assert copybook.encode(copybook.decode(data)).hex() == (
        "f0f0f4f2" "f1f2c3" "f0f1f2f3c4" "c1f2f3" "4ef1f2f3" "f0f0f74e")


def test_signs_a_b_e_are_read_as_ibm_hardware_reads_them_and_written_as_c_d():
    """IBM's preferred signs are C, D and F; A and E also mean +, B means -, in mainframe data."""
    copybook = book(ZONED)
    canonical = bytes.fromhex("f0f0f4f2" "f1f2c3" "f0f1f2f3d4" "c1f2f3" "4ef1f2f3" "f0f0f74e")
    for positive, negative in (("a3", "b4"), ("e3", "b4")):
        variant = bytes.fromhex("f0f0f4f2" "f1f2" + positive + "f0f1f2f3" + negative + "c1f2f3" "4ef1f2f3" "f0f0f74e")
        assert copybook.decode(variant) == copybook.decode(canonical)
        assert (copybook.decode(variant)["trailing"], copybook.decode(variant)["decimals"]) == (123, D("-12.34"))
        assert copybook.encode(copybook.decode(variant)) == canonical
    packed = Copybook.parse("       01  PK-REC.\n           05  PK-A PIC S9(3) COMP-3.\n           05  PK-B PIC S9(3) "
                            "COMP-3.\n", encoding=DataEncoding("cp037"))
    assert packed.decode(bytes.fromhex("123a" "123b")) == {"a": 123, "b": -123}
    assert packed.encode({"a": 123, "b": -123}) == bytes.fromhex("123c" "123d")


def test_a_negative_zero_is_read_as_zero():
    decoded = book(ZONED).decode(bytes.fromhex("f0f0f0f0" "f0f0d0" "f0f0f0f0d0" "d0f0f0" "60f0f0f0" "f0f0f060"))
    for name in ("trailing", "decimals", "leading", "lead_sep", "trail_sep"):
        assert decoded[name] == 0 and not decoded[name].is_signed(), name


@pytest.mark.parametrize("hex_bytes, field, words", [
    ("f0f0f0a1" "f1f2c3" "f0f1f2f3c4" "c1f2f3" "4ef1f2f3" "f0f0f74e", "unsigned", ["zone A"]),
    ("f0f0f4f2" "f1f293" "f0f1f2f3c4" "c1f2f3" "4ef1f2f3" "f0f0f74e", "trailing", ["zone 9"]),
    ("f0f0f4f2" "f1a1c3" "f0f1f2f3c4" "c1f2f3" "4ef1f2f3" "f0f0f74e", "trailing", ["A1", "not a digit"]),
    ("f0f0f4f2" "f1f2c3" "f0f1f2f3c4" "81f2f3" "4ef1f2f3" "f0f0f74e", "leading", ["zone 8"]),
    ("f0f0f4f2" "f1f2c3" "f0f1f2f3c4" "c1f2f3" "f1f2f3f4" "f0f0f74e", "lead_sep", ["SEPARATE"]),
    # 0x20 is the ASCII space, not an EBCDIC + or -
    ("f0f0f4f2" "f1f2c3" "f0f1f2f3c4" "c1f2f3" "4ef1f2f3" "f0f0f720", "trail_sep", ["SEPARATE"]),
    # ASCII digits are no EBCDIC digits
    ("30303432" "f1f2c3" "f0f1f2f3c4" "c1f2f3" "4ef1f2f3" "f0f0f74e", "unsigned", ["zoned"]),
])
def test_invalid_zoned_bytes_are_refused_naming_the_field(hex_bytes, field, words):
    error = refused(book(ZONED).decode, bytes.fromhex(hex_bytes))
    assert error.field == field
    for word in words:
        assert word in error.message


def test_blank_numbers_read_as_zero_only_when_asked():
    """Records INITIALIZEd with SPACES: 0x40 in every byte, which is no number."""
    copybook = book(ZONED)
    data = bytes.fromhex("40" * 23)
    assert refused(copybook.decode, data).field == "unsigned"
    assert copybook.decode(data, blank_as_zero=True) == {name: D(0) for name in (
        "unsigned", "trailing", "decimals", "leading", "lead_sep", "trail_sep")}
    assert book(PACKED).decode(bytes.fromhex("40" * 9), blank_as_zero=True) == {
        "signed": D(0), "even": D(0), "unsigned": D(0)}


# -- packed decimal ---------------------------------------------------------------------------

PACKED = """\
       01  PK-REC.
           05  PK-SIGNED       PIC S9(5) COMP-3.
           05  PK-EVEN         PIC S9(4)V99 PACKED-DECIMAL.
           05  PK-UNSIGNED     PIC 9(3) COMP-3.
"""


@pytest.mark.parametrize("hex_bytes, value", [
    # two digits a byte, the sign in the last nibble: C +, D -, F unsigned; an even number of
    # digits gets a leading 0 nibble
    ("12345c" "0123456d" "789f", {"signed": D(12345), "even": D("-1234.56"), "unsigned": D(789)}),
    ("00001d" "0000001c" "000f", {"signed": D(-1), "even": D("0.01"), "unsigned": D(0)}),
    ("99999d" "0999999c" "999f", {"signed": D(-99999), "even": D("9999.99"), "unsigned": D(999)}),
])
def test_packed_decimal(hex_bytes, value):
    both_ways(book(PACKED), hex_bytes, value)


def test_packed_f_on_a_signed_field_is_positive_and_negative_zero_is_zero():
    copybook = book(PACKED)
    decoded = copybook.decode(bytes.fromhex("12345f" "0000000d" "000f"))
    assert decoded == {"signed": D(12345), "even": D(0), "unsigned": D(0)}
    assert not decoded["even"].is_signed()
    assert copybook.encode(decoded).hex() == "12345c" "0000000c" "000f"


@pytest.mark.parametrize("hex_bytes, field, words", [
    ("123a5c" "0123456d" "789f", "signed", ["123a5c", "not packed decimal"]),
    ("12345c" "0123456d" "78af", "unsigned", ["not packed decimal"]),
    ("123457" "0123456d" "789f", "signed", ["sign 7"]),
    ("12345c" "0123456d" "789d", "unsigned", ["negative", "unsigned"]),
    ("12345c" "40404040" "789f", "even", ["blank"]),
])
def test_invalid_packed_bytes_are_refused_naming_the_field(hex_bytes, field, words):
    error = refused(book(PACKED).decode, bytes.fromhex(hex_bytes))
    assert error.field == field
    for word in words:
        assert word in error.message


# -- binary -----------------------------------------------------------------------------------

BINARY = """\
       01  BN-REC.
           05  BN-HALF         PIC S9(4) COMP.
           05  BN-FULL         PIC S9(9) BINARY.
           05  BN-DOUBLE       PIC S9(18) COMP-4.
           05  BN-UNSIGNED     PIC 9(4) COMP.
           05  BN-NATIVE       PIC S9(4) COMP-5.
           05  BN-NATIVE-FULL  PIC S9(9) COMP-5.
           05  BN-SCALED       PIC S9(5)V99 COMP.
"""
BINARY_VALUE = {"half": D(-2), "full": D(123456789), "double": D(1234567890123), "unsigned": D(9999),
                "native": D(258), "native_full": D(-259), "scaled": D("-12.34")}


def test_binary_is_big_endian_and_comp_5_too_in_mainframe_data():
    """z/Architecture is big-endian: COMP-5 is as big-endian as COMP there."""
    both_ways(book(BINARY), "fffe" "075bcd15" "0000011f71fb04cb" "270f" "0102" "fffffefd" "fffffb2e", BINARY_VALUE)


def test_comp_5_is_little_endian_in_ascii_data():
    """GnuCOBOL on x86: COMP is big-endian (binary-byteorder), COMP-5 the machine's own order."""
    both_ways(book(BINARY, "ascii"), "fffe" "075bcd15" "0000011f71fb04cb" "270f" "0201" "fdfeffff" "fffffb2e",
              BINARY_VALUE)


def test_binary_digits_beyond_the_picture_are_refused():
    error = refused(book(BINARY).decode, bytes.fromhex(
        "2710" "075bcd15" "0000011f71fb04cb" "270f" "0102" "fffffefd" "fffffb2e"))  # 10000 in S9(4)
    assert error.field == "half" and "10000" in error.message


COMP5 = """\
       01  C5-REC.
           05  C5-HALF         PIC S9(4) COMP-5.
           05  C5-UHALF        PIC 9(4) COMP-5.
           05  C5-FULL         PIC S9(9) COMP-5.
"""


def test_comp_5_holds_the_full_range_of_its_bytes():
    """IBM: COMP-5 items "can contain values up to the capacity of the native binary
    representation (2, 4, or 8 bytes) rather than being limited to the value implied by the
    number of 9s in the picture" (Language Reference, USAGE COMPUTATIONAL-5); GnuCOBOL too (the
    integration test). BINARY/COMP is the one the PIC limits."""
    both_ways(book(COMP5), "7fff" "ffff" "7fffffff", {"half": D(32767), "uhalf": D(65535), "full": D(2147483647)})
    both_ways(book(COMP5), "8000" "0000" "80000000", {"half": D(-32768), "uhalf": D(0), "full": D(-2147483648)})


SMALL_BINARY = """\
       01  SB-REC.
           05  SB-ONE          PIC S9 COMP.
           05  SB-TWO          PIC 99 BINARY.
           05  SB-FOUR         PIC S9(4) COMP.
"""


def test_a_binary_item_of_up_to_4_digits_is_a_halfword_on_the_mainframe():
    """IBM Enterprise COBOL stores BINARY/COMP/COMP-4/COMP-5 items of 1 to 4 digits in 2 bytes
    (a halfword), 5 to 9 in 4, 10 to 18 in 8 (Language Reference, "USAGE clause", BINARY).
    GnuCOBOL's 1-byte size for 1-2 digits (binary-size: 1-2-4-8) is its own default; a
    mainframe record with PIC S9 COMP has 2 bytes there."""
    copybook = book(SMALL_BINARY)
    assert copybook.record_length == 6
    both_ways(copybook, "fff9" "0063" "04d2", {"one": D(-7), "two": D(99), "four": D(1234)})


# -- floating point: IBM hexadecimal (HFP) ----------------------------------------------------

FLOATS = """\
       01  FL-REC.
           05  FL-SHORT        COMP-1.
           05  FL-LONG         USAGE COMP-2.
"""


@pytest.mark.parametrize("hex_bytes, short, long", [
    # sign bit, a power of 16 in excess 64, then the fraction: 1 = 0.1 (hex) x 16**1
    ("41100000" "4110000000000000", D(1), D(1)),
    # 118.625 = 0x76.A = 0.76A (hex) x 16**2
    ("c276a000" "c276a00000000000", D("-118.625"), D("-118.625")),
    ("42640000" "4080000000000000", D(100), D("0.5")),
    # 0.1 = 0.1999... (hex): rounded to 6 or 14 hex digits
    ("4019999a" "401999999999999a", D("0.1"), D("0.1")),
    ("00000000" "0000000000000000", D(0), D(0)),
])
def test_hexadecimal_floating_point(hex_bytes, short, long):
    both_ways(book(FLOATS), hex_bytes, {"short": short, "long": long})


@pytest.mark.parametrize("encoding", ["cp500", "cp273", "cp1047", "cp1140"])
def test_every_ebcdic_encoding_has_hexadecimal_floats(encoding):
    both_ways(book(FLOATS, encoding), "c276a000" "4110000000000000", {"short": D("-118.625"), "long": D(1)})


def test_floats_are_ieee_little_endian_in_ascii_data():
    """-118.625 = -1.110110101b x 2**6: binary32 C2ED4000, binary64 C05DA80000000000."""
    both_ways(book(FLOATS, "ascii"), "0040edc2" "0000000000a85dc0", {"short": D("-118.625"), "long": D("-118.625")})
    both_ways(book(FLOATS, "ascii"), "0000803f" "000000000000f03f", {"short": D(1), "long": D(1)})


def test_an_unnormalized_hfp_float_is_refused_naming_the_field():
    error = refused(book(FLOATS).decode, bytes.fromhex("41010000" "4110000000000000"))
    assert error.field == "short" and "normalized" in error.message


# -- P scaling --------------------------------------------------------------------------------

SCALED = """\
       01  SC-REC.
           05  SC-HUNDREDS     PIC 9(3)PP.
           05  SC-TINY         PIC VPP99.
           05  SC-PACKED       PIC S99PP COMP-3.
           05  SC-SIGNED       PIC SVP9(3) SIGN LEADING SEPARATE.
"""


def test_p_scaling_stores_only_the_digits_the_picture_holds():
    """9(3)PP: 12300 is stored as 123; VPP99: 0.0012 as 12; the P positions are implied zeros."""
    both_ways(book(SCALED), "f1f2f3" "f1f2" "045d" "60f0f0f7",
              {"hundreds": D(12300), "tiny": D("0.0012"), "packed": D(-4500), "signed": D("-0.0007")})
    both_ways(book(SCALED), "f9f9f9" "f0f1" "099c" "4ef9f9f9",
              {"hundreds": D(99900), "tiny": D("0.0001"), "packed": D(9900), "signed": D("0.0999")})


def test_a_value_between_the_scaled_steps_is_refused_naming_the_field():
    error = refused(book(SCALED).encode, {"hundreds": D(12345), "tiny": D(0), "packed": D(0), "signed": D(0)})
    assert error.field == "hundreds" and "100" in error.message
    error = refused(book(SCALED).encode, {"hundreds": D(0), "tiny": D("0.00123"), "packed": D(0), "signed": D(0)})
    assert error.field == "tiny"


# -- REDEFINES and a segment-id selector ------------------------------------------------------

SEGMENT = """\
       01  SG-REC.
           05  SG-ID           PIC X.
           05  SG-CUST.
               10  SG-NAME     PIC X(6).
               10  SG-BAL      PIC S9(5)V99 COMP-3.
           05  SG-ACCT REDEFINES SG-CUST.
               10  SG-ACCT-NO  PIC 9(6).
               10  SG-RATE     PIC S9V9(3) COMP.
           05  SG-TAIL         PIC X(2).
"""
SEGMENT_SELECTOR = "SG-ID=C:SG-CUST,A:SG-ACCT"
# C, SMITH, -1234.50 packed, OK
CUSTOMER = "c3" "e2d4c9e3c840" "0123450d" "d6d2"
# A, 001234, 0.500 (500 = 01F4), the 2 bytes ACCT leaves of CUST's 10: spaces, OK
ACCOUNT = "c1" "f0f0f1f2f3f4" "01f4" "4040" "d6d2"


def test_a_selector_picks_the_view_by_the_segment_id():
    copybook = book(SEGMENT, selector=SEGMENT_SELECTOR)
    both_ways(copybook, CUSTOMER, {"id": "C", "cust": {"name": "SMITH", "bal": D("-1234.50")}, "tail": "OK"})
    both_ways(copybook, ACCOUNT, {"id": "A", "acct": {"acct_no": D(1234), "rate": D("0.5")}, "tail": "OK"})


def test_the_bytes_a_shorter_view_leaves_are_not_read():
    """ACCT is 8 of the region's 10 bytes: whatever is in the other 2 is no part of it."""
    copybook = book(SEGMENT, selector=SEGMENT_SELECTOR)
    assert copybook.decode(bytes.fromhex("c1" "f0f0f1f2f3f4" "01f4" "ff00" "d6d2")) == {
        "id": "A", "acct": {"acct_no": D(1234), "rate": D("0.5")}, "tail": "OK"}


NUMBERED = """\
       01  NR-REC.
           05  NR-TYPE         PIC 9.
           05  NR-TEXT         PIC X(4).
           05  NR-AMOUNT REDEFINES NR-TEXT PIC S9(7) COMP-3.
"""


def test_a_numeric_segment_id_selects_by_its_value():
    copybook = book(NUMBERED, selector="NR-TYPE=1:NR-TEXT,2:NR-AMOUNT")
    both_ways(copybook, "f1" "c1c2c3c4", {"type": D(1), "text": "ABCD"})
    both_ways(copybook, "f2" "1234567d", {"type": D(2), "amount": D(-1234567)})


def test_a_segment_id_the_selector_does_not_map_is_refused_naming_it():
    error = refused(book(SEGMENT, selector=SEGMENT_SELECTOR).decode, bytes.fromhex("e9" + CUSTOMER[2:]))
    assert error.field == "id"
    assert "'Z'" in error.message and "selects no view" in error.message
    copybook = book(SEGMENT, selector=SEGMENT_SELECTOR + ",*:SG-CUST")
    assert copybook.decode(bytes.fromhex("e9" + CUSTOMER[2:]))["cust"] == {"name": "SMITH", "bal": D("-1234.50")}


def test_encoding_the_view_the_segment_id_does_not_select_is_refused():
    error = refused(book(SEGMENT, selector=SEGMENT_SELECTOR).encode,
                    {"id": "A", "cust": {"name": "SMITH", "bal": D(1)}, "tail": "OK"})
    assert error.field == "cust" and "SG-ACCT" in error.message


def test_without_a_selector_every_view_is_decoded_and_an_invalid_one_is_null():
    """SMITH is no PIC 9(6); 001234 then 01F4 4040 is no packed S9(5)V99 (F is no digit)."""
    copybook = book(SEGMENT)
    both_ways(copybook, CUSTOMER, {"id": "C", "cust": {"name": "SMITH", "bal": D("-1234.50")}, "acct": None,
                                   "tail": "OK"})
    both_ways(copybook, ACCOUNT, {"id": "A", "cust": None, "acct": {"acct_no": D(1234), "rate": D("0.5")},
                                  "tail": "OK"})


def test_encoding_takes_exactly_one_view():
    copybook = book(SEGMENT)
    both = {"id": "C", "cust": {"name": "SMITH", "bal": D(1)}, "acct": {"acct_no": D(1), "rate": D(0)},
            "tail": "OK"}
    error = refused(copybook.encode, both)
    assert error.field == "SG-REC"
    assert "cust and acct" in error.message and "exactly one" in error.message
    error = refused(copybook.encode, {"id": "C", "cust": None, "tail": "OK"})
    assert error.field == "SG-REC"
    assert "exactly one" in error.message and "none" in error.message


# -- several 01 records -----------------------------------------------------------------------

RECORDS = """\
       01  CUST-REC.
           05  CR-TYPE         PIC X.
           05  CR-NAME         PIC X(10).
       01  ACCT-REC.
           05  AR-TYPE         PIC X.
           05  AR-NUMBER       PIC 9(5).
           05  AR-BALANCE      PIC S9(7)V99 COMP-3.
"""
CUST_RECORD = "c3" "d1d6d5c5e2" + "40" * 5
ACCT_RECORD = "c1" "f0f0f0f4f2" "000012345c"


def test_several_01_records_are_keyed_by_record_and_chosen_by_a_selector():
    copybook = book(RECORDS, selector="CR-TYPE=C:CUST-REC,A:ACCT-REC")
    both_ways(copybook, CUST_RECORD, {"cust_rec": {"type": "C", "name": "JONES"}})
    both_ways(copybook, ACCT_RECORD, {"acct_rec": {"type": "A", "number": D(42), "balance": D("123.45")}})


def test_several_01_records_without_a_selector_give_every_valid_one():
    both_ways(book(RECORDS), CUST_RECORD, {"cust_rec": {"type": "C", "name": "JONES"}, "acct_rec": None})


RECORDS_OF_TWO_LENGTHS = """\
       01  SHORT-REC.
           05  SR-TYPE         PIC X.
           05  SR-CODE         PIC X(3).
       01  LONG-REC.
           05  LR-TYPE         PIC X.
           05  LR-AMOUNT       PIC S9(7) COMP-3.
           05  LR-NOTE         PIC X(5).
"""


def test_several_01_records_of_different_lengths_each_read_at_their_own_length():
    """The records of a file implicitly redefine one record area as long as the longest (IBM
    Language Reference, "FILE SECTION"); a variable-length data set holds each record at its
    own length (GnuCOBOL writes SHORT-REC as 4 bytes and LONG-REC as 10: the integration test
    shows it), a fixed slot the shorter one padded. What the encoder writes must decode back."""
    copybook = book(RECORDS_OF_TWO_LENGTHS, selector="SR-TYPE=S:SHORT-REC,L:LONG-REC")
    assert copybook.record_length == 10
    long_value = {"long_rec": {"type": "L", "amount": D(5), "note": "HI"}}
    both_ways(copybook, "d3" "0000005c" "c8c9404040", long_value)
    short_value = {"short_rec": {"type": "S", "code": "AB"}}
    assert copybook.decode(copybook.encode(short_value)) == short_value
    assert copybook.decode(bytes.fromhex("e2" "c1c240")) == short_value
    assert copybook.decode(bytes.fromhex("e2" "c1c240" + "40" * 6), trailing="padding") == short_value


# -- OCCURS DEPENDING ON ----------------------------------------------------------------------

ORDER = """\
       01  OD-REC.
           05  OD-ID           PIC X(4).
           05  OD-COUNT        PIC S9(4) COMP.
           05  OD-ITEM OCCURS 0 TO 3 TIMES DEPENDING ON OD-COUNT.
               10  OD-SKU      PIC X(3).
               10  OD-QTY      PIC S9(3) COMP-3.
           05  OD-TOTAL        PIC S9(5)V99 COMP-3.
"""
ORDER_3 = ("d6d9c4f1" "0003" "c1c2c3" "005c" "e7e8e9" "012d" "d2f940" "100c" "0123456c")
ORDER_3_VALUE = {"id": "ORD1", "count": D(3), "item": [
    {"sku": "ABC", "qty": D(5)}, {"sku": "XYZ", "qty": D(-12)}, {"sku": "K9", "qty": D(100)}],
    "total": D("1234.56")}


def test_an_odo_table_of_count_zero_takes_no_bytes():
    both_ways(book(ORDER), "d6d9c4f1" "0000" "0000000c", {"id": "ORD1", "count": D(0), "item": [], "total": D(0)})


def test_an_odo_table_at_its_largest_count_and_the_item_after_it():
    both_ways(book(ORDER), ORDER_3, ORDER_3_VALUE)


def test_an_odo_count_above_the_largest_is_refused_naming_the_count():
    data = bytes.fromhex("d6d9c4f1" "0004" "c1c2c3005c" "c1c2c3005c" "c1c2c3005c" "c1c2c3005c" "0000000c")
    error = refused(book(ORDER).decode, data)
    assert error.field == "item"
    assert "OD-COUNT" in error.message and "is 4" in error.message and "0 TO 3" in error.message


def test_an_odo_count_below_the_smallest_is_refused_naming_the_count():
    at_least_one = ORDER.replace("OCCURS 0 TO 3", "OCCURS 1 TO 3")
    error = refused(book(at_least_one).decode, bytes.fromhex("d6d9c4f1" "0000" "0000000c"))
    assert error.field == "item"
    assert "OD-COUNT" in error.message and "is 0" in error.message and "1 TO 3" in error.message
    error = refused(book(at_least_one).encode, {"id": "ORD1", "count": D(0), "item": [], "total": D(0)})
    assert error.field == "item" and "1 TO 3" in error.message


def test_an_odo_count_that_is_no_number_is_refused_naming_the_count():
    error = refused(book(ORDER).decode, bytes.fromhex("d6d9c4f1" "4040" "0000000c"))  # 16448 in S9(4)
    assert error.field == "count" and "16448" in error.message


def test_a_list_length_disagreeing_with_its_count_is_refused():
    value = dict(ORDER_3_VALUE, count=D(2))
    error = refused(book(ORDER).encode, value)
    assert error.field == "item"
    assert "3 items" in error.message and "OD-COUNT" in error.message and "agree" in error.message
    error = refused(book(ORDER).encode, dict(ORDER_3_VALUE, count=D(4), item=ORDER_3_VALUE["item"] * 2))
    assert error.field == "item" and "6 items" in error.message


@pytest.mark.parametrize("cut, field", [
    (len(bytes.fromhex("d6d9c4f1" "0003" "c1c2c3005c" "e7e8e9")) + 1, "item[1].qty"),  # inside a packed item
    (len(bytes.fromhex("d6d9c4f1" "0003" "c1c2c3005c" "e7e8e9012d")) + 2, "item[2].sku"),  # inside a text item
])
def test_a_record_cut_short_inside_an_odo_table_names_the_field_it_ends_in(cut, field):
    error = refused(book(ORDER).decode, bytes.fromhex(ORDER_3)[:cut])
    assert error.field == field
    assert "ends" in error.message and "inside this field" in error.message


NESTED = """\
       01  NS-REC.
           05  NS-GROUPS       PIC 9.
           05  NS-GROUP OCCURS 1 TO 3 TIMES DEPENDING ON NS-GROUPS.
               10  NS-LINES    PIC S9 COMP-3.
               10  NS-LINE OCCURS 0 TO 4 TIMES DEPENDING ON NS-LINES.
                   15  NS-AMT  PIC S9(3) COMP-3.
           05  NS-END          PIC X(2).
"""


def test_a_nested_odo_table_takes_its_length_from_its_own_entrys_count():
    """Group 1 has two lines, group 2 none: each entry is as long as its own count makes it."""
    both_ways(book(NESTED), "f2" "2c" "001c" "002d" "0c" "d6d2", {
        "groups": D(2), "group": [{"lines": D(2), "line": [{"amt": D(1)}, {"amt": D(-2)}]},
                                  {"lines": D(0), "line": []}],
        "end": "OK"})
    both_ways(book(NESTED), "f1" "4c" "001c" "002c" "003c" "999d" "4040", {
        "groups": D(1), "group": [{"lines": D(4), "line": [{"amt": D(1)}, {"amt": D(2)}, {"amt": D(3)},
                                                           {"amt": D(-999)}]}],
        "end": ""})


def test_a_nested_count_above_its_largest_is_refused_naming_the_entry():
    error = refused(book(NESTED).decode, bytes.fromhex("f2" "1c" "001c" "5c" "001c001c001c001c001c" "d6d2"))
    assert error.field == "group[1].line"
    assert "NS-LINES" in error.message and "is 5" in error.message


# -- SYNCHRONIZED -----------------------------------------------------------------------------

SYNC = """\
       01  SY-REC.
           05  SY-FLAG         PIC X.
           05  SY-FULL         PIC S9(9) COMP SYNC.
           05  SY-CODE         PIC X(3).
           05  SY-HALF         PIC S9(4) COMP SYNCHRONIZED.
           05  SY-LONG         COMP-2 SYNC.
           05  SY-SHORT        COMP-1 SYNC.
           05  SY-END          PIC X.
"""
SYNC_VALUE = {"flag": "Y", "full": D(100000), "code": "ABC", "half": D(-1), "long": D(1),
              "short": D("-118.625"), "end": "Z"}


def test_sync_items_are_aligned_after_slack_bytes_written_as_0x00():
    """Offsets from the record's start: FULL at 4 (3 slack), HALF at 12 (1), LONG at 16 (2), SHORT at 24."""
    copybook = book(SYNC)
    assert copybook.record_length == 29
    both_ways(copybook, "e8" "000000" "000186a0" "c1c2c3" "00" "ffff" "0000" "4110000000000000" "c276a000" "e9",
              SYNC_VALUE)


def test_slack_bytes_are_not_read():
    """The compiler leaves slack bytes undefined: whatever a program left there is no data."""
    data = "e8" "40ff40" "000186a0" "c1c2c3" "5c" "ffff" "4040" "4110000000000000" "c276a000" "e9"
    assert book(SYNC).decode(bytes.fromhex(data)) == SYNC_VALUE


# -- numeric-edited ---------------------------------------------------------------------------

EDITED = """\
       01  ED-REC.
           05  ED-PLAIN        PIC ZZ9.99.
           05  ED-AMOUNT       PIC ZZ,ZZ9.99-.
           05  ED-CREDIT       PIC $ZZ9.99CR.
"""


@pytest.mark.parametrize("encoding", ["cp037", "cp500", "cp273", "cp1047", "cp1140"])
@pytest.mark.parametrize("hex_bytes, value", [
    # '  5.00' ' 1,234.50-' '$ 12.30CR': space 40, . 4B, , 6B, - 60, $ 5B, C C3, R D9
    ("4040f54bf0f0" "40f16bf2f3f44bf5f060" "5b40f1f24bf3f0c3d9",
     {"plain": D(5), "amount": D("-1234.5"), "credit": D("-12.3")}),
    # '  0.00' '     7.00 ' '$ 12.30  '
    ("4040f04bf0f0" "4040404040f74bf0f040" "5b40f1f24bf3f04040",
     {"plain": D(0), "amount": D(7), "credit": D("12.3")}),
])
def test_numeric_edited_fields_in_ebcdic(encoding, hex_bytes, value):
    both_ways(book(EDITED, encoding), hex_bytes, value)


def test_numeric_edited_text_no_move_writes_is_refused_naming_the_field():
    error = refused(book(EDITED).decode, bytes.fromhex("40f0f54bf0f0" "40f16bf2f3f44bf5f060" "5b40f1f24bf3f0c3d9"))
    assert error.field == "plain"


# -- what may follow a record -----------------------------------------------------------------

RECORD = "c1c2c3" "e2d4c9e3c8404040"


@pytest.mark.parametrize("copybook, hex_bytes, name, last", [
    (book(TEXT), RECORD, "TX-REC", "TX-REC"),
    (book(ORDER), "d6d9c4f1" "0000" "0000000c", "OD-REC", "total"),  # its length is its count's: TOTAL is cut
])
def test_bytes_after_the_record(copybook, hex_bytes, name, last):
    """exact: nothing may follow; padding: EBCDIC spaces or 0x00 (a fixed slot); ignored: anything."""
    data = bytes.fromhex(hex_bytes)
    value = copybook.decode(data)
    error = refused(copybook.decode, data + b"\x40\x40")
    assert error.field == name and str(len(data) + 2) in error.message
    assert copybook.decode(data + b"\x40\x40\x40", trailing="padding") == value
    assert copybook.decode(data + b"\x00\x00", trailing="padding") == value
    for junk in (b"\x20\x20", b"\xc1", b"\x40\x40\xff"):  # 0x20 is an ASCII space, no EBCDIC one
        error = refused(copybook.decode, data + junk, trailing="padding")
        assert error.field == name and "not padding" in error.message
    assert copybook.decode(data + b"\xc1\x20\xff", trailing="ignored") == value
    assert refused(copybook.decode, data[:-1], trailing="ignored").field == last


SEGMENT_KINDS = """\
       01  CUST-SEG.
           05  CS-SEG          PIC X.
           05  CS-KIND         PIC X.
           05  CS-DETAIL.
               10  CS-PERSON.
                   15  CS-BORN PIC 9(8).
               10  CS-FIRM REDEFINES CS-PERSON.
                   15  CS-STAFF PIC 9(5) COMP-3.
                   15  FILLER  PIC X(5).
       01  ACCT-SEG.
           05  AS-SEG          PIC X.
           05  AS-BALANCE      PIC S9(5)V99 COMP-3.
"""


def test_one_selector_per_redefines_choose_the_record_then_the_view_inside_it():
    """The segment id picks the 01 record; inside a customer, its kind picks the view. The
    inner selector is read only when its record is the one chosen."""
    selectors = Selector.parse_many("SEG=C:CUST-SEG,A:ACCT-SEG; KIND=P:PERSON,F:FIRM")
    copybook = Copybook.parse(SEGMENT_KINDS, encoding=DataEncoding("cp037"), selector=selectors)
    person = bytes.fromhex("c3" "d7" "f1f9f8f0f0f1f0f1")
    firm = bytes.fromhex("c3" "c6" "00120f" "4040404040")
    account = bytes.fromhex("c1" "0012345c")
    assert copybook.decode(person) == {"cust_seg": {"seg": "C", "kind": "P", "detail": {"person": {"born": 19800101}}}}
    assert copybook.decode(firm) == {"cust_seg": {"seg": "C", "kind": "F", "detail": {"firm": {"staff": 120}}}}
    assert copybook.decode(account) == {"acct_seg": {"seg": "A", "balance": D("123.45")}}
    for record in (person, firm, account):
        assert copybook.encode(copybook.decode(record)) == record
    wrong = {"cust_seg": {"seg": "C", "kind": "P", "detail": {"firm": {"staff": 120}}}}
    assert refused(copybook.encode, wrong).field == "firm"
    assert "kind selects CS-PERSON" in refused(copybook.encode, wrong).message
    with pytest.raises(ValueError, match="two selectors"):
        Copybook.parse(SEGMENT_KINDS, selector=Selector.parse_many("SEG=C:CUST-SEG;SEG=A:ACCT-SEG"))


def test_what_may_follow_a_record_is_one_of_three_words_never_a_guess():
    copybook = book(SEGMENT_KINDS)
    for call in (copybook.decode, copybook.decode_json):
        with pytest.raises(ValueError, match="trailing must be one of exact, padding, ignored, not 'pad'"):
            call(bytes.fromhex("c1" "0012345c"), trailing="pad")
