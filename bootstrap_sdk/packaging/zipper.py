"""Deterministic zips for Lambda, and extraction that honours their Unix modes.

Same tree in, same bytes out: entries sorted, one fixed timestamp (``SOURCE_DATE_EPOCH``,
else 1980-01-01, the earliest a zip can hold), explicit Unix modes (directories and
executables 0755, other files 0644), fixed compression level. A zip written without Unix
modes extracts as 0600 on Lambda and fails with "permission denied"
(Runtime.InvalidEntrypoint): every entry here says its mode.

Extraction runs as root (the local loop) on zips from anywhere, so it trusts nothing in
them: every name is checked before anything is written, nothing is created, written or
chmod-ed through a symlink (directory file descriptors and ``O_NOFOLLOW`` all the way
down), symlink targets must resolve inside the tree, setuid/setgid/sticky bits are
dropped, special files are refused, and no member may unzip to more than its central
directory entry claims.
"""

from __future__ import annotations

import errno
import lzma
import os
import stat
import struct
import time
import zipfile
import zlib
from pathlib import Path
from typing import IO, Dict, Iterable, Iterator, List, NamedTuple, Optional, Sequence, Tuple

ZIP_EPOCH = 315532800  # 1980-01-01T00:00:00Z
MAX_LINK_HOPS = 40  # Linux's MAXSYMLINKS: a path through more links fails with ELOOP
MAX_LINK_TARGET = 4096  # PATH_MAX: no longer target can work
CHUNK = 1 << 20
ONLY_FILES = "a layer holds only files, directories and symlinks"
# Where Lambda puts the layers and the function, and /tmp (a link into /tmp is the usual
# way to a writable path from read-only code): with a tree root, the only places outside
# its own destination that a link may lead to. Targets are resolved inside the tree root,
# so /tmp here is the sandbox's own /tmp, never the host's.
LAMBDA_CODE_DIRS: Tuple[Tuple[str, ...], ...] = (("opt",), ("var", "task"), ("tmp",))

# What reading a corrupt, truncated, lying, encrypted or exotic member can raise.
_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, lzma.LZMAError, EOFError, NotImplementedError, RuntimeError,
               ValueError, struct.error, OSError)
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_SPECIAL = {stat.S_IFIFO: "a FIFO", stat.S_IFSOCK: "a socket", stat.S_IFCHR: "a character device",
            stat.S_IFBLK: "a block device"}


class UnsafeZip(Exception):
    pass


class LinkEscape(Exception):
    """A symlink target that leaves the tree, or goes through more than MAX_LINK_HOPS links."""


class LinkLoop(LinkEscape):
    """More than MAX_LINK_HOPS links on the way: the kernel would give up (ELOOP)."""


def source_date_epoch() -> int:
    value = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    return max(int(value), ZIP_EPOCH) if value.isdigit() else ZIP_EPOCH


def special_kind(mode: int) -> Optional[str]:
    """"a FIFO", "a socket", ... for what a zip for Lambda cannot hold; None for files,
    directories and symlinks (the only things Lambda's unzip makes)."""
    kind = stat.S_IFMT(mode)
    if kind in (stat.S_IFREG, stat.S_IFDIR, stat.S_IFLNK):
        return None
    return _SPECIAL.get(kind, "of unknown type %o" % kind)


def special_file_problem(name: str, mode: int) -> Optional[str]:
    """Shared by check_tree, write_zip and extract, so all three refuse with the same words."""
    kind = special_kind(mode)
    return None if kind is None else "%s is %s: %s" % (name, kind, ONLY_FILES)


