"""What a cold start may import beyond the interpreter's own start-up, and how to see it.

Every module here is paid for by each cold start (docs/facts.md#start-up-costs): ``json``
(it brings ``re``, ``enum``, ``functools``, ``collections``: ~8 ms) and ``os`` (~1.2 ms)
are not in it. ``tests/unit/test_imports.py`` checks the imports with ``-X importtime``;
``tests/integration/test_runtime_under_rie.py`` checks a real first invoke's modules.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Set

REPO = Path(__file__).resolve().parents[1]

COLD_START_STDLIB = {"__future__", "_json", "_socket", "_stat", "gc"}
COLD_START_RUNTIME = {"bootstrap_sdk"} | {"bootstrap_sdk." + name for name in (
    "entry", "settings", "environment", "json_text", "logs", "errors", "http_connection",
    "runtime_api", "context", "payload", "shutdown", "invoke_loop", "python_handler", "adapter",
    "adapter.command")}


def imported_modules(code: str, python: str = sys.executable) -> Set[str]:
    """The modules ``code`` imports in a fresh ``-I -S`` interpreter, as ``-X importtime`` lists them."""
    result = subprocess.run([python, "-I", "-S", "-X", "importtime", "-c",
                             "import sys; sys.path[:0] = [%r]; %s" % (str(REPO), code)],
                            capture_output=True, text=True, check=True)
    lines = [line for line in result.stderr.splitlines() if line.startswith("import time:")]
    assert lines, result.stderr
    return {line.split("|")[2].strip() for line in lines[1:]}  # the first line is the header


def interpreter_modules(python: str = sys.executable) -> Set[str]:
    """``sys.modules`` of a bare ``-I -S`` interpreter: what every Python start holds anyway."""
    result = subprocess.run([python, "-I", "-S", "-c", "import sys; print(' '.join(sys.modules))"],
                            capture_output=True, text=True, check=True)
    return set(result.stdout.split())
