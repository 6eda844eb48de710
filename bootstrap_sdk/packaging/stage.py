"""The staging tree of a layer: interpreter, standard library, runtime, programs, bootstrap.

The tree is what /opt will hold:

    bootstrap                                 the runtime's entry (Python, no /bin/sh needed)
    bin/<program>                             bundled executables (/opt/bin is on PATH)
    bootstrap-sdk/python/bin/pythonX.Y        the interpreter, patched to the layer's loader
    bootstrap-sdk/bin/cobol-call-host         call mode's host, when libcob is bundled (call_host.py)
    bootstrap-sdk/python/lib/pythonX.Y/...    its standard library, sourceless .pyc
    bootstrap-sdk/sdk/bootstrap_sdk/...       the runtime (runtime_files.RUNTIME_FILES)
    bootstrap-sdk/lib/                        glibc, its loader and every other library
    <include destinations>                    extra files and directories

Libraries live in a private directory, not /opt/lib: /opt/lib is on every process's
LD_LIBRARY_PATH (docs/facts.md#the-execution-environment), and a bundled glibc there
would be loaded by the host's own programs.
"""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path, PurePosixPath
from typing import AbstractSet, Dict, List, Optional, Sequence, Tuple

import attr

from . import checks, elf, python_bundle
from .bootstrap_file import write_bootstrap
from .checks import BuildError
from .options import LayerOptions, Progress
from .runtime_files import RUNTIME_FILES, SDK_DIR, vendored_sources
from .sysroot import Sysroot, SysrootError, sysroot_for

PRIVATE = "bootstrap-sdk"
OPT = "/opt"
LAYER_LIB = "%s/%s/lib" % (OPT, PRIVATE)


@attr.s(auto_attribs=True)
class Stage:
    root: Path
    interpreter: python_bundle.Interpreter
    # ELF files (paths in the tree) whose shared libraries the layer must carry, and
    # where each came from: closures resolve there, where $ORIGIN means what it meant.
    elf_roots: List[str] = attr.Factory(list)
    origins: Dict[str, str] = attr.Factory(dict)
    # (source, target .pyc, path shown in tracebacks)
    pyc_jobs: List[Tuple[str, str, str]] = attr.Factory(list)
    # Another architecture's userland: the interpreter and libraries come from there.
    sysroot: Optional[Sysroot] = None

    @property
    def python_rel(self) -> str:
        return "%s/python/bin/%s" % (PRIVATE, self.interpreter.name)

    @property
    def stdlib_rel(self) -> str:
        return "%s/python/lib/%s" % (PRIVATE, self.interpreter.name)

    @property
    def lib_dir(self) -> Path:
        return self.root / PRIVATE / "lib"

    def add_elf_root(self, rel: str, origin: str) -> None:
        self.elf_roots.append(rel)
        self.origins[rel] = origin

    def library_search(self, library_paths: Sequence[Path]) -> List[str]:
        """Where libraries are looked for: ``--library-path``, then the target's own
        directories (the sysroot's, else this host's)."""
        system = self.sysroot.library_dirs() if self.sysroot else elf.system_library_dirs()
        return [str(p) for p in library_paths] + system

    def real_file(self, path: str) -> Path:
        """The file ``path`` names, symlinks resolved (inside the sysroot for its files)."""
        if self.sysroot is not None and path.startswith(str(self.sysroot.root) + os.sep):
            return self.sysroot.resolve(path[len(str(self.sysroot.root)):])
        return Path(os.path.realpath(path))


def validate(options: LayerOptions) -> List[str]:
    """Refuse bad inputs before any work, every problem at once; the warnings to carry."""
    problems = []
    if options.runtime not in checks.RUNTIMES:
        problems.append("--runtime %s: expected one of %s" % (options.runtime, ", ".join(checks.RUNTIMES)))
    if options.arch not in elf.MACHINES:
        problems.append("--arch %s: expected one of %s" % (options.arch, ", ".join(elf.MACHINES)))
    if not options.name or len(options.name) > 140 or not all(
            c.isascii() and (c.isalnum() or c in "-_") for c in options.name):
        problems.append("--name %r: Lambda's layer names are 1-140 letters, digits, '-' and '_'" % options.name)
    problems += [p for _, dest in options.includes for p in [checks.layer_path_problem(dest)] if p]
    problems += checks.executable_problems(options.executables)
    problems += checks.source_problems({dest: src for src, dest in options.includes})
    if options.bootstrap is not None:
        problems += checks.source_problems({"bootstrap": options.bootstrap})
    problems += _destination_problems(options)
    if problems:
        raise BuildError(problems)
    return [checks.AL2_END_OF_LIFE] if options.runtime == "provided.al2" else []


