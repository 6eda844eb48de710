"""The process environment and the file checks of the cold-start path, without ``os``.

Importing ``os`` builds ``_collections_abc``'s abstract classes: about 1.2 ms of a cold
start, for a handler that may never use it (docs/facts.md#start-up-costs). These work
on what ``os`` itself wraps. ``posix.environ`` is the very dict behind ``os.environ``,
and a change goes to that dict and to the C environment (``putenv``), exactly as
``os.environ[name] = value`` does: ``os.environ`` sees it, whether ``os`` is imported
before or after.
"""

from __future__ import annotations

import posix
import sys
from _stat import S_ISDIR, S_ISREG

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Dict, Optional

_ENCODING = sys.getfilesystemencoding()  # as os.environ encodes and decodes


def _encode(text: str) -> bytes:
    return text.encode(_ENCODING, "surrogateescape")


def _decode(data: bytes) -> str:
    return data.decode(_ENCODING, "surrogateescape")


def variables() -> Dict[str, str]:
    """A copy of the environment, as ``dict(os.environ)`` gives it."""
    return {_decode(name): _decode(value) for name, value in posix.environ.items()}


def set_variable(name: str, value: str) -> None:
    """``os.environ[name] = value``."""
    key, data = _encode(name), _encode(value)
    posix.putenv(key, data)
    posix.environ[key] = data


def unset_variable(name: str) -> None:
    """``os.environ.pop(name, None)``."""
    key = _encode(name)
    if key in posix.environ:
        posix.unsetenv(key)
        del posix.environ[key]


def working_directory() -> Optional[str]:
    """``os.getcwd()``, or None when the directory was removed under us."""
    try:
        return posix.getcwd()
    except OSError:
        return None


def join(directory: str, name: str) -> str:
    """``os.path.join(directory, name)`` for two parts."""
    if name.startswith("/") or not directory:
        return name
    return directory + name if directory.endswith("/") else directory + "/" + name


def _mode(path: str) -> Optional[int]:
    try:
        return posix.stat(path).st_mode
    except (OSError, ValueError):  # ValueError: a NUL in the path, as os.path.isfile answers False
        return None


def is_file(path: str) -> bool:
    """``os.path.isfile(path)``."""
    mode = _mode(path)
    return mode is not None and S_ISREG(mode)


def is_dir(path: str) -> bool:
    """``os.path.isdir(path)``."""
    mode = _mode(path)
    return mode is not None and S_ISDIR(mode)


def is_executable_file(path: str) -> bool:
    """``os.path.isfile(path) and os.access(path, os.X_OK)``."""
    return is_file(path) and posix.access(path, posix.X_OK)
