"""Per-invoke working directories under /tmp, kept off the invoke's critical path.

Each invoke gets a fresh, empty directory that is removed afterwards. Creating and
removing a directory costs ~150 µs on an ext4 /tmp, so once the response is posted
(``recycle``) a janitor thread removes the used directory and makes the next one while
the runtime waits for its next event; ``take`` waits for the janitor only if it is late.

The program runs as the same user as the runtime and may do anything to these
directories, so: their names are unpredictable (nothing can be planted ahead of one),
removal never follows a symlink (directory descriptors and ``O_NOFOLLOW`` all the way
down), and at init the directories an earlier incarnation left are removed with the
same care (a runtime killed mid-invoke leaves its directory, and /tmp survives into
the restarted runtime).
"""

from __future__ import annotations

import _thread
import os
import stat

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import List, Optional, Tuple

PREFIX = "invoke-"
_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_PATH = getattr(os, "O_PATH", os.O_RDONLY) | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class Workdirs:
    def __init__(self, root: str) -> None:
        self.root = root
        self._ready: Optional[str] = None
        self._used: Optional[str] = None
        self._owner = 0
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

    def wait(self) -> None:
        """Until the janitor is done: a measurement of one invoke then leaves its work out,
        as the loop does (the janitor works while the runtime waits for the next event)."""
        with self._busy:
            pass

    def _janitor(self) -> None:
        while True:
            self._work.acquire()
            try:
                if self._used is not None:
                    used, self._used = self._used, None
                    remove_tree(used)
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

    def remove_leftovers(self) -> List[str]:
        """At init: remove the directories that runtimes no longer alive left here.

        A directory's name says which process made it (its pid and start time), so one
        still in use by a live runtime — a worker, another runtime sharing this /tmp —
        is left alone. Only directories of this user are touched. Returns their names.
        """
        try:
            names = os.listdir(self.root)
        except OSError:
            return []
        removed = []
        me = os.geteuid()
        for name in names:
            owner = _owner_of(name)
            if owner is None or _alive(*owner):
                continue
            path = os.path.join(self.root, name)
            try:
                info = os.lstat(path)
            except OSError:
                continue
            if info.st_uid != me:
                continue
            try:
                remove_tree(path)
            except OSError:
                continue
            removed.append(name)
        return removed

    def _make(self) -> str:
        self._owner = os.getpid()
        while True:
            path = os.path.join(self.root, "%s%s-%s" % (PREFIX, _incarnation(), os.urandom(8).hex()))
            try:
                os.mkdir(path, 0o700)
                return path
            except FileExistsError:  # 64 random bits: never, but never remove what is there
                continue


def _incarnation() -> str:
    """``<pid>.<start time>``: names this process, and no later one with the same pid."""
    pid = os.getpid()
    return "%d.%s" % (pid, _start_time(pid) or "0")


def _start_time(pid: int) -> str:
    """The process's start time in clock ticks since boot (/proc), or "" if unknown."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as handle:
            data = handle.read()
    except OSError:
        return ""
    fields = data[data.rfind(b")") + 2:].split()  # the name in parentheses may hold anything
    return fields[19].decode("ascii", "replace") if len(fields) > 19 else ""


def _owner_of(name: str) -> Optional[Tuple[int, str]]:
    """(pid, start time) from a working directory's name; None for any other name."""
    if not name.startswith(PREFIX):
        return None
    owner, _, token = name[len(PREFIX):].rpartition("-")
    pid, _, start = owner.partition(".")
    if not (pid.isascii() and pid.isdigit() and token.isalnum()):
        return None
    return int(pid), start