def resolve_inside(root: Path, start: Sequence[str], target: str) -> List[str]:
    """The components, under ``root``, of where ``target`` leads from directory ``start``.

    ``root`` stands for ``/``: absolute targets start there, and ``..`` above it raises
    LinkEscape (the kernel would stay at ``/``; here that means the host). Symlinks already
    in the tree are followed component by component (lstat and readlink under ``root``
    only: the host outside is never looked at), at most MAX_LINK_HOPS of them. A missing
    component makes the rest lexical (a dangling link), until ``..`` climbs back to what
    exists. ``start`` must name real directories (no symlinks), as the caller found them.
    The one resolver for extraction and for check_tree, so both judge links alike.
    """
    stack: List[str] = [] if target.startswith("/") else list(start)
    pending = list(reversed(target.split("/")))
    missing_at: Optional[int] = None  # depth of the first component that does not exist
    hops = 0
    while pending:
        part = pending.pop()
        if part in ("", "."):
            continue
        if part == "..":
            if not stack:
                raise LinkEscape("leads outside the tree")
            stack.pop()
            if missing_at is not None and len(stack) <= missing_at:
                missing_at = None
            continue
        stack.append(part)
        if missing_at is not None:
            continue
        here = os.path.join(root, *stack)
        try:
            is_link = stat.S_ISLNK(os.lstat(here).st_mode)
        except OSError:
            missing_at = len(stack) - 1
            continue
        if not is_link:
            continue
        hops += 1
        if hops > MAX_LINK_HOPS:
            raise LinkLoop("goes through more than %d symlinks (a loop?)" % MAX_LINK_HOPS)
        link = os.readlink(here)
        stack.pop()
        if link.startswith("/"):
            stack = []
        pending.extend(reversed(link.split("/")))
    return stack


def entry_mode(path: Path) -> int:
    """The mode a file gets in the zip: 0755 if anyone may execute it, else 0644."""
    st = path.lstat()
    if stat.S_ISLNK(st.st_mode):
        return stat.S_IFLNK | 0o777
    if stat.S_ISDIR(st.st_mode):
        return stat.S_IFDIR | 0o755
    problem = special_file_problem(str(path), st.st_mode)
    if problem:
        raise UnsafeZip(problem)
    return stat.S_IFREG | (0o755 if st.st_mode & 0o111 else 0o644)


def walk(root: Path, exclude: Iterable[str] = ()) -> Iterator[Tuple[str, Path]]:
    """(zip name, path) for every directory, file and symlink under root, sorted; ``exclude``
    names files (paths relative to root) to leave out."""
    entries: List[Tuple[str, Path]] = []
    left_out = set(exclude)
    for directory, dirs, files in os.walk(root):
        base = Path(directory)
        for name in dirs + files:
            path = base / name
            rel = path.relative_to(root).as_posix()
            if rel in left_out:
                continue
            entries.append((rel + "/" if path.is_dir() and not path.is_symlink() else rel, path))
        # Symlinked directories are entries, not trees to descend into.
        dirs[:] = [d for d in dirs if not (base / d).is_symlink()]
    return iter(sorted(entries))


def _read_regular(path: Path) -> bytes:
    """A regular file's bytes; a FIFO or device swapped in after the lstat is refused, not read
    (O_NONBLOCK: opening a FIFO must not wait for a writer)."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise UnsafeZip(special_file_problem(str(path), mode) or "%s is not a regular file" % path)
        with os.fdopen(fd, "rb", closefd=False) as source:
            return source.read()
    finally:
        os.close(fd)


def write_zip(root: Path, output: Path, epoch: Optional[int] = None, exclude: Iterable[str] = ()) -> None:
    """Zip ``root`` but ``exclude``; raises UnsafeZip (and leaves no output) for a FIFO, socket
    or device in it."""
    stamp = time.gmtime(source_date_epoch() if epoch is None else epoch)[:6]
    tmp = output.with_name(output.name + ".partial")
    try:
        with zipfile.ZipFile(tmp, "w") as archive:
            for name, path in walk(root, exclude):
                info = zipfile.ZipInfo(name, date_time=stamp)
                info.create_system = 3  # Unix: the high 16 bits of external_attr are the mode
                mode = entry_mode(path)
                info.external_attr = mode << 16
                if stat.S_ISDIR(mode):
                    info.external_attr |= 0x10  # MS-DOS directory flag
                    archive.writestr(info, b"")
                elif stat.S_ISLNK(mode):
                    archive.writestr(info, os.readlink(path).encode())
                else:
                    archive.writestr(info, _read_regular(path), compress_type=zipfile.ZIP_DEFLATED,
                                     compresslevel=9)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, output)


def unzipped_size(zip_path: Path) -> int:
    """The central directory's claim; UnsafeZip for anything that cannot be read as a zip
    (a damaged zip can raise a handful of exception types from zipfile)."""
    try:
        with zipfile.ZipFile(zip_path) as archive:
            return sum(info.file_size for info in archive.infolist())
    except _ZIP_ERRORS as exc:
        raise UnsafeZip("%s is not a zip file (%s)" % (zip_path, exc)) from None


# -- extraction -------------------------------------------------------------------------

class _Refused(Exception):
    """Why one entry is refused; extract() adds the zip and the entry's name."""


