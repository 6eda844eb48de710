"""stage (packaging/stage.py): validating a build's inputs and laying out the staging tree."""

from __future__ import annotations

import importlib.util
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import List

import pytest

from bootstrap_sdk.packaging import checks, elf, python_bundle, stage as staging
from bootstrap_sdk.packaging.checks import BuildError
from bootstrap_sdk.packaging.options import LayerOptions
from bootstrap_sdk.packaging.runtime_files import RUNTIME_FILES, SDK_DIR, vendored_sources

SDK_REL = "%s/sdk/bootstrap_sdk" % staging.PRIVATE


@pytest.fixture(scope="module")
def interpreter() -> python_bundle.Interpreter:
    """The interpreter running the tests: its cache tag is the oracle for the .pyc names."""
    return python_bundle.describe(sys.executable)


def fresh(tmp_path: Path, interpreter: python_bundle.Interpreter) -> staging.Stage:
    return staging.new_stage(tmp_path / "layer", interpreter)


def program(path: Path) -> Path:
    src = path.with_name(path.name + ".c")
    src.write_text("int main(void) { return 0; }\n")
    subprocess.run(["gcc", "-o", str(path), str(src)], check=True, capture_output=True)
    return path


def files_under(root: Path) -> List[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if not p.is_dir())


# -- validate ----------------------------------------------------------------------------------

def test_validate_accepts_good_inputs_and_warns_for_al2(tmp_path):
    assert staging.validate(LayerOptions(output=tmp_path / "l.zip")) == []
    assert staging.validate(LayerOptions(output=tmp_path / "l.zip", runtime="provided.al2")) == [checks.AL2_END_OF_LIFE]
    assert "end of life" in checks.AL2_END_OF_LIFE


def test_validate_refuses_an_unknown_runtime_or_arch(tmp_path):
    with pytest.raises(BuildError) as caught:
        staging.validate(LayerOptions(output=tmp_path / "l.zip", runtime="provided.al1"))
    assert caught.value.problems == ["--runtime provided.al1: expected one of provided.al2023, provided.al2"]
    with pytest.raises(BuildError) as caught:
        staging.validate(LayerOptions(output=tmp_path / "l.zip", arch="sparc"))
    assert caught.value.problems == ["--arch sparc: expected one of x86_64, arm64"]


def test_validate_lists_every_input_problem_at_once(tmp_path):
    good = tmp_path / "good.txt"
    good.write_text("x")
    data = tmp_path / "table.dat"
    data.write_text("x")
    data.chmod(0o644)
    missing = tmp_path / "missing"
    options = LayerOptions(
        output=tmp_path / "l.zip",
        includes=[(good, "/etc/good"), (good, "share/../../good"), (missing, "share/missing"), (good, "")],
        executables=[tmp_path / "no-such-program", tmp_path, data],
        bootstrap=tmp_path / "no-bootstrap")
    with pytest.raises(BuildError) as caught:
        staging.validate(options)
    assert caught.value.problems == [
        "'/etc/good': layer paths are relative to the layer's root (/opt), like bin/tool",
        "'share/../../good': '..' would leave the layer",
        "'': layer paths are relative to the layer's root (/opt), like bin/tool",
        "%s: no such file (for --executable)" % (tmp_path / "no-such-program"),
        "%s is not a file: --executable takes programs (use --include for directories)" % tmp_path,
        "%s is not executable (mode 644): chmod 755 it, or use --include for data" % data,
        "%s: no such file (for share/missing)" % missing,
        "%s: no such file (for bootstrap)" % (tmp_path / "no-bootstrap"),
    ]
    assert str(caught.value) == "\n".join(caught.value.problems)


def test_validate_reports_runtime_arch_and_input_problems_together(tmp_path):
    options = LayerOptions(output=tmp_path / "l.zip", runtime="provided.al1", arch="sparc",
                           includes=[(tmp_path / "missing", "/abs")])
    with pytest.raises(BuildError) as caught:
        staging.validate(options)
    assert len(caught.value.problems) == 4


