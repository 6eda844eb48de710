"""Per-invoke working directories under /tmp, kept off the invoke's critical path.

Each invoke gets a fresh, empty directory that is removed afterwards. Creating and
removing a directory costs ~150 µs on an ext4 /tmp, so once the response is posted
(``recycle``) a janitor thread removes the used directory and makes the next one while
the runtime waits for its next event; ``take`` waits for the janitor only if it is late.
"""

from __future__ import annotations

import _thread
import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable, Optional


class Workdirs:
    def __init__(self, root: str) -> None:
        self.root = root
        self._ready: Optional[str] = None
        self._used: Optional[str] = None
        self._owner = 0
        self._count = 0
        self._busy = _thread.allocate_lock()  # held while the janitor works
        self._work = _thread.allocate_lock()  # released to hand the janitor its work
        self._janitor_of = 0  # the process whose janitor thread runs (threads do not survive fork)

    def take(self) -> str:
        """The directory for the invoke that is starting."""
        with self._busy:
            if self._ready is None or self._owner != os.getpid():
                self._ready = self._make()
            self._used, self._ready = self._ready, None
            return self._used

    def recycle(self) -> None:
        """After the response: remove the used directory and prepare the next, in the background."""
        if self._janitor_of != os.getpid():
            self._janitor_of = os.getpid()
            self._busy = _thread.allocate_lock()
            self._work = _thread.allocate_lock()
            self._work.acquire()
            _thread.start_new_thread(self._janitor, ())
        self._busy.acquire()
        self._work.release()

    def _janitor(self) -> None:
        while True:
            self._work.acquire()
            try:
                if self._used is not None:
                    remove_tree(self._used)
                    self._used = None
                if self._ready is None:
                    self._ready = self._make()
            except OSError:
                pass  # take() makes the directory itself, and says so if it cannot
            finally:
                self._busy.release()

    def remove_all(self) -> None:
        acquired = self._busy.acquire(timeout=0.1)  # let a janitor at work finish first
        try:
            for path in (self._used, self._ready):
                if path is not None and self._owner == os.getpid():
                    remove_tree(path)
            self._used = self._ready = None
        finally:
            if acquired:
                self._busy.release()

    def _make(self) -> str:
        self._owner = os.getpid()
        self._count += 1
        path = os.path.join(self.root, "invoke-%d-%d" % (self._owner, self._count))
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:  # left by an earlier process with the same pid
            remove_tree(path)
            os.mkdir(path, 0o700)
        return path


def remove_tree(path: str) -> None:
    """``rm -rf`` without importing shutil, for whatever a program left behind.

    The runtime runs unprivileged, as on Lambda: a directory the program made read-only
    (or unreadable) cannot be emptied or entered until it is opened up again, which its
    owner (the same user) may always do. Root skips these checks, which is why only an
    unprivileged run shows the need.
    """
    _remove_entries(path)
    _retry_opened_up(os.rmdir, path)


def _remove_entries(path: str) -> None:
    # Reading, entering and writing are three permissions: a directory left 0644 (readable,
    # not searchable) lists its entries but lets none of them be opened or removed.
    if not os.access(path, os.R_OK | os.W_OK | os.X_OK):
        _open_up(path)
    try:
        entries = list(os.scandir(path))
    except FileNotFoundError:
        return
    for entry in entries:
        if entry.is_dir(follow_symlinks=False):
            _remove_entries(entry.path)
            _retry_opened_up(os.rmdir, entry.path)
        else:
            _retry_opened_up(os.unlink, entry.path)


def _retry_opened_up(remove: "Callable[[str], None]", path: str) -> None:
    """Remove ``path``; if its directory forbids it, open the directory up and try again."""
    try:
        remove(path)
    except FileNotFoundError:
        pass
    except PermissionError:
        _open_up(os.path.dirname(path))
        try:
            remove(path)
        except FileNotFoundError:
            pass


def _open_up(directory: str) -> None:
    try:
        os.chmod(directory, 0o700)
    except OSError:
        pass  # not ours: the retry reports the real error
