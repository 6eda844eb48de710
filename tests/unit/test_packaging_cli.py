"""packaging cli (packaging/cli.py): make-runtime-layer and make-function-zip, called in-process.

Exit codes: 0 built, 2 bad command line, 3 an input failed a check (one line per problem),
4 a tool the build needs failed.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shlex
import subprocess
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Callable, List, Optional, Tuple

import pytest

from native import gcc
from bootstrap_sdk.packaging import cli
from bootstrap_sdk.packaging.checks import AL2_END_OF_LIFE
from bootstrap_sdk.packaging.options import host_arch

PROGRESS = re.compile(r"^\[\s*\d+\.\ds\] \S")
ERROR = "make-runtime-layer: error: "


def run_cli(function: Callable[[Optional[List[str]]], int], argv: List[str]) -> Tuple[int, str, str]:
    """(exit code, stdout, stderr); argparse's SystemExit counts as the exit code."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = function(argv)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    return code, out.getvalue(), err.getvalue()


def layer(tmp_path: Path, *extra: str) -> Tuple[int, str, str]:
    return run_cli(cli.make_runtime_layer, ["-o", str(tmp_path / "out.zip"), "-q"] + list(extra))


def refused(tmp_path: Path, *extra: str) -> List[str]:
    """The error lines of a build that must exit 3 and write nothing."""
    code, out, err = layer(tmp_path, *extra)
    assert code == 3, err
    assert out == ""
    assert not (tmp_path / "out.zip").exists() and not (tmp_path / "out.manifest.json").exists()
    lines = err.splitlines()
    assert lines and all(line.startswith(ERROR) for line in lines), err
    return [line[len(ERROR):] for line in lines]


@pytest.fixture(scope="module")
def builds(tmp_path_factory) -> Path:
    """Two real layers: --json with progress lines, and a plain provided.al2 build."""
    out = tmp_path_factory.mktemp("builds")
    for name, argv in (("json", ["--json", "--name", "cli-layer", "--license", "MIT"]),
                       ("plain", ["--runtime", "provided.al2"])):
        code, stdout, stderr = run_cli(cli.make_runtime_layer, ["-o", str(out / name / "layer.zip")] + argv)
        (out / name / "code").write_text(str(code))
        (out / name / "stdout").write_text(stdout)
        (out / name / "stderr").write_text(stderr)
    return out


def test_json_prints_the_manifest_and_progress_goes_to_stderr(builds):
    run = builds / "json"
    assert (run / "code").read_text() == "0", (run / "stderr").read_text()
    manifest = json.loads((run / "stdout").read_text())
    assert manifest == json.loads((run / "layer.manifest.json").read_text())
    assert manifest["sha256"] == hashlib.sha256((run / "layer.zip").read_bytes()).hexdigest()
    assert manifest["name"] == "cli-layer" and manifest["license"] == "MIT"
    assert manifest["compatible_architectures"] == [host_arch()]
    progress = (run / "stderr").read_text().splitlines()
    assert progress and all(PROGRESS.match(line) for line in progress), progress
    assert progress[0].endswith("] interpreter: choosing and probing")
    assert progress[-1].endswith("] manifest: %s" % (run / "layer.manifest.json"))


def test_a_plain_build_prints_where_the_zip_is_and_how_to_publish_it(builds):
    run = builds / "plain"
    assert (run / "code").read_text() == "0", (run / "stderr").read_text()
    manifest = json.loads((run / "layer.manifest.json").read_text())
    assert (run / "stdout").read_text().splitlines() == [
        str(run / "layer.zip"), "sha256 %s" % hashlib.sha256((run / "layer.zip").read_bytes()).hexdigest(),
        "publish with:", "  %s" % manifest["publish_command"]]
    words = shlex.split(str(manifest["publish_command"]))
    assert words[words.index("--compatible-runtimes") + 1] == "provided.al2"
    stderr = (run / "stderr").read_text().splitlines()
    assert stderr[-1] == "make-runtime-layer: warning: %s" % AL2_END_OF_LIFE
    assert all(PROGRESS.match(line) for line in stderr[:-1])


def test_a_bad_command_line_exits_2(tmp_path):
    code, out, err = run_cli(cli.make_runtime_layer, [])
    assert code == 2 and out == ""
    assert err.splitlines()[-1] == "make-runtime-layer: error: the following arguments are required: -o/--output"
    for argv, word in ((["--arch", "sparc"], "--arch"), (["--stdlib", "tiny"], "--stdlib"),
                       (["--runtime", "provided.al1"], "--runtime"), (["--frobnicate"], "--frobnicate")):
        code, _, err = layer(tmp_path, *argv)
        assert code == 2, argv
        assert err.splitlines()[-1].startswith("make-runtime-layer: error: ") and word in err.splitlines()[-1]
    assert list(tmp_path.iterdir()) == []


