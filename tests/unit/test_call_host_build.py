"""make-runtime-layer's call-mode step: cobol-call-host is compiled when, and only when,
the layer bundles libcob, and a compiler that fails says how to go on without it."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import List
from unittest import mock

import pytest

from arm64_sysroot import CROSS_CC, SYSROOT, needs_arm64_build
from native import gcc
from bootstrap_sdk.packaging import call_host, elf, python_bundle
from bootstrap_sdk.packaging.checks import BuildError
from bootstrap_sdk.packaging.cli import layer_parser
from bootstrap_sdk.packaging.options import LayerOptions, host_arch
from bootstrap_sdk.packaging.stage import Stage
from bootstrap_sdk.packaging.sysroot import Sysroot, open_sysroot

COBCRUN = shutil.which("cobcrun")
needs_gnucobol = pytest.mark.skipif(COBCRUN is None or shutil.which("cob-config") is None,
                                    reason="GnuCOBOL is missing: scripts/setup.sh installs Debian's gnucobol3")


def stage_with(tmp_path: Path, program: str) -> Stage:
    """A stage holding one program in bin/, as add_programs leaves it."""
    root = tmp_path / "layer"
    (root / "bin").mkdir(parents=True)
    stage = Stage(root, python_bundle.describe(sys.executable))
    stage.lib_dir.mkdir(parents=True)
    shutil.copy(program, root / "bin" / Path(program).name)
    stage.add_elf_root("bin/" + Path(program).name, program)
    return stage



@needs_gnucobol
def test_a_layer_with_libcob_gets_the_host_linked_to_that_libcob(tmp_path):
    """cobcrun brings libcob: the host is compiled into bootstrap-sdk/bin and is a root of the closure."""
    stage = stage_with(tmp_path, str(COBCRUN))
    lines: List[str] = []
    call_host.add_call_host(stage, LayerOptions(output=tmp_path / "out.zip"), lines.append)
    host = stage.root / call_host.HOST_REL
    info = elf.read_elf(str(host))
    assert info is not None and any(name.startswith("libcob.so") for name in info.needed)
    assert host.stat().st_mode & 0o777 == 0o755
    assert call_host.HOST_REL in stage.elf_roots
    assert lines and "cobol-call-host built against libcob.so" in lines[0]


@needs_gnucobol
def test_no_call_host_leaves_it_out(tmp_path):
    stage = stage_with(tmp_path, str(COBCRUN))
    call_host.add_call_host(stage, LayerOptions(output=tmp_path / "out.zip", call_host=False), lambda line: None)
    assert not (stage.root / call_host.HOST_REL).exists() and call_host.HOST_REL not in stage.elf_roots


def test_a_layer_without_libcob_gets_no_host(tmp_path):
    """A program that does not load libcob: nothing to CALL, nothing compiled (no compiler needed)."""
    program = tmp_path / "prog"
    gcc(program, "#include <stdio.h>\nint main(void) { puts(\"hi\"); return 0; }\n")
    stage = stage_with(tmp_path, str(program))
    call_host.add_call_host(stage, LayerOptions(output=tmp_path / "out.zip"), lambda line: None)
    assert call_host.libcob_in(stage) is None
    assert not (stage.root / call_host.HOST_REL).exists()


@needs_arm64_build
def test_an_arm64_layer_gets_an_arm64_host_linked_to_the_sysroots_libcob(tmp_path):
    """Built on x86_64 for arm64: the cross compiler, against the arm64 libcob of the sysroot."""
    sysroot = open_sysroot(SYSROOT, "arm64")
    program = tmp_path / "cobol-prog"
    gcc(program, "int cob_init(int, char **);\nint main(void) { return cob_init(0, 0); }\n",
        *sysroot.c_flags(), "-l:libcob.so.4", cc=CROSS_CC)
    root = tmp_path / "layer"
    (root / "bin").mkdir(parents=True)
    stage = Stage(root, python_bundle.describe(sys.executable), sysroot=sysroot)
    stage.lib_dir.mkdir(parents=True)
    shutil.copy(program, root / "bin" / "cobol-prog")
    stage.add_elf_root("bin/cobol-prog", str(program))
    lines: List[str] = []
    call_host.add_call_host(stage, LayerOptions(output=tmp_path / "out.zip", arch="arm64"), lines.append)
    info = elf.read_elf(str(stage.root / call_host.HOST_REL))
    assert info is not None and info.machine == "EM_AARCH64" and "libcob.so.4" in info.needed
    assert lines and "cobol-call-host built against libcob.so.4" in lines[0]


def test_a_missing_cross_compiler_names_the_package(tmp_path):
    sysroot = Sysroot(tmp_path, "arm64" if host_arch() == "x86_64" else "x86_64")
    with mock.patch.object(Sysroot, "c_compiler", return_value=str(tmp_path / "no-such-gcc")):
        with pytest.raises(BuildError) as caught:
            call_host.build_host(tmp_path / "host", sysroot)
    assert "no-such-gcc" in str(caught.value) and "gcc-%s" % sysroot.triplet in str(caught.value)
    assert "--no-call-host" in str(caught.value)


def test_a_compiler_that_fails_says_how_to_build_without_call_mode(tmp_path, monkeypatch):
    monkeypatch.setenv("CC", str(tmp_path / "no-such-cc"))
    with pytest.raises(BuildError) as caught:
        call_host.build_host(tmp_path / "host")
    assert "no-such-cc" in str(caught.value) and "--no-call-host" in str(caught.value)
    failing = tmp_path / "failing-cc"
    failing.write_text("#!/bin/sh\necho 'libcob.h: No such file or directory' >&2\nexit 1\n")
    failing.chmod(0o755)
    monkeypatch.setenv("CC", str(failing))
    with pytest.raises(BuildError) as caught:
        call_host.build_host(tmp_path / "host")
    assert "libcob.h: No such file or directory" in str(caught.value) and "--no-call-host" in str(caught.value)


def test_the_compiler_gets_the_template_and_libcob():
    command = call_host.compiler_command(Path("/src/host.c"), Path("/out/host"))
    assert command[1:5] == ["-O2", "-Wall", "-o", "/out/host"] and "/src/host.c" in command
    assert command.count("-lcob") == 1


def test_the_cli_flag_turns_it_off():
    assert layer_parser().parse_args(["-o", "x.zip"]).call_host is True
    assert layer_parser().parse_args(["-o", "x.zip", "--no-call-host"]).call_host is False
