"""bundle (packaging/bundle.py): the shared-library closure, copied flat into the private lib dir."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import List

import pytest

from native import LIB_X, PROGRAM, gcc
from bootstrap_sdk.packaging import elf, python_bundle
from bootstrap_sdk.packaging.bundle import bundle_libraries
from bootstrap_sdk.packaging.checks import BuildError
from bootstrap_sdk.packaging.options import LayerOptions, host_arch
from bootstrap_sdk.packaging.stage import PRIVATE, Stage
from bootstrap_sdk.packaging.stub import exported_symbols

ARCH = host_arch()
LOADER = elf.LOADERS[ARCH]
LIB_Y = "static const char ballast[128 * 1024] = {1};\nint y_value(void) { return 41 + ballast[5]; }\n"


@pytest.fixture(scope="module")
def libs(tmp_path_factory) -> Path:
    """liby.so; libx.so.1.0 (soname libx.so.1, needs liby.so) with the usual symlinks; prog."""
    tmp = tmp_path_factory.mktemp("libs")
    gcc(tmp / "liby.so", LIB_Y, "-shared", "-fPIC", "-Wl,-soname,liby.so")
    gcc(tmp / "libx.so.1.0", LIB_X, "-shared", "-fPIC", "-Wl,-soname,libx.so.1", "-L" + str(tmp), "-ly")
    os.symlink("libx.so.1.0", tmp / "libx.so.1")
    os.symlink("libx.so.1", tmp / "libx.so")
    gcc(tmp / "prog", PROGRAM, "-L" + str(tmp), "-lx")
    return tmp


@pytest.fixture(scope="module")
def interpreter() -> python_bundle.Interpreter:
    return python_bundle.describe(sys.executable)


def new_stage(root: Path, interpreter: python_bundle.Interpreter, program: Path, name: str = "prog") -> Stage:
    """A stage with the interpreter in place (its loader is the one bundled) and one program."""
    root.mkdir()
    stage = Stage(root, interpreter)
    stage.lib_dir.mkdir(parents=True)
    (root / stage.python_rel).parent.mkdir(parents=True)
    shutil.copy(interpreter.executable, root / stage.python_rel)
    (root / "bin").mkdir()
    shutil.copy(program, root / "bin" / name)
    stage.add_elf_root("bin/" + name, str(program))
    return stage


def options(tmp_path: Path, **kwargs) -> LayerOptions:
    return LayerOptions(output=tmp_path / "out.zip", **kwargs)


def test_the_closure_is_copied_flat_under_its_sonames(libs, interpreter, tmp_path):
    stage = new_stage(tmp_path / "layer", interpreter, libs / "prog")
    lines: List[str] = []
    bundle_libraries(stage, options(tmp_path, library_paths=[libs], system_libc=True), lines.append)
    assert sorted(os.listdir(stage.lib_dir)) == ["libx.so.1", "liby.so"]
    copied = stage.lib_dir / "libx.so.1"
    assert not copied.is_symlink(), "the file a soname link points to is copied, not the link"
    assert copied.read_bytes() == (libs / "libx.so.1.0").read_bytes()
    assert (stage.lib_dir / "liby.so").read_bytes() == (libs / "liby.so").read_bytes()
    assert lines == ["libraries: 2 bundled in /opt/%s/lib" % PRIVATE]


def test_without_the_system_libc_glibc_and_the_hosts_loader_come_too(libs, interpreter, tmp_path):
    stage = new_stage(tmp_path / "layer", interpreter, libs / "prog")
    lines: List[str] = []
    bundle_libraries(stage, options(tmp_path, library_paths=[libs]), lines.append)
    names = set(os.listdir(stage.lib_dir))
    assert {"libx.so.1", "liby.so", "libc.so.6", LOADER} <= names
    assert names - {"libx.so.1", "liby.so"} <= elf.GLIBC_SONAMES
    python_info = elf.read_elf(str(stage.root / stage.python_rel))
    assert python_info is not None and python_info.interpreter
    loader = stage.lib_dir / LOADER
    assert not loader.is_symlink()
    assert loader.read_bytes() == Path(os.path.realpath(python_info.interpreter)).read_bytes()
    assert lines == ["libraries: %d bundled in /opt/%s/lib" % (len(names), PRIVATE)]


def test_origin_paths_resolve_where_the_program_came_from(interpreter, tmp_path):
    home = tmp_path / "home"
    (home / "bin").mkdir(parents=True)
    (home / "lib").mkdir()
    gcc(home / "lib" / "liby.so", LIB_Y, "-shared", "-fPIC", "-Wl,-soname,liby.so")
    gcc(home / "lib" / "libx.so", LIB_X, "-shared", "-fPIC", "-Wl,-soname,libx.so", "-L" + str(home / "lib"), "-ly",
        "-Wl,--enable-new-dtags,-rpath,$ORIGIN")
    program = gcc(home / "bin" / "prog", PROGRAM, "-L" + str(home / "lib"), "-lx",
                  "-Wl,--enable-new-dtags,-rpath,$ORIGIN/../lib")
    stage = new_stage(tmp_path / "layer", interpreter, program)
    bundle_libraries(stage, options(tmp_path, system_libc=True), lambda line: None)
    assert sorted(os.listdir(stage.lib_dir)) == ["libx.so", "liby.so"]


def test_a_root_for_another_architecture_is_left_to_the_tree_checks(libs, interpreter, tmp_path):
    """Its closure means nothing here; check_tree names it, with every other problem."""
    data = bytearray((libs / "prog").read_bytes())
    data[18:20] = (183 if ARCH == "x86_64" else 62).to_bytes(2, "little")
    foreign = tmp_path / "tool"
    foreign.write_bytes(bytes(data))
    stage = new_stage(tmp_path / "layer", interpreter, foreign, name="tool")
    problems = bundle_libraries(stage, options(tmp_path, library_paths=[libs], system_libc=True), lambda line: None)
    assert problems == []
    assert os.listdir(stage.lib_dir) == [], "nothing of the foreign program's closure is bundled"


def test_a_missing_library_is_a_problem_with_the_way_out(libs, interpreter, tmp_path):
    stage = new_stage(tmp_path / "layer", interpreter, libs / "prog")
    [problem] = bundle_libraries(stage, options(tmp_path, system_libc=True), lambda line: None)
    assert problem.startswith("%s needs libx.so.1, which is not in " % (libs / "prog"))
    assert problem.endswith("; add its directory with --library-path")
    assert os.listdir(stage.lib_dir) == []


def test_an_unknown_stub_library_is_a_problem_naming_the_closure(libs, interpreter, tmp_path):
    stage = new_stage(tmp_path / "layer", interpreter, libs / "prog")
    problems = bundle_libraries(stage, options(tmp_path, library_paths=[libs], system_libc=True,
                                               stub_libraries=["libnope.so.3", "libicudata.so.72"]), lambda line: None)
    assert problems == [
        "--stub-library %s: no bundled program needs it (the closure has libx.so.1, liby.so)" % name
        for name in ("libicudata.so.72", "libnope.so.3")]


def test_a_stub_library_replaces_the_real_one(libs, interpreter, tmp_path):
    stage = new_stage(tmp_path / "layer", interpreter, libs / "prog")
    lines: List[str] = []
    bundle_libraries(stage, options(tmp_path, library_paths=[libs], system_libc=True, stub_libraries=["liby.so"]),
                     lines.append)
    stub = stage.lib_dir / "liby.so"
    info = elf.read_elf(str(stub))
    assert info is not None and info.soname == "liby.so"
    assert exported_symbols(str(stub)) == exported_symbols(str(libs / "liby.so"))
    assert stub.stat().st_size < (libs / "liby.so").stat().st_size
    assert (stage.lib_dir / "libx.so.1").read_bytes() == (libs / "libx.so.1.0").read_bytes(), "the rest is real"
    assert lines[0].startswith("library: liby.so replaced by a stub (")
    assert lines[-1] == "libraries: 2 bundled in /opt/%s/lib" % PRIVATE


def test_a_library_that_cannot_be_stubbed_is_a_build_error(interpreter, tmp_path):
    script = tmp_path / "vers.map"
    script.write_text("VERS_1 { global: y_value; local: *; };\n")
    gcc(tmp_path / "liby.so", LIB_Y, "-shared", "-fPIC", "-Wl,-soname,liby.so", "-Wl,--version-script," + str(script))
    program = gcc(tmp_path / "prog", "int y_value(void);\nint main(void) { return y_value() != 41; }\n",
                  "-L" + str(tmp_path), "-ly")
    stage = new_stage(tmp_path / "layer", interpreter, program)
    with pytest.raises(BuildError) as caught:
        bundle_libraries(stage, options(tmp_path, library_paths=[tmp_path], system_libc=True,
                                        stub_libraries=["liby.so"]), lambda line: None)
    assert caught.value.problems == ["%s has versioned symbols: it cannot be stubbed" % (tmp_path / "liby.so")]
