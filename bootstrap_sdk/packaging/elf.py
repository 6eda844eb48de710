"""Reading ELF files (pyelftools) and resolving their shared-library closure.

Only what packaging needs: the machine, the program interpreter, DT_NEEDED, RPATH and
RUNPATH, and the highest GLIBC_x.y symbol version each file requires.
"""

from __future__ import annotations

import glob
import os
import struct
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import attr
from elftools.common.exceptions import ELFError
from elftools.elf.dynamic import DynamicSection
from elftools.elf.elffile import ELFFile
from elftools.elf.gnuversions import GNUVerNeedSection

# Architecture names as Lambda spells them, and the ELF machine each one means.
MACHINES = {"x86_64": "EM_X86_64", "arm64": "EM_AARCH64"}
LOADERS = {"x86_64": "ld-linux-x86-64.so.2", "arm64": "ld-linux-aarch64.so.1"}
# Where a program linked against an OS's glibc expects its loader: where Amazon Linux has it.
SYSTEM_LOADERS = {"x86_64": "/lib64/ld-linux-x86-64.so.2", "arm64": "/lib/ld-linux-aarch64.so.1"}
DF_1_PIE = 0x08000000  # DT_FLAGS_1: a position-independent executable (a static-pie one has no PT_INTERP)
# glibc's own libraries: bundled with its loader, never patched.
GLIBC_SONAMES = frozenset({
    "libc.so.6", "libm.so.6", "libpthread.so.0", "libdl.so.2", "librt.so.1", "libutil.so.1",
    "libresolv.so.2", "libnsl.so.1", "libanl.so.1", "libmvec.so.1", "libBrokenLocale.so.1",
    "libc_malloc_debug.so.0", "libthread_db.so.1", "ld-linux-x86-64.so.2", "ld-linux-aarch64.so.1",
})


class LibraryNotFound(Exception):
    pass


@attr.s(frozen=True, auto_attribs=True)
class ElfInfo:
    path: str
    machine: str
    interpreter: Optional[str]
    needed: Tuple[str, ...]
    rpath: Tuple[str, ...]
    runpath: Tuple[str, ...]
    soname: Optional[str]
    glibc_version: Optional[Tuple[int, int]]  # the highest GLIBC_x.y it needs
    kind: str = "ET_EXEC"  # e_type: ET_EXEC or ET_DYN run; ET_REL (an object file) does not
    flags_1: int = 0  # DT_FLAGS_1

    @property
    def is_program_or_library(self) -> bool:
        return self.kind in ("ET_EXEC", "ET_DYN")

    @property
    def is_program(self) -> bool:
        """Can it be exec'd? A shared library or loadable module (ET_DYN without a loader
        and without the PIE flag, a COBOL module from ``cobc -m`` among them) cannot."""
        return self.kind == "ET_EXEC" or (self.kind == "ET_DYN" and bool(self.interpreter or self.flags_1 & DF_1_PIE))

    @property
    def is_dynamic(self) -> bool:
        return bool(self.interpreter or self.needed)

    def glibc_text(self) -> str:
        return "GLIBC_%d.%d" % self.glibc_version if self.glibc_version else "none"


def is_elf(path: str) -> bool:
    try:
        with open(path, "rb") as handle:
            return handle.read(4) == b"\x7fELF"
    except OSError:
        return False


def read_elf(path: str) -> Optional[ElfInfo]:
    """The ELF facts of ``path``, or None if it is not an ELF file (a damaged one included:
    pyelftools may only notice the damage deep inside the file)."""
    if not is_elf(path):
        return None
    with open(path, "rb") as handle:
        try:
            return _read(path, ELFFile(handle))
        except (ELFError, ValueError, EOFError, struct.error):
            return None