class _Entry(NamedTuple):
    info: zipfile.ZipInfo
    parts: Tuple[str, ...]
    kind: str  # "dir", "file" or "link"
    perm: int  # 0o777 at most: setuid, setgid and sticky are dropped
    target: str  # a link's target, else ""


def _name_parts(info: zipfile.ZipInfo) -> Tuple[str, ...]:
    name = info.orig_filename
    if not name or "\x00" in name or "\x00" in info.filename:
        raise _Refused("has an empty name or a NUL in it")
    if "\\" in name:
        raise _Refused("has a backslash in its name (a Windows path?)")
    if name.startswith("/"):
        raise _Refused("is an absolute path")
    parts = tuple(p for p in name.split("/") if p not in ("", "."))
    if ".." in parts:
        raise _Refused("has '..' in its path: it would land outside the extraction directory")
    if not parts:
        raise _Refused("names no file")
    return parts


def _member_chunks(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> Iterator[bytes]:
    """A member's bytes, never more than its central directory entry claims."""
    left = info.file_size
    try:
        source: IO[bytes] = archive.open(info)
    except _ZIP_ERRORS as exc:
        raise _Refused("cannot be read (a corrupt, unsupported or lying zip): %s" % (exc,)) from None
    with source:
        while True:
            try:
                chunk = source.read(CHUNK)
            except _ZIP_ERRORS as exc:
                raise _Refused("cannot be read (a corrupt or lying zip): %s" % (exc,)) from None
            if not chunk:
                return
            if len(chunk) > left:
                raise _Refused("unzips to more than the %d bytes its central directory entry claims" % info.file_size)
            left -= len(chunk)
            yield chunk


def _plan_entry(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> _Entry:
    parts = _name_parts(info)
    if info.flag_bits & 0x1:
        raise _Refused("is encrypted: Lambda cannot extract it")
    mode = info.external_attr >> 16 if info.create_system == 3 else 0
    kind = special_kind(mode) if stat.S_IFMT(mode) else None  # no type bits (writestr's 0600): a file
    if kind:
        raise _Refused("is %s: %s" % (kind, ONLY_FILES))
    perm = mode & 0o777
    if info.orig_filename.endswith("/") or stat.S_ISDIR(mode):
        if stat.S_ISLNK(mode):
            raise _Refused("is named as a directory but its mode says symlink")
        return _Entry(info, parts, "dir", perm or 0o755, "")
    if not stat.S_ISLNK(mode):
        return _Entry(info, parts, "file", perm if mode else 0o600, "")
    raw = b""
    for chunk in _member_chunks(archive, info):
        raw += chunk
        if len(raw) > MAX_LINK_TARGET:
            break
    if not raw or len(raw) > MAX_LINK_TARGET or b"\x00" in raw:
        raise _Refused("is a symlink whose target is empty, longer than %d bytes or holds a NUL" % MAX_LINK_TARGET)
    return _Entry(info, parts, "link", 0o777, os.fsdecode(raw))


def _plan(archive: zipfile.ZipFile, zip_path: Path) -> List[_Entry]:
    """Every entry checked, and the zip checked against itself, before anything is written."""
    entries: List[_Entry] = []
    kinds: Dict[Tuple[str, ...], str] = {}
    for info in archive.infolist():
        try:
            entry = _plan_entry(archive, info)
            for depth in range(1, len(entry.parts)):
                above = kinds.setdefault(entry.parts[:depth], "dir")
                if above != "dir":
                    raise _Refused("goes through %r, a %s earlier in this zip"
                                   % ("/".join(entry.parts[:depth]), "symlink" if above == "link" else "file"))
            if entry.kind != "dir" and kinds.get(entry.parts) == "dir":
                raise _Refused("would replace the directory %r with a %s" % ("/".join(entry.parts), entry.kind))
            kinds[entry.parts] = entry.kind
        except _Refused as exc:
            raise UnsafeZip("%s: entry %r %s" % (zip_path, info.orig_filename, exc)) from None
        entries.append(entry)
    return entries


def lstat_at(name: str, dir_fd: int) -> Optional[os.stat_result]:
    try:
        return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None


def _open_dir_at(name: str, dir_fd: int) -> int:
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise _Refused("goes through %r, which is not a directory (a symlink?)" % name) from None
        raise


def _open_parent(top: int, parts: Sequence[str], created: Dict[Tuple[str, ...], int]) -> int:
    """An fd of the directory holding ``parts``, walked from ``top`` without following any symlink.

    Missing directories are made (0700 for now; 0755 at the end, recorded in ``created``).
    """
    fd = os.dup(top)
    try:
        for depth, name in enumerate(parts[:-1], 1):
            st = lstat_at(name, fd)
            if st is None:
                os.mkdir(name, 0o700, dir_fd=fd)
                created.setdefault(tuple(parts[:depth]), 0o755)
            elif stat.S_ISLNK(st.st_mode):
                raise _Refused("goes through the symlink %r" % "/".join(parts[:depth]))
            elif not stat.S_ISDIR(st.st_mode):
                raise _Refused("goes through %r, which is a file" % "/".join(parts[:depth]))
            child = _open_dir_at(name, fd)
            os.close(fd)
            fd = child
        return fd
    except BaseException:
        os.close(fd)
        raise


def _clear_for(name: str, dir_fd: int, kind: str) -> bool:
    """Make room for a new entry: a file or symlink in the way is unlinked (never written
    through); a directory stays for a directory entry and refuses anything else.
    True if a directory is already there."""
    st = lstat_at(name, dir_fd)
    if st is None:
        return False
    if stat.S_ISDIR(st.st_mode):
        if kind != "dir":
            raise _Refused("would replace a directory with a %s" % kind)
        return True
    os.unlink(name, dir_fd=dir_fd)
    return False


class _Extraction:
    """One zip going into one directory: the state the entries share."""

    def __init__(self, zip_path: Path, destination: Path, tree_root: Optional[Path]) -> None:
        self.zip_path = zip_path
        self.destination = Path(os.path.realpath(destination))
        self.root = Path(os.path.realpath(tree_root)) if tree_root is not None else self.destination
        try:
            self.area: Tuple[str, ...] = self.destination.relative_to(self.root).parts
        except ValueError:
            raise ValueError("%s is not inside the tree root %s" % (destination, tree_root)) from None
        self.dir_modes: Dict[Tuple[str, ...], int] = {}
        self.claimed = 0
        self.written = 0

    def link_problem(self, link_dir: Sequence[str], target: str) -> Optional[str]:
        """Why a symlink in ``link_dir`` (components under the destination) to ``target`` is
        refused, as a verb phrase ("leads outside the tree"); None if it is fine.

        It must resolve inside its own destination, or (with a tree root) inside /opt,
        /var/task or /tmp: ``/opt/lib/x`` from the function is fine, ``/etc/passwd`` is not
        (on the host, an absolute link names the host's own files).
        """
        try:
            where = tuple(resolve_inside(self.root, self.area + tuple(link_dir), target))
        except LinkEscape as exc:
            return str(exc)
        allowed = [self.area] + [area for area in LAMBDA_CODE_DIRS if area != self.area]
        if any(where[:len(area)] == area for area in allowed):
            return None
        return "leads to /%s, but links may lead only into %s (the layers and the function)" % (
            "/".join(where), " or ".join("/" + "/".join(area) for area in allowed))

    def run(self, archive: zipfile.ZipFile) -> None:
        entries = _plan(archive, self.zip_path)
        self.claimed = sum(info.file_size for info in archive.infolist())
        try:
            self.write_all(archive, entries)
        except BaseException:
            self.sweep()  # a refused tree keeps no escaping link either (run-lambda-local --keep-root)
            raise
        bad = self.sweep()
        if bad:
            raise UnsafeZip("%s: after extraction, %s: an entry of this zip changed a path it goes through "
                            "(removed%s)" % (self.zip_path, bad[0],
                                            "; %d more like it" % (len(bad) - 1) if len(bad) > 1 else ""))

    def write_all(self, archive: zipfile.ZipFile, entries: Sequence[_Entry]) -> None:
        top = os.open(self.destination, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            for entry in entries:
                try:
                    self.write(archive, top, entry)
                except _Refused as exc:
                    raise UnsafeZip("%s: entry %r %s" % (self.zip_path, entry.info.orig_filename, exc)) from None
                except OSError as exc:
                    raise UnsafeZip("%s: entry %r cannot be extracted: %s"
                                    % (self.zip_path, entry.info.orig_filename, exc.strerror or exc)) from None
            self.set_dir_modes(top)
        finally:
            os.close(top)

    def write(self, archive: zipfile.ZipFile, top: int, entry: _Entry) -> None:
        parent = _open_parent(top, entry.parts, self.dir_modes)
        name = entry.parts[-1]
        try:
            if entry.kind == "dir":
                if not _clear_for(name, parent, "dir"):
                    os.mkdir(name, 0o700, dir_fd=parent)
                self.dir_modes[entry.parts] = entry.perm  # set at the end: 0555 must not block later entries
            elif entry.kind == "link":
                problem = self.link_problem(entry.parts[:-1], entry.target)
                if problem:
                    raise _Refused("is a symlink to %r, which %s" % (entry.target, problem))
                _clear_for(name, parent, "symlink")
                os.symlink(entry.target, name, dir_fd=parent)
                self.count(len(os.fsencode(entry.target)))
            else:
                _clear_for(name, parent, "file")
                self.write_file(archive, parent, name, entry)
        finally:
            os.close(parent)

    def write_file(self, archive: zipfile.ZipFile, parent: int, name: str, entry: _Entry) -> None:
        """Created 0600 (O_EXCL, O_NOFOLLOW: a new inode, never a link's target), then fchmod."""
        fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=parent)
        try:
            with os.fdopen(fd, "wb", closefd=False) as sink:
                for chunk in _member_chunks(archive, entry.info):
                    self.count(len(chunk))
                    sink.write(chunk)
            os.fchmod(fd, entry.perm)
        except BaseException:
            os.unlink(name, dir_fd=parent)  # no half-written file left behind
            raise
        finally:
            os.close(fd)

    def count(self, size: int) -> None:
        """The whole zip may not write more than its central directory claims (what the
        250 MB check in sandbox.check_inputs added up)."""
        self.written += size
        if self.written > self.claimed:
            raise _Refused("takes the zip past the %d bytes its central directory claims" % self.claimed)

    def set_dir_modes(self, top: int) -> None:
        """Deepest first, so a directory made unsearchable cannot hide its own subdirectories."""
        for parts, perm in sorted(self.dir_modes.items(), key=lambda item: -len(item[0])):
            fd = os.dup(top)
            try:
                for name in parts:
                    child = _open_dir_at(name, fd)
                    os.close(fd)
                    fd = child
                os.fchmod(fd, perm)
            except _Refused as exc:
                raise UnsafeZip("%s: directory %r %s" % (self.zip_path, "/".join(parts), exc)) from None
            finally:
                os.close(fd)

    def sweep(self) -> List[str]:
        """Judge every symlink under the destination again, now that the zip is in; remove
        the ones that leave, and say which.

        A link that resolved inside when it was written can leave once a later entry (or
        this zip, over an earlier layer) adds a link on its way: ``a -> x/b/../..`` then
        ``x/b -> .``. Again until nothing is removed: a removal changes what others resolve to.
        """
        bad: List[str] = []
        removed = True
        while removed:
            removed = False
            for directory, dirs, files in os.walk(self.destination):
                base = Path(directory)
                rel = base.relative_to(self.destination).parts
                for name in dirs + files:
                    path = base / name
                    if not path.is_symlink():
                        continue
                    target = os.readlink(path)
                    problem = self.link_problem(rel, target)
                    if problem:
                        path.unlink()
                        removed = True
                        bad.append("the symlink %r -> %r now %s" % ("/".join(rel + (name,)), target, problem))
                dirs[:] = [d for d in dirs if not (base / d).is_symlink()]
        return bad


def extract(zip_path: Path, destination: Path, *, tree_root: Optional[Path] = None) -> None:
    """Extract as Lambda does: Unix modes honoured (0600 when a zip has none), symlinks kept.

    Safe on any zip, as root: refuses (UnsafeZip, one line naming the zip and the entry)
    names that are absolute, hold ``..``, backslashes or NUL; entries through a symlink;
    symlinks that resolve (following the links already in the tree) outside ``tree_root``,
    the directory that stands for ``/`` (default: ``destination`` itself), or, with a
    tree root, outside ``destination``, /opt, /var/task and /tmp; FIFOs, sockets and devices;
    encrypted, corrupt or lying members. An entry over an existing symlink replaces the
    link; setuid, setgid and sticky bits are dropped. What a refused zip already wrote
    stays (inside ``destination``), except symlinks that lead out, which are removed.
    """
    try:
        archive = zipfile.ZipFile(zip_path)
    except _ZIP_ERRORS as exc:
        raise UnsafeZip("%s: not a readable zip (%s)" % (zip_path, exc)) from None
    with archive:
        destination.mkdir(parents=True, exist_ok=True)
        _Extraction(zip_path, destination, tree_root).run(archive)
