"""The encoding of a dataset: its code page, and the conventions of the machine that wrote it.

The same copybook lays out different bytes on a mainframe and in GnuCOBOL on Linux: text is
EBCDIC there, a zoned decimal's sign is the last byte's zone nibble (C, D, F) instead of
GnuCOBOL's ASCII overpunch, floats are IBM hexadecimal instead of IEEE, and COMP-5 is
big-endian instead of the host's little-endian. An encoding is a property of the data, so it
is always named by whoever reads the data (``ascii`` unless told), never guessed from the bytes.

``ascii`` is GnuCOBOL's own data on x86: latin-1 text (a byte is a character), its overpunch,
IEEE little-endian floats. The EBCDIC code pages are the mainframe's: cp037 (US, the usual
default), cp1140 (cp037 with the euro sign), cp500 (international), cp273 (German), from the
standard library, and cp1047 (Open Systems, z/OS UNIX), from the ``ebcdic`` package.
"""

from __future__ import annotations

ENCODINGS = ("ascii", "cp037", "cp1140", "cp500", "cp273", "cp1047")


class DataEncoding:
    """One of ``ENCODINGS``: how text, zoned signs, floats and COMP-5 are written."""

    def __init__(self, name: str) -> None:
        name = name.strip().lower()
        if name not in ENCODINGS:
            raise ValueError("unknown encoding %r: choose one of %s" % (name, ", ".join(ENCODINGS)))
        self.name = name
        self.ebcdic = name != "ascii"
        self.codec = "latin-1" if name == "ascii" else name
        if name == "cp1047":
            _register_cp1047()
        self.float_format = "hfp" if self.ebcdic else "ieee-le"
        self.comp5_little_endian = not self.ebcdic  # the mainframe is big-endian throughout
        self.space = " ".encode(self.codec)
        self.newline = "\n".encode(self.codec)
        self.plus, self.minus = "+".encode(self.codec), "-".encode(self.codec)
        self.digit_bytes = "0123456789".encode(self.codec)
        # the code page's digits (EBCDIC F0-F9) -> ASCII digits, and every other byte -> 0xFF, no digit
        table = bytearray(b"\xff" * 256)
        for value, byte in enumerate(self.digit_bytes):
            table[byte] = 0x30 + value
        self.to_ascii_digits = bytes(table)

    def __repr__(self) -> str:
        return "DataEncoding(%r)" % self.name

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DataEncoding) and other.name == self.name

    def __hash__(self) -> int:
        return hash(self.name)

    def decode_text(self, raw: bytes) -> str:
        return raw.decode(self.codec)

    def encode_text(self, text: str) -> bytes:
        """Raises UnicodeEncodeError for a character the code page does not hold."""
        return text.encode(self.codec)


ASCII = DataEncoding("ascii")


def _register_cp1047() -> None:
    """The standard library lacks cp1047; the ``ebcdic`` package registers it on import."""
    import codecs

    try:
        codecs.lookup("cp1047")
        return
    except LookupError:
        pass
    import importlib

    try:
        importlib.import_module("ebcdic")  # registers its code pages with the codecs module
    except ImportError:
        raise ValueError("cp1047 needs the ebcdic package (pip install ebcdic; make-runtime-layer ships it)") \
            from None
