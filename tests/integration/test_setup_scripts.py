"""The set-up scripts, run as a user runs them: what they print, and their exit codes.

Each step prints one line on stderr, ``setup: WHAT ... already there`` or
``... installed (N s)``; the tools' own output goes to ``.tools/setup.log``, whose tail is
printed when a step fails. Nothing here reaches the network or runs apt-get: an
``apt-get`` that refuses comes first on PATH, pip has no index and Go no proxy. Trees that
must install something are copies of the scripts in a temporary directory, next to a
pyproject.toml whose build backend is a file beside it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Dict, List, NamedTuple, Optional

import pytest

ROOT = Path(__file__).resolve().parents[2]
ALREADY_THERE = re.compile(r"setup: \S.* \.\.\. already there")
INSTALLED = re.compile(r"setup: \S.* \.\.\. installed \(\d+ s\)")
VENV_STEP = "setup: .venv with bootstrap-sdk and its test tools ... "

# A project pip can install offline: its own build backend (next to it) makes a wheel of
# nothing but its metadata, so no setuptools or wheel need be found anywhere.
PROBE_PYPROJECT = """\
[build-system]
requires = []
build-backend = "probe_backend"
backend-path = ["."]

[project]
name = "setup-probe"
version = "0"

[project.optional-dependencies]
test = []
"""
PROBE_BACKEND = '''\
import base64, hashlib, os, zipfile

DIST = "setup_probe-0.dist-info"
FILES = {DIST + "/METADATA": "Metadata-Version: 2.1\\nName: setup-probe\\nVersion: 0\\nProvides-Extra: test\\n",
         DIST + "/WHEEL": "Wheel-Version: 1.0\\nGenerator: probe\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n"}


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    name = "setup_probe-0-py3-none-any.whl"
    record = []
    with zipfile.ZipFile(os.path.join(wheel_directory, name), "w") as wheel:
        for path, text in FILES.items():
            data = text.encode()
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            wheel.writestr(path, data)
            record.append("%s,sha256=%s,%d\\n" % (path, digest, len(data)))
        wheel.writestr(DIST + "/RECORD", "".join(record) + DIST + "/RECORD,,\\n")
    return name


build_editable = build_wheel
'''

# A project whose build fails in its own backend, before anything could be downloaded.
BROKEN_PYPROJECT = """\
[build-system]
requires = []
build-backend = "broken_backend"
backend-path = ["."]

[project]
name = "broken"
version = "0"
"""
BROKEN_MESSAGE = "this build backend is broken on purpose"


class Run(NamedTuple):
    code: int
    stdout: str
    stderr: str

    def lines(self) -> List[str]:
        return (self.stdout + self.stderr).splitlines()


def offline_env(tmp_path: Path) -> Dict[str, str]:
    """The caller's environment, with nothing a script could install from: apt-get refuses,
    pip has no index, Go fetches no module and no toolchain."""
    fake_bin = tmp_path / "no-apt"
    fake_bin.mkdir(exist_ok=True)
    apt_get = fake_bin / "apt-get"
    apt_get.write_text("#!/bin/sh\necho 'apt-get: not run by the tests' >&2\nexit 1\n")
    apt_get.chmod(0o755)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("PIP_") and k not in ("PYTHONPATH", "VIRTUAL_ENV", "SETUP_LOG_BEGUN")}
    env.update(PATH="%s:%s" % (fake_bin, env.get("PATH", "/usr/bin:/bin")),
               PIP_NO_INDEX="1", GOPROXY="off", GOTOOLCHAIN="local")
    return env


def run_script(tree: Path, name: str, env: Dict[str, str]) -> Run:
    done = subprocess.run(["bash", str(tree / "scripts" / name)], cwd=str(tree), env=env,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300)
    return Run(done.returncode, done.stdout, done.stderr)


def copy_tree(tmp_path: Path, pyproject: str) -> Path:
    """The set-up scripts next to another pyproject.toml, with the RIEs already there (links
    to this tree's, x86_64 and arm64), so only the venv step has anything to do."""
    tree = tmp_path / "tree"
    (tree / "scripts").mkdir(parents=True)
    for name in ("setup.sh", "install-rie.sh"):
        shutil.copy(ROOT / "scripts" / name, tree / "scripts" / name)
    (tree / "pyproject.toml").write_text(pyproject)
    (tree / "probe_backend.py").write_text(PROBE_BACKEND)
    bin_dir = tree / ".tools" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "aws-lambda-rie").symlink_to(ROOT / ".tools" / "bin" / "aws-lambda-rie")
    shutil.copy(ROOT / ".tools" / "bin" / ".aws-lambda-rie.version", bin_dir)
    (bin_dir / "arm64").mkdir()
    (bin_dir / "arm64" / "aws-lambda-rie").symlink_to(ROOT / ".tools" / "bin" / "arm64" / "aws-lambda-rie")
    shutil.copy(ROOT / ".tools" / "bin" / "arm64" / ".aws-lambda-rie.version", bin_dir / "arm64")
    (tree / "bootstrap_sdk" / "packaging").mkdir(parents=True)
    shutil.copy(ROOT / "bootstrap_sdk" / "packaging" / "sysroot.py", tree / "bootstrap_sdk" / "packaging")
    (tree / ".tools" / "sysroot").mkdir()
    (tree / ".tools" / "sysroot" / "arm64").symlink_to(ROOT / ".tools" / "sysroot" / "arm64")
    return tree


