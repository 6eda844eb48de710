"""stub (packaging/stub.py): stub libraries keep a real library's soname and symbols, not its weight.

The real library and a program using it are compiled here; the stub is built with the
host's C compiler, read back with pyelftools and loaded by the real dynamic linker.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from native import gcc
from bootstrap_sdk.packaging.elf import read_elf
from bootstrap_sdk.packaging.stub import StubError, build_stub, exported_symbols

# Exported: a function, a weak function, a data object. Not exported: a static array that
# makes the library heavy, a hidden function, and printf (undefined here).
HEAVY = """
#include <stdio.h>
static const char ballast[256 * 1024] = {1};
const int heavy_table[8] = {1, 2, 3, 4, 5, 6, 7, 8};
__attribute__((visibility("hidden"))) int heavy_hidden(void) { return ballast[7]; }
__attribute__((weak)) int heavy_weak(void) { return 2; }
int heavy_value(void) { printf("%d\\n", ballast[0] + heavy_hidden()); return 40 + heavy_weak(); }
"""
PROGRAM = """
#include <stdio.h>
int heavy_value(void);
int main(int argc, char **argv) { (void)argv; if (argc > 1) printf("%d\\n", heavy_value()); return 0; }
"""


@pytest.fixture(scope="module")
def heavy(tmp_path_factory) -> Path:
    real = tmp_path_factory.mktemp("real")
    return gcc(real / "libheavy.so.2", HEAVY, "-shared", "-fPIC", "-Wl,-soname,libheavy.so.2")


def run_with(library_dir: Path, program: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, LD_LIBRARY_PATH=str(library_dir))
    return subprocess.run([str(program)] + list(args), capture_output=True, text=True, env=env)


def test_exported_symbols_lists_defined_global_functions_and_data(heavy):
    assert exported_symbols(str(heavy)) == [("heavy_table", False), ("heavy_value", True), ("heavy_weak", True)]


def test_a_stub_has_the_soname_and_symbols_and_is_smaller(heavy, tmp_path):
    stub = tmp_path / "libheavy.so.2"
    build_stub(str(heavy), "libheavy.so.2", stub)
    real_info, stub_info = read_elf(str(heavy)), read_elf(str(stub))
    assert real_info is not None and stub_info is not None
    assert stub_info.soname == real_info.soname == "libheavy.so.2"
    assert stub_info.machine == real_info.machine
    assert exported_symbols(str(stub)) == exported_symbols(str(heavy))
    assert stub_info.needed == (), "a stub needs nothing, not even libc"
    assert stub.stat().st_size < heavy.stat().st_size / 4


def test_the_loader_accepts_the_stub_and_a_call_into_it_traps(heavy, tmp_path):
    program = gcc(tmp_path / "prog", PROGRAM, "-L" + str(heavy.parent), "-l:libheavy.so.2")
    real_run = run_with(heavy.parent, program, "call")
    assert real_run.returncode == 0 and real_run.stdout.splitlines()[-1] == "42"
    stubs = tmp_path / "stubs"
    stubs.mkdir()
    build_stub(str(heavy), "libheavy.so.2", stubs / "libheavy.so.2")
    loaded = run_with(stubs, program)
    assert loaded.returncode == 0 and loaded.stderr == "", "the dynamic linker is satisfied by the stub"
    called = run_with(stubs, program, "call")
    assert called.returncode < 0, "calling into a stub must crash (a trap), never return"


def test_the_stub_is_named_with_the_soname_given(heavy, tmp_path):
    build_stub(str(heavy), "libother.so.9", tmp_path / "stub.so")
    info = read_elf(str(tmp_path / "stub.so"))
    assert info is not None and info.soname == "libother.so.9"


def test_a_library_with_versioned_symbols_is_refused(tmp_path):
    script = tmp_path / "vers.map"
    script.write_text("VERS_1 { global: versioned; local: *; };\n")
    library = gcc(tmp_path / "libvers.so.1", "int versioned(void) { return 1; }\n", "-shared", "-fPIC",
                  "-Wl,-soname,libvers.so.1", "-Wl,--version-script," + str(script))
    with pytest.raises(StubError) as caught:
        exported_symbols(str(library))
    assert str(caught.value) == "%s has versioned symbols: it cannot be stubbed" % library
    with pytest.raises(StubError):
        build_stub(str(library), "libvers.so.1", tmp_path / "stub.so")
    assert not (tmp_path / "stub.so").exists()


def test_a_symbol_c_cannot_name_fails_the_build_with_the_compilers_words(tmp_path):
    source = ('__asm__(".globl odd.name\\n.type odd.name, %function\\nodd.name:\\n ret\\n");\n'
              "int plain(void) { return 1; }\n")
    library = gcc(tmp_path / "libodd.so", source, "-shared", "-fPIC", "-Wl,-soname,libodd.so")
    assert ("odd.name", True) in exported_symbols(str(library))
    with pytest.raises(StubError) as caught:
        build_stub(str(library), "libodd.so", tmp_path / "stub.so")
    message = str(caught.value)
    assert message.startswith("building the stub of libodd.so failed: ")
    assert "error" in message
    assert not (tmp_path / "stub.so").exists()
