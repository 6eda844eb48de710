"""function_zip (packaging/function_zip.py): the /var/task zip, deterministic and checked like a layer."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import threading
import time
import zipfile
from pathlib import Path
from typing import List

import pytest

from bootstrap_sdk.packaging import checks
from bootstrap_sdk.packaging.checks import BuildError
from bootstrap_sdk.packaging.function_zip import build_function_zip, check_handler
from bootstrap_sdk.packaging.manifest import manifest_path_for
from bootstrap_sdk.packaging.options import host_arch


def function_dir(tmp_path: Path) -> Path:
    source = tmp_path / "src"
    (source / "lib").mkdir(parents=True)
    (source / "app.py").write_text("def handler(event, context):\n    return event\n")
    (source / "lib" / "table.dat").write_bytes(os.urandom(2048))
    (source / "run.sh").write_text("#!/bin/sh\necho hi\n")
    for path, mode in ((source / "app.py", 0o644), (source / "lib" / "table.dat", 0o604), (source / "run.sh", 0o755)):
        path.chmod(mode)
    os.symlink("lib/table.dat", source / "table")
    return source


def program(path: Path) -> Path:
    src = path.with_name(path.name + ".c")
    src.write_text("int main(void) { return 0; }\n")
    subprocess.run(["gcc", "-o", str(path), str(src)], check=True, capture_output=True)
    src.unlink()
    return path


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_two_builds_are_byte_identical_and_the_manifest_describes_them(tmp_path):
    source = function_dir(tmp_path)
    first = build_function_zip(source, tmp_path / "one" / "function.zip")
    os.utime(source / "app.py", (1_000_000_000, 1_000_000_000))  # a file's mtime must not leak into the zip
    second = build_function_zip(source, tmp_path / "two" / "function.zip")
    one, two = tmp_path / "one" / "function.zip", tmp_path / "two" / "function.zip"
    assert one.read_bytes() == two.read_bytes()
    assert first["sha256"] == second["sha256"] == sha256(one)
    assert json.loads(manifest_path_for(one).read_text()) == first
    assert first["kind"] == "function" and first["zip"] == str(one)
    assert first["zipped_bytes"] == one.stat().st_size
    assert first["files"] == 3, "regular files: app.py, lib/table.dat, run.sh"
    with zipfile.ZipFile(one) as archive:
        infos = archive.infolist()
        names = [i.filename for i in infos]
        modes = {i.filename: i.external_attr >> 16 for i in infos}
        link = archive.read("table").decode()
    assert names == sorted(names) == ["app.py", "lib/", "lib/table.dat", "run.sh", "table"]
    assert first["unzipped_bytes"] == sum(i.file_size for i in infos if not i.is_dir())
    assert modes["run.sh"] == stat.S_IFREG | 0o755 and modes["app.py"] == stat.S_IFREG | 0o644
    assert modes["lib/table.dat"] == stat.S_IFREG | 0o644 and modes["lib/"] == stat.S_IFDIR | 0o755
    assert stat.S_ISLNK(modes["table"]) and link == "lib/table.dat"


def test_rebuilding_over_the_output_gives_the_same_bytes(tmp_path):
    source = function_dir(tmp_path)
    output = tmp_path / "function.zip"
    build_function_zip(source, output)
    before = sha256(output)
    build_function_zip(source, output)
    assert sha256(output) == before
    assert not (tmp_path / "function.zip.partial").exists()


def test_source_date_epoch_sets_every_timestamp(tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    source = function_dir(tmp_path)
    build_function_zip(source, tmp_path / "function.zip")
    with zipfile.ZipFile(tmp_path / "function.zip") as archive:
        assert {i.date_time for i in archive.infolist()} == {time.gmtime(1700000000)[:6]}


def test_progress_and_the_warnings_of_scripts(tmp_path):
    source = function_dir(tmp_path)
    lines: List[str] = []
    manifest = build_function_zip(source, tmp_path / "f.zip", progress=lines.append)
    assert len(lines) == 1 and lines[0].startswith("zip: %s (" % (tmp_path / "f.zip"))
    assert lines[0].endswith(", 3 files)")
    assert len(manifest["warnings"]) == 1  # type: ignore[arg-type]
    assert str(manifest["warnings"][0]).startswith("run.sh starts with '#!/bin/sh'")  # type: ignore[index]


def test_a_source_that_is_not_a_directory_is_refused(tmp_path):
    source = function_dir(tmp_path)
    for bad, problem in ((source / "app.py", "is not a directory: give the directory whose contents become /var/task"),
                         (tmp_path / "missing", ": no such directory")):
        with pytest.raises(BuildError) as caught:
            build_function_zip(bad, tmp_path / "f.zip")
        assert caught.value.problems == ["%s%s" % (bad, problem if problem.startswith(":") else " " + problem)]
    assert not (tmp_path / "f.zip").exists()


def test_every_problem_of_the_tree_is_listed_and_nothing_is_written(tmp_path):
    source = function_dir(tmp_path)
    (source / "secret.txt").write_text("key")
    (source / "secret.txt").chmod(0o600)
    os.symlink("../../etc/passwd", source / "passwd")
    os.mkfifo(source / "pipe")
    box = {}

    def build() -> None:
        try:
            build_function_zip(source, tmp_path / "f.zip")
        except BuildError as exc:
            box["problems"] = exc.problems

    worker = threading.Thread(target=build, daemon=True)
    worker.start()
    worker.join(60)
    assert not worker.is_alive(), "the build hung (on the FIFO?)"
    assert sorted(box["problems"]) == [
        "passwd is a symlink to ../../etc/passwd, which points outside the layer",
        "pipe is a FIFO: a layer holds only files, directories and symlinks",
        "secret.txt is not world-readable (mode 600): Lambda runs code as another user; chmod o+r it, or leave it "
        "out if it is a secret",
    ]
    assert not (tmp_path / "f.zip").exists() and not manifest_path_for(tmp_path / "f.zip").exists()


def test_elf_files_must_match_the_architecture(tmp_path):
    source = function_dir(tmp_path)
    program(source / "tool")
    machine = {"x86_64": "EM_X86_64", "arm64": "EM_AARCH64"}[host_arch()]
    other = "arm64" if host_arch() == "x86_64" else "x86_64"
    assert build_function_zip(source, tmp_path / "host.zip")["files"] == 4
    assert build_function_zip(source, tmp_path / "default.zip", arch=None)["sha256"] == \
        hashlib.sha256((tmp_path / "host.zip").read_bytes()).hexdigest()
    with pytest.raises(BuildError) as caught:
        build_function_zip(source, tmp_path / "other.zip", arch=other)
    assert caught.value.problems == ["tool is built for %s, not %s (%s): rebuild it for %s or choose --arch"
                                     % (machine, other, {"x86_64": "EM_X86_64", "arm64": "EM_AARCH64"}[other],
                                        other)]


def test_an_output_inside_the_source_directory_is_not_zipped_into_itself(tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    (source / "app.py").write_text("x = 1\n")
    (source / "app.py").chmod(0o644)
    build_function_zip(source, source / "function.zip")
    manifest = build_function_zip(source, source / "function.zip")
    with zipfile.ZipFile(source / "function.zip") as archive:
        names = archive.namelist()
    assert names == ["app.py"] and manifest["files"] == 1


# -- --handler: what it names is checked against the code ---------------------------------

def _handler_findings(source: Path, handler: str) -> "checks.Findings":
    findings = checks.Findings()
    check_handler(source, handler, findings)
    return findings


@pytest.mark.parametrize("handler", ["app.handler", "run.sh", "./run.sh", "/var/task/run.sh", "cobcrun",
                                     "/opt/bin/tool", "tool"])
def test_a_handler_that_resolves_passes(tmp_path, handler):
    findings = _handler_findings(function_dir(tmp_path), handler)
    assert (findings.errors, findings.warnings) == ([], [])


def test_a_handler_naming_a_program_not_in_the_code_is_refused(tmp_path):
    source = function_dir(tmp_path)
    findings = _handler_findings(source, "bin/payroll")
    assert findings.errors == ["the handler names the program bin/payroll, which is not in %s: Lambda would fail "
                               "with Runtime.ExecutableNotFound" % source]


def test_a_handler_naming_a_program_without_its_x_bit_is_warned_about(tmp_path):
    source = function_dir(tmp_path)
    (source / "run.sh").chmod(0o644)
    findings = _handler_findings(source, "run.sh")
    assert findings.warnings == ["the handler names run.sh, which is not executable (mode 644): Lambda would fail "
                                 "with Runtime.ExecutableNotExecutable; chmod 755 it"]


def test_a_python_handler_whose_module_is_missing_is_warned_about(tmp_path):
    source = function_dir(tmp_path)
    findings = _handler_findings(source, "pkg/mod.handler")
    assert findings.errors == []
    assert findings.warnings == ["the handler pkg/mod.handler names the Python module pkg.mod, but %s holds "
                                 "neither pkg/mod.py nor pkg/mod/__init__.py: Lambda would fail with "
                                 "Runtime.ImportModuleError unless a layer brings it" % source]


@pytest.mark.parametrize("handler, says", [("app.", "Bad handler 'app.'"), ("run.sh'unbalanced", "No closing quotation")])
def test_a_malformed_handler_is_refused_with_the_runtime_s_words(tmp_path, handler, says):
    findings = _handler_findings(function_dir(tmp_path), handler)
    [error] = findings.errors
    assert error.startswith("--handler %r: " % handler) and says in error


@pytest.mark.parametrize("handler", ["", "cobcrun -M /var/task/ PAYROLL", "run.sh\t-x", "a" * 129])
def test_a_handler_lambda_s_api_refuses_is_refused_with_the_args_route(tmp_path, handler):
    [error] = _handler_findings(function_dir(tmp_path), handler).errors
    assert error.startswith("--handler %r: Lambda refuses a Handler that is empty, has white space or is over 128 "
                            "characters" % handler)
    assert "BOOTSTRAP_SDK_EXEC_ARGS" in error