def test_validate_refuses_a_fifo_among_the_includes(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(BuildError) as caught:
        staging.validate(LayerOptions(output=tmp_path / "l.zip", includes=[(fifo, "data/pipe")]))
    assert any("pipe" in p and "FIFO" in p for p in caught.value.problems)


# -- the interpreter -----------------------------------------------------------------------------

def test_choose_interpreter_reports_what_it_chose(tmp_path, interpreter):
    lines: List[str] = []
    chosen = staging.choose_interpreter(LayerOptions(output=tmp_path / "l.zip", python=sys.executable), lines.append)
    assert chosen == (interpreter, None)
    assert lines == ["interpreter: choosing and probing",
                     "interpreter: %s (Python %d.%d, libpython %s)" % (
                         interpreter.executable, *sys.version_info[:2],
                         "static" if interpreter.static_libpython else "shared")]


def test_choose_interpreter_refuses_a_non_interpreter(tmp_path):
    with pytest.raises(BuildError) as caught:
        staging.choose_interpreter(LayerOptions(output=tmp_path / "l.zip", python=str(tmp_path / "python9")),
                                   lambda line: None)
    assert caught.value.problems == ["interpreter %s is not an executable file" % (tmp_path / "python9")]


def test_new_stage_makes_the_root_and_the_private_lib_dir(tmp_path, interpreter):
    stage = fresh(tmp_path, interpreter)
    assert stat.S_IMODE(stage.root.stat().st_mode) == 0o755
    assert stage.lib_dir == stage.root / "bootstrap-sdk" / "lib" and stage.lib_dir.is_dir()
    assert stage.python_rel == "bootstrap-sdk/python/bin/python%d.%d" % sys.version_info[:2]
    assert stage.stdlib_rel == "bootstrap-sdk/python/lib/python%d.%d" % sys.version_info[:2]
    with pytest.raises(FileExistsError):
        staging.new_stage(stage.root, interpreter)


def test_add_python_stages_the_interpreter_and_its_stdlib(tmp_path, interpreter):
    stage = fresh(tmp_path, interpreter)
    lines: List[str] = []
    staging.add_python(stage, LayerOptions(output=tmp_path / "l.zip"), lines.append)
    assert lines == ["stdlib: collecting the minimal set"]
    staged_python = stage.root / stage.python_rel
    assert staged_python.read_bytes() == Path(interpreter.executable).read_bytes()
    assert stage.elf_roots[0] == stage.python_rel and stage.origins[stage.python_rel] == interpreter.executable
    os_job = [job for job in stage.pyc_jobs if job[0] == os.path.join(os.path.realpath(interpreter.stdlib), "os.py")]
    assert os_job == [(os.path.join(os.path.realpath(interpreter.stdlib), "os.py"),
                       str(stage.root / stage.stdlib_rel / "os.pyc"),
                       "/opt/%s/os.py" % stage.stdlib_rel)]
    extensions = stage.elf_roots[1:]
    assert extensions, "the minimal set has extension modules (_json, _ctypes, ...)"
    for rel in extensions:
        assert rel.startswith(stage.stdlib_rel + "/lib-dynload/")
        assert (stage.root / rel).read_bytes() == Path(stage.origins[rel]).read_bytes()
    assert not list((stage.root / stage.stdlib_rel).rglob("*.py")), "sources become .pyc jobs, never copies"


def test_add_python_refuses_a_module_the_interpreter_cannot_import(tmp_path, interpreter):
    stage = fresh(tmp_path, interpreter)
    with pytest.raises(BuildError) as caught:
        staging.add_python(stage, LayerOptions(output=tmp_path / "l.zip", stdlib_modules=["no_such_module_q"]),
                           lambda line: None)
    [problem] = caught.value.problems
    assert "cannot import: no_such_module_q" in problem


# -- the runtime ---------------------------------------------------------------------------------

def test_add_runtime_stages_exactly_the_runtime_files_with_a_pyc_each(tmp_path, interpreter):
    stage = fresh(tmp_path, interpreter)
    staging.add_runtime(stage)
    sdk = stage.root / SDK_REL
    assert files_under(sdk) == sorted(RUNTIME_FILES)
    for name in RUNTIME_FILES:
        assert (sdk / name).read_bytes() == (SDK_DIR / name).read_bytes(), name
    sources = [name for name in RUNTIME_FILES if name.endswith(".py")]
    vendored = [(path, name) for path, name in vendored_sources() if name.endswith(".py")]
    assert len(stage.pyc_jobs) == len(sources) + len(vendored)
    expected = {(str(SDK_DIR / name), importlib.util.cache_from_source(str(sdk / name)), "/opt/%s/%s" % (SDK_REL, name))
                for name in sources}
    beside = sdk.parent  # sdk/: the vendored packages sit next to bootstrap_sdk
    expected |= {(str(path), importlib.util.cache_from_source(str(beside / name)),
                  "/opt/%s/%s" % (SDK_REL.rsplit("/", 1)[0], name)) for path, name in vendored}
    assert set(stage.pyc_jobs) == expected
    for path, name in vendored_sources():
        assert (beside / name).read_bytes() == path.read_bytes(), name
    staging.compile_python(stage, lambda line: None)
    pycs = sorted(p for p in files_under(sdk) if p.endswith(".pyc"))
    assert len(pycs) == len(sources)
    for pyc in pycs:
        assert pyc.split("/")[-2] == "__pycache__"
        assert pyc.endswith(".%s.pyc" % sys.implementation.cache_tag)
        data = (sdk / pyc).read_bytes()
        assert data[:4] == importlib.util.MAGIC_NUMBER
        assert int.from_bytes(data[4:8], "little") == 0b01, "hash-based and unchecked"


def test_the_staged_runtime_imports_from_its_unchecked_pycs(tmp_path, interpreter):
    stage = fresh(tmp_path, interpreter)
    staging.add_runtime(stage)
    lines: List[str] = []
    staging.compile_python(stage, lines.append)
    assert lines == ["compiling %d modules to .pyc" % (len([n for n in RUNTIME_FILES if n.endswith(".py")])
                                                       + len([n for _, n in vendored_sources() if n.endswith(".py")]))]
    entry = stage.root / SDK_REL / "entry.py"
    entry.chmod(0o644)
    with open(entry, "a") as handle:
        handle.write("\nEDITED_AFTER_COMPILING = True\n")  # unchecked: the .pyc still wins
    script = ("import sys; sys.path.insert(0, sys.argv[1]); import bootstrap_sdk.entry as e; "
              "print(e.__cached__); print(hasattr(e, 'EDITED_AFTER_COMPILING'))")
    done = subprocess.run([interpreter.executable, "-I", "-S", "-B", "-c", script, str(stage.root / staging.PRIVATE / "sdk")],
                          capture_output=True, text=True, cwd=str(tmp_path))
    assert done.returncode == 0, done.stderr
    cached, edited = done.stdout.split()
    assert cached == importlib.util.cache_from_source(str(entry))
    assert edited == "False"


def test_compile_python_reports_a_syntax_error_as_a_build_error(tmp_path, interpreter):
    stage = fresh(tmp_path, interpreter)
    broken = tmp_path / "broken.py"
    broken.write_text("def broken(:\n")
    stage.pyc_jobs.append((str(broken), str(tmp_path / "broken.pyc"), "/opt/broken.py"))
    with pytest.raises(BuildError) as caught:
        staging.compile_python(stage, lambda line: None)
    [problem] = caught.value.problems
    assert problem.startswith("compiling .pyc failed: ") and "SyntaxError" in problem


# -- programs, includes, bootstrap ---------------------------------------------------------------

def test_add_programs_stages_executables_and_includes(tmp_path, interpreter):
    stage = fresh(tmp_path, interpreter)
    src = tmp_path / "src"
    src.mkdir()
    tool = program(src / "tool")
    os.symlink("tool", src / "alias")
    script = src / "run.sh"
    script.write_text("#!/bin/sh\necho hi\n")
    script.chmod(0o755)
    table = src / "table.txt"
    table.write_text("1 2 3\n")
    tree = src / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "sub" / "data.txt").write_text("data\n")
    os.symlink("sub/data.txt", tree / "link")
    options = LayerOptions(output=tmp_path / "l.zip", executables=[tool, src / "alias", script],
                           includes=[(table, "table.txt"), (tree, "share/tree")])
    lines: List[str] = []
    staging.add_programs(stage, options, lines.append)
    root = stage.root
    assert (root / "bin" / "tool").read_bytes() == tool.read_bytes()
    assert not (root / "bin" / "alias").is_symlink() and (root / "bin" / "alias").read_bytes() == tool.read_bytes()
    assert (root / "bin" / "run.sh").read_text() == "#!/bin/sh\necho hi\n"
    assert stage.elf_roots == ["bin/tool", "bin/alias"], "only ELF programs have a closure"
    assert stage.origins == {"bin/tool": str(tool), "bin/alias": str(tool)}
    assert (root / "table.txt").read_text() == "1 2 3\n"
    assert (root / "share" / "tree" / "sub" / "data.txt").read_text() == "data\n"
    assert os.readlink(root / "share" / "tree" / "link") == "sub/data.txt", "links inside includes stay links"
    assert lines == ["executable: %s → /opt/bin/tool" % tool, "executable: %s → /opt/bin/alias" % (src / "alias"),
                     "executable: %s → /opt/bin/run.sh" % script, "include: %s → /opt/table.txt" % table,
                     "include: %s → /opt/share/tree" % tree]


