"""Fixtures: the real RIE running this runtime (or awslambdaric) on free loopback ports."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional, Sequence

import pytest
from hypothesis import HealthCheck, settings

from bootstrap_sdk.local.bind_exec import command_prefix
from bootstrap_sdk.local.rie import Rie, find_rie
from bootstrap_sdk.packaging.bootstrap_file import write_bootstrap, write_peer_bootstrap

FUNCTIONS = Path(__file__).parent / "functions"

# A shared, noisy 2-core machine: a fixed example budget, no per-example deadline.
settings.register_profile(
    "rie", max_examples=30, deadline=None, derandomize=False,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                           HealthCheck.data_too_large, HealthCheck.large_base_example],
)
settings.load_profile("rie")


@pytest.fixture(scope="session")
def rie_binary() -> str:
    """The RIE is required: a missing one fails loudly instead of skipping."""
    return find_rie()


@pytest.fixture(scope="session")
def runtime_root() -> Iterator[Path]:
    """A world-readable copy of the SDK and the test functions, laid out like a layer.

    The RIE's multi-concurrency mode runs the runtime as uid 993, which cannot enter a
    checkout under a private directory; the interpreter is the real one behind the
    virtualenv, started -IS as a layer's bootstrap starts it.
    """
    root = Path(tempfile.mkdtemp(prefix="bootstrap-sdk-tests-"))
    root.chmod(0o755)
    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(Path(__file__).resolve().parents[1] / "bootstrap_sdk", root / "sdk" / "bootstrap_sdk", ignore=ignore)
    shutil.copytree(Path(__file__).parent / "functions", root / "functions", ignore=ignore)
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


def base_env(handler: str, task_root: Path = FUNCTIONS, **extra: str) -> Dict[str, str]:
    env = {
        "_HANDLER": handler,
        "LAMBDA_TASK_ROOT": str(task_root),
        "AWS_LAMBDA_FUNCTION_NAME": "under-test",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/under-test",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2026/11/27/[$LATEST]0123456789",
        "AWS_REGION": "eu-west-1",
    }
    env.update(extra)
    return env


@pytest.fixture
def start_runtime(rie_binary: str, bootstrap_file: Path, functions_dir: Path, tmp_path: Path) -> Iterator[Callable[..., RuntimeUnderTest]]:
    """Start this runtime under the RIE with ``_HANDLER=handler`` (and extra env)."""
    started: List[RuntimeUnderTest] = []

    def start(handler: str, bootstrap: Optional[List[str]] = None, wrapper: Sequence[str] = (),
              task_root: Optional[str] = None, **env: str) -> RuntimeUnderTest:
        log_path = tmp_path / ("rie-%d.log" % len(started))
        log = open(log_path, "wb")
        root = Path(task_root) if task_root else functions_dir
        rie = Rie(bootstrap or [str(bootstrap_file)], env=base_env(handler, root, **env), log=log,
                  rie=rie_binary, cwd=str(functions_dir), wrapper=wrapper)
        runtime = RuntimeUnderTest(rie, log_path)
        started.append(runtime)
        rie.start()
        return runtime

    yield start
    for runtime in started:
        runtime.stop()


def multi_concurrency_wrapper(task_root: Path) -> List[str]:
    """Argv prefix for the RIE in multi-concurrency mode, which only looks for Lambda's own
    bootstrap paths: ``task_root`` is bind-mounted onto /var/task in a private mount namespace."""
    return command_prefix([(str(task_root), "/var/task")])


def awslambdaric_bootstrap(tmp: Path) -> List[str]:
    """A bootstrap that runs the official client, as its README says: python -m awslambdaric."""
    return [str(write_peer_bootstrap(tmp / "awslambdaric-bootstrap", "awslambdaric"))]


@pytest.fixture(autouse=True, scope="module")
def _no_leaked_processes() -> Iterator[None]:
    """Every test module leaves no RIE or runtime behind."""
    yield
    leftovers = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cmdline = Path("/proc/%s/cmdline" % entry).read_bytes()
            except OSError:
                continue
            if b"aws-lambda-rie" in cmdline and b"127.0.0.1" in cmdline:
                leftovers.append(int(entry))
    assert not leftovers, "RIE processes left running: %s" % leftovers
