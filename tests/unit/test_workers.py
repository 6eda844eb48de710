"""workers: the pool of forked workers (multi-concurrency), supervised by its parent.

Each pool runs in a forked child of the test (it installs a SIGTERM handler and ends with
``os._exit``/``sys.exit``); its workers are that child's children and talk real HTTP to
the fake Runtime API, which runs in threads of the test process.
"""

from __future__ import annotations

import json
import os
import signal
import time
import traceback
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Set

import pytest
from fake_runtime_api import FakeRuntimeApi

from bootstrap_sdk import logs, shutdown
from bootstrap_sdk.context import FunctionInfo
from bootstrap_sdk.errors import EXIT_FATAL
from bootstrap_sdk.runtime_api import Backoff
from bootstrap_sdk.workers import WorkerPool

WAIT = 20.0  # generous: a shared, noisy machine


def handler(event: Dict[str, Any], context: Any) -> Any:
    """Answers with the worker's pid; ``together`` makes that many invokes meet before answering."""
    folder = Path(event["dir"])
    (folder / ("started-%d-%s" % (os.getpid(), context.aws_request_id))).touch()
    if event.get("block"):  # stays in the handler until the test kills this worker
        (folder / "blocked").write_text(str(os.getpid()))
        time.sleep(WAIT * 3)
    if event.get("raise"):  # answered as that invoke's error: the worker serves on
        raise {"KeyboardInterrupt": KeyboardInterrupt, "SystemExit": SystemExit}[event["raise"]]()
    if event.get("die"):
        os._exit(3)  # nothing a handler raises stops a worker; leaving the process does
    deadline = time.monotonic() + WAIT
    while (len([n for n in os.listdir(folder) if n.startswith("started-")]) < event.get("together", 1)
           and time.monotonic() < deadline):
        time.sleep(0.01)
    return os.getpid()


def _children_of(pid: int) -> Set[int]:
    found: Set[int] = set()
    try:
        tasks = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return found
    for task in tasks:
        try:
            with open("/proc/%d/task/%s/children" % (pid, task)) as handle:
                found.update(int(p) for p in handle.read().split())
        except OSError:
            pass
    return found


def _state(pid: int) -> Optional[str]:
    """The process's state letter, or None once it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as handle:
            stat = handle.read()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2:].split()[0]


def _gone(pid: int) -> bool:
    """Not running: absent, or a zombie (reaped here if it was handed to this process)."""
    state = _state(pid)
    if state == "Z":
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        return True
    return state is None


def _wait_until(predicate: Any, what: str, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.01)


class Pool:
    """A WorkerPool running in a forked child of the test."""

    def __init__(self, api: FakeRuntimeApi, tmp_path: Path, count: int) -> None:
        self.log = tmp_path / "pool.log"
        self.hooks = tmp_path / "hooks"
        self.hooks.mkdir()
        self.status: Optional[int] = None
        self.pid = os.fork()
        if self.pid == 0:  # the pool process
            code = 70
            try:
                logs._sink = logs.LogSink("Text", "", open(self.log, "a", buffering=1))
                shutdown._hooks[:] = [lambda: (self.hooks / str(os.getpid())).touch()]
                WorkerPool(handler, api.address, count, FunctionInfo("pool-fn"), Backoff(3)).run()
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 71
            except BaseException:
                code = 72
                traceback.print_exc(file=open(tmp_path / "pool-traceback", "w"))
            finally:
                os._exit(code)

    def wait(self, timeout: float = WAIT) -> int:
        def exited() -> bool:
            done, status = os.waitpid(self.pid, os.WNOHANG)
            if done:
                self.status = status
            return bool(done)

        _wait_until(exited, "the pool to exit", timeout)
        assert self.status is not None
        return os.waitstatus_to_exitcode(self.status)

    def workers(self) -> Set[int]:
        return _children_of(self.pid)

    def log_text(self) -> str:
        return self.log.read_text() if self.log.exists() else ""

    def kill_everything(self) -> None:
        """Teardown: whatever the test left running of the pool goes."""
        if self.status is None:
            for pid in self.workers():
                _kill(pid)
            _kill(self.pid)
            os.waitpid(self.pid, 0)
            self.status = 0
        # Workers outliving the pool were handed to this process (a child subreaper).
        for pid in _children_of(os.getpid()):
            _kill(pid)
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


@pytest.fixture
def api(fresh_api: FakeRuntimeApi) -> FakeRuntimeApi:
    """A fake of each test's own: a killed worker leaves its /next poll waiting in it."""
    return fresh_api


@pytest.fixture
def start_pool(api: FakeRuntimeApi, tmp_path: Path) -> Iterator[Any]:
    pools: List[Pool] = []

    def start(count: int) -> Pool:
        pool = Pool(api, tmp_path, count)
        pools.append(pool)
        return pool

    yield start
    for pool in pools:
        pool.kill_everything()


def _polls(api: FakeRuntimeApi) -> int:
    with api.cond:
        return sum(r.method == "GET" and r.path.endswith("/invocation/next") for r in api.requests)


def _wait_polls(api: FakeRuntimeApi, count: int) -> None:
    api.wait_for(lambda reqs: sum(r.method == "GET" and r.path.endswith("/invocation/next") for r in reqs) >= count,
                 WAIT)


