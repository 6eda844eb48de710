"""What of ``bootstrap_sdk`` ships inside a layer: the runtime, named file by file.

An explicit list, not a glob, so the layout of the package does not decide what ships
and tooling (``packaging/``, ``local/``) never does. A new runtime module goes here;
``tests/unit/test_runtime_files.py`` fails until it does (it compares this list with what
the runtime's entry can import).
"""

from __future__ import annotations

from pathlib import Path
from typing import List

SDK_DIR = Path(__file__).resolve().parents[1]

RUNTIME_FILES = (
    "__init__.py", "__main__.py", "py.typed",
    # the runtime core
    "entry.py", "settings.py", "invoke_loop.py", "python_handler.py", "workers.py",
    "runtime_api.py", "http_connection.py", "extensions.py", "shutdown.py", "streaming.py",
    "context.py", "payload.py", "errors.py", "logs.py",
    # the executable adapter
    "adapter/__init__.py", "adapter/command.py", "adapter/executable.py", "adapter/persistent.py",
    "adapter/child_process.py", "adapter/workdir.py", "adapter/cobol_call.py",
    # the copybook codec (the adapter's records)
    "copybook/__init__.py", "copybook/parser.py", "copybook/codec.py",
)


def runtime_sources() -> List[Path]:
    """The files of the runtime, as paths in this checkout or installation."""
    return [SDK_DIR / name for name in RUNTIME_FILES]


def runtime_modules() -> List[str]:
    """The runtime's modules by dotted name (``bootstrap_sdk.adapter.command``)."""
    names = []
    for name in RUNTIME_FILES:
        if not name.endswith(".py"):
            continue
        parts = ["bootstrap_sdk"] + name[:-3].split("/")
        if parts[-1] == "__init__":
            parts.pop()
        names.append(".".join(parts))
    return names
