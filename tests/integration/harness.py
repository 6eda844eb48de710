"""Helpers the integration tests share: the environment Lambda gives a function, and the
argv prefixes that start the RIE in multi-concurrency mode or run the peer runtime."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Dict, List

from bootstrap_sdk.local.bind_exec import command_prefix
from bootstrap_sdk.local.sandbox import SANDBOX_GID, SANDBOX_UID
from bootstrap_sdk.packaging.bootstrap_file import write_peer_bootstrap

FUNCTIONS = Path(__file__).parent / "functions"
UNPRIVILEGED = (SANDBOX_UID, SANDBOX_GID)
PEER_PACKAGES = ("awslambdaric", "runtime_client", "simplejson", "snapshot_restore_py")


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


def runtime_pid(runtime: Any) -> int:
    """The runtime process under a started RIE (the bootstrap's python)."""
    for pid in runtime.rie.runtime_pids():
        try:
            cmdline = Path("/proc/%d/cmdline" % pid).read_bytes()
        except OSError:
            continue
        if b"bootstrap" in cmdline and b"python" in cmdline:
            return int(pid)
    raise AssertionError("runtime process not found")


def overlapping_invokes(runtime: Any, body: bytes, count: int) -> List[Any]:
    """``count`` invokes at once, from threads, each retried until a worker takes it (until
    every worker polls /next the RIE answers "no idle runtimes"); their JSON answers."""
    import threading
    import time

    results: List[Any] = []

    def call() -> None:
        invoker = runtime.rie.invoker()
        for _ in range(200):
            result = invoker.invoke(body)
            if b"Runtime.Unavailable" not in result.body:
                break
            time.sleep(0.02)
        results.append(result.json())

    threads = [threading.Thread(target=call) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results
