"""environment: what os.environ and os.path answer, without importing os on the start path."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from bootstrap_sdk import environment


def test_a_variable_set_or_unset_is_seen_by_os_environ_and_by_children(monkeypatch):
    monkeypatch.delenv("ENVIRONMENT_TEST_VARIABLE", raising=False)
    environment.set_variable("ENVIRONMENT_TEST_VARIABLE", "Root=1-abc;Sampled=1")
    try:
        assert os.environ["ENVIRONMENT_TEST_VARIABLE"] == "Root=1-abc;Sampled=1"
        child = subprocess.run([sys.executable, "-c", "import os; print(os.environ['ENVIRONMENT_TEST_VARIABLE'])"],
                               capture_output=True, text=True, check=True)
        assert child.stdout.strip() == "Root=1-abc;Sampled=1"
        assert environment.variables()["ENVIRONMENT_TEST_VARIABLE"] == "Root=1-abc;Sampled=1"
    finally:
        environment.unset_variable("ENVIRONMENT_TEST_VARIABLE")
    assert "ENVIRONMENT_TEST_VARIABLE" not in os.environ
    child = subprocess.run([sys.executable, "-c", "import os; print('ENVIRONMENT_TEST_VARIABLE' in os.environ)"],
                           capture_output=True, text=True, check=True)
    assert child.stdout.strip() == "False"
    environment.unset_variable("ENVIRONMENT_TEST_VARIABLE")  # unsetting what is not set is no error


def test_variables_is_a_copy_of_os_environ_undecodable_bytes_included(monkeypatch):
    monkeypatch.setenv("ENVIRONMENT_TEST_BYTES", os.fsdecode(b"caf\xe9"))
    assert environment.variables() == dict(os.environ)
    assert environment.variables()["ENVIRONMENT_TEST_BYTES"] == "caf\udce9"


def test_file_checks_answer_as_os_path(tmp_path):
    (tmp_path / "plain").write_text("x")
    (tmp_path / "tool").write_text("#!/bin/sh\n")
    (tmp_path / "tool").chmod(0o755)
    (tmp_path / "dir").mkdir()
    (tmp_path / "link-to-tool").symlink_to(tmp_path / "tool")
    (tmp_path / "dangling").symlink_to(tmp_path / "missing")
    for name in ("plain", "tool", "dir", "link-to-tool", "dangling", "missing", "nul\0byte", ""):
        path = str(tmp_path / name) if name else ""
        assert environment.is_file(path) == os.path.isfile(path), name
        assert environment.is_dir(path) == os.path.isdir(path), name
        assert environment.is_executable_file(path) == (os.path.isfile(path) and os.access(path, os.X_OK)), name


@pytest.mark.parametrize("directory, name", [("/var/task", "bin/x"), ("/var/task/", "x"), ("", "x"),
                                             (".", "x"), ("/var/task", "/opt/bin/x"), ("a", "")])
def test_join_is_os_path_join(directory, name):
    assert environment.join(directory, name) == os.path.join(directory, name)


def test_the_working_directory_or_none_when_it_is_gone(tmp_path):
    gone = tmp_path / "gone"
    gone.mkdir()
    here = os.getcwd()
    assert environment.working_directory() == here
    os.chdir(gone)
    try:
        gone.rmdir()
        assert environment.working_directory() is None
    finally:
        os.chdir(here)
