"""What the arm64 tests build with: the sysroot scripts/setup.sh fetches (Debian's arm64
Python, glibc and libcob), Debian's cross compiler and qemu-user to run arm64 programs."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Optional

import pytest

REPO = Path(__file__).resolve().parents[1]
SYSROOT = REPO / ".tools" / "sysroot" / "arm64"
CROSS_CC = "aarch64-linux-gnu-gcc"


def missing() -> Optional[str]:
    """Why arm64 layers cannot be built here, or None."""
    if not (SYSROOT / "sysroot.json").is_file():
        return "no arm64 sysroot in %s: scripts/setup.sh fetches it (fetch-sysroot --arch arm64)" % SYSROOT
    for tool, package in ((CROSS_CC, "gcc-aarch64-linux-gnu"), ("qemu-aarch64-static", "qemu-user-static")):
        if shutil.which(tool) is None:
            return "%s not found: scripts/setup.sh installs Debian's %s" % (tool, package)
    return None


needs_arm64_build = pytest.mark.skipif(missing() is not None, reason=missing() or "")