def test_add_bootstrap_writes_one_that_starts_the_bundled_interpreter(tmp_path, interpreter):
    stage = fresh(tmp_path, interpreter)
    staging.add_bootstrap(stage, LayerOptions(output=tmp_path / "l.zip"))
    bootstrap = stage.root / "bootstrap"
    assert stat.S_IMODE(bootstrap.stat().st_mode) == 0o755
    text = bootstrap.read_text()
    assert text.splitlines()[0] == "#!/opt/%s -IS" % stage.python_rel
    assert "sys.path[:0] = ['/opt/bootstrap-sdk/sdk']" in text.splitlines()
    assert elf.read_elf(str(bootstrap)) is None


def test_add_bootstrap_copies_the_one_given(tmp_path, interpreter):
    stage = fresh(tmp_path, interpreter)
    mine = tmp_path / "my-bootstrap"
    mine.write_text("#!/opt/bin/tool\n")
    mine.chmod(0o750)
    staging.add_bootstrap(stage, LayerOptions(output=tmp_path / "l.zip", bootstrap=mine))
    assert (stage.root / "bootstrap").read_text() == "#!/opt/bin/tool\n"
    assert stat.S_IMODE((stage.root / "bootstrap").stat().st_mode) == 0o750


def test_copy_into_keeps_links_as_links_and_make_writable_adds_only_user_write(tmp_path):
    os.symlink("../nowhere", tmp_path / "dangling")
    staging.copy_into(tmp_path / "dangling", tmp_path / "deep" / "copy")
    assert os.readlink(tmp_path / "deep" / "copy") == "../nowhere"
    locked = tmp_path / "locked"
    locked.write_text("x")
    locked.chmod(0o444)
    staging.make_writable(locked)
    assert stat.S_IMODE(locked.stat().st_mode) == 0o644


