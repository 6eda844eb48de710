"""The bootstrap file: what Lambda executes to start a runtime.

One template (``templates/bootstrap.in``) serves a layer's ``/opt/bootstrap``, the local
loop and the tests alike: a Python file whose first line starts the interpreter with
``-I -S`` (no ``/bin/sh`` needed), puts the SDK on ``sys.path`` and runs the runtime.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Sequence

REPO_ROOT = Path(__file__).resolve().parents[2]


def template_path(name: str) -> Path:
    """A file of templates/: inside the installed package, or at the top of a checkout."""
    installed = Path(__file__).resolve().parents[1] / "templates" / name
    return installed if installed.exists() else REPO_ROOT / "templates" / name


def write_bootstrap(path: Path, python: str = sys.executable, sys_path: Sequence[str] = (str(REPO_ROOT),)) -> Path:
    """Write an executable bootstrap that runs the bootstrap-sdk runtime with ``python``."""
    text = template_path("bootstrap.in").read_text()
    path.write_text(text.replace("{python}", python).replace("{sys_path}", repr(list(sys_path))))
    path.chmod(0o755)
    return path.resolve()  # absolute: a bare relative name would be looked up on PATH when exec'd


def write_peer_bootstrap(path: Path, module: str = "awslambdaric", python: str = sys.executable,
                         sys_path: Sequence[str] = ()) -> Path:
    """A bootstrap for another Python runtime client, as its README starts it:
    ``python -m MODULE $_HANDLER`` (exec'd, no shell), with ``sys_path`` (where the client
    was installed, ``pip --target`` style) as PYTHONPATH. The tests and benchmarks compare
    against it."""
    env = "dict(os.environ, PYTHONPATH=%r)" % os.pathsep.join(sys_path) if sys_path else "os.environ"
    path.write_text("#!%s\nimport os, sys\nos.execve(sys.executable, [sys.executable, '-m', %r, "
                    "os.environ['_HANDLER']], %s)\n" % (python, module, env))
    path.chmod(0o755)
    return path
