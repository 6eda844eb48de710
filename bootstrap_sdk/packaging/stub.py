"""Stub libraries: keep a dependency's name, drop its weight.

Some closures drag in a large library the programs never use at run time; GnuCOBOL's
libcob pulls in libxml2, which pulls in ICU, whose data library is 30 MB. A stub has the
same soname and exports the same symbols (data as a few zero bytes, functions that trap),
so the dynamic linker is satisfied; calling into it crashes. Built with the host's C
compiler; libraries with versioned symbols are refused.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import List, Optional, Tuple

from elftools.elf.elffile import ELFFile


class StubError(Exception):
    pass


def exported_symbols(path: str) -> List[Tuple[str, bool]]:
    """(name, is_function) for every symbol the library defines for others."""
    with open(path, "rb") as handle:
        elf = ELFFile(handle)
        if elf.get_section_by_name(".gnu.version_d") is not None:
            raise StubError("%s has versioned symbols: it cannot be stubbed" % path)
        dynsym = elf.get_section_by_name(".dynsym")
        if dynsym is None:
            return []
        symbols = []
        for symbol in dynsym.iter_symbols():  # type: ignore[attr-defined]
            info = symbol["st_info"]
            if symbol.name and symbol["st_shndx"] != "SHN_UNDEF" and info["bind"] in ("STB_GLOBAL", "STB_WEAK") \
                    and info["type"] in ("STT_FUNC", "STT_OBJECT"):
                symbols.append((symbol.name, info["type"] == "STT_FUNC"))
        return sorted(symbols)


def build_stub(real: str, soname: str, output: Path, cross_compiler: Optional[str] = None) -> None:
    """A library named ``soname`` exporting ``real``'s symbols; ``cross_compiler`` builds it
    for another architecture (no libc is linked, so the compiler alone is enough)."""
    compiler = shutil.which(cross_compiler or "cc") or (None if cross_compiler else shutil.which("gcc"))
    if compiler is None:
        raise StubError("--stub-library needs a C compiler (%s) on this machine%s" % (
            cross_compiler or "cc or gcc", " (Debian's gcc-aarch64-linux-gnu)" if cross_compiler else ""))
    lines = ["/* stub of %s: names only */" % soname]
    for name, is_function in exported_symbols(real):
        if is_function:
            lines.append("void %s(void) { __builtin_trap(); }" % name)
        else:
            lines.append("const unsigned char %s[64] __attribute__((aligned(16))) = {0};" % name)
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "stub.c"
        source.write_text("\n".join(lines) + "\n")
        result = subprocess.run([compiler, "-shared", "-fPIC", "-nostdlib", "-O2", "-Wl,-soname," + soname,
                                 "-Wl,--build-id=none", "-o", str(output), str(source)], capture_output=True, text=True)
    if result.returncode != 0:
        raise StubError("building the stub of %s failed: %s" % (soname, result.stderr.strip()[-1000:]))
