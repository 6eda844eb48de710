"""The checks a layer (or function zip) passes before anything is written.

Each failure is one sentence that names the file and says what to do; a build collects
them all, then refuses with the whole list.
"""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path, PurePosixPath
from typing import Dict, Iterable, List, Optional, Set, Tuple

import attr

from .elf import GLIBC_SONAMES, MACHINES, SYSTEM_LOADERS, ElfInfo, is_elf, read_elf
from .zipper import LinkEscape, LinkLoop, resolve_inside, special_file_problem

UNZIPPED_LIMIT = 262_144_000   # function + all layers, unzipped (250 MB)
IMAGE_LIMIT = 10_737_418_240   # a container image, all its layers uncompressed (10 GB)
# The default environment of provided.* (docs/facts.md#the-execution-environment): what the
# local sandbox gives a zip function, and what an image's config sets.
LAMBDA_PATH = "/usr/local/bin:/usr/bin/:/bin:/opt/bin"
LAMBDA_LD_LIBRARY_PATH = "/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib"
DIRECT_UPLOAD_LIMIT = 52_428_800  # zipped, for a direct upload (50 MB); above: through S3
MAX_LAYERS = 5
ENVIRONMENT_LIMIT = 4096          # a function's own environment variables, names and values together
SYNC_PAYLOAD_LIMIT = 6_291_456    # a synchronous invoke's event (6 MB); Lambda answers 413 above it
RUNTIMES = {"provided.al2023": (2, 34), "provided.al2": (2, 26)}
AL2_END_OF_LIFE = ("provided.al2 is past end of life: Amazon Linux 2 support ended on 2026-06-30 and "
                   "creating functions on provided.al2 has been blocked since mid-2026 (the dates differ between "
                   "snapshots of the AWS documentation); use provided.al2023 (deprecated on 2029-06-30)")


