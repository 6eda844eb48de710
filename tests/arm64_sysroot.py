"""What the arm64 tests build with: the sysroot scripts/setup.sh fetches (Debian's arm64
Python, glibc and libcob), Debian's cross compiler and qemu-user to run arm64 programs.

They are set up wherever scripts/setup.sh ran, so a missing one fails the test that needs
it: only another build machine than x86_64 (nothing to cross-build from) skips, and, for
the tests that run arm64 programs through binfmt_misc, a kernel that refuses it.
"""

from __future__ import annotations

import functools
import shutil
from pathlib import Path
from typing import Any, Callable, Optional, TypeVar

import pytest

from bootstrap_sdk.packaging.options import host_arch

REPO = Path(__file__).resolve().parents[1]
SYSROOT = REPO / ".tools" / "sysroot" / "arm64"
CROSS_CC = "aarch64-linux-gnu-gcc"
F = TypeVar("F", bound=Callable[..., Any])


def missing() -> Optional[str]:
    """What of the arm64 build tools is missing here, or None."""
    if not (SYSROOT / "sysroot.json").is_file():
        return "no arm64 sysroot in %s: scripts/setup.sh fetches it (fetch-sysroot --arch arm64)" % SYSROOT
    for tool, package in ((CROSS_CC, "gcc-aarch64-linux-gnu"), ("qemu-aarch64-static", "qemu-user-static")):
        if shutil.which(tool) is None:
            return "%s not found: scripts/setup.sh installs Debian's %s" % (tool, package)
    return None


def require_arm64_build() -> None:
    """Fail, saying what is missing, unless the arm64 build tools are all here."""
    problem = missing()
    if problem:
        pytest.fail(problem, pytrace=False)


def needs_arm64_build(test: F) -> F:
    """A test that cross-builds for arm64: skipped off x86_64, failed without the tools."""
    @functools.wraps(test)
    def checked(*args: Any, **kwargs: Any) -> Any:
        require_arm64_build()
        return test(*args, **kwargs)

    skip = pytest.mark.skipif(host_arch() != "x86_64", reason="these tests cross-build for arm64 from x86_64")
    return skip(checked)  # type: ignore[no-any-return]
