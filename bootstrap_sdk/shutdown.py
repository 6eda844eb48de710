"""Shutdown: SIGTERM runs the ``on_shutdown`` hooks within the budget, then exits 0.

Lambda gives a runtime with an internal extension 500 ms between SIGTERM and SIGKILL
(300 ms when external extensions share the 2,000 ms budget:
docs/facts.md#extensions-and-shutdown). Hooks run in the order
they were registered; once the budget (``BOOTSTRAP_SDK_SHUTDOWN_BUDGET_MS``, default
450 ms) is spent the remaining hooks are skipped and logged, because SIGKILL is next.
"""

from __future__ import annotations

import posix
import sys
import time

from . import logs

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, List

_hooks: List[Callable[[], Any]] = []
_budget = 0.45


def on_shutdown(hook: Callable[[], Any]) -> Callable[[], Any]:
    """Run ``hook()`` when Lambda shuts the environment down; usable as a decorator.

    Registering a hook before the runtime starts makes it register the internal
    extension that gets SIGTERM delivered (see the README).
    """
    _hooks.append(hook)
    return hook


def hooks() -> List[Callable[[], Any]]:
    return list(_hooks)


def set_budget(seconds: float) -> None:
    """How long the hooks may take after SIGTERM (``BOOTSTRAP_SDK_SHUTDOWN_BUDGET_MS``)."""
    global _budget
    _budget = seconds


def budget_seconds() -> float:
    return _budget


def run_hooks(budget: float) -> None:
    deadline = time.monotonic() + budget
    for index, hook in enumerate(_hooks):
        if time.monotonic() >= deadline:
            logs.warning("shutdown budget spent: %d hook(s) skipped" % (len(_hooks) - index))
            return
        try:
            hook()
        except BaseException as exc:  # sys.exit() in a hook must not cut the others, or the exit, short
            logs.error("shutdown hook %s failed: %s: %s"
                       % (getattr(hook, "__qualname__", hook), type(exc).__name__, exc))


def _exit_after_hooks(signum: int, frame: Any) -> None:
    logs.set_request_id(None)
    logs.info("SIGTERM received: running %d shutdown hook(s)" % len(_hooks))
    run_hooks(budget_seconds())
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    # os._exit, not sys.exit: a SystemExit raised in the middle of a handler would be
    # reported as that handler's error instead of ending the process.
    posix._exit(0)


def install_sigterm_handler(handler: Callable[[int, Any], None] = _exit_after_hooks) -> None:
    """Make SIGTERM run ``handler`` (the hooks, by default) in the main thread."""
    import signal

    signal.signal(signal.SIGTERM, handler)
