#!/usr/bin/env python3
"""Build the COBOL example: the runtime layer and the function zip.

    python examples/cobol/build.py [--out build/cobol]

The layer: the bootstrap-sdk runtime and GnuCOBOL's runner, ``cobcrun``, with libcob and
its whole closure (glibc included), ICU's 30 MB data library replaced by a stub. The
function: the programs compiled with ``cobc -m`` (modules that ``cobcrun`` loads), the
copybooks the codec reads, and the COBOL source.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))

from bootstrap_sdk.packaging import cli  # noqa: E402
from bootstrap_sdk.packaging.elf import closure, read_elf, system_library_dirs  # noqa: E402

PROGRAMS = ["PAYROLL", "PAYBATCH"]


def find_cobcrun() -> str:
    found = shutil.which("cobcrun")
    if not found:
        raise SystemExit("cobcrun not found: install GnuCOBOL (Debian: apt-get install gnucobol3)")
    return found


def icu_data_library(cobcrun: str) -> List[str]:
    """ICU's data library in cobcrun's closure (libicudata.so.NN), if any: the one to stub."""
    info = read_elf(cobcrun)
    assert info is not None
    return [name for name in closure([info], system_library_dirs()) if name.startswith("libicudata.so")]


def compile_programs(function_dir: Path) -> None:
    for program in PROGRAMS:
        subprocess.run(["cobc", "-m", "-O", "-I", str(HERE / "copybooks"), "-o", str(function_dir / (program + ".so")),
                        str(HERE / "src" / (program + ".cob"))], check=True)


def build(out: Path, quiet: bool = True) -> Dict[str, Path]:
    out.mkdir(parents=True, exist_ok=True)
    out.chmod(0o755)
    function_dir = out / "function"
    if function_dir.exists():
        shutil.rmtree(function_dir)
    function_dir.mkdir()
    compile_programs(function_dir)
    shutil.copytree(HERE / "copybooks", function_dir / "copybooks")
    shutil.copytree(HERE / "src", function_dir / "src")
    flags = ["-q"] if quiet else []
    function_zip = out / "payroll-function.zip"
    if cli.make_function_zip([str(function_dir), "-o", str(function_zip)] + flags) != 0:
        raise SystemExit("make-function-zip failed")
    cobcrun = find_cobcrun()
    stubs = [arg for name in icu_data_library(cobcrun) for arg in ("--stub-library", name)]
    layer_zip = out / "cobol-runtime.zip"
    code = cli.make_runtime_layer(["-o", str(layer_zip), "--name", "cobol-runtime", "--description",
                                   "bootstrap-sdk runtime with GnuCOBOL's cobcrun and libcob", "--license",
                                   "Apache-2.0 AND LGPL-3.0-or-later", "--executable", cobcrun] + stubs + flags)
    if code != 0:
        raise SystemExit("make-runtime-layer failed")
    return {"layer": layer_zip, "function": function_zip, "function_dir": function_dir}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "cobol", help="output directory")
    args = parser.parse_args()
    built = build(args.out, quiet=False)
    print("layer:    %s\nfunction: %s" % (built["layer"], built["function"]))


if __name__ == "__main__":
    main()
