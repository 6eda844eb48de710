"""The program ``_HANDLER`` names: whether it names one, its words, and where it is.

``_HANDLER`` is the program's command line, split like a POSIX shell splits words (no
shell ever runs it): ``bin/payroll --strict``. The first word is a path relative to
``LAMBDA_TASK_ROOT``, an absolute path, or a name found on ``PATH`` (``/opt/bin`` is on it
in Lambda: docs/facts.md#the-execution-environment).
"""

from __future__ import annotations

import os

from ..errors import MALFORMED_HANDLER_NAME, InitError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import List, Optional


def names_program(handler: str, task_root: str, path: str, mode_set: bool) -> bool:
    """Does ``_HANDLER`` name a program (the executable adapter) rather than Python code?

    The README's rule, in its order: yes when ``BOOTSTRAP_SDK_EXEC_MODE`` is set
    (``mode_set``), when it is a command line (a space, a tab or a quote: a Python
    handler has none), or when it is an existing file (``resolve_program``) — whatever
    its name ends with: an executable ``report.py`` is a program. Otherwise it is Python.
    """
    text = handler.strip()
    if mode_set:
        return True
    if not text:
        return False
    if any(c in text for c in " \t'\""):
        return True
    return resolve_program(text, task_root, path) is not None


def split_command(handler: str) -> List[str]:
    """The words of the command line; a malformed one is an InitError."""
    import shlex

    try:
        words = shlex.split(handler)
    except ValueError as exc:
        raise InitError(MALFORMED_HANDLER_NAME, "Bad handler %r: %s" % (handler, exc)) from None
    if not words:
        raise InitError(MALFORMED_HANDLER_NAME, "Bad handler %r: no program named" % (handler,))
    return words


def resolve_program(name: str, task_root: str, path: str) -> Optional[str]:
    """The absolute path of the program ``name`` names, if it is an existing file.

    Relative to ``task_root`` first, then absolute, then (a bare name) on ``path``.
    """
    if os.path.isabs(name):
        return name if os.path.isfile(name) else None
    candidate = os.path.join(task_root, name)
    if os.path.isfile(candidate):
        return os.path.abspath(candidate)
    if "/" in name:
        return None
    for directory in path.split(os.pathsep):
        candidate = os.path.join(directory or ".", name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return os.path.abspath(candidate)
    return None
