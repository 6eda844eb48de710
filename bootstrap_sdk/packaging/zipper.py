"""Deterministic zips for Lambda, and extraction that honours their Unix modes.

Same tree in, same bytes out: entries sorted, one fixed timestamp (``SOURCE_DATE_EPOCH``,
else 1980-01-01, the earliest a zip can hold), explicit Unix modes (directories and
executables 0755, other files 0644), fixed compression level. A zip written without Unix
modes extracts as 0600 on Lambda and fails with "permission denied"
(Runtime.InvalidEntrypoint): every entry here says its mode.
"""

from __future__ import annotations

import os
import stat
import time
import zipfile
from pathlib import Path
from typing import Iterator, List, Optional, Tuple

ZIP_EPOCH = 315532800  # 1980-01-01T00:00:00Z


class UnsafeZip(Exception):
    pass


def source_date_epoch() -> int:
    value = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    return max(int(value), ZIP_EPOCH) if value.isdigit() else ZIP_EPOCH


def entry_mode(path: Path) -> int:
    """The mode a file gets in the zip: 0755 if anyone may execute it, else 0644."""
    st = path.lstat()
    if stat.S_ISLNK(st.st_mode):
        return stat.S_IFLNK | 0o777
    if stat.S_ISDIR(st.st_mode):
        return stat.S_IFDIR | 0o755
    return stat.S_IFREG | (0o755 if st.st_mode & 0o111 else 0o644)


def walk(root: Path) -> Iterator[Tuple[str, Path]]:
    """(zip name, path) for every directory, file and symlink under root, sorted."""
    entries: List[Tuple[str, Path]] = []
    for directory, dirs, files in os.walk(root):
        base = Path(directory)
        for name in dirs + files:
            path = base / name
            rel = path.relative_to(root).as_posix()
            entries.append((rel + "/" if path.is_dir() and not path.is_symlink() else rel, path))
        # Symlinked directories are entries, not trees to descend into.
        dirs[:] = [d for d in dirs if not (base / d).is_symlink()]
    return iter(sorted(entries))


def write_zip(root: Path, output: Path, epoch: Optional[int] = None) -> None:
    stamp = time.gmtime(source_date_epoch() if epoch is None else epoch)[:6]
    tmp = output.with_name(output.name + ".partial")
    with zipfile.ZipFile(tmp, "w") as archive:
        for name, path in walk(root):
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
                archive.writestr(info, path.read_bytes(), compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
    os.replace(tmp, output)


def unzipped_size(zip_path: Path) -> int:
    with zipfile.ZipFile(zip_path) as archive:
        return sum(info.file_size for info in archive.infolist())


def extract(zip_path: Path, destination: Path) -> None:
    """Extract as Lambda does: Unix modes honoured (0600 when a zip has none), symlinks kept.

    Refuses entries that would land outside ``destination`` (absolute, ``..``, or through a symlink).
    """
    root = destination.resolve()
    with zipfile.ZipFile(zip_path) as archive:
        for info in archive.infolist():
            name = info.filename
            if name.startswith("/") or ".." in Path(name).parts:
                raise UnsafeZip("%s: entry %r would land outside the extraction directory" % (zip_path, name))
            target = destination / name
            parent = target.parent.resolve()
            if parent != root and root not in parent.parents:
                raise UnsafeZip("%s: entry %r goes through a symlink out of the tree" % (zip_path, name))
            mode = info.external_attr >> 16 if info.create_system == 3 else 0
            if name.endswith("/") or stat.S_ISDIR(mode):
                target.mkdir(parents=True, exist_ok=True)
                os.chmod(target, stat.S_IMODE(mode) or 0o755)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            if stat.S_ISLNK(mode):
                if target.is_symlink() or target.exists():
                    target.unlink()
                os.symlink(archive.read(info).decode(), target)
                continue
            with archive.open(info) as source, open(target, "wb") as sink:
                while True:
                    chunk = source.read(1 << 20)
                    if not chunk:
                        break
                    sink.write(chunk)
            os.chmod(target, stat.S_IMODE(mode) if mode else 0o600)
