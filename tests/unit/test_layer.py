"""layer (packaging/layer.py): build_layer end to end, into tmp_path, without root.

One layer is built twice (same inputs, same SOURCE_DATE_EPOCH) for the whole module; it is
extracted with the project's own extractor and its bundled loader runs what it bundled.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Dict, List

import attr
import pytest

from native import LIB_X, LIB_Y, PROGRAM, gcc
from bootstrap_sdk.packaging import elf
from bootstrap_sdk.packaging.checks import UNZIPPED_LIMIT, BuildError
from bootstrap_sdk.packaging.layer import build_layer
from bootstrap_sdk.packaging.options import LayerOptions, host_arch
from bootstrap_sdk.packaging.runtime_files import RUNTIME_FILES
from bootstrap_sdk.packaging.zipper import extract

EPOCH = 1700000000
ARCH = host_arch()
LOADER = elf.LOADERS[ARCH]
PYTHON = "python%d.%d" % sys.version_info[:2]


@attr.s(auto_attribs=True)
class Built:
    inputs: Path
    options: LayerOptions
    first: object
    second: object
    progress: List[str]
    entries: Dict[str, zipfile.ZipInfo]
    extracted: Path


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Built:
    inputs = tmp_path_factory.mktemp("inputs")
    (inputs / "libs").mkdir()
    gcc(inputs / "libs" / "liby.so", LIB_Y, "-shared", "-fPIC", "-Wl,-soname,liby.so")
    gcc(inputs / "libs" / "libx.so", LIB_X, "-shared", "-fPIC", "-Wl,-soname,libx.so", "-L" + str(inputs / "libs"),
        "-ly")
    gcc(inputs / "prog", PROGRAM, "-L" + str(inputs / "libs"), "-lx")
    (inputs / "tables" / "sub").mkdir(parents=True)
    (inputs / "tables" / "sub" / "rates.txt").write_text("1.5\n")
    os.symlink("sub/rates.txt", inputs / "tables" / "rates")
    (inputs / "tool.cfg").write_text("verbose = 1\n")
    for path in (inputs / "tables" / "sub" / "rates.txt", inputs / "tool.cfg"):
        path.chmod(0o644)
    out = tmp_path_factory.mktemp("out")
    options = LayerOptions(output=out / "one" / "runtime.zip", executables=[inputs / "prog"],
                           includes=[(inputs / "tables", "share/tables"), (inputs / "tool.cfg", "etc/tool.cfg")],
                           library_paths=[inputs / "libs"], name="unit-layer", license="MIT")
    progress: List[str] = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SOURCE_DATE_EPOCH", str(EPOCH))
        first = build_layer(options, progress.append)
        second = build_layer(attr.evolve(options, output=out / "two" / "runtime.zip"))
    with zipfile.ZipFile(first.zip_path) as archive:
        entries = {info.filename: info for info in archive.infolist()}
    extracted = out / "opt"
    extracted.mkdir()
    extract(first.zip_path, extracted)
    return Built(inputs, options, first, second, progress, entries, extracted)


def mode(built: Built, name: str) -> int:
    return built.entries[name].external_attr >> 16


def test_the_zip_holds_bootstrap_interpreter_runtime_program_and_libraries(built):
    names = set(built.entries)
    assert mode(built, "bootstrap") == stat.S_IFREG | 0o755
    assert (built.extracted / "bootstrap").read_text().splitlines()[0] == \
        "#!/opt/bootstrap-sdk/python/bin/%s -IS" % PYTHON
    assert mode(built, "bootstrap-sdk/python/bin/" + PYTHON) == stat.S_IFREG | 0o755
    assert "bootstrap-sdk/python/lib/%s/os.pyc" % PYTHON in names
    sdk = "bootstrap-sdk/sdk/bootstrap_sdk/"
    shipped = {n[len(sdk):] for n in names if n.startswith(sdk) and not n.endswith("/")}
    sources = [n for n in RUNTIME_FILES if n.endswith(".py")]
    pycs = {os.path.join(os.path.dirname(n), "__pycache__", "%s.%s.pyc" % (os.path.basename(n)[:-3],
                                                                           sys.implementation.cache_tag))
            for n in sources}
    assert shipped == set(RUNTIME_FILES) | pycs
    assert mode(built, "bin/prog") == stat.S_IFREG | 0o755
    assert mode(built, "etc/tool.cfg") == stat.S_IFREG | 0o644
    assert stat.S_ISLNK(mode(built, "share/tables/rates"))
    assert (built.extracted / "share" / "tables" / "rates").read_text() == "1.5\n"
    libs = sorted(n.split("/")[-1] for n in names if n.startswith("bootstrap-sdk/lib/") and not n.endswith("/"))
    assert {"libx.so", "liby.so", "libc.so.6", LOADER} <= set(libs)
    assert libs == built.first.manifest["bundled_libraries"]
    assert not [n for n in names if n.startswith("lib/")], "nothing in /opt/lib, on every process's path"


def test_two_builds_are_byte_identical(built):
    one, two = built.first.zip_path, built.second.zip_path
    assert one != two
    digest = hashlib.sha256(one.read_bytes()).hexdigest()
    assert hashlib.sha256(two.read_bytes()).hexdigest() == digest
    assert built.first.manifest["sha256"] == built.second.manifest["sha256"] == digest
    assert {info.date_time for info in built.entries.values()} == {time.gmtime(EPOCH)[:6]}
    assert list(built.entries) == sorted(built.entries)


def test_the_result_and_its_manifest(built):
    result = built.first
    assert result.zip_path == built.options.output
    assert result.manifest_path == result.zip_path.with_name("runtime.manifest.json")
    assert json.loads(result.manifest_path.read_text()) == result.manifest
    manifest = result.manifest
    infos = list(built.entries.values())
    assert manifest["zipped_bytes"] == result.zip_path.stat().st_size
    assert manifest["unzipped_bytes"] == sum(i.file_size for i in infos if not i.is_dir())
    assert manifest["unzipped_bytes"] + manifest["unzipped_budget_left_bytes"] == UNZIPPED_LIMIT
    assert manifest["files"] == len([i for i in infos if stat.S_ISREG(i.external_attr >> 16)])
    assert manifest["python"] == "%d.%d" % sys.version_info[:2]
    assert (manifest["compatible_runtimes"], manifest["compatible_architectures"]) == (["provided.al2023"], [ARCH])
    assert manifest["name"] == "unit-layer" and manifest["license"] == "MIT"
    assert result.warnings == manifest["warnings"] == []


def test_progress_is_reported_step_by_step(built):
    expected = ["interpreter: choosing and probing", "interpreter: ", "stdlib: collecting the minimal set",
                "compiling ", "executable: %s → /opt/bin/prog" % (built.inputs / "prog"),
                "include: %s → /opt/share/tables" % (built.inputs / "tables"),
                "include: %s → /opt/etc/tool.cfg" % (built.inputs / "tool.cfg"),
                "libraries: ", "patched: ", "checking: ", "zip: %s (" % built.first.zip_path,
                "manifest: %s" % built.first.manifest_path]
    assert len(built.progress) == len(expected), built.progress
    for line, start in zip(built.progress, expected):
        assert line.startswith(start), (line, start)


def test_the_bundled_program_runs_on_the_bundled_loader_and_libraries(built):
    lib = built.extracted / "bootstrap-sdk" / "lib"
    prog = elf.read_elf(str(built.extracted / "bin" / "prog"))
    assert prog is not None
    assert prog.interpreter == "/opt/bootstrap-sdk/lib/" + LOADER
    assert prog.rpath == ("/opt/bootstrap-sdk/lib",) and prog.runpath == ()
    env = {"PATH": "/usr/bin:/bin"}
    done = subprocess.run([str(lib / LOADER), "--library-path", str(lib), str(built.extracted / "bin" / "prog")],
                          capture_output=True, text=True, env=env)
    assert (done.returncode, done.stdout) == (0, "42\n"), done.stderr


def test_the_bundled_python_runs_from_the_layer_alone(built):
    lib = built.extracted / "bootstrap-sdk" / "lib"
    python = built.extracted / "bootstrap-sdk" / "python" / "bin" / PYTHON
    script = ("import sys, json; sys.path.insert(0, sys.argv[1]); import bootstrap_sdk.entry, json.decoder; "
              "print(json.dumps({'path': sys.path, 'decoder': json.decoder.JSONDecoder.decode.__code__.co_filename,"
              " 'prefix': sys.prefix}))")
    done = subprocess.run([str(lib / LOADER), "--library-path", str(lib), str(python), "-I", "-S", "-c", script,
                           str(built.extracted / "bootstrap-sdk" / "sdk")],
                          capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen["prefix"] == str(built.extracted / "bootstrap-sdk" / "python")
    assert all(entry.startswith(str(built.extracted) + "/") for entry in seen["path"]), seen["path"]
    assert seen["decoder"] == "/opt/bootstrap-sdk/python/lib/%s/json/decoder.py" % PYTHON


# -- bad inputs --------------------------------------------------------------------------------

def test_bad_inputs_are_refused_before_any_work(built, tmp_path):
    lines: List[str] = []
    options = LayerOptions(output=tmp_path / "bad.zip", includes=[(tmp_path / "missing", "data/x")],
                           executables=[built.inputs / "tool.cfg"])
    with pytest.raises(BuildError) as caught:
        build_layer(options, lines.append)
    assert caught.value.problems == [
        "%s is not executable (mode 644): chmod 755 it, or use --include for data" % (built.inputs / "tool.cfg"),
        "%s: no such file (for data/x)" % (tmp_path / "missing")]
    assert lines == [], "validation comes before the interpreter is even chosen"
    assert list(tmp_path.iterdir()) == []


def test_a_missing_library_is_refused_and_nothing_is_written(built, tmp_path):
    options = LayerOptions(output=tmp_path / "out" / "bad.zip", executables=[built.inputs / "prog"])
    with pytest.raises(BuildError) as caught:
        build_layer(options)
    [problem] = caught.value.problems
    assert problem.startswith("%s needs libx.so, which is not in " % (built.inputs / "prog"))
    assert problem.endswith("add its directory with --library-path")
    assert not (tmp_path / "out").exists()


def _foreign_program(built, tmp_path: Path) -> Path:
    """The test program, its ELF header saying it is for the other architecture."""
    data = bytearray((built.inputs / "prog").read_bytes())
    data[18:20] = (183 if ARCH == "x86_64" else 62).to_bytes(2, "little")
    foreign = tmp_path / "tool"
    foreign.write_bytes(bytes(data))
    foreign.chmod(0o755)
    return foreign


def test_a_program_for_another_architecture_is_refused(built, tmp_path):
    foreign = _foreign_program(built, tmp_path)
    with pytest.raises(BuildError) as caught:
        build_layer(LayerOptions(output=tmp_path / "bad.zip", executables=[foreign]))
    other = "EM_AARCH64" if ARCH == "x86_64" else "EM_X86_64"
    assert caught.value.problems == ["bin/tool is built for %s, not %s (%s): rebuild it for %s or choose --arch"
                                     % (other, ARCH, elf.MACHINES[ARCH], ARCH)]
    assert not (tmp_path / "bad.zip").exists()


def test_every_problem_is_listed_at_once_an_architecture_mismatch_included(built, tmp_path):
    foreign = _foreign_program(built, tmp_path)
    secret = tmp_path / "secret.cfg"
    secret.write_text("x")
    secret.chmod(0o600)
    options = LayerOptions(output=tmp_path / "bad.zip", executables=[foreign, built.inputs / "prog"],
                           includes=[(secret, "etc/secret.cfg")], stub_libraries=["libnope.so.3"])
    with pytest.raises(BuildError) as caught:
        build_layer(options)
    problems = caught.value.problems
    assert len(problems) == 4, problems
    assert problems[0].startswith("%s needs libx.so, which is not in " % (built.inputs / "prog"))
    assert problems[1].startswith("--stub-library libnope.so.3: no bundled program needs it")
    assert any(p.startswith("bin/tool is built for ") for p in problems)
    assert any(p.startswith("etc/secret.cfg is not world-readable") for p in problems)
    assert not (tmp_path / "bad.zip").exists()
