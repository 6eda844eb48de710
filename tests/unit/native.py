"""Native code for the packaging tests: gcc, and a program that needs a library that needs another."""

from __future__ import annotations

import subprocess
from pathlib import Path

LIB_X = "int y_value(void);\nint x_value(void) { return y_value() + 1; }\n"
LIB_Y = "int y_value(void) { return 41; }\n"
PROGRAM = '#include <stdio.h>\nint x_value(void);\nint main(void) { printf("%d\\n", x_value()); return 0; }\n'


def gcc(out: Path, source: str, *args: str, cc: str = "gcc") -> Path:
    """Compile ``source`` to ``out`` with ``cc`` (a cross compiler for another architecture);
    ``-L`` directories also serve ld's search for indirect dependencies."""
    src = out.with_name(out.name + ".c")
    src.write_text(source)
    links = ["-Wl,-rpath-link," + a[2:] for a in args if a.startswith("-L")]
    subprocess.run([cc, "-o", str(out), str(src)] + list(args) + links, check=True, capture_output=True,
                   text=True)
    return out


def shared(out: Path, source: str, soname: str, *args: str, cc: str = "gcc") -> Path:
    """A shared library with its soname."""
    return gcc(out, source, "-shared", "-fPIC", "-Wl,-soname," + soname, *args, cc=cc)
