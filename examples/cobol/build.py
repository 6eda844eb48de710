#!/usr/bin/env python3
"""Build the COBOL example: the runtime layer and the function zip.

    python3 examples/cobol/build.py [--out build/cobol] [--program NAME ...] [--name NAME] [--no-image]
                                    [--arch arm64 [--sysroot DIR]]

The layer: the bootstrap-sdk runtime and GnuCOBOL's runner, ``cobcrun``, with libcob and
its whole closure (glibc included), ICU's 30 MB data library replaced by a stub. The
function: the programs compiled with ``cobc -m`` (modules that ``cobcrun`` loads), the
copybooks the codec reads, and the COBOL source. The function zip is named after the
function (``--name``, by default the first program in lower case): ``payroll-function.zip``
here, ``greet-function.zip`` for ``--program GREET``. The image, named the same way
(``payroll-image.tar``, an oci-archive from make-runtime-image), holds the same two in one: the layer's tree in /opt,
the function's in /var/task, ``cobcrun`` as its Cmd; each function picks its own Cmd and
environment (ImageConfig and Environment on Lambda).

``--arch arm64`` on an x86_64 machine builds all three for Graviton: ``cobc`` drives
Debian's cross compiler (gcc-aarch64-linux-gnu) against the arm64 libcob of a sysroot
(``fetch-sysroot``; by default .tools/sysroot/arm64, which scripts/setup.sh fetches), and
the layer bundles that sysroot's Python, glibc, ``cobcrun`` and libcob.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))

from bootstrap_sdk.packaging import cli  # noqa: E402
from bootstrap_sdk.packaging.elf import closure, read_elf, system_library_dirs  # noqa: E402
from bootstrap_sdk.packaging.options import host_arch  # noqa: E402
from bootstrap_sdk.packaging.sysroot import Sysroot, SysrootError, open_sysroot  # noqa: E402

# The programs in src/ (src/NAME.cob), compiled into NAME.so: change this list, or pass --program.
PROGRAMS = ["PAYROLL", "PAYBATCH", "PAYCALC", "ACCTSUM"]


def find_cobcrun(sysroot: Optional[Sysroot] = None) -> str:
    """This machine's cobcrun, or the sysroot's (the target's) for another architecture."""
    if sysroot is not None:
        found = sysroot.resolve("/usr/bin/cobcrun")
        if not found.is_file():
            raise BuildFailed("the sysroot %s has no usr/bin/cobcrun: fetch it with `fetch-sysroot --arch %s DIR` "
                              "(gnucobol3 is among its packages)" % (sysroot.root, sysroot.arch))
        return str(found)
    which = shutil.which("cobcrun")
    if not which:
        raise BuildFailed("cobcrun not found: install GnuCOBOL (Debian: apt-get install gnucobol3)")
    return which


def icu_data_library(cobcrun: str, sysroot: Optional[Sysroot] = None) -> List[str]:
    """ICU's data library in cobcrun's closure (libicudata.so.NN), if any: the one to stub."""
    info = read_elf(cobcrun)
    assert info is not None
    search = sysroot.library_dirs() if sysroot is not None else system_library_dirs()
    return [name for name in closure([info], search) if name.startswith("libicudata.so")]


def target_sysroot(arch: str, sysroot: Optional[Path]) -> Optional[Sysroot]:
    """The sysroot for ``arch``: none for this machine's, else ``sysroot`` or the one
    scripts/setup.sh fetches."""
    if arch == host_arch():
        return None
    try:
        return open_sysroot(sysroot or ROOT / ".tools" / "sysroot" / arch, arch)
    except SysrootError as exc:
        raise BuildFailed(str(exc)) from None


class BuildFailed(Exception):
    """A step of the build failed; the message says which and what to do."""


def compile_programs(function_dir: Path, programs: Sequence[str], sysroot: Optional[Sysroot] = None) -> None:
    """``cobc -m`` each program into a module; for a sysroot, with its cross compiler and libcob."""
    env = dict(os.environ)
    if sysroot is not None:
        env.update(sysroot.cobc_environment())
    for program in programs:
        source = HERE / "src" / (program + ".cob")
        if not source.is_file():
            raise BuildFailed("%s: no such program (each name in --program or PROGRAMS is a file src/NAME.cob)"
                              % source)
        done = subprocess.run(["cobc", "-m", "-O", "-I", str(HERE / "copybooks"), "-o",
                               str((function_dir / (program + ".so")).resolve()), str(source)], cwd=str(HERE),
                              env=env)
        if done.returncode != 0:
            raise BuildFailed("cobc could not compile %s (its messages are above)" % source)


def function_name(programs: Sequence[str]) -> str:
    """The default name of the function: its first program's, in lower case."""
    return programs[0].lower() if programs else "cobol"


def build(out: Path, quiet: bool = True, programs: Sequence[str] = PROGRAMS,
          name: Optional[str] = None, image: bool = True, arch: Optional[str] = None,
          sysroot_dir: Optional[Path] = None) -> Dict[str, Path]:
    """Build the layer, the function zip and (``image``) the image into ``out``, for
    ``arch`` (default: this machine's); BuildFailed says what went wrong."""
    arch = arch or host_arch()
    sysroot = target_sysroot(arch, sysroot_dir)
    target = ["--arch", arch] + (["--sysroot", str(sysroot_dir or ROOT / ".tools" / "sysroot" / arch)]
                                 if sysroot is not None else [])
    try:
        out.mkdir(parents=True, exist_ok=True)
        out.chmod(0o755)
        function_dir = out / "function"
        if function_dir.exists():
            shutil.rmtree(function_dir)
        function_dir.mkdir()
    except OSError as exc:
        raise BuildFailed("cannot write %s: %s (choose another --out, or run as a user who can write there)"
                          % (exc.filename or out, exc.strerror)) from None
    compile_programs(function_dir, programs, sysroot)
    shutil.copytree(HERE / "copybooks", function_dir / "copybooks")
    shutil.copytree(HERE / "src", function_dir / "src")
    flags = ["-q"] if quiet else []
    function_zip = out / ("%s-function.zip" % (name or function_name(programs)))
    if cli.make_function_zip([str(function_dir), "-o", str(function_zip), "--arch", arch] + flags) != 0:
        raise BuildFailed("make-function-zip failed (its messages are above)")
    cobcrun = find_cobcrun(sysroot)
    runtime = target + ["--executable", cobcrun] + [
        arg for name in icu_data_library(cobcrun, sysroot) for arg in ("--stub-library", name)]
    layer_zip = out / "cobol-runtime.zip"
    code = cli.make_runtime_layer(["-o", str(layer_zip), "--name", "cobol-runtime", "--description",
                                   "bootstrap-sdk runtime with GnuCOBOL's cobcrun and libcob", "--license",
                                   "Apache-2.0 AND LGPL-3.0-or-later"] + runtime + flags)
    if code != 0:
        raise BuildFailed("make-runtime-layer failed (its messages are above)")
    built = {"layer": layer_zip, "function": function_zip, "function_dir": function_dir}
    if image:
        built["image"] = out / ("%s-image.tar" % (name or function_name(programs)))
        code = cli.make_runtime_image(["-o", str(built["image"]), "--function", str(function_dir), "--handler",
                                       "cobcrun"] + runtime + flags)
        if code != 0:
            raise BuildFailed("make-runtime-image failed (its messages are above)")
    return built


def arg_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "cobol",
                        help="output directory (default: build/cobol in the repository)")
    parser.add_argument("--program", action="append", metavar="NAME",
                        help="a program to compile, src/NAME.cob (repeatable; default: %s)" % " ".join(PROGRAMS))
    parser.add_argument("--name", help="the function's name: the zip is NAME-function.zip (default: the first "
                                       "program's name in lower case)")
    parser.add_argument("--no-image", dest="image", action="store_false",
                        help="build the layer and the function zip only, not the image")
    parser.add_argument("--arch", choices=["x86_64", "arm64"], default=host_arch(),
                        help="the target architecture (default: this machine's, %(default)s)")
    parser.add_argument("--sysroot", type=Path, metavar="DIR",
                        help="for another --arch: the sysroot from fetch-sysroot (default .tools/sysroot/ARCH)")
    return parser


def main() -> int:
    args = arg_parser().parse_args()
    try:
        built = build(args.out, quiet=False, programs=args.program or PROGRAMS, name=args.name, image=args.image,
                      arch=args.arch, sysroot_dir=args.sysroot)
    except BuildFailed as exc:
        print("build.py: error: %s" % exc, file=sys.stderr)
        return 1
    print("layer:    %s\nfunction: %s" % (built["layer"], built["function"]))
    if "image" in built:
        print("image:    %s" % built["image"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