def _destination_problems(options: LayerOptions) -> List[str]:
    """Two inputs for one place in the layer, or an input over the layer's own files."""
    problems = []
    taken: Dict[str, str] = {}
    wanted = [("bin/" + path.name, "--executable %s" % path) for path in options.executables]
    wanted += [(dest, "--include %s:%s" % (src, dest)) for src, dest in options.includes]
    for dest, what in wanted:
        if checks.layer_path_problem(dest):
            continue  # reported as such
        dest = PurePosixPath(dest).as_posix()
        top = dest.split("/", 1)[0]
        if dest in (".", "") or top == PRIVATE or (dest == "bootstrap" and options.bootstrap is None) or (
                dest == "bin" and options.executables):
            problems.append("%s: /opt/%s is the layer's own (%s); choose another destination"
                            % (what, dest, "the runtime's entry, or use --bootstrap" if dest == "bootstrap" else
                               "where --executable programs go" if dest == "bin" else "the runtime and its Python"))
            continue
        for other, owner in taken.items():
            if dest == other or dest.startswith(other + "/") or other.startswith(dest + "/"):
                problems.append("%s and %s both go to /opt/%s" % (owner, what, min(dest, other, key=len)))
        taken[dest] = what
    return problems


def choose_interpreter(options: LayerOptions, progress: Progress) -> Tuple[python_bundle.Interpreter,
                                                                          Optional[Sysroot]]:
    """The interpreter to bundle, and the sysroot it comes from when ``--arch`` needs one."""
    progress("interpreter: choosing and probing")
    sysroot = sysroot_for(options.arch, options.sysroot)
    try:
        if sysroot is not None:
            interpreter = python_bundle.describe(options.python or sysroot.python(), sysroot)
            progress("sysroot: %s (%s, %d packages)" % (sysroot.root, sysroot.arch, len(sysroot.packages)))
        else:
            interpreter = python_bundle.describe(options.python) if options.python else \
                python_bundle.default_interpreter()
    except (python_bundle.InterpreterError, SysrootError) as exc:
        raise BuildError([str(exc)]) from None
    progress("interpreter: %s (Python %d.%d, libpython %s)" % (
        interpreter.executable, *interpreter.version, "static" if interpreter.static_libpython else "shared"))
    return interpreter, sysroot


def new_stage(root: Path, interpreter: python_bundle.Interpreter, sysroot: Optional[Sysroot] = None) -> Stage:
    root.mkdir()
    root.chmod(0o755)
    stage = Stage(root, interpreter, sysroot=sysroot)
    stage.lib_dir.mkdir(parents=True)
    return stage


def add_python(stage: Stage, options: LayerOptions, progress: Progress) -> None:
    """The interpreter and the standard library it needs (``--stdlib``)."""
    progress("stdlib: collecting the %s set%s" % (options.stdlib, (" plus " + ", ".join(options.stdlib_modules))
                                                  if options.stdlib_modules else ""))
    try:
        files = python_bundle.stdlib_files(stage.interpreter, options.stdlib, options.stdlib_modules)
    except python_bundle.InterpreterError as exc:
        raise BuildError([str(exc)]) from None
    copy_into(Path(stage.interpreter.executable), stage.root / stage.python_rel)
    stage.add_elf_root(stage.python_rel, stage.interpreter.executable)
    for item in files:
        target = stage.root / stage.stdlib_rel / item.relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if item.kind == "py":
            stage.pyc_jobs.append((item.source, str(target) + "c", "%s/%s/%s" % (OPT, stage.stdlib_rel, item.relative)))
        else:
            shutil.copy2(item.source, target)
            if item.kind == "so":
                stage.add_elf_root("%s/%s" % (stage.stdlib_rel, item.relative), item.source)


