"""The shared-library closure of every staged ELF file, copied into the layer.

Each root must be built for the layer's architecture. Its closure is resolved where the
root came from (so ``$ORIGIN`` and the build host's search path mean what they meant),
then copied flat into the layer's private library directory; sonames named with
``--stub-library`` are replaced by stubs, and the build host's dynamic loader comes too
unless the layer uses the host's glibc (``--system-libc``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Dict, List, Tuple

from . import checks, elf
from .checks import BuildError
from .options import LayerOptions, Progress
from .stage import PRIVATE, Stage, copy_into


def bundle_libraries(stage: Stage, options: LayerOptions, progress: Progress) -> List[str]:
    """Copy the closure in; the problems found (libraries not found, stubs nothing needs).

    Problems are returned, not raised, so that the build goes on to its checks and lists
    every problem at once.
    """
    needed, problems = _closure(stage, options)
    for soname, info in sorted(needed.items()):
        if soname in options.stub_libraries:
            _stub(info.path, soname, stage.lib_dir / soname, stage, progress)
        else:
            source = stage.real_file(info.path)
            if not source.is_file():  # a sysroot's link that only this host's / completes
                problems.append("%s, which the layer needs, is %s: a link that leads out of the sysroot %s "
                                "(inside it, it names nothing)" % (soname, info.path,
                                                                   stage.sysroot.root if stage.sysroot else "/"))
                continue
            copy_into(source, stage.lib_dir / soname)
    if not options.system_libc:
        loader_name = elf.LOADERS[options.arch]
        python_info = elf.read_elf(str(stage.root / stage.python_rel))
        assert python_info is not None
        loader = python_info.interpreter or elf.SYSTEM_LOADERS[options.arch]
        source = stage.sysroot.resolve(loader) if stage.sysroot else Path(os.path.realpath(loader))
        copy_into(source, stage.lib_dir / loader_name)
    progress("libraries: %d bundled in /opt/%s/lib" % (len(os.listdir(stage.lib_dir)), PRIVATE))
    return problems


def _closure(stage: Stage, options: LayerOptions) -> Tuple[Dict[str, elf.ElfInfo], List[str]]:
    """The libraries the roots need. A root built for another architecture is left out
    here: the tree's checks name it, with every other problem."""
    roots = []
    for rel in stage.elf_roots:
        info = elf.read_elf(stage.origins[rel])
        assert info is not None
        if info.machine == elf.MACHINES[options.arch]:
            roots.append(info)
    search = stage.library_search(options.library_paths)
    skip = elf.GLIBC_SONAMES if options.system_libc else ()
    missing: List[str] = []
    needed = elf.closure(roots, search, skip, missing)
    problems = [problem + "; add its directory with --library-path" for problem in missing]
    unknown = sorted(set(options.stub_libraries) - set(needed))
    problems += ["--stub-library %s: no bundled program needs it (the closure has %s)"
                 % (name, ", ".join(sorted(needed))) for name in unknown]
    return needed, problems


def _stub(real: str, soname: str, target: Path, stage: Stage, progress: Progress) -> None:
    from .stub import StubError, build_stub

    try:
        build_stub(real, soname, target, stage.sysroot.c_compiler() if stage.sysroot else None)
    except StubError as exc:
        raise BuildError([str(exc)]) from None
    progress("library: %s replaced by a stub (%s → %s)" % (
        soname, checks.megabytes(os.path.getsize(real)), checks.megabytes(target.stat().st_size)))
