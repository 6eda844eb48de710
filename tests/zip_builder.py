"""Zips built entry by entry, with any name, mode or link target: hostile ones included."""

from __future__ import annotations

import os
import stat
import zipfile
from pathlib import Path

REG = stat.S_IFREG
DIR = stat.S_IFDIR
LNK = stat.S_IFLNK


def make_zip(path, entries, unix=True):
    """entries: (name, data, mode); mode None = no Unix mode at all."""
    with zipfile.ZipFile(path, "w") as archive:
        for name, data, mode in entries:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            if unix and mode is not None:
                info.create_system = 3
                info.external_attr = mode << 16
            else:
                info.create_system = 0
                info.external_attr = 0x10 if name.endswith("/") else 0
            archive.writestr(info, data)
    return path


def snapshot(directory):
    """Every path under directory with its mode and (for files) content: what 'unchanged' means."""
    seen = {}
    for base, dirs, files in os.walk(directory):
        for name in dirs + files:
            path = Path(base) / name
            st = path.lstat()
            content = (path.read_bytes() if stat.S_ISREG(st.st_mode)
                       else os.readlink(path) if stat.S_ISLNK(st.st_mode) else None)
            seen[str(path.relative_to(directory))] = (st.st_mode, content)
    st = os.lstat(directory)
    seen["."] = (st.st_mode, None)
    return seen
