"""cobol-call-host, compiled for a layer that bundles libcob, so call mode works there.

Call mode (``bootstrap_sdk/adapter/cobol_call.py``) CALLs a COBOL entry inside a small C
program, ``templates/cobol_call_host.c``. It is compiled here, on the build host, against
the very libcob the layer bundles (the closure of the executables given): the C compiler
and libcob's header come with GnuCOBOL (Debian's gnucobol3 depends on gcc and
libcob4-dev), so whoever has ``cobcrun`` to bundle can build it. It goes to
``/opt/bootstrap-sdk/bin``, private to the runtime like the interpreter, and is patched
and checked like every other program of the layer.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import List, Optional, Sequence

from . import elf
from .bootstrap_file import template_path
from .checks import BuildError
from .options import LayerOptions, Progress
from .stage import PRIVATE, Stage
from .sysroot import Sysroot

HOST_NAME = "cobol-call-host"  # adapter/cobol_call.HOST_NAME agrees
HOST_REL = "%s/bin/%s" % (PRIVATE, HOST_NAME)


def libcob_in(stage: Stage, library_paths: Sequence[Path] = ()) -> Optional[str]:
    """The libcob soname the staged programs load (directly or not), if any."""
    roots = [info for rel in stage.elf_roots if rel.startswith("bin/")
             for info in [elf.read_elf(stage.origins.get(rel, str(stage.root / rel)))] if info is not None]
    found = elf.closure(roots, stage.library_search(library_paths), missing=[])
    return next((name for name in sorted(found) if name.startswith("libcob.so")), None)


def compiler_command(source: Path, output: Path, sysroot: Optional[Sysroot] = None) -> List[str]:
    """``cc`` (or ``$CC``) with libcob's flags (``cob-config``, when GnuCOBOL installed it);
    for a sysroot, its compiler against its libcob and headers."""
    if sysroot is not None:
        return [sysroot.c_compiler(), "-O2", "-Wall", "-o", str(output), str(source)] + sysroot.c_flags() + ["-lcob"]
    command = [os.environ.get("CC") or "cc", "-O2", "-Wall", "-o", str(output), str(source)]
    cob_config = shutil.which("cob-config")
    flags: List[str] = []
    if cob_config:
        done = subprocess.run([cob_config, "--cflags", "--libs"], capture_output=True, text=True)
        if done.returncode == 0:
            flags = done.stdout.split()
    return command + [flag for flag in flags if flag.startswith(("-I", "-L", "-l", "-D"))] + (
        [] if "-lcob" in flags else ["-lcob"])


def build_host(output: Path, sysroot: Optional[Sysroot] = None) -> None:
    """Compile the host into ``output``; BuildError with the compiler's words if it fails."""
    command = compiler_command(template_path("cobol_call_host.c"), output, sysroot)
    try:
        done = subprocess.run(command, capture_output=True, text=True)
    except OSError as exc:
        needs = ("Debian's gcc-%s for the compiler, and a sysroot fetched with libcob4-dev" % sysroot.triplet
                 if sysroot is not None and command[0] != "cc" else
                 "a C compiler and libcob's header: Debian's gnucobol3 brings both")
        raise BuildError(["cannot compile %s for call mode: %s: %s (install %s; or pass --no-call-host)"
                          % (HOST_NAME, command[0], exc.strerror, needs)]) from None
    if done.returncode != 0:
        raise BuildError(["cannot compile %s for call mode (%s): %s (pass --no-call-host to build the layer "
                          "without call mode)" % (HOST_NAME, " ".join(command), done.stderr.strip()[-2000:])])


def add_call_host(stage: Stage, options: LayerOptions, progress: Progress) -> None:
    """Build the host into the stage when the layer bundles libcob (and it is wanted)."""
    if not options.call_host:
        return
    soname = libcob_in(stage, options.library_paths)
    if soname is None:
        return
    target = stage.root / HOST_REL
    target.parent.mkdir(parents=True, exist_ok=True)
    build_host(target, stage.sysroot)
    target.chmod(0o755)
    stage.add_elf_root(HOST_REL, str(target))
    progress("call mode: %s built against %s → /opt/%s" % (HOST_NAME, soname, HOST_REL))
