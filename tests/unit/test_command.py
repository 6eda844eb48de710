"""command: whether ``_HANDLER`` names a program, its words, and where the program is."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from native import gcc

from bootstrap_sdk.adapter.command import missing_interpreter, names_program, resolve_program, split_command
from bootstrap_sdk.errors import MALFORMED_HANDLER_NAME, InitError
from bootstrap_sdk.packaging.patch import find_patchelf


def _file(path: Path, mode: int = 0o755) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\necho hi\n")
    path.chmod(mode)
    return path


@pytest.fixture
def layout(tmp_path: Path):
    """A task root with bin/payroll, and a PATH of two directories."""
    task = tmp_path / "task"
    _file(task / "bin" / "payroll")
    _file(task / "app.py", 0o644)
    first, second = tmp_path / "opt-bin", tmp_path / "usr-bin"
    _file(first / "report", 0o644)       # on PATH first, but not executable
    _file(second / "report")             # the one that counts
    _file(second / "ledger")
    (first / "ledger").mkdir()           # a directory of that name is no program either
    path = os.pathsep.join([str(first), str(second)])
    return task, path, first, second


# -- names_program -----------------------------------------------------------------------

@pytest.mark.parametrize("handler", ["app.handler", "pkg.sub.mod.fn", "lambda_function.lambda_handler", "", "   "])
def test_python_handler_strings_do_not_name_a_program(layout, handler):
    task, path, _, _ = layout
    assert names_program(handler, str(task), path, False) is False


@pytest.mark.parametrize("handler", ["bin/payroll", "  bin/payroll  ", "report", "ledger"])
def test_an_existing_file_names_a_program(layout, handler):
    task, path, _, _ = layout
    assert names_program(handler, str(task), path, False) is True


def test_an_absolute_path_to_an_existing_file_names_a_program(layout):
    task, path, _, _ = layout
    assert names_program(str(task / "bin" / "payroll"), str(task), path, False) is True
    assert names_program(str(task / "bin" / "missing"), str(task), path, False) is False


@pytest.mark.parametrize("handler", ["bin/missing --strict", "prog 'one arg'", 'prog "x"', "prog\targ",
                                     "app.handler extra"])
def test_a_command_line_names_a_program_even_before_it_exists(layout, handler):
    task, path, _, _ = layout
    assert names_program(handler, str(task), path, False) is True


def test_an_existing_file_ending_in_py_is_a_program_as_the_readme_says(layout):
    """``_HANDLER=report.py``: an existing file, so a program (not module ``report``, function ``py``)."""
    task, path, _, _ = layout
    report = task / "report.py"
    _file(report, 0o755)
    assert names_program("report.py", str(task), path, False) is True
    assert (task / "app.py").is_file()  # not executable: still a program, which then says to chmod it
    assert names_program("app.py", str(task), path, False) is True
    assert names_program("absent.py", str(task), path, False) is False


@pytest.mark.parametrize("handler", ["app.handler", "app.py", ""])
def test_exec_mode_set_means_a_program_whatever_the_string(layout, handler):
    task, path, _, _ = layout
    assert names_program(handler, str(task), path, True) is True


# -- split_command -----------------------------------------------------------------------

@pytest.mark.parametrize("handler, words", [
    ("bin/payroll", ["bin/payroll"]),
    ("bin/payroll --strict  -v", ["bin/payroll", "--strict", "-v"]),
    ("prog 'a b' \"c d\" e\\ f", ["prog", "a b", "c d", "e f"]),
    ("prog '; touch x' '$(id)' '*'", ["prog", "; touch x", "$(id)", "*"]),
    ("prog ''", ["prog", ""]),
])
def test_split_command_splits_like_a_shell_without_running_one(handler, words):
    assert split_command(handler) == words


@pytest.mark.parametrize("handler", ["prog 'unbalanced", 'prog "unbalanced', "prog trailing\\", "", "   ", "\t"])
def test_split_command_rejects_malformed_lines(handler):
    with pytest.raises(InitError) as caught:
        split_command(handler)
    assert caught.value.error_type == MALFORMED_HANDLER_NAME == "Runtime.MalformedHandlerName"
    if handler.strip():
        assert repr(handler) in caught.value.message
    else:  # nothing to quote: the message says where the value comes from instead
        assert "_HANDLER is empty" in caught.value.message and "Handler setting" in caught.value.message


# -- resolve_program ---------------------------------------------------------------------

def test_resolve_relative_to_the_task_root(layout):
    task, path, _, _ = layout
    assert resolve_program("bin/payroll", str(task), path) == str(task / "bin" / "payroll")


def test_resolve_relative_to_the_task_root_gives_an_absolute_path(layout, monkeypatch):
    task, path, _, _ = layout
    monkeypatch.chdir(task.parent)
    assert resolve_program("bin/payroll", "task", path) == str(task / "bin" / "payroll")


def test_resolve_in_the_task_root_does_not_require_the_x_bit(layout):
    # So that the caller can say "not executable" rather than "not found".
    task, path, _, _ = layout
    assert resolve_program("app.py", str(task), path) == str(task / "app.py")


def test_resolve_an_absolute_path(layout, tmp_path):
    task, path, _, second = layout
    assert resolve_program(str(second / "ledger"), str(task), path) == str(second / "ledger")
    assert resolve_program(str(tmp_path / "missing"), str(task), path) is None
    assert resolve_program(str(tmp_path), str(task), path) is None, "a directory is not a program"


def test_resolve_on_path_takes_the_first_executable_file(layout):
    task, path, first, second = layout
    assert (first / "report").is_file()
    assert resolve_program("report", str(task), path) == str(second / "report")
    assert resolve_program("ledger", str(task), path) == str(second / "ledger")


def test_the_task_root_comes_before_path(layout):
    task, path, _, _ = layout
    _file(task / "report")
    assert resolve_program("report", str(task), path) == str(task / "report")


def test_a_name_with_a_slash_is_not_looked_up_on_path(layout, tmp_path):
    task, _, _, _ = layout
    _file(tmp_path / "elsewhere" / "bin" / "tool")
    assert resolve_program("bin/tool", str(task), str(tmp_path / "elsewhere")) is None


@pytest.mark.parametrize("name", ["missing", "bin/missing", "bin"])
def test_resolve_not_found(layout, name):
    task, path, _, _ = layout
    assert resolve_program(name, str(task), path) is None


def test_resolve_with_an_empty_path_finds_nothing_outside_the_task_root(layout, tmp_path, monkeypatch):
    task, _, _, _ = layout
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.chdir(empty)
    assert resolve_program("report", str(task), "") is None
    assert resolve_program("bin/payroll", str(task), "") == str(task / "bin" / "payroll")


# -- missing_interpreter -----------------------------------------------------------------

MAIN = "int main(void) { return 0; }\n"


def test_a_program_whose_loader_exists_can_start(tmp_path):
    assert missing_interpreter(str(gcc(tmp_path / "dynamic", MAIN))) is None
    assert missing_interpreter(str(gcc(tmp_path / "static", MAIN, "-static"))) is None


@pytest.mark.parametrize("loader", ["/lib/ld-musl-x86_64.so.1", "/nonexistent/" + "l" * 200 + ".so"])
def test_a_program_whose_loader_is_missing_is_named_with_its_loader(tmp_path, loader):
    program = gcc(tmp_path / "hello", MAIN)
    subprocess.run([find_patchelf(), "--set-interpreter", loader, str(program)], check=True)
    message = missing_interpreter(str(program))
    assert message is not None
    assert "needs the loader %s" % loader in message
    assert "make-runtime-layer --executable" in message and "--os-userland" in message


def test_a_script_whose_interpreter_is_missing_is_named_with_it(tmp_path):
    script = tmp_path / "tool.sh"
    script.write_text("#!/no/such/bash -e\necho hi\n")
    message = missing_interpreter(str(script))
    assert message is not None and "'#!/no/such/bash'" in message


@pytest.mark.parametrize("head", [b"#!/bin/sh\n", b"#! /bin/sh -e\n", b"#!\n", b"#!env python3\n", b"plain text\n",
                                  b"\x7fELF\x02\x01" + b"\xff" * 200, b"\x7fELF"])
def test_anything_else_is_left_to_exec(tmp_path, head):
    """Relative or existing interpreters, non-ELF files and damaged ELF headers: exec decides."""
    path = tmp_path / "thing"
    path.write_bytes(head)
    assert missing_interpreter(str(path)) is None
    assert missing_interpreter(str(tmp_path / "absent")) is None


def test_the_arguments_setting_follows_the_handler_s_words():
    """Lambda's Handler holds no white space: the arguments come from BOOTSTRAP_SDK_EXEC_ARGS."""
    assert split_command("cobcrun", "-M /var/task/ 'PAY ROLL'") == ["cobcrun", "-M", "/var/task/", "PAY ROLL"]
    assert split_command("bin/tool --a", "") == ["bin/tool", "--a"]


def test_malformed_arguments_are_the_setting_s_fault():
    with pytest.raises(InitError) as caught:
        split_command("cobcrun", "-M 'unbalanced")
    assert caught.value.error_type == "Runtime.InvalidExecutableConfig"
    assert caught.value.message.startswith("BOOTSTRAP_SDK_EXEC_ARGS \"-M 'unbalanced\": ")