def _alive(pid: int, start: str) -> bool:
    if start and start != "0":
        return _start_time(pid) == start
    if pid == os.getpid():
        return False  # an older name format, or /proc unmounted: nothing of ours exists yet at init
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def remove_tree(path: str) -> None:
    """``rm -rf path`` that never follows a symlink, for whatever a program left behind.

    ``path`` itself, if it is now a symlink (a program may swap its directory for one),
    is unlinked, not followed. Below it every directory is opened relative to its
    parent's descriptor with ``O_NOFOLLOW``, so nothing outside the tree is reachable.
    One descriptor is held at a time (".." leads back up, checked against the inode it
    should be), so depth costs neither descriptors nor recursion.

    The runtime runs unprivileged, as on Lambda: a directory the program made read-only
    or unreadable cannot be emptied or entered until it is opened up again, which its
    owner (the same user) may always do. Root skips these checks, which is why only an
    unprivileged run shows the need.
    """
    parent, name = os.path.split(os.path.abspath(path))
    try:
        parent_fd = os.open(parent, _DIR)
    except FileNotFoundError:
        return
    try:
        _remove_under(parent_fd, name)
    finally:
        os.close(parent_fd)


def _remove_under(parent_fd: int, top: str) -> None:
    try:
        fd = _open_dir(top, parent_fd)
    except FileNotFoundError:
        return
    if fd is None:  # not a directory (a symlink, a file): the name goes, its target stays
        _unlink(top, parent_fd)
        return
    # The path from ``top`` down: per level its inode, the subdirectories still to
    # remove, and its own name in its parent.
    levels: List[Tuple[Tuple[int, int], List[str], str]] = []
    name = top
    try:
        while True:
            # ``fd`` is the directory ``name``, just entered: files go now, subdirectories later.
            here = os.fstat(fd)
            subdirs = []
            with os.scandir(fd) as entries:
                for entry in entries:
                    if entry.is_dir(follow_symlinks=False):
                        subdirs.append(entry.name)
                    else:
                        _unlink(entry.name, fd)
            levels.append(((here.st_dev, here.st_ino), subdirs, name))
            fd, name = _next_dir(fd, levels, parent_fd)
            if fd < 0:
                return
    finally:
        if fd >= 0:
            os.close(fd)


def _next_dir(fd: int, levels: List[Tuple[Tuple[int, int], List[str], str]], parent_fd: int) -> Tuple[int, str]:
    """Enter the next subdirectory still to remove, climbing out of (and removing) the
    levels that are done; (-1, "") once ``top`` itself is removed."""
    while True:
        pending = levels[-1][1]
        while pending:
            name = pending.pop()
            child = _open_dir(name, fd)
            if child is not None:
                os.close(fd)
                return child, name
            _unlink(name, fd)  # no longer a directory: the name goes
        done = levels.pop()[2]
        if not levels:
            os.close(fd)
            os.rmdir(done, dir_fd=parent_fd)
            return -1, ""
        up = os.open("..", _DIR, dir_fd=fd)
        os.close(fd)
        fd = up
        actual = os.fstat(fd)
        if (actual.st_dev, actual.st_ino) != levels[-1][0]:
            os.close(fd)
            raise OSError("a directory moved while it was being removed; stopped")
        os.rmdir(done, dir_fd=fd)


def _open_dir(name: str, dir_fd: int) -> Optional[int]:
    """A descriptor for the directory ``name`` (opened up for its owner if need be), or
    None if ``name`` is not a directory; a symlink is never followed."""
    try:
        fd = os.open(name, _DIR, dir_fd=dir_fd)
    except FileNotFoundError:
        raise
    except PermissionError:  # unreadable (0o000): open it up, without following anything
        _chmod_dir(name, dir_fd)
        fd = os.open(name, _DIR, dir_fd=dir_fd)
    except OSError:  # ELOOP (a symlink), ENOTDIR (anything else)
        return None
    mode = os.fstat(fd).st_mode
    if mode & 0o700 != 0o700:  # entries of a read-only directory cannot be removed
        try:
            os.fchmod(fd, stat.S_IMODE(mode) | 0o700)
        except OSError:
            pass  # not ours: the removal reports the real error
    return fd


def _chmod_dir(name: str, dir_fd: int) -> None:
    try:
        handle = os.open(name, _PATH, dir_fd=dir_fd)
    except OSError:
        return
    try:
        if stat.S_ISDIR(os.fstat(handle).st_mode):
            os.chmod("/proc/self/fd/%d" % handle, 0o700)  # the directory itself, never a link
    except OSError:
        pass
    finally:
        os.close(handle)


def _unlink(name: str, dir_fd: int) -> None:
    try:
        os.unlink(name, dir_fd=dir_fd)
    except FileNotFoundError:
        pass
