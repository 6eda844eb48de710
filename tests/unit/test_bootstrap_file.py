"""bootstrap_file (packaging/bootstrap_file.py): the bootstrap Lambda executes, started for real here."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

from bootstrap_sdk.packaging.bootstrap_file import REPO_ROOT, template_path, write_bootstrap, write_peer_bootstrap

PEER = """\
import json, os, sys
print(json.dumps({"argv": sys.argv[1:], "pythonpath": os.environ.get("PYTHONPATH"), "module": __file__}))
"""


def run(path: Path, env: dict, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(path)], capture_output=True, text=True, env=env, cwd=str(cwd), timeout=60)


def test_the_template_is_found():
    path = template_path("bootstrap.in")
    assert path.is_file()
    assert path in (REPO_ROOT / "templates" / "bootstrap.in",
                    Path(__file__).resolve().parents[2] / "bootstrap_sdk" / "templates" / "bootstrap.in")
    assert path.read_text().splitlines()[0] == "#!{python} -IS"


def test_write_bootstrap_starts_the_runtime_which_needs_the_runtime_api(tmp_path):
    bootstrap = write_bootstrap(tmp_path / "bootstrap")
    assert bootstrap == tmp_path / "bootstrap"
    assert stat.S_IMODE(bootstrap.stat().st_mode) == 0o755
    lines = bootstrap.read_text().splitlines()
    assert lines[0] == "#!%s -IS" % sys.executable
    assert "sys.path[:0] = %r" % [str(REPO_ROOT)] in lines
    done = run(bootstrap, {}, tmp_path)
    assert done.returncode == 2, done.stderr
    assert done.stderr == "", "the runtime logs to stdout, as Lambda collects it"
    [line] = done.stdout.splitlines()
    assert line.startswith("[ERROR]") and "AWS_LAMBDA_RUNTIME_API is not set" in line


def test_the_bootstrap_uses_its_own_sys_path_and_ignores_pythonpath(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    bootstrap = write_bootstrap(tmp_path / "bootstrap", python=sys.executable, sys_path=[str(empty)])
    done = run(bootstrap, {"PYTHONPATH": str(REPO_ROOT), "AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9"}, REPO_ROOT)
    assert done.returncode == 1
    assert "ModuleNotFoundError: No module named 'bootstrap_sdk'" in done.stderr


def test_write_bootstrap_replaces_an_existing_file_and_makes_it_executable(tmp_path):
    target = tmp_path / "bootstrap"
    target.write_text("old")
    target.chmod(0o600)
    write_bootstrap(target, python="/opt/python/bin/python3.12", sys_path=["/opt/a", "/opt/b"])
    text = target.read_text()
    assert text.startswith("#!/opt/python/bin/python3.12 -IS\n")
    assert "sys.path[:0] = ['/opt/a', '/opt/b']" in text.splitlines()
    assert "{python}" not in text and "{sys_path}" not in text
    assert stat.S_IMODE(target.stat().st_mode) == 0o755


def test_write_peer_bootstrap_runs_the_module_with_the_handler(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "peer_client.py").write_text(PEER)
    other = tmp_path / "other"
    other.mkdir()
    bootstrap = write_peer_bootstrap(tmp_path / "bootstrap", module="peer_client", sys_path=[str(site), str(other)])
    assert stat.S_IMODE(bootstrap.stat().st_mode) == 0o755
    assert bootstrap.read_text().startswith("#!%s\n" % sys.executable)
    done = run(bootstrap, {"_HANDLER": "app.handler", "PATH": "/usr/bin:/bin"}, tmp_path)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen == {"argv": ["app.handler"], "pythonpath": os.pathsep.join([str(site), str(other)]),
                    "module": str(site / "peer_client.py")}


def test_write_peer_bootstrap_without_a_path_passes_the_environment_through(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "peer_client.py").write_text(PEER)
    bootstrap = write_peer_bootstrap(tmp_path / "bootstrap", module="peer_client")
    done = run(bootstrap, {"_HANDLER": "h.f", "PYTHONPATH": str(site)}, tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["pythonpath"] == str(site)
    missing = run(bootstrap, {"PYTHONPATH": str(site)}, tmp_path)
    assert missing.returncode == 1 and "KeyError: '_HANDLER'" in missing.stderr


def test_write_bootstrap_gives_an_absolute_path_for_a_relative_one(tmp_path, monkeypatch):
    """exec() looks a bare name up on PATH: a relative `bootstrap` must come back absolute."""
    monkeypatch.chdir(tmp_path)
    written = write_bootstrap(Path("bootstrap"))
    assert written == tmp_path / "bootstrap" and written.is_absolute()
