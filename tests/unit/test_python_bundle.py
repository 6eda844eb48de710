"""python_bundle (packaging/python_bundle.py): which interpreter, which stdlib, and .pyc compilation."""

from __future__ import annotations

import importlib.util
import json
import marshal
import os
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Dict, List

import pytest

from bootstrap_sdk.packaging import python_bundle
from bootstrap_sdk.packaging.python_bundle import InterpreterError, compile_pyc, describe, stdlib_files
from bootstrap_sdk.packaging.runtime_files import SDK_DIR


def links_libpython(executable: str) -> bool:
    """ldd's answer, independent of the code under test (which reads DT_NEEDED)."""
    return "libpython" in subprocess.run(["ldd", executable], capture_output=True, text=True).stdout


def script(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(0o755)
    return path


@pytest.fixture(scope="module")
def interpreter() -> python_bundle.Interpreter:
    return describe(sys.executable)


@pytest.fixture(scope="module")
def minimal(interpreter) -> Dict[str, python_bundle.StdlibFile]:
    return {f.relative: f for f in stdlib_files(interpreter, "minimal")}


# -- describe / default_interpreter --------------------------------------------------------------

def test_describe_the_running_interpreter(interpreter):
    paths = sysconfig.get_paths()
    assert interpreter.executable == os.path.realpath(sys.executable)
    assert interpreter.version == tuple(sys.version_info[:2])
    assert interpreter.name == "python%d.%d" % sys.version_info[:2]
    assert interpreter.stdlib == paths["stdlib"]
    assert interpreter.dynload == (sysconfig.get_config_var("DESTSHARED") or os.path.join(paths["stdlib"],
                                                                                          "lib-dynload"))
    assert interpreter.static_libpython == (not links_libpython(interpreter.executable))


def test_default_interpreter_prefers_a_static_libpython():
    chosen = python_bundle.default_interpreter()
    candidates = [os.path.realpath(c) for c in ("/usr/bin/python3", "/usr/local/bin/python3", sys.executable)
                  if os.path.exists(c)]
    assert chosen.executable in candidates
    assert chosen.version >= (3, 9)
    if any(not links_libpython(c) for c in candidates):
        assert chosen.static_libpython and not links_libpython(chosen.executable)


def test_describe_refuses_what_is_not_an_executable(tmp_path):
    plain = tmp_path / "python3"
    plain.write_text("print('hi')\n")
    plain.chmod(0o644)
    for path in (plain, tmp_path / "missing"):
        with pytest.raises(InterpreterError) as caught:
            describe(str(path))
        assert str(caught.value) == "interpreter %s is not an executable file" % path


def test_describe_refuses_a_program_that_fails(tmp_path):
    failing = script(tmp_path / "python3", "#!/bin/sh\necho boom >&2\nexit 3\n")
    with pytest.raises(InterpreterError) as caught:
        describe(str(failing))
    assert str(caught.value).startswith("cannot run %s: " % failing)
    assert "exit status 3" in str(caught.value)


def test_describe_refuses_python_older_than_3_9(tmp_path):
    old = script(tmp_path / "python3.8", "#!/bin/sh\necho '[[3, 8], \"/usr/lib/python3.8\", null]'\n")
    with pytest.raises(InterpreterError) as caught:
        describe(str(old))
    assert str(caught.value) == "%s is Python 3.8; the runtime needs 3.9 or later" % old


def test_describe_refuses_an_interpreter_that_is_not_elf(tmp_path):
    wrapper = script(tmp_path / "python3", "#!/bin/sh\necho '[[3, 11], \"/usr/lib/python3.11\", null]'\n")
    with pytest.raises(InterpreterError) as caught:
        describe(str(wrapper))
    assert str(caught.value) == "%s is not an ELF executable" % wrapper


def test_describe_refuses_a_program_that_prints_no_answer(tmp_path):
    silent = script(tmp_path / "python3", "#!/bin/sh\nexit 0\n")
    with pytest.raises(InterpreterError):
        describe(str(silent))


# -- stdlib_files --------------------------------------------------------------------------------

def test_minimal_holds_what_the_runtime_imports(interpreter, minimal):
    """The oracle: import the runtime's entry and adapter in the interpreter, list the stdlib files."""
    stdlib = os.path.realpath(interpreter.stdlib)
    probe = ("import json, sys; sys.path.insert(0, sys.argv[1]); import bootstrap_sdk.entry, "
             "bootstrap_sdk.adapter.executable, bootstrap_sdk.copybook.codec; "
             "print(json.dumps([getattr(m, '__file__', None) for m in list(sys.modules.values())]))")
    done = subprocess.run([interpreter.executable, "-I", "-S", "-c", probe, str(SDK_DIR.parent)],
                          capture_output=True, text=True, check=True)
    imported = set()
    for path in json.loads(done.stdout):
        if path and os.path.realpath(path).startswith(stdlib + os.sep) and path.endswith(".py"):
            imported.add(os.path.relpath(os.path.realpath(path), stdlib))
    assert {"json/__init__.py", "json/decoder.py", "os.py"} <= imported
    assert imported <= set(minimal), sorted(imported - set(minimal))


def test_minimal_has_the_lazy_imports_every_codec_and_no_tests(interpreter, minimal):
    stdlib = os.path.realpath(interpreter.stdlib)
    for name in ("logging/__init__.py", "traceback.py", "threading.py", "shlex.py", "os.py"):
        assert name in minimal, name
    codecs = sorted("encodings/" + n for n in os.listdir(os.path.join(stdlib, "encodings")) if n.endswith(".py"))
    assert set(codecs) <= set(minimal)
    assert not [r for r in minimal if r.split("/")[0] in ("test", "tests", "unittest", "idlelib", "tkinter")]
    assert not [r for r in minimal if r.endswith(".pyc")]
    assert list(minimal) == sorted(minimal)


def test_stdlib_file_kinds_and_sources(interpreter, minimal):
    stdlib = os.path.realpath(interpreter.stdlib)
    assert minimal["os.py"].source == os.path.join(stdlib, "os.py") and minimal["os.py"].kind == "py"
    for rel, item in minimal.items():
        assert os.path.isfile(item.source), rel
        assert not item.source.startswith(str(SDK_DIR) + os.sep), "the runtime is staged separately"
        if rel.startswith("lib-dynload/"):
            assert item.kind == "so" and item.source == os.path.join(os.path.realpath(interpreter.dynload),
                                                                    rel.split("/", 1)[1])
        else:
            assert item.source == os.path.join(stdlib, rel)
            assert item.kind == ("py" if rel.endswith(".py") else "data")
        # A package's __init__ comes with any of its submodules.
        parts = rel.split("/")[:-1]
        for depth in range(1, len(parts) + 1):
            init = os.path.join(stdlib, *parts[:depth], "__init__.py")
            if parts[0] != "lib-dynload" and os.path.exists(init):
                assert "/".join(parts[:depth] + ["__init__.py"]) in minimal, rel


def test_extra_modules_come_with_what_they_import(interpreter, minimal):
    assert "difflib.py" not in minimal
    extended = {f.relative for f in stdlib_files(interpreter, "minimal", ["difflib", "lzma"])}
    assert {"difflib.py", "lzma.py"} <= extended
    assert [r for r in extended if r.startswith("lib-dynload/_lzma")], "its extension module too"
    assert set(minimal) <= extended


def test_full_is_the_library_without_tests_and_gui(interpreter):
    full = {f.relative for f in stdlib_files(interpreter, "full")}
    assert {"email/__init__.py", "difflib.py", "json/decoder.py", "os.py"} <= full
    for excluded in ("test/", "idlelib/", "tkinter/", "unittest/", "lib2to3/", "ensurepip/", "site-packages/",
                     "dist-packages/"):
        assert not [r for r in full if r.startswith(excluded) or "/" + excluded in r], excluded
    assert "turtle.py" not in full
    dynload = [r.split("/", 1)[1] for r in full if r.startswith("lib-dynload/")]
    assert dynload
    assert not [n for n in dynload if n.startswith(python_bundle.DYNLOAD_EXCLUDES)]


def test_stdlib_files_refuses_an_unknown_module_and_policy(interpreter):
    with pytest.raises(InterpreterError) as caught:
        stdlib_files(interpreter, "minimal", ["no_such_module_q"])
    assert "cannot import: no_such_module_q: No module named 'no_such_module_q'" in str(caught.value)
    with pytest.raises(ValueError) as wrong:
        stdlib_files(interpreter, "everything")
    assert "minimal or full" in str(wrong.value)


# -- compile_pyc ---------------------------------------------------------------------------------

MODULE = "def answer():\n    return 42\n\ndef fail():\n    raise ValueError('from the pyc')\n"


def test_compile_pyc_writes_unchecked_hash_pycs_that_import_without_source(interpreter, tmp_path):
    source = tmp_path / "src" / "answer.py"
    source.parent.mkdir()
    source.write_text(MODULE)
    target = tmp_path / "layer" / "answer.pyc"
    target.parent.mkdir()
    compile_pyc(interpreter, [(str(source), str(target), "/opt/lib/answer.py")])
    data = target.read_bytes()
    assert data[:4] == importlib.util.MAGIC_NUMBER
    assert int.from_bytes(data[4:8], "little") == 0b01, "hash-based, unchecked"
    code = marshal.loads(data[16:])
    assert code.co_filename == "/opt/lib/answer.py"
    run = ("import sys; sys.path.insert(0, sys.argv[1]); import answer; print(answer.answer()); "
           "print(answer.__file__); answer.fail()")
    done = subprocess.run([interpreter.executable, "-I", "-S", "-c", run, str(target.parent)],
                          capture_output=True, text=True)
    assert done.stdout.splitlines() == ["42", str(target)]
    assert 'File "/opt/lib/answer.py", line 5, in fail' in done.stderr
    assert done.stderr.strip().endswith("ValueError: from the pyc")


def test_compile_pyc_is_reproducible(interpreter, tmp_path):
    source = tmp_path / "answer.py"
    source.write_text(MODULE)
    first, second = tmp_path / "a.pyc", tmp_path / "b.pyc"
    compile_pyc(interpreter, [(str(source), str(first), "/opt/answer.py"), (str(source), str(second), "/opt/answer.py")])
    assert first.read_bytes() == second.read_bytes()


def test_compile_pyc_reports_a_syntax_error(interpreter, tmp_path):
    broken = tmp_path / "broken.py"
    broken.write_text("def broken(:\n    pass\n")
    good = tmp_path / "good.py"
    good.write_text(MODULE)
    jobs: List = [(str(broken), str(tmp_path / "broken.pyc"), "/opt/broken.py")]
    with pytest.raises(InterpreterError) as caught:
        compile_pyc(interpreter, jobs + [(str(good), str(tmp_path / "good.pyc"), "/opt/good.py")])
    message = str(caught.value)
    assert message.startswith("compiling .pyc failed: ")
    assert "SyntaxError" in message and "/opt/broken.py" in message
    assert not (tmp_path / "broken.pyc").exists()