def test_validate_refuses_every_clash_of_destinations(tmp_path):
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "f.txt").write_text("x")
    tool = tmp_path / "tool"
    tool.write_text("#!/bin/sh\n")
    tool.chmod(0o755)
    options = LayerOptions(output=tmp_path / "l.zip", executables=[tool, tool],
                           includes=[(tree, "bin"), (tree, "bootstrap"), (tree, "bootstrap-sdk/lib"), (tree, "."),
                                     (tree, "share/a"), (tree, "share/a/b")])
    with pytest.raises(BuildError) as caught:
        staging.validate(options)
    problems = caught.value.problems
    assert "--executable %s and --executable %s both go to /opt/bin/tool" % (tool, tool) in problems
    assert any(p.startswith("--include %s:bin: /opt/bin is the layer's own" % tree) for p in problems)
    assert any(p.startswith("--include %s:bootstrap: /opt/bootstrap is the layer's own" % tree) for p in problems)
    assert any(p.startswith("--include %s:bootstrap-sdk/lib: " % tree) for p in problems)
    assert any(p.startswith("--include %s:.: /opt/. is the layer's own" % tree) for p in problems)
    assert "--include %s:share/a and --include %s:share/a/b both go to /opt/share/a" % (tree, tree) in problems
    assert len(problems) == 6


def test_validate_refuses_a_fifo_inside_an_included_directory(tmp_path):
    tree = tmp_path / "tree"
    (tree / "deep").mkdir(parents=True)
    os.mkfifo(tree / "deep" / "pipe")
    with pytest.raises(BuildError) as caught:
        staging.validate(LayerOptions(output=tmp_path / "l.zip", includes=[(tree, "data")]))
    [problem] = caught.value.problems
    assert str(tree / "deep" / "pipe") in problem and "FIFO" in problem and problem.endswith("(for data)")
