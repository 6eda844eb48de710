"""elf (packaging/elf.py): ELF facts read back from real binaries, and shared-library closures.

Every binary is compiled here with gcc; ``readelf`` (binutils, gcc's own linker companion)
is the independent oracle where a fact is not fixed by how the test linked the file.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

import pytest

from native import LIB_X, LIB_Y, PROGRAM, gcc, shared
from bootstrap_sdk.packaging import elf
from bootstrap_sdk.packaging.options import host_arch


def closure_of_a_program_that_runs(program: Path) -> Dict[str, elf.ElfInfo]:
    """The host's loader runs ``program`` (no LD_LIBRARY_PATH help): the closure must find
    the libraries the way that loader did."""
    env = {k: v for k, v in os.environ.items() if k != "LD_LIBRARY_PATH"}
    ran = subprocess.run([str(program)], capture_output=True, text=True, env=env)
    assert ran.stdout == "42\n", "the loader resolves its libraries: so must the closure"
    root = elf.read_elf(str(program))
    assert root is not None
    return elf.closure([root], elf.system_library_dirs(), skip=elf.GLIBC_SONAMES)


def foreign_copy(source: Path, target: Path) -> Path:
    """A copy of a real ELF file whose e_machine names the other architecture."""
    data = bytearray(source.read_bytes())
    data[18:20] = (183 if host_arch() == "x86_64" else 62).to_bytes(2, "little")
    target.write_bytes(bytes(data))
    target.chmod(0o755)
    return target


def readelf(*args: str) -> str:
    return subprocess.run(["readelf"] + list(args), check=True, capture_output=True, text=True).stdout


def glibc_versions_by_readelf(path: Path) -> List[str]:
    return sorted(set(re.findall(r"Name: (GLIBC_[0-9.]+)", readelf("-V", str(path)))))


@pytest.fixture(scope="module")
def libs(tmp_path_factory) -> Path:
    """libx.so (needs liby.so) and liby.so in one directory, no RPATH/RUNPATH in either."""
    libdir = tmp_path_factory.mktemp("libs")
    shared(libdir / "liby.so", LIB_Y, "liby.so")
    shared(libdir / "libx.so", LIB_X, "libx.so", "-L" + str(libdir), "-ly")
    return libdir


def test_read_elf_of_a_program_linked_with_rpath(libs, tmp_path):
    program = gcc(tmp_path / "prog", PROGRAM, "-L" + str(libs), "-lx", "-Wl,--disable-new-dtags,-rpath," + str(libs))
    info = elf.read_elf(str(program))
    assert info is not None
    assert info.path == str(program)
    assert info.machine == elf.MACHINES[host_arch()]
    interp = re.search(r"Requesting program interpreter: ([^\]]+)\]", readelf("-l", str(program)))
    assert interp is not None and info.interpreter == interp.group(1)
    assert info.needed == ("libx.so", "libc.so.6")
    assert info.rpath == (str(libs),) and info.runpath == ()
    assert info.soname is None
    assert info.is_dynamic
    newest = max(glibc_versions_by_readelf(program), key=lambda v: tuple(int(p) for p in v[6:].split(".")))
    assert info.glibc_text() == newest
    assert "GLIBC_%d.%d" % info.glibc_version == ".".join(newest.split(".")[:2])


def test_read_elf_of_a_library_with_runpath_entries(tmp_path):
    library = shared(tmp_path / "libz9.so", '#include <stdio.h>\nvoid hello(void) { puts("hi"); }\n', "libz9.so.3",
                     "-Wl,--enable-new-dtags,-rpath,$ORIGIN/../lib:/opt/other")
    info = elf.read_elf(str(library))
    assert info is not None
    assert info.soname == "libz9.so.3"
    assert info.interpreter is None
    assert info.runpath == ("$ORIGIN/../lib", "/opt/other") and info.rpath == ()
    assert "libc.so.6" in info.needed


def test_a_library_that_needs_no_glibc_symbol_versions(tmp_path):
    library = shared(tmp_path / "libbare.so", "int bare;\n", "libbare.so", "-nostdlib")
    info = elf.read_elf(str(library))
    assert info is not None
    assert glibc_versions_by_readelf(library) == []
    assert info.glibc_version is None and info.glibc_text() == "none"
    assert info.needed == () and not info.is_dynamic


def test_a_static_program_is_not_dynamic(tmp_path):
    program = gcc(tmp_path / "static", "int main(void) { return 0; }\n", "-static")
    info = elf.read_elf(str(program))
    assert info is not None
    assert info.interpreter is None and info.needed == () and not info.is_dynamic
    assert info.machine == elf.MACHINES[host_arch()]


def test_the_machine_of_a_file_built_for_another_architecture(libs, tmp_path):
    foreign = foreign_copy(libs / "liby.so", tmp_path / "liby.so")
    info = elf.read_elf(str(foreign))
    assert info is not None
    assert info.machine == elf.MACHINES["arm64" if host_arch() == "x86_64" else "x86_64"]
    assert info.soname == "liby.so"


def test_non_elf_files_are_not_elf(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("just text, long enough to have a header's worth of bytes\n" * 4)
    magic_only = tmp_path / "fake.so"
    magic_only.write_bytes(b"\x7fELF" + b"\0" * 60)
    missing = tmp_path / "missing"
    assert not elf.is_elf(str(text)) and elf.read_elf(str(text)) is None
    assert not elf.is_elf(str(missing)) and elf.read_elf(str(missing)) is None
    assert not elf.is_elf(str(tmp_path)), "a directory is not an ELF file"
    assert elf.is_elf(str(magic_only)), "the magic number alone makes is_elf true"
    assert elf.read_elf(str(magic_only)) is None, "but read_elf cannot parse it"


def test_read_elf_of_a_truncated_elf_file_is_none(libs, tmp_path):
    truncated = tmp_path / "truncated.so"
    truncated.write_bytes((libs / "liby.so").read_bytes()[:4096])
    assert elf.is_elf(str(truncated))
    assert elf.read_elf(str(truncated)) is None


def test_closure_through_a_library_path(libs, tmp_path):
    program = gcc(tmp_path / "prog", PROGRAM, "-L" + str(libs), "-lx")
    root = elf.read_elf(str(program))
    assert root is not None and root.rpath == root.runpath == ()
    found = elf.closure([root], [str(libs)] + elf.system_library_dirs(), skip=elf.GLIBC_SONAMES)
    assert sorted(found) == ["libx.so", "liby.so"]
    assert found["libx.so"].path == str(libs / "libx.so")
    assert found["liby.so"].path == str(libs / "liby.so")
    assert found["liby.so"].soname == "liby.so"


def test_closure_without_the_glibc_skip_brings_libc_and_its_loader(libs, tmp_path):
    program = gcc(tmp_path / "prog", PROGRAM, "-L" + str(libs), "-lx")
    root = elf.read_elf(str(program))
    assert root is not None
    found = elf.closure([root], [str(libs)] + elf.system_library_dirs())
    assert {"libx.so", "liby.so", "libc.so.6", elf.LOADERS[host_arch()]} <= set(found)
    assert all(info.machine == root.machine for info in found.values())
    skipped = elf.closure([root], [str(libs)] + elf.system_library_dirs(), skip=elf.GLIBC_SONAMES)
    assert set(found) - set(skipped) <= elf.GLIBC_SONAMES
    assert "libc.so.6" not in skipped


def test_closure_follows_origin_relative_runpaths(tmp_path):
    """The way projects ship: bin/prog with RUNPATH $ORIGIN/../lib, and libx with $ORIGIN."""
    (tmp_path / "bin").mkdir()
    (tmp_path / "lib").mkdir()
    shared(tmp_path / "lib" / "liby.so", LIB_Y, "liby.so")
    shared(tmp_path / "lib" / "libx.so", LIB_X, "libx.so", "-L" + str(tmp_path / "lib"), "-ly",
           "-Wl,--enable-new-dtags,-rpath,$ORIGIN")
    program = gcc(tmp_path / "bin" / "prog", PROGRAM, "-L" + str(tmp_path / "lib"), "-lx",
                  "-Wl,--enable-new-dtags,-rpath,$ORIGIN/../lib")
    found = closure_of_a_program_that_runs(program)
    assert {name: os.path.realpath(info.path) for name, info in found.items()} == {
        "libx.so": str((tmp_path / "lib" / "libx.so").resolve()),
        "liby.so": str((tmp_path / "lib" / "liby.so").resolve())}


def test_find_library_skips_a_same_named_library_for_another_architecture(libs, tmp_path):
    decoy_dir = tmp_path / "decoys"
    decoy_dir.mkdir()
    foreign_copy(libs / "libx.so", decoy_dir / "libx.so")
    program = gcc(tmp_path / "prog", PROGRAM, "-L" + str(libs), "-lx")
    root = elf.read_elf(str(program))
    assert root is not None
    assert elf.find_library("libx.so", root, [str(decoy_dir), str(libs)]) == str(libs / "libx.so")
    assert elf.find_library("libx.so", root, [str(decoy_dir)]) is None


def test_a_missing_library_names_the_soname_and_who_needs_it(tmp_path):
    only_x = tmp_path / "only-x"
    only_y = tmp_path / "only-y"
    only_x.mkdir()
    only_y.mkdir()
    shared(only_y / "liby.so", LIB_Y, "liby.so")
    shared(only_x / "libx.so", LIB_X, "libx.so", "-L" + str(only_y), "-ly")
    program = gcc(tmp_path / "prog", PROGRAM, "-L" + str(only_x), "-lx", "-Wl,-rpath-link," + str(only_y))
    root = elf.read_elf(str(program))
    assert root is not None
    search = [str(only_x)] + elf.system_library_dirs()
    with pytest.raises(elf.LibraryNotFound) as caught:
        elf.closure([root], search, skip=elf.GLIBC_SONAMES)
    assert str(caught.value) == "%s needs liby.so, which is not in %s" % (only_x / "libx.so", ", ".join(search))
    with pytest.raises(elf.LibraryNotFound) as caught:
        elf.closure([root], elf.system_library_dirs(), skip=elf.GLIBC_SONAMES)
    assert str(caught.value).startswith("%s needs libx.so, which is not in " % program)


def test_closure_follows_the_executables_dt_rpath_for_indirect_dependencies(libs, tmp_path):
    program = gcc(tmp_path / "prog", PROGRAM, "-L" + str(libs), "-lx", "-Wl,--disable-new-dtags,-rpath," + str(libs))
    found = closure_of_a_program_that_runs(program)
    assert sorted(found) == ["libx.so", "liby.so"]


def test_system_library_dirs_are_existing_directories_and_hold_libc():
    dirs = elf.system_library_dirs()
    assert dirs and len(dirs) == len(set(dirs))
    assert all(os.path.isdir(d) for d in dirs)
    ldd = subprocess.run(["ldd", os.path.realpath(sys.executable)], capture_output=True, text=True).stdout
    libc = re.search(r"libc\.so\.6 => (\S+)", ldd)
    assert libc is not None
    assert os.path.dirname(libc.group(1)) in dirs
    assert shutil.which("gcc"), "the tests compile their binaries with gcc"
