"""Processes in unit tests: is a pid alive, and run a body in a forked child."""

from __future__ import annotations

import os
import signal
import time
import traceback
from pathlib import Path
from typing import Callable

import pytest


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def in_child(tmp_path: Path, body: Callable[[], object], timeout: float = 30.0) -> int:
    """Run ``body`` in a forked child and return its exit code: sys.exit's code, 70 if
    ``body`` returned, 71 if it raised (the traceback is in tmp_path/child-traceback)."""
    pid = os.fork()
    if pid == 0:
        code = 70
        try:
            body()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 72
        except BaseException:
            code = 71
            with open(tmp_path / "child-traceback", "w") as handle:
                traceback.print_exc(file=handle)
        finally:
            os._exit(code)
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            pytest.fail("the child did not exit")
        time.sleep(0.01)