def log_state(path: Path) -> Optional[tuple]:
    return (path.stat().st_mtime_ns, path.read_bytes()) if path.exists() else None


@pytest.mark.parametrize("script, steps", [("setup.sh", 5), ("install-rie.sh", 2), ("install-sam.sh", 1)])
def test_set_up_tree_prints_one_already_there_line_per_step(script: str, steps: int, tmp_path: Path) -> None:
    """The common case, every test run: nothing to do, said in a line a step and nothing
    else, and the log of the last real installation is left as it was."""
    log = ROOT / ".tools" / "setup.log"
    before = log_state(log)
    done = run_script(ROOT, script, offline_env(tmp_path))
    hint = "scripts/test.sh sets up this tree first; output:\n" + done.stderr
    assert done.code == 0, hint
    assert done.stdout == "", "set-up lines go to stderr (main-job.sh's stdout is the example's)"
    assert len(done.lines()) == steps, hint
    assert all(ALREADY_THERE.fullmatch(line) for line in done.lines()), hint
    assert log_state(log) == before


def test_fresh_venv_is_installed_then_already_there(tmp_path: Path) -> None:
    """A first run installs and says how long it took; a second is a no-op; a changed
    pyproject.toml makes the venv step run again."""
    tree = copy_tree(tmp_path, PROBE_PYPROJECT)
    env = offline_env(tmp_path)
    log = tree / ".tools" / "setup.log"

    first = run_script(tree, "setup.sh", env)
    assert first.code == 0, first.stderr + log.read_text(errors="replace")
    lines = first.lines()
    assert len(lines) == 5, first.stderr
    assert ALREADY_THERE.fullmatch(lines[0]) and lines[0].startswith("setup: Debian packages")
    assert INSTALLED.fullmatch(lines[1]) and lines[1].startswith(VENV_STEP), first.stderr
    assert ALREADY_THERE.fullmatch(lines[2]) and lines[2].startswith("setup: arm64 sysroot ")
    assert ALREADY_THERE.fullmatch(lines[3]) and lines[3].startswith("setup: aws-lambda-rie ")
    assert ALREADY_THERE.fullmatch(lines[4]) and lines[4].startswith("setup: aws-lambda-rie ")
    assert " for arm64 in .tools/bin/arm64 " in lines[4]
    assert "Successfully installed setup-probe" in log.read_text()  # pip's words: in the log only
    assert (tree / ".venv" / ".setup-stamp").exists()

    logged = log_state(log)
    second = run_script(tree, "setup.sh", env)
    assert second.code == 0 and len(second.lines()) == 5, second.stderr
    assert all(ALREADY_THERE.fullmatch(line) for line in second.lines()), second.stderr
    assert log_state(log) == logged

    (tree / "pyproject.toml").write_text(PROBE_PYPROJECT + "# changed\n")
    third = run_script(tree, "setup.sh", env)
    assert third.code == 0, third.stderr
    assert [INSTALLED.fullmatch(line) is not None for line in third.lines()] == [False, True, False, False, False], \
        third.stderr


def test_failing_step_is_named_with_its_log_tail_and_path(tmp_path: Path) -> None:
    """When pip fails, the user sees which step, why (the end of pip's output) and where the
    whole log is, and the script stops there with a non-zero exit code."""
    tree = copy_tree(tmp_path, BROKEN_PYPROJECT)
    (tree / "broken_backend.py").write_text("raise RuntimeError(%r)\n" % BROKEN_MESSAGE)
    log = tree / ".tools" / "setup.log"

    done = run_script(tree, "setup.sh", offline_env(tmp_path))
    assert done.code != 0
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert lines[0].startswith("setup: Debian packages") and ALREADY_THERE.fullmatch(lines[0])
    assert lines[1].startswith(VENV_STEP + "FAILED (exit "), done.stderr
    tail = lines[2:-1]
    assert 0 < len(tail) <= 40 and any(BROKEN_MESSAGE in line for line in tail), done.stderr
    assert lines[-1] == "setup: the whole log is %s" % log
    assert BROKEN_MESSAGE in log.read_text()
    assert "aws-lambda-rie" not in done.stderr  # it stopped at the failed step
    assert not (tree / ".venv" / ".setup-stamp").exists()  # so the next run tries again