class BuildError(Exception):
    """A problem with a build's inputs: one clear message per problem, all of them at once."""

    def __init__(self, problems: List[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@attr.s(auto_attribs=True)
class Findings:
    errors: List[str] = attr.Factory(list)
    warnings: List[str] = attr.Factory(list)
    unzipped_bytes: int = 0
    files: int = 0

    def raise_if_failed(self) -> None:
        if self.errors:
            raise BuildError(self.errors)


def layer_path_problem(dest: str) -> Optional[str]:
    """Why ``dest`` cannot be a path inside a layer, or None."""
    if not dest or dest.startswith("/") or "\\" in dest:
        return "%r: layer paths are relative to the layer's root (/opt), like bin/tool" % dest
    if ".." in PurePosixPath(dest).parts:
        return "%r: '..' would leave the layer" % dest
    return None


def _symlink_problem(root: Path, path: Path) -> Optional[str]:
    """Judged by where the link resolves in the tree (links in it followed), not by its text:
    ``x/b -> .`` makes ``a -> x/b/../..`` leave the layer though it reads as staying in."""
    rel = path.relative_to(root)
    target = os.readlink(path)
    if target.startswith("/"):
        return "%s is a symlink to the absolute path %s: make it relative, inside the layer" % (rel, target)
    try:
        resolve_inside(root, rel.parent.parts, target)
    except LinkLoop as exc:
        return "%s is a symlink to %s, which %s" % (rel, target, exc)
    except LinkEscape:
        return "%s is a symlink to %s, which points outside the layer" % (rel, target)
    return None


def bundled_elf_files(root: Path, mount: str = "/opt") -> List[str]:
    """The ELF files of an already built tree (a layer given as a directory) that use the
    tree's own loader and libraries: their loader, DT_RPATH or DT_RUNPATH lies inside
    ``mount``, or they sit beside a loader the tree brings (glibc's own files)."""
    found = []
    for directory, _, files in os.walk(root):
        names = set(files)
        loader_here = any(name.startswith("ld-linux") for name in names)
        for name in sorted(files):
            path = Path(directory) / name
            info = None if path.is_symlink() else read_elf(str(path))
            if info is None:
                continue
            paths = ([info.interpreter] if info.interpreter else []) + list(info.rpath) + list(info.runpath)
            inside = bool(paths) and all(p.startswith(mount + "/") for p in paths)
            if inside or loader_here and info.soname in GLIBC_SONAMES:
                found.append(path.relative_to(root).as_posix())
    return found


def check_tree(root: Path, arch: str, runtime: str, self_contained: Iterable[str] = (),
               needs_bootstrap: bool = True, other_bytes: int = 0, mount: str = "/opt",
               exclude: Iterable[str] = (), size_limit: Optional[int] = UNZIPPED_LIMIT,
               os_userland: bool = True) -> Findings:
    """Check a staged tree: paths, symlinks, modes, ELF machines and glibc, scripts'
    interpreters, bootstrap, size. ``mount`` is where Lambda puts the tree (/opt for a
    layer, /var/task for function code).

    ``self_contained`` lists the layer paths of ELF files that use the layer's own loader
    and glibc; every other dynamic ELF file runs on the target's glibc and is checked
    against its version (2.34 for provided.al2023, 2.26 for provided.al2). ``exclude``
    names files (relative to root) that will not be zipped. ``size_limit`` None: an image's
    tree, which the image's own 10 GB limit covers. ``os_userland`` False: an image from
    scratch, where nothing outside the trees it holds exists, so what leans on the OS (its
    glibc, a ``#!/bin/sh``) is an error, not a warning.
    """
    findings = Findings()
    left_out = set(exclude)
    bundled: Set[str] = set(self_contained)
    machine = MACHINES[arch]
    glibc = RUNTIMES[runtime]
    for directory, dirs, files in os.walk(root):
        for name in sorted(dirs + files):
            path = Path(directory) / name
            rel = path.relative_to(root).as_posix()
            if rel in left_out:
                continue
            st = path.lstat()
            if stat.S_ISLNK(st.st_mode):
                problem = _symlink_problem(root, path)
                if problem:
                    findings.errors.append(problem)
                findings.unzipped_bytes += len(os.readlink(path))
                continue
            if stat.S_ISDIR(st.st_mode):
                continue
            special = special_file_problem(rel, st.st_mode)
            if special:  # before anything opens it: reading a FIFO waits for a writer forever
                findings.errors.append(special)
                continue
            findings.files += 1
            findings.unzipped_bytes += st.st_size
            if not st.st_mode & stat.S_IROTH:
                findings.errors.append("%s is not world-readable (mode %o): Lambda runs code as another user; "
                                       "chmod o+r it, or leave it out if it is a secret"
                                       % (rel, stat.S_IMODE(st.st_mode)))
            if st.st_mode & 0o111:
                warning = _interpreter_warning(root, rel, path, mount)
                if warning and os_userland:
                    findings.warnings.append(warning)
                elif warning:
                    findings.errors.append(warning + NO_OS)
                with open(path, "rb") as handle:
                    crlf = shebang_problem(rel, handle.read(256))
                if crlf:
                    findings.errors.append(crlf)
            info = read_elf(str(path))
            if not st.st_mode & 0o111:
                warning = _execute_bit_warning(rel, path, st.st_mode, info)
                if warning:
                    findings.warnings.append(warning)
            if info is None:
                continue
            if info.machine != machine:
                findings.errors.append("%s is built for %s, not %s (%s): rebuild it for %s or choose --arch"
                                       % (rel, info.machine, arch, machine, arch))
            elif info.is_dynamic and rel not in bundled and info.glibc_version and info.glibc_version > glibc:
                findings.errors.append("%s needs %s, but %s has glibc %d.%d: bundle it with --executable "
                                       "(it then brings its own glibc) or build it against an older glibc"
                                       % (rel, info.glibc_text(), runtime, *glibc))
            elif info.is_program and info.interpreter and rel not in bundled:
                _check_os_linked(root, rel, info, arch, runtime, mount, findings, os_userland)
        dirs[:] = [d for d in dirs if not (Path(directory) / d).is_symlink()]
    if needs_bootstrap:
        _check_bootstrap(root, findings)
    total = findings.unzipped_bytes + other_bytes
    if size_limit is not None and total > size_limit:
        findings.errors.append("unzipped size %s exceeds Lambda's %s limit for a function and all its layers"
                               % (megabytes(total), megabytes(size_limit)))
    return findings


def _execute_bit_warning(rel: str, path: Path, mode: int, info: Optional[ElfInfo]) -> Optional[str]:
    """A file that looks meant to run but has no execute bit: it fails only when invoked."""
    if info is not None:
        meant = info.is_program
    else:
        meant = rel.startswith("bin/") or "/bin/" in rel or shebang_interpreter(path) is not None
    if not meant:
        return None
    return ("%s is not executable (mode %o): Lambda would fail to run it with \"permission denied\" "
            "(Runtime.ExecutableNotExecutable when it is the handler); chmod 755 it"
            % (rel, stat.S_IMODE(mode)))


def _check_os_linked(root: Path, rel: str, info: ElfInfo, arch: str, runtime: str, mount: str,
                     findings: Findings, os_userland: bool = True) -> None:
    """A program that uses a loader it does not bring: the OS's, which Lambda has (and the
    local sandbox has not), or another one, which Lambda has not either."""
    loader = info.interpreter or ""
    if loader.startswith(mount + "/") or loader.startswith(CODE_DIRS):
        return  # brought by this tree or another layer
    version = "%d.%d" % RUNTIMES[runtime]
    if loader != SYSTEM_LOADERS[arch]:
        findings.errors.append(
            "%s needs the loader %s, which %s does not have: Lambda would fail to start it with \"No such file "
            "or directory\". Bundle it with make-runtime-layer --executable (which brings its loader and "
            "libraries), or link it statically" % (rel, loader, runtime))
        return
    if not os_userland:
        findings.errors.append("%s is linked against the OS's glibc (loader %s): Lambda would fail to start it "
                               "with \"No such file or directory\"%s" % (rel, loader, NO_OS))
        return
    places = [root / "lib"] + ([root] if mount == "/var/task" else [])
    missing = [name for name in info.needed if name not in GLIBC_SONAMES
               and not any((place / name).exists() for place in places)]
    needs = "; it also needs %s, not part of glibc and not in this tree (%s/lib): a layer must bring %s in " \
            "/opt/lib" % (", ".join(missing), mount, "it" if len(missing) == 1 else "them") if missing else ""
    findings.warnings.append(
        "%s is linked against the OS's glibc (loader %s, needs %s; %s has %s): it runs on Lambda on the OS's "
        "libraries%s. run-lambda-local's sandbox has no OS libraries, so there it fails with \"No such file or "
        "directory\" unless run with --os-userland. To ship everything it needs, bundle it with "
        "make-runtime-layer --executable instead" % (rel, loader, info.glibc_text(), runtime, version, needs))


# What provided.al2023 (and provided.al2) offer a script's #! line besides the code itself.
OS_INTERPRETERS = ("/bin/sh", "/bin/bash", "/usr/bin/sh", "/usr/bin/bash", "/usr/bin/env")
CODE_DIRS = ("/opt/", "/var/task/")
NO_OS = (" (an image from scratch has no OS: bundle what it needs with --executable, or build on a --base that "
         "brings it)")


def shebang_interpreter(path: Path) -> Optional[str]:
    """The program a ``#!`` line names ("" for a bare ``#!``), or None for a file without one."""
    with open(path, "rb") as handle:
        head = handle.read(256)
    if not head.startswith(b"#!"):
        return None
    words = head[2:].split(b"\n", 1)[0].split()
    return words[0].decode(errors="replace") if words else ""


def _interpreter_warning(root: Path, rel: str, path: Path, mount: str) -> Optional[str]:
    """A script whose ``#!`` interpreter the code does not bring: it leans on the OS."""
    interpreter = shebang_interpreter(path)
    if interpreter is None:
        return None
    if interpreter.startswith(mount + "/"):
        if (root / interpreter[len(mount) + 1:]).exists():
            return None
        return ("%s starts with '#!%s', which this tree does not hold: another layer must bring it"
                % (rel, interpreter))
    if interpreter.startswith(CODE_DIRS):
        return None  # another layer or the function: checked when they meet (run-lambda-local)
    if interpreter in OS_INTERPRETERS:
        return ("%s starts with '#!%s': provided.al2023 has it, but it is all the OS userland such a script may "
                "count on there; run-lambda-local's sandbox has none, so run it there with --os-userland, or "
                "bundle an interpreter and point the #! line at it" % (rel, interpreter))
    return ("%s starts with '#!%s', which neither this tree nor provided.al2023 provides: bundle the interpreter "
            "(make-runtime-layer --executable) and point the #! line at /opt/bin/..." % (rel, interpreter))


def _check_bootstrap(root: Path, findings: Findings) -> None:
    bootstrap = root / "bootstrap"
    if not bootstrap.exists() and not bootstrap.is_symlink():
        findings.errors.append("no bootstrap at the layer's root: Lambda would fail with Runtime.InvalidEntrypoint")
        return
    st = os.stat(bootstrap) if bootstrap.exists() else None
    if st is None or not stat.S_ISREG(st.st_mode):
        findings.errors.append("bootstrap is not a regular file")
    elif st.st_mode & 0o111 != 0o111:
        findings.errors.append("bootstrap is not executable (mode %o): Lambda would fail with \"permission denied\" "
                               "(Runtime.InvalidEntrypoint); chmod 755 it" % stat.S_IMODE(st.st_mode))


def check_zipped_size(size: int, findings: Findings) -> None:
    if size > DIRECT_UPLOAD_LIMIT:
        findings.warnings.append("the zip is %s, over the %s limit for a direct upload: upload it to S3 and "
                                 "publish from there (the manifest's command does)"
                                 % (megabytes(size), megabytes(DIRECT_UPLOAD_LIMIT)))


def megabytes(size: int) -> str:
    return "%.1f MB" % (size / 1_000_000)


def budget_left(unzipped: int) -> Tuple[int, str]:
    left = UNZIPPED_LIMIT - unzipped
    return left, "%s left for function code and other layers (of %s)" % (megabytes(left), megabytes(UNZIPPED_LIMIT))


def source_problems(paths: Dict[str, Path]) -> List[str]:
    """Inputs that cannot be copied into a layer: missing, or a FIFO, socket or device
    (itself or inside a directory), which a copy would block on or refuse."""
    problems = []
    for dest, source in paths.items():
        if not source.exists() and not source.is_symlink():
            problems.append("%s: no such file (for %s)" % (source, dest))
            continue
        for path in [source] + (sorted(source.rglob("*")) if source.is_dir() and not source.is_symlink() else []):
            special = special_file_problem(str(path), path.lstat().st_mode)
            if special:
                problems.append("%s (for %s)" % (special, dest))
    return problems


def executable_problems(paths: Iterable[Path]) -> List[str]:
    """--executable inputs that are not programs at all."""
    problems = []
    for path in paths:
        if not path.exists():
            found = shutil.which(str(path)) if "/" not in str(path) else None
            hint = (": --executable takes a path, PATH is not searched (--executable \"$(command -v %s)\" names %s)"
                    % (path, found)) if found else ""
            problems.append("%s: no such file (for --executable)%s" % (path, hint))
        elif not path.is_file():
            problems.append("%s is not a file: --executable takes programs (use --include for directories)" % path)
        else:
            problem = _program_problem(path)
            if problem:
                problems.append(problem)
    return problems


def _program_problem(path: Path) -> Optional[str]:
    """Why the file ``path`` cannot run as a program, or None."""
    if is_elf(str(path)):
        info = read_elf(str(path))
        if info is None:
            return "%s is a damaged ELF file (truncated or corrupt): rebuild it" % path
        if not info.is_program_or_library:
            return "%s is an ELF %s file, not a program: link it into one" % (path, info.kind)
        if not info.is_program:
            return _module_problem(path, info)
    if not os.access(path, os.X_OK):
        return ("%s is not executable (mode %o): chmod 755 it, or use --include for data"
                % (path, stat.S_IMODE(path.stat().st_mode)))
    if not is_elf(str(path)):
        with open(path, "rb") as handle:
            head = handle.read(256)
        if not head.startswith(b"#!"):
            return ("%s is neither a compiled program nor a script with a #! line: exec would fail with \"Exec "
                    "format error\"; add a #! line naming its interpreter" % path)
        return shebang_problem(str(path), head)
    return None


def shebang_problem(rel: str, head: bytes) -> Optional[str]:
    """A #! line the kernel cannot follow: Windows line endings make it look for
    ``python3.11\r`` (or pass ``-IS\r``), and exec fails with a baffling message."""
    line = head.split(b"\n", 1)[0]
    if head.startswith(b"#!") and line.endswith(b"\r"):
        return ("%s has Windows line endings (CRLF): its #! line asks for %r, which fails to start; convert it "
                "(dos2unix, or sed -i 's/\\r$//')" % (rel, line[2:].decode(errors="replace").strip()))
    return None


def _module_problem(path: Path, info: ElfInfo) -> str:
    """What to say of a shared library or loadable module given as a program."""
    text = "%s is a loadable module (a shared library), not a program: it cannot be run by itself" % path
    if any(name.startswith("libcob.so") for name in info.needed):
        module = path.name.split(".", 1)[0]
        return (text + ". It is a COBOL module (cobc -m): bundle GnuCOBOL's runner instead, "
                "--executable \"$(command -v cobcrun)\", ship %s in the function code, and set the handler to "
                "cobcrun with BOOTSTRAP_SDK_EXEC_ARGS='-M /var/task/ %s'; or compile a program with cobc -x"
                % (path.name, module))
    return (text + ". Bundle the program that loads it (--executable), and put this library in a --library-path "
            "directory: the closure brings it along")