def test_every_input_problem_is_one_line_and_exit_3(tmp_path):
    data = tmp_path / "table.dat"
    data.write_text("1 2 3\n")
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    problems = refused(tmp_path, "--include", "%s:/etc/table" % data, "--include", "%s:data/x" % (tmp_path / "nope"),
                       "--executable", str(data), "--executable", str(fifo))
    assert problems == [
        "'/etc/table': layer paths are relative to the layer's root (/opt), like bin/tool",
        "%s is not executable (mode 644): chmod 755 it, or use --include for data" % data,
        "%s is not a file: --executable takes programs (use --include for directories)" % fifo,
        "%s: no such file (for data/x)" % (tmp_path / "nope"),
    ]


def test_a_bad_interpreter_or_stdlib_module_exits_3(tmp_path):
    assert refused(tmp_path, "--python", str(tmp_path / "python9")) == [
        "interpreter %s is not an executable file" % (tmp_path / "python9")]
    [problem] = refused(tmp_path, "--stdlib-module", "no_such_module_q")
    assert "cannot import: no_such_module_q: No module named 'no_such_module_q'" in problem


def test_a_missing_library_and_a_foreign_program_exit_3(tmp_path):
    (tmp_path / "libs").mkdir()
    gcc(tmp_path / "libs" / "libq.so", "int q(void) { return 7; }\n", "-shared", "-fPIC", "-Wl,-soname,libq.so")
    program = gcc(tmp_path / "prog", "int q(void);\nint main(void) { return q(); }\n", "-L" + str(tmp_path / "libs"),
                  "-lq")
    [problem] = refused(tmp_path, "--executable", str(program))
    assert problem.startswith("%s needs libq.so, which is not in " % program)
    assert problem.endswith("; add its directory with --library-path")
    data = bytearray(program.read_bytes())
    data[18:20] = (183 if host_arch() == "x86_64" else 62).to_bytes(2, "little")
    foreign = tmp_path / "tool"
    foreign.write_bytes(bytes(data))
    foreign.chmod(0o755)
    [problem] = refused(tmp_path, "--executable", str(foreign), "--library-path", str(tmp_path / "libs"))
    assert problem.startswith("bin/tool is built for EM_")


def test_an_object_file_given_as_a_program_exits_3(tmp_path):
    """An object file marked executable is ELF, but no program: refused before any work."""
    obj = tmp_path / "tool.o"
    src = tmp_path / "tool.c"
    src.write_text("int main(void) { return 0; }\n")
    subprocess.run(["gcc", "-c", str(src), "-o", str(obj)], check=True)
    obj.chmod(0o755)
    [problem] = refused(tmp_path, "--executable", str(obj))
    assert problem == "%s is an ELF ET_REL file, not a program: link it into one" % obj
    assert not (tmp_path / "out.zip").exists()


def test_a_damaged_program_exits_3(tmp_path):
    damaged = tmp_path / "tool"
    damaged.write_bytes(Path(os.path.realpath("/bin/true")).read_bytes()[:2048])
    damaged.chmod(0o755)
    [problem] = refused(tmp_path, "--executable", str(damaged))
    assert problem == "%s is a damaged ELF file (truncated or corrupt): rebuild it" % damaged


def test_an_included_fifo_exits_3(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    [problem] = refused(tmp_path, "--include", "%s:data/pipe" % fifo)
    assert "FIFO" in problem


def test_an_include_over_the_layers_own_directories_exits_3(tmp_path):
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "f.txt").write_text("x")
    [problem] = refused(tmp_path, "--include", "%s:bootstrap-sdk" % tree)
    assert "bootstrap-sdk" in problem


# -- make-function-zip ---------------------------------------------------------------------------

def function_source(tmp_path: Path) -> Path:
    source = tmp_path / "src"
    source.mkdir()
    (source / "app.py").write_text("def handler(event, context):\n    return event\n")
    (source / "app.py").chmod(0o644)
    return source


def test_make_function_zip_json(tmp_path):
    source = function_source(tmp_path)
    code, out, err = run_cli(cli.make_function_zip, [str(source), "-o", str(tmp_path / "f.zip"), "--json", "-q"])
    assert (code, err) == (0, "")
    manifest = json.loads(out)
    assert manifest == json.loads((tmp_path / "f.manifest.json").read_text())
    assert manifest["sha256"] == hashlib.sha256((tmp_path / "f.zip").read_bytes()).hexdigest()
    assert manifest["files"] == 1


def test_make_function_zip_progress_and_warnings(tmp_path):
    source = function_source(tmp_path)
    (source / "run.sh").write_text("#!/bin/sh\n")
    (source / "run.sh").chmod(0o755)
    code, out, err = run_cli(cli.make_function_zip, [str(source), "-o", str(tmp_path / "f.zip")])
    assert code == 0 and out == ""
    progress, warning = err.splitlines()
    assert PROGRESS.match(progress) and "] zip: %s (" % (tmp_path / "f.zip") in progress
    assert warning.startswith("make-function-zip: warning: run.sh starts with '#!/bin/sh'")