def _round(api: FakeRuntimeApi, tmp_path: Path, name: str, count: int) -> Dict[str, int]:
    """``count`` events that must be served at the same time; request id → the pid that answered."""
    folder = tmp_path / name
    folder.mkdir()
    ids = [api.add_event(json.dumps({"dir": str(folder), "together": count}).encode()) for _ in range(count)]
    api.wait_for(lambda reqs: all(any(r.method == "POST" and r.path.endswith(i + "/response") for r in reqs)
                                  for i in ids), WAIT)
    return {i: api.posts(i + "/response")[0].json() for i in ids}


def test_workers_serve_in_parallel_each_in_its_own_process(api, tmp_path, start_pool):
    pool = start_pool(2)
    _wait_polls(api, 2)  # both workers are waiting for an event
    answers = _round(api, tmp_path, "round1", 2)
    pids = set(answers.values())
    assert len(pids) == 2, answers  # two invokes at once: two different workers answered
    assert pool.pid not in pids
    assert pids == pool.workers()
    assert "starting 2 workers" in pool.log_text()


def test_a_killed_worker_is_replaced_and_the_new_one_serves(api, tmp_path, start_pool):
    pool = start_pool(2)
    _wait_polls(api, 2)
    first = set(_round(api, tmp_path, "round1", 2).values())
    assert len(first) == 2
    _wait_polls(api, 4)  # both back at /next

    blocker = tmp_path / "blocker"
    blocker.mkdir()
    api.add_event(json.dumps({"dir": str(blocker), "block": True}).encode())
    _wait_until(lambda: (blocker / "blocked").exists() and (blocker / "blocked").read_text(), "a worker to block")
    victim = int((blocker / "blocked").read_text())
    assert victim in first
    polls = _polls(api)
    os.kill(victim, signal.SIGKILL)
    _wait_polls(api, polls + 1)  # the replacement asks for work
    _wait_until(lambda: _gone(victim), "the killed worker to be reaped")

    answers = _round(api, tmp_path, "round2", 2)
    after = set(answers.values())
    survivor = (first - {victim}).pop()
    assert len(after) == 2 and survivor in after and victim not in after
    (replacement,) = after - {survivor}
    assert replacement not in first
    assert pool.workers() == {survivor, replacement}
    assert "was killed by signal 9; starting a new one" in pool.log_text()


def test_a_worker_that_stops_on_its_own_is_replaced(api, tmp_path, start_pool):
    pool = start_pool(1)
    _wait_polls(api, 1)
    (worker,) = set(_round(api, tmp_path, "round1", 1).values())
    _wait_polls(api, 2)  # back at /next
    dying = tmp_path / "dying"
    dying.mkdir()
    api.add_event(json.dumps({"dir": str(dying), "die": True}).encode())
    _wait_polls(api, 3)  # the replacement asks for work
    (answer,) = set(_round(api, tmp_path, "round2", 1).values())
    assert answer != worker
    assert "worker 0 exited with 3; starting a new one" in pool.log_text()


@pytest.mark.parametrize("kind", ["KeyboardInterrupt", "SystemExit"])
def test_a_handler_raising_a_base_exception_is_an_error_and_the_worker_serves_on(api, tmp_path, start_pool, kind):
    pool = start_pool(1)
    _wait_polls(api, 1)
    (worker,) = set(_round(api, tmp_path, "round1", 1).values())
    raising = tmp_path / "raising"
    raising.mkdir()
    request_id = api.add_event(json.dumps({"dir": str(raising), "raise": kind}).encode())
    (error,) = api.wait_posts(request_id + "/error", timeout=WAIT)
    assert error.json()["errorType"] == kind
    (answer,) = set(_round(api, tmp_path, "round2", 1).values())
    assert answer == worker  # the same process: it did not stop
    assert pool.workers() == {worker}
    assert "starting a new one" not in pool.log_text()


def test_sigterm_ends_the_pool_with_0_after_the_workers_ran_their_hooks(api, tmp_path, start_pool):
    pool = start_pool(2)
    _wait_polls(api, 2)
    workers = set(_round(api, tmp_path, "round1", 2).values())
    _wait_polls(api, 4)  # idle again, in /next
    os.kill(pool.pid, signal.SIGTERM)
    assert pool.wait() == 0
    _wait_until(lambda: all(_gone(pid) for pid in workers), "the workers to be gone")
    assert {int(name) for name in os.listdir(pool.hooks)} == workers  # each ran its shutdown hooks
    assert "SIGTERM received: running 1 shutdown hook(s)" in pool.log_text()


def test_a_runtime_api_answering_500_to_next_ends_the_pool_with_1(api, tmp_path, start_pool):
    api.next_status = 500
    pool = start_pool(2)
    assert pool.wait() == EXIT_FATAL
    text = pool.log_text()
    assert "answered 500" in text
    assert "found the Runtime API broken; stopping the runtime" in text
    assert "starting a new one" not in text  # a broken Runtime API is not a worker to replace
    _wait_until(lambda: not _children_of(os.getpid()) or all(_gone(p) for p in _children_of(os.getpid())),
                "the workers to be gone")