def add_runtime(stage: Stage) -> None:
    """The runtime's own files (the explicit list), each module with its .pyc beside it."""
    sdk_rel = "%s/sdk/bootstrap_sdk" % PRIVATE
    tag = "cpython-%d%d" % stage.interpreter.version
    for name in RUNTIME_FILES:
        source = SDK_DIR / name
        target = stage.root / sdk_rel / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
        if name.endswith(".py"):
            cache = target.parent / "__pycache__"
            cache.mkdir(exist_ok=True)
            stage.pyc_jobs.append((str(source), str(cache / ("%s.%s.pyc" % (target.stem, tag))),
                                   "%s/%s/%s" % (OPT, sdk_rel, name)))
    try:
        vendored = vendored_sources()
    except ImportError as exc:
        raise BuildError([str(exc)]) from None
    for source, name in vendored:
        target = stage.root / PRIVATE / "sdk" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
        os.chmod(target, 0o644)
        if name.endswith(".py"):
            cache = target.parent / "__pycache__"
            cache.mkdir(exist_ok=True)
            stage.pyc_jobs.append((str(source), str(cache / ("%s.%s.pyc" % (target.stem, tag))),
                                   "%s/%s/sdk/%s" % (OPT, PRIVATE, name)))


def compile_python(stage: Stage, progress: Progress) -> None:
    progress("compiling %d modules to .pyc" % len(stage.pyc_jobs))
    try:
        python_bundle.compile_pyc(stage.interpreter, stage.pyc_jobs)
    except python_bundle.InterpreterError as exc:
        raise BuildError([str(exc)]) from None


def add_programs(stage: Stage, options: LayerOptions, progress: Progress) -> None:
    """The executables (into bin/) and the extra files (``--include``)."""
    for executable in options.executables:
        rel = "bin/" + executable.name
        _refuse_taken(stage, rel, "--executable %s" % executable)
        copy_into(executable.resolve(), stage.root / rel)
        if elf.read_elf(str(stage.root / rel)) is not None:
            stage.add_elf_root(rel, str(executable.resolve()))
        progress("executable: %s → /opt/%s" % (executable, rel))
    # The layer zip, its partial copy and its manifest, when written inside an --include
    # directory: a rebuild must not bundle the previous build.
    own = {str(p.resolve()) for p in (options.output, options.output.with_name(options.output.name + ".partial"),
                                      options.output.with_name(options.output.stem + ".manifest.json"))}
    for source, dest in options.includes:
        _refuse_taken(stage, dest, "--include %s:%s" % (source, dest))
        copy_into(source, stage.root / dest, skip=own)
        progress("include: %s → /opt/%s" % (source, dest))


def _refuse_taken(stage: Stage, rel: str, what: str) -> None:
    """validate() refuses the clashes it can foresee; this catches any other, before a copy
    would fail with a traceback or merge into what is there."""
    if os.path.lexists(stage.root / rel):
        raise BuildError(["%s: /opt/%s is already in the layer" % (what, rel)])


def add_bootstrap(stage: Stage, options: LayerOptions) -> None:
    """/opt/bootstrap: the one given, or the runtime's, run by the bundled interpreter."""
    if options.bootstrap is not None:
        copy_into(options.bootstrap, stage.root / "bootstrap")
    else:
        write_bootstrap(stage.root / "bootstrap", python="%s/%s" % (OPT, stage.python_rel),
                        sys_path=["%s/%s/sdk" % (OPT, PRIVATE)])


def copy_into(source: Path, target: Path, skip: AbstractSet[str] = frozenset()) -> None:
    """Copy a file, a directory or a symlink (as a link) to ``target``, leaving out the
    files whose resolved paths are in ``skip``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if source.is_symlink():
        os.symlink(os.readlink(source), target)
    elif source.is_dir():
        def ignore(directory: str, names: List[str]) -> List[str]:
            return [n for n in names if os.path.realpath(os.path.join(directory, n)) in skip]

        shutil.copytree(source, target, symlinks=True, ignore=ignore if skip else None)
    else:
        shutil.copy2(source, target)


def make_writable(path: Path) -> None:
    path.chmod(stat.S_IMODE(path.stat().st_mode) | stat.S_IWUSR)
