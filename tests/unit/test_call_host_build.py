"""make-runtime-layer's call-mode step: cobol-call-host is compiled when, and only when,
the layer bundles libcob, and a compiler that fails says how to go on without it."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import List

import pytest

from native import gcc
from bootstrap_sdk.packaging import call_host, elf, python_bundle
from bootstrap_sdk.packaging.checks import BuildError
from bootstrap_sdk.packaging.cli import layer_parser
from bootstrap_sdk.packaging.options import LayerOptions, host_arch
from bootstrap_sdk.packaging.stage import Stage

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


@needs_gnucobol
def test_another_architecture_is_said_and_skipped(tmp_path):
    stage = stage_with(tmp_path, str(COBCRUN))
    other = "arm64" if host_arch() == "x86_64" else "x86_64"
    lines: List[str] = []
    call_host.add_call_host(stage, LayerOptions(output=tmp_path / "out.zip", arch=other), lines.append)
    assert not (stage.root / call_host.HOST_REL).exists()
    assert lines == ["call mode: not built (%s here, the layer is %s: no compiler for it)" % (host_arch(), other)]


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
