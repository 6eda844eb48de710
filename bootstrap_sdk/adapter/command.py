"""The program ``_HANDLER`` names: whether it names one, its words, and where it is.

``_HANDLER`` is the program's command line, split like a POSIX shell splits words (no
shell ever runs it): ``bin/payroll --strict``. The first word is a path relative to
``LAMBDA_TASK_ROOT``, an absolute path, or a name found on ``PATH`` (``/opt/bin`` is on it
in Lambda: docs/facts.md#the-execution-environment).
"""

from __future__ import annotations

from ..environment import is_executable_file, is_file, join
from ..errors import MALFORMED_HANDLER_NAME, NO_HANDLER, InitError

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


def split_command(handler: str, arguments: str = "") -> List[str]:
    """The words of the command line: ``_HANDLER``'s, then ``arguments``'
    (``BOOTSTRAP_SDK_EXEC_ARGS``: Lambda refuses a Handler with white space, so a program's
    arguments can live there). A malformed one is an InitError."""
    import shlex

    try:
        words = shlex.split(handler)
    except ValueError as exc:
        raise InitError(MALFORMED_HANDLER_NAME, "Bad handler %r: %s" % (handler, exc)) from None
    if not words:
        raise InitError(MALFORMED_HANDLER_NAME, NO_HANDLER)
    try:
        return words + shlex.split(arguments)
    except ValueError as exc:
        raise InitError("Runtime.InvalidExecutableConfig", "BOOTSTRAP_SDK_EXEC_ARGS %r: %s" % (arguments, exc)) from None


def resolve_program(name: str, task_root: str, path: str) -> Optional[str]:
    """The absolute path of the program ``name`` names, if it is an existing file.

    Relative to ``task_root`` first, then absolute, then (a bare name) on ``path``.
    """
    if name.startswith("/"):
        return name if is_file(name) else None
    candidate = join(task_root, name)
    if is_file(candidate):
        return _absolute(candidate)
    if "/" in name:
        return None
    for directory in path.split(":"):
        candidate = join(directory or ".", name)
        if is_executable_file(candidate):
            return _absolute(candidate)
    return None


def _absolute(path: str) -> str:
    import os  # a program was found: the adapter, which imports os anyway, follows

    return os.path.abspath(path)


def missing_interpreter(program: str) -> Optional[str]:
    """Why ``program`` cannot start though it exists, or None: the interpreter it names — an
    ELF program's loader (PT_INTERP) or a script's ``#!`` program — is not there. exec()
    reports that as a bare ENOENT for the program itself, which misleads.

    A dynamically linked program made on a build machine names that OS's loader
    (``/lib64/ld-linux-x86-64.so.2``): provided.al2023 has it, a musl loader it has not, and
    run-lambda-local's sandbox (no OS userland) has none.
    """
    import os

    try:
        with open(program, "rb") as handle:
            head = handle.read(4096)
            if head.startswith(b"#!"):
                words = head[2:].split(b"\n", 1)[0].split()
                if not words or not words[0].startswith(b"/") or os.path.exists(words[0]):
                    return None
                return ("it starts with '#!%s', which this environment does not have: bundle the interpreter "
                        "in a layer and point the #! line at it" % os.fsdecode(words[0]))
            loader = _elf_interpreter(handle, head)
    except OSError:
        return None
    if loader is None or os.path.exists(loader):
        return None
    return ("it is dynamically linked and needs the loader %s (the OS's, where it was built), which this "
            "environment does not have: bundle it with make-runtime-layer --executable (which brings its own "
            "loader and libraries), or link it statically. run-lambda-local's sandbox has no OS libraries at "
            "all (--os-userland borrows this machine's)" % loader)


def _elf_interpreter(handle: object, head: bytes) -> Optional[str]:
    """The PT_INTERP path of the ELF file open as ``handle`` (``head``: its first bytes)."""
    if head[:4] != b"\x7fELF" or len(head) < 64 or head[4] not in (1, 2) or head[5] not in (1, 2):
        return None
    wide = head[4] == 2
    little = head[5] == 1

    def number(at: int, size: int, data: bytes = head) -> int:
        return int.from_bytes(data[at:at + size], "little" if little else "big")

    phoff, phentsize, phnum = ((number(0x20, 8), number(0x36, 2), number(0x38, 2)) if wide
                               else (number(0x1C, 4), number(0x2A, 2), number(0x2C, 2)))
    for index in range(min(phnum, 64)):
        start = phoff + index * phentsize
        if start + phentsize > len(head):
            return None
        if number(start, 4) == 3:  # PT_INTERP
            offset, size = ((number(start + 8, 8), number(start + 32, 8)) if wide
                            else (number(start + 4, 4), number(start + 16, 4)))
            if size > 4096:
                return None
            handle.seek(offset)  # type: ignore[attr-defined]
            import os

            return os.fsdecode(handle.read(size).split(b"\0", 1)[0])  # type: ignore[attr-defined]
    return None
