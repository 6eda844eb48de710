"""Fixtures: the real RIE running this runtime (or awslambdaric) on free loopback ports.

As on Lambda, the runtime runs unprivileged (uid 993, gid 990, no supplementary groups)
over code it cannot write: the files a layer ships (``packaging/runtime_files.py``), the
test functions, the RIE and the peer runtime are copied into a root-owned,
world-readable directory first. Only tests about privileges (the RIE's multi-concurrency
mode, which itself starts the runtime as uid 993) run the RIE as root.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Callable, Iterator, List, Optional, Sequence

import pytest

from bootstrap_sdk.local.rie import Rie, find_rie
from bootstrap_sdk.packaging.bootstrap_file import write_bootstrap
from bootstrap_sdk.packaging.runtime_files import RUNTIME_FILES, SDK_DIR, vendored_sources
from harness import PEER_PACKAGES, UNPRIVILEGED, base_env


@pytest.fixture(scope="session")
def rie_binary(runtime_root: Path) -> str:
    """The RIE is required: a missing one fails loudly instead of skipping. A copy the
    unprivileged user can run, wherever the checkout lives."""
    copy = runtime_root / "bin" / "aws-lambda-rie"
    copy.parent.mkdir(mode=0o755)
    shutil.copy(find_rie(), copy)
    copy.chmod(0o755)
    return str(copy)


@pytest.fixture(scope="session")
def runtime_root() -> Iterator[Path]:
    """A root-owned, world-readable copy of the SDK and the test functions, laid out like a
    layer: the unprivileged runtime can read it and write none of it, as on Lambda, and
    cannot enter a checkout under a private directory. The interpreter is the real one
    behind the virtualenv, started -IS as a layer's bootstrap starts it.
    """
    root = Path(tempfile.mkdtemp(prefix="bootstrap-sdk-tests-"))
    root.chmod(0o755)
    ignore = shutil.ignore_patterns("__pycache__")
    for name in RUNTIME_FILES:  # what a layer ships, and nothing else
        target = root / "sdk" / "bootstrap_sdk" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(SDK_DIR / name, target)
    for source, name in vendored_sources():  # and the third-party files it ships beside it
        (root / "sdk" / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, root / "sdk" / name)
    shutil.copytree(Path(__file__).parent / "functions", root / "functions", ignore=ignore)
    site = Path(__import__("awslambdaric").__file__).resolve().parents[1]
    for name in PEER_PACKAGES:  # awslambdaric as AWS documents it: installed next to the code
        for source in site.glob(name + "*"):
            if source.is_dir():
                shutil.copytree(source, root / "peer" / source.name, ignore=ignore)
            else:
                (root / "peer").mkdir(exist_ok=True)
                shutil.copy(source, root / "peer" / source.name)
    # BOOTSTRAP_SDK_TEST_PYTHON runs the runtime under another interpreter (3.9 to 3.13).
    python = os.environ.get("BOOTSTRAP_SDK_TEST_PYTHON") or os.path.realpath(sys.executable)
    for path in (root / "bootstrap", root / "functions" / "bootstrap"):  # the latter for /var/task
        write_bootstrap(path, python=python, sys_path=[str(root / "sdk")])
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def bootstrap_file(runtime_root: Path) -> Path:
    return runtime_root / "bootstrap"


@pytest.fixture(scope="session")
def functions_dir(runtime_root: Path) -> Path:
    return runtime_root / "functions"


class RuntimeUnderTest:
    """A started RIE plus its log, for assertions on what the runtime printed."""

    def __init__(self, rie: Rie, log_path: Path) -> None:
        self.rie = rie
        self.log_path = log_path
        self.invoke = rie.invoke

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, **kwargs: object) -> Optional[int]:
        return self.rie.stop(**kwargs)  # type: ignore[arg-type]


@pytest.fixture
def start_runtime(rie_binary: str, bootstrap_file: Path, functions_dir: Path, tmp_path: Path) -> Iterator[Callable[..., RuntimeUnderTest]]:
    """Start this runtime under the RIE with ``_HANDLER=handler`` (and extra env)."""
    started: List[RuntimeUnderTest] = []

    def start(handler: str, bootstrap: Optional[List[str]] = None, wrapper: Sequence[str] = (),
              task_root: Optional[str] = None, **env: str) -> RuntimeUnderTest:
        log_path = tmp_path / ("rie-%d.log" % len(started))
        log = open(log_path, "wb")
        root = Path(task_root) if task_root else functions_dir
        # A wrapper (multi-concurrency mode) needs root to mount; the RIE then starts the
        # runtime as uid 993 itself. Otherwise the RIE, and so the runtime, run unprivileged.
        rie = Rie(bootstrap or [str(bootstrap_file)], env=base_env(handler, root, **env), log=log,
                  rie=rie_binary, cwd=str(functions_dir), wrapper=wrapper, user=None if wrapper else UNPRIVILEGED)
        runtime = RuntimeUnderTest(rie, log_path)
        started.append(runtime)
        rie.start()
        return runtime

    yield start
    for runtime in started:
        runtime.stop()


@pytest.fixture(autouse=True)
def _tmp_path_reachable(request: pytest.FixtureRequest) -> None:
    """pytest makes its temporary directories 0700; the unprivileged runtime must reach the
    files tests put there, and write the markers tests look for: each test's tmp_path is
    1777, like /tmp, and its parents may be entered."""
    if "tmp_path" not in request.fixturenames:
        return
    path = Path(request.getfixturevalue("tmp_path"))
    base = Path(request.getfixturevalue("tmp_path_factory").getbasetemp())
    for directory in (path.parent, base, base.parent):
        directory.chmod(directory.stat().st_mode | 0o055)
    path.chmod(0o1777)
