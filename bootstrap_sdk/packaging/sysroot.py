"""Another architecture's userland, for building layers and images for it on this host.

A sysroot is a directory laid out as the target's root: its Python at usr/bin/pythonX.Y,
glibc and its loader in lib/<triplet>, the other libraries in usr/lib/<triplet>. When
``--arch`` is not this host's, the interpreter, the standard library and every bundled
library come from the sysroot named by ``--sysroot``, never from this host: an x86_64
library cannot serve an arm64 program, and a library chosen by accident would make the
build depend on the machine.

``fetch_sysroot`` makes one from Debian's packages for the target (multiarch: ``dpkg
--add-architecture``, then ``apt-get download`` and ``dpkg-deb -x``, never installed over
this host's). The .deb files stay in ``DIR/debs``: a second fetch downloads nothing, and a
build reads only ``DIR/root``, so it works offline and gives the same layer every time.
``DIR/sysroot.json`` records each package's name, version and sha256, which the layer's
manifest repeats.

The target's interpreter runs during the build (to find its standard library and compile
``.pyc``) under qemu-user, ``qemu-aarch64-static -L ROOT``: an emulator run by name, which
needs no binfmt_misc registration.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path, PurePosixPath
from typing import Dict, List, Optional, Sequence, Tuple

import attr

from .checks import BuildError
from .elf import SYSTEM_LOADERS
from .manifest import sha256_of
from .options import Progress, host_arch

TRIPLETS = {"x86_64": "x86_64-linux-gnu", "arm64": "aarch64-linux-gnu"}
DEBIAN_ARCHES = {"x86_64": "amd64", "arm64": "arm64"}
EMULATORS = {"x86_64": "qemu-x86_64-static", "arm64": "qemu-aarch64-static"}
MANIFEST = "sysroot.json"
# What a runtime layer needs (Python, its standard library's libraries, glibc) and what
# COBOL programs are built and bundled with (libcob, its header and GMP's); their
# dependencies are added by apt.
DEFAULT_PACKAGES = ("python3.11-minimal", "libpython3.11-stdlib", "libc6", "libcob4", "libcob4-dev", "libgmp-dev")
# Fetched without their dependencies: gnucobol3 for ``cobcrun`` (it needs only libcob; the
# package depends on gcc, which a layer never carries).
DEFAULT_PACKAGES_ONLY = ("gnucobol3",)
# Dependencies that are tools for installing, never libraries a program loads.
NOT_NEEDED = frozenset({"dpkg", "tar", "install-info", "perl-base", "debconf"})
_PACKAGE_NAME = re.compile(r"^[a-z0-9][a-z0-9+.-]+$")


class SysrootError(Exception):
    pass


@attr.s(frozen=True, auto_attribs=True)
class Sysroot:
    root: Path
    arch: str
    packages: Tuple[Tuple[str, str], ...] = ()  # (name, version), as fetched; () for a tree of one's own

    @property
    def triplet(self) -> str:
        return TRIPLETS[self.arch]

    def library_dirs(self) -> List[str]:
        """Where the target's loader looks, in the sysroot (multiarch directories first)."""
        dirs = ["lib/" + self.triplet, "usr/lib/" + self.triplet, "lib", "usr/lib"]
        return [str(self.root / d) for d in dirs if (self.root / d).is_dir()]

    def resolve(self, path: str) -> Path:
        """The host file for ``path`` as the target sees it: symlinks followed inside the
        sysroot (an absolute link means the sysroot's root, ``..`` stops there)."""
        parts = list(PurePosixPath("/" + path.lstrip("/")).parts[1:])
        done: List[str] = []
        hops = 0
        while parts:
            part = parts.pop(0)
            if part in ("", "."):
                continue
            if part == "..":
                if done:
                    done.pop()
                continue
            candidate = self.root.joinpath(*done, part)
            if candidate.is_symlink():
                hops += 1
                if hops > 40:
                    raise SysrootError("%s: too many symlinks in the sysroot %s" % (path, self.root))
                target = os.readlink(candidate)
                if target.startswith("/"):
                    done = []
                parts = list(PurePosixPath(target).parts[1 if target.startswith("/") else 0:]) + parts
                continue
            done.append(part)
        return self.root.joinpath(*done)

    def python(self) -> str:
        """The newest usr/bin/python3.N of the sysroot."""
        found = []
        for path in (self.root / "usr" / "bin").glob("python3.*"):
            match = re.fullmatch(r"python3\.(\d+)", path.name)
            if match and path.is_file():
                found.append((int(match.group(1)), path))
        if not found:
            raise SysrootError("the sysroot %s has no usr/bin/python3.N: fetch it with `fetch-sysroot --arch %s %s`, "
                               "or name one with --python" % (self.root, self.arch, self.root))
        return str(max(found)[1])

    def runner(self) -> List[str]:
        """The prefix that runs the sysroot's programs here: none for this host's architecture."""
        if self.arch == host_arch():
            return []
        emulator = shutil.which(EMULATORS[self.arch]) or shutil.which(EMULATORS[self.arch], path="/usr/bin")
        if emulator is None:
            raise SysrootError("%s not found: running the %s interpreter here needs Debian's qemu-user-static"
                               % (EMULATORS[self.arch], self.arch))
        return [emulator, "-L", str(self.root)]

    def c_compiler(self) -> str:
        """The C compiler that builds for the sysroot: ``cc`` natively, else the triplet's gcc."""
        if self.arch == host_arch():
            return os.environ.get("CC") or "cc"
        return self.triplet + "-gcc"

    def c_flags(self) -> List[str]:
        """Headers and libraries of the sysroot for that compiler (its own libc stays its own)."""
        flags = []
        for include in ("usr/include", "usr/include/" + self.triplet):
            if (self.root / include).is_dir():
                flags.append("-I" + str(self.root / include))
        dirs = self.library_dirs()
        return flags + ["-L" + d for d in dirs] + ["-Wl,-rpath-link," + ":".join(dirs)]

    def cobc_environment(self) -> Dict[str, str]:
        """The variables that make ``cobc`` build for the sysroot's architecture with the
        cross compiler, against the sysroot's libcob (``cobc`` itself is this host's)."""
        flags = self.c_flags()
        return {"COB_CC": self.c_compiler(),
                "COB_CFLAGS": " ".join(["-pipe"] + [f for f in flags if f.startswith("-I")] +
                                       ["-Wno-unused", "-fsigned-char", "-Wno-pointer-sign"]),
                "COB_LDFLAGS": " ".join(f for f in flags if not f.startswith("-I")),
                "COB_LIBS": "-lcob -lm"}

    def describe(self) -> Dict[str, object]:
        """What the layer's manifest says of where its interpreter and libraries came from."""
        return {"arch": self.arch, "packages": ["%s=%s" % pair for pair in self.packages]}


