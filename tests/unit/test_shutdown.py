"""shutdown: the ``on_shutdown`` hooks, their budget, and the SIGTERM handler that runs them."""

from __future__ import annotations

import io
import os
import signal
import sys
import time
from pathlib import Path
from typing import Iterator, List

import pytest

from children import in_child
from bootstrap_sdk import logs, shutdown


@pytest.fixture(autouse=True)
def _isolated() -> Iterator[io.StringIO]:
    """Each test starts with no hooks, the default budget and a log sink of its own."""
    saved_hooks, saved_budget, saved_sink = list(shutdown._hooks), shutdown.budget_seconds(), logs._sink
    shutdown._hooks[:] = []
    out = io.StringIO()
    logs._sink = logs.LogSink("Text", "", out)
    try:
        yield out
    finally:
        shutdown._hooks[:] = saved_hooks
        shutdown.set_budget(saved_budget)
        logs._sink = saved_sink
        logs.set_request_id(None)


def _lines(out: io.StringIO) -> List[List[str]]:
    """Each log line as [level, time, request id, message]."""
    return [line.split("\t", 3) for line in out.getvalue().splitlines()]


def test_on_shutdown_works_as_a_decorator():
    @shutdown.on_shutdown
    def close_pool() -> str:
        return "closed"

    assert close_pool() == "closed"  # the decorator gives the function back
    assert shutdown.hooks() == [close_pool]


def test_hooks_returns_a_copy():
    shutdown.on_shutdown(print)
    copy = shutdown.hooks()
    copy.clear()
    assert shutdown.hooks() == [print]


def test_hooks_run_in_registration_order():
    ran: List[str] = []
    for name in ["db", "cache", "metrics", "files"]:
        shutdown.on_shutdown(lambda name=name: ran.append(name))
    shutdown.run_hooks(5.0)
    assert ran == ["db", "cache", "metrics", "files"]


def test_a_failing_hook_is_logged_and_the_rest_still_run(_isolated):
    ran: List[str] = []

    def first() -> None:
        ran.append("first")

    def broken() -> None:
        raise ValueError("socket already closed")

    def last() -> None:
        ran.append("last")

    for hook in (first, broken, last):
        shutdown.on_shutdown(hook)
    shutdown.run_hooks(5.0)
    assert ran == ["first", "last"]
    errors = [line for line in _lines(_isolated) if line[0] == "[ERROR]"]
    assert len(errors) == 1
    message = errors[0][3]
    assert "test_a_failing_hook_is_logged_and_the_rest_still_run.<locals>.broken" in message
    assert message.endswith("failed: ValueError: socket already closed")


def test_once_the_budget_is_spent_the_rest_are_skipped_with_a_warning(_isolated):
    ran: List[str] = []

    def slow() -> None:
        time.sleep(0.3)
        ran.append("slow")

    shutdown.on_shutdown(slow)
    shutdown.on_shutdown(lambda: ran.append("second"))
    shutdown.on_shutdown(lambda: ran.append("third"))
    shutdown.set_budget(0.05)
    assert shutdown.budget_seconds() == 0.05
    shutdown.run_hooks(shutdown.budget_seconds())
    assert ran == ["slow"]
    warnings = [line[3] for line in _lines(_isolated) if line[0] == "[WARN]"]
    assert warnings == ["shutdown budget spent: 2 hook(s) skipped"]


def test_a_zero_budget_skips_every_hook(_isolated):
    ran: List[str] = []
    shutdown.on_shutdown(lambda: ran.append("a"))
    shutdown.on_shutdown(lambda: ran.append("b"))
    shutdown.run_hooks(0)
    assert ran == []
    assert [line[3] for line in _lines(_isolated)] == ["shutdown budget spent: 2 hook(s) skipped"]


def test_no_hooks_no_logs(_isolated):
    shutdown.run_hooks(1.0)
    assert _isolated.getvalue() == ""


# -- SIGTERM, in a forked child: the handler ends the process ------------------------------

def _child_logs(path: Path) -> None:
    logs._sink = logs.LogSink("Text", "", open(path, "w"))


def test_sigterm_runs_the_hooks_and_exits_0(tmp_path):
    record = tmp_path / "hooks"
    log = tmp_path / "log"

    def child() -> None:
        _child_logs(log)
        shutdown.on_shutdown(lambda: record.write_text("first\n"))
        shutdown.on_shutdown(lambda: record.write_text(record.read_text() + "second\n"))
        shutdown.install_sigterm_handler()
        assert signal.getsignal(signal.SIGTERM) is shutdown._exit_after_hooks
        logs.set_request_id("req-in-flight")
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(20)  # the handler exits before this returns

    assert in_child(tmp_path, child) == 0, (tmp_path / "child-traceback").read_text()
    assert record.read_text() == "first\nsecond\n"
    lines = [line.split("\t", 3) for line in log.read_text().splitlines()]
    assert ["[INFO]", "", "SIGTERM received: running 2 shutdown hook(s)"] == [lines[0][0]] + lines[0][2:]


def test_sigterm_honours_the_budget(tmp_path):
    record = tmp_path / "hooks"
    log = tmp_path / "log"

    def child() -> None:
        _child_logs(log)

        def slow() -> None:
            time.sleep(0.3)
            record.write_text("slow\n")

        shutdown.on_shutdown(slow)
        shutdown.on_shutdown(lambda: record.write_text("skipped\n"))
        shutdown.set_budget(0.05)
        shutdown.install_sigterm_handler()
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(20)

    assert in_child(tmp_path, child) == 0
    assert record.read_text() == "slow\n"
    assert "shutdown budget spent: 1 hook(s) skipped" in log.read_text()


def test_install_sigterm_handler_takes_another_handler(tmp_path):
    seen = tmp_path / "seen"

    def child() -> None:
        def mine(signum: int, frame: object) -> None:
            seen.write_text(str(signum))
            os._exit(7)

        shutdown.install_sigterm_handler(mine)
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(20)

    assert in_child(tmp_path, child) == 7
    assert seen.read_text() == str(int(signal.SIGTERM))


def test_a_hook_that_calls_sys_exit_does_not_stop_the_others(tmp_path):
    record = tmp_path / "hooks"

    def child() -> None:
        shutdown.on_shutdown(lambda: sys.exit(3))
        shutdown.on_shutdown(lambda: record.write_text("ran"))
        shutdown.install_sigterm_handler()
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(20)

    code = in_child(tmp_path, child)
    assert record.exists() and record.read_text() == "ran"
    assert code == 0