def test_make_function_zip_refusals(tmp_path):
    source = function_source(tmp_path)
    code, out, err = run_cli(cli.make_function_zip, [str(source / "app.py"), "-o", str(tmp_path / "f.zip")])
    assert (code, out) == (3, "")
    assert err.splitlines() == ["make-function-zip: error: %s is not a directory: give the directory whose contents become /var/task"
                                  % (source / "app.py")]
    (source / "secret").write_text("k")
    (source / "secret").chmod(0o600)
    code, _, err = run_cli(cli.make_function_zip, [str(source), "-o", str(tmp_path / "f.zip"), "-q"])
    assert code == 3
    assert err.splitlines() == ["make-function-zip: error: secret is not world-readable (mode 600): Lambda runs code "
                                "as another user; chmod o+r it, or leave it out if it is a secret"]
    assert not (tmp_path / "f.zip").exists()
    code, _, err = run_cli(cli.make_function_zip, [str(source)])
    assert code == 2 and "the following arguments are required: -o/--output" in err
    code, _, err = run_cli(cli.make_function_zip, [str(source), "-o", str(tmp_path / "f.zip"), "--arch", "mips"])
    assert code == 2 and "invalid choice: 'mips'" in err


# -- one layer per architecture ----------------------------------------------------------------

def arm64_root(path: Path) -> Path:
    """A sysroot of one's own, for arm64 (its loader is what says so)."""
    (path / "lib").mkdir(parents=True)
    (path / "lib" / "ld-linux-aarch64.so.1").write_bytes(b"\x7fELF")
    return path


def test_two_arches_give_two_outputs_names_and_paths(tmp_path):
    sysroot = arm64_root(tmp_path / "sysroot")
    args = cli.layer_parser().parse_args([
        "-o", "build/tools.zip", "--arch", "x86_64", "--arch", "arm64", "--sysroot", str(sysroot), "--name", "tools",
        "--executable", "build/{arch}/PAYROLL", "--include", "data/{arch}:share/data", "--library-path", "lib/{arch}"])
    x86, arm = cli.per_arch(args)
    assert (x86.arch, x86.output, x86.name, x86.sysroot) == ("x86_64", Path("build/tools-x86_64.zip"), "tools-x86_64",
                                                             None)
    assert (arm.arch, arm.output, arm.name, arm.sysroot) == ("arm64", Path("build/tools-arm64.zip"), "tools-arm64",
                                                             sysroot)
    assert arm.executable == [Path("build/arm64/PAYROLL")] and x86.executable == [Path("build/x86_64/PAYROLL")]
    assert arm.include == ["data/arm64:share/data"] and arm.library_path == [Path("lib/arm64")]
    assert args.executable == [Path("build/{arch}/PAYROLL")], "the parsed arguments stay as given"


def test_one_arch_keeps_its_output_and_name(tmp_path):
    (one,) = cli.per_arch(cli.layer_parser().parse_args(["-o", "runtime.zip", "--arch", "arm64", "--arch", "arm64",
                                                         "--sysroot", str(arm64_root(tmp_path / "s"))]))
    assert (one.arch, one.output, one.name) == ("arm64", Path("runtime.zip"), "bootstrap-sdk-runtime")
    (default,) = cli.per_arch(cli.layer_parser().parse_args(["-o", "runtime.zip"]))
    assert default.arch == host_arch() and default.sysroot is None


def test_a_sysroot_for_no_arch_given_is_refused_before_any_build(tmp_path):
    other = "arm64" if host_arch() == "x86_64" else "x86_64"
    sysroot = arm64_root(tmp_path / "sysroot")
    (tmp_path / "empty").mkdir()
    code, out, err = run_cli(cli.make_runtime_layer, ["-o", str(tmp_path / "l.zip"), "--arch", host_arch(),
                                                      "--sysroot", str(sysroot), "--sysroot", str(tmp_path / "empty")])
    assert code == 3 and out == "" and not (tmp_path / "l.zip").exists()
    lines = err.splitlines()
    assert ("make-runtime-layer: error: --sysroot %s is for none of the --arch given (%s)" % (tmp_path / "empty",
                                                                                            host_arch())) in lines
    if other == "arm64":
        assert "make-runtime-layer: error: --sysroot %s is for none of the --arch given (x86_64)" % sysroot in lines


def test_another_arch_without_a_sysroot_is_refused_with_how_to_get_one(tmp_path):
    other = "arm64" if host_arch() == "x86_64" else "x86_64"
    code, _, err = run_cli(cli.make_runtime_layer, ["-o", str(tmp_path / "l.zip"), "--arch", other, "-q"])
    assert code == 3 and not (tmp_path / "l.zip").exists()
    assert "--arch %s on this %s machine needs --sysroot DIR" % (other, host_arch()) in err
    assert "fetch-sysroot --arch %s DIR" % other in err