def open_sysroot(path: Path, arch: str) -> Sysroot:
    """``path``: a directory made by ``fetch_sysroot`` (its ``root`` is used), or a root of
    one's own. Refused when it is for another architecture."""
    if not path.is_dir():
        raise SysrootError("--sysroot %s is not a directory: make one with `fetch-sysroot --arch %s %s`"
                           % (path, arch, path))
    manifest = path / MANIFEST
    packages: Tuple[Tuple[str, str], ...] = ()
    root = path
    if manifest.is_file():
        try:
            data = json.loads(manifest.read_text())
            fetched_for = str(data["arch"])
            packages = tuple((str(p["package"]), str(p["version"])) for p in data["packages"])
        except (ValueError, KeyError, TypeError) as exc:
            raise SysrootError("%s is damaged (%s): fetch the sysroot again" % (manifest, exc)) from None
        if fetched_for != arch:
            raise SysrootError("--sysroot %s is for %s, not %s: fetch one with `fetch-sysroot --arch %s DIR`"
                               % (path, fetched_for, arch, arch))
        root = path / "root"
    loader = SYSTEM_LOADERS[arch]
    sysroot = Sysroot(root.resolve(), arch, packages)
    if not sysroot.resolve(loader).is_file():
        raise SysrootError("--sysroot %s has no %s: it is not a %s root (fetch one with `fetch-sysroot --arch %s DIR`)"
                           % (path, loader, arch, arch))
    return sysroot


