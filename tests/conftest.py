"""Fixtures: the real RIE running this runtime (or awslambdaric) on free loopback ports.

As on Lambda, the runtime runs unprivileged (uid 993, gid 990, no supplementary groups)
over code it cannot write: the SDK, the test functions, the RIE and the peer runtime are
copied into a root-owned, world-readable directory first. Only tests about privileges
(the RIE's multi-concurrency mode, which itself starts the runtime as uid 993) run the
RIE as root. The pytest process is a child subreaper, so every process the suite starts,
and every orphan of those, stays its descendant: the leak check counts exactly those.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import pytest
from hypothesis import HealthCheck, settings

from bootstrap_sdk.local import syscalls
from bootstrap_sdk.local.bind_exec import command_prefix
from bootstrap_sdk.local.rie import Rie, find_rie
from bootstrap_sdk.local.sandbox import SANDBOX_GID, SANDBOX_UID
from bootstrap_sdk.packaging.bootstrap_file import write_bootstrap, write_peer_bootstrap

FUNCTIONS = Path(__file__).parent / "functions"
UNPRIVILEGED = (SANDBOX_UID, SANDBOX_GID)
PEER_PACKAGES = ("awslambdaric", "runtime_client", "simplejson", "snapshot_restore_py")
PR_SET_CHILD_SUBREAPER = 36

syscalls.prctl(PR_SET_CHILD_SUBREAPER, 1)

# A shared, noisy 2-core machine: a fixed example budget, no per-example deadline.
settings.register_profile(
    "rie", max_examples=30, deadline=None, derandomize=False,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                           HealthCheck.data_too_large, HealthCheck.large_base_example],
)
settings.load_profile("rie")


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
    shutil.copytree(Path(__file__).resolve().parents[1] / "bootstrap_sdk", root / "sdk" / "bootstrap_sdk", ignore=ignore)
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


def multi_concurrency_wrapper(task_root: Path) -> List[str]:
    """Argv prefix for the RIE in multi-concurrency mode, which only looks for Lambda's own
    bootstrap paths: ``task_root`` is bind-mounted onto /var/task in a private mount namespace."""
    return command_prefix([(str(task_root), "/var/task")])


def awslambdaric_bootstrap(runtime_root: Path) -> List[str]:
    """A bootstrap that runs the official client, as its README says: python -m awslambdaric,
    with the client installed next to the code (``runtime_root/peer``)."""
    path = runtime_root / "awslambdaric-bootstrap"
    if not path.exists():
        write_peer_bootstrap(path, "awslambdaric", python=os.path.realpath(sys.executable),
                             sys_path=[str(runtime_root / "peer")])
    return [str(path)]


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


def _descendants_alive() -> List[str]:
    """Processes the suite started that still run (zombies among them are reaped)."""
    children: Dict[int, List[int]] = {}
    states: Dict[int, Tuple[str, str]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path("/proc/%s/stat" % entry).read_text(errors="replace")
        except OSError:
            continue
        name, rest = stat[stat.index("(") + 1:stat.rindex(")")], stat[stat.rindex(")") + 2:].split()
        children.setdefault(int(rest[1]), []).append(int(entry))
        states[int(entry)] = (rest[0], name)
    found, queue = [], [os.getpid()]
    while queue:
        for child in children.get(queue.pop(), []):
            queue.append(child)
            state, name = states[child]
            if state == "Z":
                try:
                    os.waitpid(child, os.WNOHANG)
                except ChildProcessError:
                    pass
            else:
                found.append("%d (%s)" % (child, name))
    return found


@pytest.fixture(autouse=True, scope="module")
def _no_leaked_processes() -> Iterator[None]:
    """Every test module leaves behind no process it started (no RIE, runtime, program or
    orphan: only the suite's own descendants count, not other RIEs on the machine), no
    sandbox cgroup and no mount."""
    yield
    deadline = time.monotonic() + 5  # a process being stopped may take a moment to go
    while _descendants_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    leftovers = _descendants_alive()
    assert not leftovers, "processes left running: %s" % leftovers
    cgroups = []
    for base, dirs, _ in os.walk("/sys/fs/cgroup"):
        cgroups += [os.path.join(base, d) for d in dirs if d.startswith("bootstrap-sdk-%d-" % os.getpid())]
    assert not cgroups, "sandbox cgroups left behind: %s" % cgroups
    with open("/proc/self/mountinfo") as handle:
        mounts = [line.split()[4] for line in handle if "lambda-sandbox-" in line or "/pytest-of-" in line]
    assert not mounts, "mounts left behind: %s" % mounts