def _read(path: str, elf: ELFFile) -> ElfInfo:
    machine = elf.header["e_machine"]
    interpreter = None
    needed: List[str] = []
    rpath: List[str] = []
    runpath: List[str] = []
    soname = None
    flags_1 = 0
    newest: Optional[Tuple[int, int]] = None
    for segment in elf.iter_segments():
        if segment.header.p_type == "PT_INTERP":
            interpreter = segment.get_interp_name()  # type: ignore[attr-defined]
    for section in elf.iter_sections():
        if isinstance(section, DynamicSection):
            for tag in section.iter_tags():
                # pyelftools sets these attributes per tag kind (untyped there).
                kind = tag.entry.d_tag
                if kind == "DT_NEEDED":
                    needed.append(getattr(tag, "needed"))
                elif kind == "DT_RPATH":
                    rpath.extend(p for p in getattr(tag, "rpath").split(":") if p)
                elif kind == "DT_RUNPATH":
                    runpath.extend(p for p in getattr(tag, "runpath").split(":") if p)
                elif kind == "DT_SONAME":
                    soname = getattr(tag, "soname")
                elif kind == "DT_FLAGS_1":
                    flags_1 = tag.entry.d_val
        elif isinstance(section, GNUVerNeedSection):
            for _, auxiliaries in section.iter_versions():
                for aux in auxiliaries:
                    name = aux.name
                    digits = name[6:].replace(".", "")
                    if name.startswith("GLIBC_") and digits.isascii() and digits.isdigit():
                        parts = tuple(int(p) for p in name[6:].split(".")[:2])
                        version = (parts[0], parts[1] if len(parts) > 1 else 0)
                        if newest is None or version > newest:
                            newest = version
    return ElfInfo(path, machine, interpreter, tuple(needed), tuple(rpath), tuple(runpath), soname, newest,
                   elf.header["e_type"], flags_1)


def system_library_dirs() -> List[str]:
    """Where the build host's loader looks: ld.so.conf's directories, then the defaults."""
    dirs: List[str] = []

    def read_conf(path: str) -> None:
        try:
            lines = Path(path).read_text().splitlines()
        except OSError:
            return
        for line in lines:
            line = line.split("#", 1)[0].strip()
            if line.startswith("include "):
                for included in sorted(glob.glob(line.split(None, 1)[1])):
                    read_conf(included)
            elif line:
                dirs.append(line)

    read_conf("/etc/ld.so.conf")
    dirs += ["/lib64", "/usr/lib64", "/lib", "/usr/lib"]
    seen: List[str] = []
    for directory in dirs:
        if directory not in seen and os.path.isdir(directory):
            seen.append(directory)
    return seen


def _expand(entry: str, origin: str) -> str:
    return entry.replace("$ORIGIN", origin).replace("${ORIGIN}", origin)


def _origin(info: ElfInfo) -> str:
    return os.path.dirname(os.path.abspath(info.path))


def find_library(name: str, requester: ElfInfo, search: Iterable[str],
                 inherited_rpath: Sequence[str] = ()) -> Optional[str]:
    """Where the loader finds ``name`` for ``requester``, in glibc's order: without a
    DT_RUNPATH, the requester's DT_RPATH and then that of every object up the chain that
    loaded it (``inherited_rpath``, already expanded); then DT_RUNPATH; then ``search``."""
    origin = _origin(requester)
    candidates = [] if requester.runpath else [_expand(p, origin) for p in requester.rpath] + list(inherited_rpath)
    candidates += [_expand(p, origin) for p in requester.runpath]
    candidates += list(search)
    for directory in candidates:
        path = os.path.join(directory, name)
        if os.path.isfile(path):
            info = read_elf(path)
            if info is not None and info.machine == requester.machine:
                return path
    return None


def closure(roots: Iterable[ElfInfo], search: Iterable[str], skip: Iterable[str] = (),
            missing: Optional[List[str]] = None) -> Dict[str, ElfInfo]:
    """Every library the roots need, directly or not: soname → the host file's ElfInfo.

    Names in ``skip`` (e.g. glibc when the target's is used) are not followed. A library
    that cannot be found raises LibraryNotFound, or, given a ``missing`` list, is
    described there and the search goes on (so a build can list every problem at once).
    """
    search = list(search)
    skipped = set(skip)
    found: Dict[str, ElfInfo] = {}
    # Each object with the DT_RPATH entries of the chain that loaded it.
    queue: List[Tuple[ElfInfo, Tuple[str, ...]]] = [(root, ()) for root in roots]
    while queue:
        item, inherited = queue.pop()
        chain = inherited + tuple(_expand(p, _origin(item)) for p in item.rpath)
        for name in item.needed:
            if name in found or name in skipped:
                continue
            path = find_library(name, item, search, inherited)
            if path is None:
                problem = "%s needs %s, which is not in %s" % (item.path, name, ", ".join(search))
                if missing is None:
                    raise LibraryNotFound(problem)
                missing.append(problem)
                continue
            info = read_elf(path)
            assert info is not None
            found[name] = info
            queue.append((info, chain))
    return found