def sysroot_arch(path: Path) -> Optional[str]:
    """The architecture a sysroot is for (its sysroot.json, else its loader), or None."""
    try:
        return str(json.loads((path / MANIFEST).read_text())["arch"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    for arch, loader in sorted(SYSTEM_LOADERS.items()):
        if os.path.lexists(path / loader.lstrip("/")):
            return arch
    return None


def sysroot_for(arch: str, path: Optional[Path]) -> Optional[Sysroot]:
    """The sysroot a build for ``arch`` uses: ``path``'s, none for this host's architecture
    without one, and a BuildError that says how to get one for another."""
    if path is None:
        if arch == host_arch():
            return None
        raise BuildError(["--arch %s on this %s machine needs --sysroot DIR: the %s interpreter and libraries to "
                          "bundle, from Debian's %s packages. Fetch them once with `fetch-sysroot --arch %s DIR` "
                          "(needs `dpkg --add-architecture %s && apt-get update` as root first)"
                          % (arch, host_arch(), arch, DEBIAN_ARCHES[arch], arch, DEBIAN_ARCHES[arch])])
    try:
        return open_sysroot(path, arch)
    except SysrootError as exc:
        raise BuildError([str(exc)]) from None


def _run(command: Sequence[str], cwd: Optional[Path] = None) -> str:
    try:
        done = subprocess.run(list(command), cwd=cwd, capture_output=True, text=True)
    except OSError as exc:
        raise SysrootError("cannot run %s: %s (fetch-sysroot needs Debian's apt and dpkg)"
                           % (command[0], exc.strerror)) from None
    if done.returncode != 0:
        raise SysrootError("%s failed: %s" % (" ".join(command), done.stderr.strip()[-2000:]))
    return done.stdout


def package_closure(names: Sequence[str], arch: str) -> List[str]:
    """``names`` and every package they depend on, for ``arch`` (apt's candidates)."""
    debian = DEBIAN_ARCHES[arch]
    bad = [name for name in names if not _PACKAGE_NAME.match(name)]
    if bad:
        raise SysrootError("not Debian package names: %s" % ", ".join(bad))
    output = _run(["apt-cache", "depends", "--recurse", "--no-recommends", "--no-suggests", "--no-conflicts",
                   "--no-breaks", "--no-replaces", "--no-enhances"] + ["%s:%s" % (n, debian) for n in names])
    found = set()
    for line in output.splitlines():
        if line.startswith((" ", "<")) or not line.endswith(":" + debian):
            continue  # a dependency line, a virtual package, or one of this host's packages
        name = line[:-len(debian) - 1]
        if name not in NOT_NEEDED:
            found.add(name)
    missing = sorted(set(names) - found)
    if missing:
        raise SysrootError("apt knows no %s package %s" % (debian, ", ".join(missing)))
    return sorted(found)


def _foreign_arch_problem(arch: str) -> Optional[str]:
    debian = DEBIAN_ARCHES[arch]
    if arch == host_arch():
        return None
    known = _run(["dpkg", "--print-foreign-architectures"]).split()
    if debian in known:
        return None
    return ("apt does not know Debian's %s packages on this machine yet: as root, run `dpkg --add-architecture %s "
            "&& apt-get update` (this only lets apt download them; nothing is installed)" % (debian, debian))


def _deb_fields(path: Path) -> Tuple[str, str, str]:
    output = _run(["dpkg-deb", "-f", str(path), "Package", "Version", "Architecture"])
    fields = dict(line.split(": ", 1) for line in output.splitlines() if ": " in line)
    return fields.get("Package", ""), fields.get("Version", ""), fields.get("Architecture", "")


def _recorded_digests(dest: Path) -> Dict[str, str]:
    """The sha256 sysroot.json recorded for each .deb when it was fetched (none: a first fetch)."""
    try:
        packages = json.loads((dest / MANIFEST).read_text())["packages"]
        return {str(p["file"]): str(p["sha256"]) for p in packages}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def fetch_sysroot(dest: Path, arch: str, extra: Sequence[str] = (), progress: Progress = lambda line: None,
                  refresh: bool = False, extra_only: Sequence[str] = ()) -> Sysroot:
    """Download (once) and unpack the packages of a sysroot for ``arch`` into ``dest``:
    ``extra`` with their dependencies, ``extra_only`` without."""
    alone = sorted(set(DEFAULT_PACKAGES_ONLY) | set(extra_only))
    names = sorted(set(DEFAULT_PACKAGES) | set(extra) | set(alone))
    bad = [name for name in names if not _PACKAGE_NAME.match(name)]
    if bad:
        raise SysrootError("not Debian package names: %s" % ", ".join(bad))
    debs = dest / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    if refresh:
        for old in debs.glob("*.deb"):
            old.unlink()
    debian = DEBIAN_ARCHES[arch]
    cached = {path.name.split("_", 1)[0]: path for path in debs.glob("*_%s.deb" % debian)}
    cached.update({path.name.split("_", 1)[0]: path for path in debs.glob("*_all.deb")})
    wanted = names if set(names) <= set(cached) and (dest / MANIFEST).is_file() else None
    if wanted is None:
        problem = _foreign_arch_problem(arch)
        if problem:
            raise SysrootError(problem)
        wanted = sorted(set(package_closure(sorted(set(names) - set(alone)), arch)) | set(alone))
        absent = [name for name in wanted if name not in cached]
        if absent:
            progress("downloading %d %s packages into %s" % (len(absent), debian, debs))
            _run(["apt-get", "download", "-q"] + ["%s:%s" % (n, debian) for n in absent], cwd=debs)
            cached = {path.name.split("_", 1)[0]: path for path in debs.glob("*_%s.deb" % debian)}
            cached.update({path.name.split("_", 1)[0]: path for path in debs.glob("*_all.deb")})
        else:
            progress("all %d packages already in %s" % (len(wanted), debs))
    else:
        progress("all %d packages already in %s (offline)" % (len(cached), debs))
        wanted = sorted(cached)
    records = []
    fetched = _recorded_digests(dest)
    staging = Path(tempfile.mkdtemp(prefix="root.", dir=dest))
    try:
        for name in wanted:
            path = cached.get(name)
            if path is None:
                raise SysrootError("apt-get download gave no .deb for %s:%s" % (name, debian))
            package, version, architecture = _deb_fields(path)
            if package != name or architecture not in (debian, "all"):
                raise SysrootError("%s is %s for %s, not %s for %s" % (path, package, architecture, name, debian))
            digest = sha256_of(path)
            if fetched.get(path.name, digest) != digest:
                raise SysrootError("%s changed since it was fetched (sha256 %s, recorded %s): remove it, or fetch "
                                   "again with --refresh" % (path, digest, fetched[path.name]))
            _run(["dpkg-deb", "-x", str(path), str(staging)])
            records.append({"package": package, "version": version, "architecture": architecture,
                            "file": path.name, "sha256": digest})
        staging.chmod(0o755)
        old = dest / "root"
        if old.exists():
            shutil.rmtree(old)
        staging.rename(old)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    (dest / MANIFEST).write_text(json.dumps({"arch": arch, "debian_arch": debian, "packages": records}, indent=2)
                                 + "\n")
    progress("sysroot: %s (%d packages unpacked)" % (dest / "root", len(records)))
    return open_sysroot(dest, arch)
