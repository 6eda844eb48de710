"""Multi-concurrency (Lambda Managed Instances): a pool of forked workers.

The initialised process (handler imported, extension registered) forks
``AWS_LAMBDA_MAX_CONCURRENCY`` workers; each opens its own Runtime API connection and runs
its own next → handle → respond loop, and the Runtime API matches answers by request
id. Processes rather than threads, as in the managed Python runtime: CPU-bound handlers
run in parallel, and per-process state such as ``_X_AMZN_TRACE_ID`` stays per invoke.

Each worker's loop turns whatever its handler raises (``SystemExit`` and
``KeyboardInterrupt`` included) into that invoke's error, as the single loop does, so a
worker stops only when its process is killed, exits (``os._exit`` in a handler) or the
runtime itself fails. The parent supervises: a worker that dies of anything but a broken
Runtime API is replaced; a broken Runtime API (worker exit 1) ends the whole runtime with 1; SIGTERM is
passed to the workers, which run their shutdown hooks, and the parent exits 0.
"""

from __future__ import annotations

import os
import sys
import time

from . import logs, shutdown
from .errors import EXIT_FATAL
from .invoke_loop import InvokeLoop
from .runtime_api import RuntimeApiClient, RuntimeApiError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Dict

    from .context import FunctionInfo
    from .runtime_api import Backoff

_RESPAWN_PAUSE = 0.1  # keeps a worker that dies at once from spinning the parent


class WorkerPool:
    def __init__(self, handler: Callable[..., Any], address: str, count: int, function: FunctionInfo,
                 backoff: Backoff, raw_event: bool = False) -> None:
        self.handler = handler
        self.address = address
        self.count = count
        self.function = function
        self.backoff = backoff
        self.raw_event = raw_event
        self.children: Dict[int, int] = {}  # pid → worker number

    def run(self) -> None:
        shutdown.install_sigterm_handler(self._terminate_workers)
        logs.info("starting %d workers" % self.count, workerCount=self.count)
        for number in range(self.count):
            self._spawn(number)
        while True:
            pid, status = os.wait()
            if pid not in self.children:
                continue
            number = self.children.pop(pid)
            code = os.waitstatus_to_exitcode(status) if hasattr(os, "waitstatus_to_exitcode") else status >> 8
            if code == EXIT_FATAL:
                logs.error("worker %d found the Runtime API broken; stopping the runtime" % number)
                self._signal_workers(15)
                sys.exit(EXIT_FATAL)
            how = "was killed by signal %d" % -code if code < 0 else "exited with %d" % code
            logs.error("worker %d %s; starting a new one" % (number, how))
            time.sleep(_RESPAWN_PAUSE)
            self._spawn(number)

    def _spawn(self, number: int) -> None:
        pid = os.fork()
        if pid:
            self.children[pid] = number
            return
        code = 0
        try:
            shutdown.install_sigterm_handler()
            client = RuntimeApiClient(self.address, self.backoff)
            InvokeLoop(self.handler, client, self.function, self.raw_event).serve_forever()
        except RuntimeApiError as exc:
            code = EXIT_FATAL
            logs.error("fatal: %s" % (logs.safe_text(exc),))
        except BaseException as exc:
            code = 3
            logs.error("worker %d stopped: %s: %s" % (number, type(exc).__name__, logs.safe_text(exc)))
        finally:
            sys.stdout.flush()
            os._exit(code)

    def _signal_workers(self, signum: int) -> None:
        for pid in list(self.children):
            try:
                os.kill(pid, signum)
            except ProcessLookupError:
                self.children.pop(pid, None)

    def _terminate_workers(self, signum: int, frame: Any) -> None:
        """SIGTERM in the parent: the workers run their hooks; wait for them, then exit."""
        self._signal_workers(signum)
        deadline = time.monotonic() + shutdown.budget_seconds()
        while self.children and time.monotonic() < deadline:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid:
                self.children.pop(pid, None)
            else:
                time.sleep(0.005)
        self._signal_workers(9)
        sys.stdout.flush()
        os._exit(0)
