#!/usr/bin/env python3
"""Build the COBOL example: the runtime layer and the function zip.

    python3 examples/cobol/build.py [--out build/cobol] [--program NAME ...] [--name NAME] [--no-image]

The layer: the bootstrap-sdk runtime and GnuCOBOL's runner, ``cobcrun``, with libcob and
its whole closure (glibc included), ICU's 30 MB data library replaced by a stub. The
function: the programs compiled with ``cobc -m`` (modules that ``cobcrun`` loads), the
copybooks the codec reads, and the COBOL source. The function zip is named after the
function (``--name``, by default the first program in lower case): ``payroll-function.zip``
here, ``greet-function.zip`` for ``--program GREET``. The image, named the same way
(``payroll-image.tar``, an oci-archive from make-runtime-image), holds the same two in one: the layer's tree in /opt,
the function's in /var/task, ``cobcrun`` as its Cmd; each function picks its own Cmd and
environment (ImageConfig and Environment on Lambda).
"""

from __future__ import annotations

import argparse
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

# The programs in src/ (src/NAME.cob), compiled into NAME.so: change this list, or pass --program.
PROGRAMS = ["PAYROLL", "PAYBATCH", "PAYCALC", "ACCTSUM"]


def find_cobcrun() -> str:
    found = shutil.which("cobcrun")
    if not found:
        raise BuildFailed("cobcrun not found: install GnuCOBOL (Debian: apt-get install gnucobol3)")
    return found


def icu_data_library(cobcrun: str) -> List[str]:
    """ICU's data library in cobcrun's closure (libicudata.so.NN), if any: the one to stub."""
    info = read_elf(cobcrun)
    assert info is not None
    return [name for name in closure([info], system_library_dirs()) if name.startswith("libicudata.so")]


class BuildFailed(Exception):
    """A step of the build failed; the message says which and what to do."""


def compile_programs(function_dir: Path, programs: Sequence[str]) -> None:
    for program in programs:
        source = HERE / "src" / (program + ".cob")
        if not source.is_file():
            raise BuildFailed("%s: no such program (each name in --program or PROGRAMS is a file src/NAME.cob)"
                              % source)
        done = subprocess.run(["cobc", "-m", "-O", "-I", str(HERE / "copybooks"), "-o",
                               str((function_dir / (program + ".so")).resolve()), str(source)], cwd=str(HERE))
        if done.returncode != 0:
            raise BuildFailed("cobc could not compile %s (its messages are above)" % source)


def function_name(programs: Sequence[str]) -> str:
    """The default name of the function: its first program's, in lower case."""
    return programs[0].lower() if programs else "cobol"


def build(out: Path, quiet: bool = True, programs: Sequence[str] = PROGRAMS,
          name: Optional[str] = None, image: bool = True) -> Dict[str, Path]:
    """Build the layer, the function zip and (``image``) the image into ``out``; BuildFailed
    says what went wrong."""
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
    compile_programs(function_dir, programs)
    shutil.copytree(HERE / "copybooks", function_dir / "copybooks")
    shutil.copytree(HERE / "src", function_dir / "src")
    flags = ["-q"] if quiet else []
    function_zip = out / ("%s-function.zip" % (name or function_name(programs)))
    if cli.make_function_zip([str(function_dir), "-o", str(function_zip)] + flags) != 0:
        raise BuildFailed("make-function-zip failed (its messages are above)")
    cobcrun = find_cobcrun()
    runtime = ["--executable", cobcrun] + [arg for name in icu_data_library(cobcrun) for arg in ("--stub-library", name)]
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
    return parser


def main() -> int:
    args = arg_parser().parse_args()
    try:
        built = build(args.out, quiet=False, programs=args.program or PROGRAMS, name=args.name, image=args.image)
    except BuildFailed as exc:
        print("build.py: error: %s" % exc, file=sys.stderr)
        return 1
    print("layer:    %s\nfunction: %s" % (built["layer"], built["function"]))
    if "image" in built:
        print("image:    %s" % built["image"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
