"""``make-runtime-layer`` and ``make-function-zip``: the packaging commands.

Exit codes: 0 built; 2 bad command line; 3 an input failed a check (every problem is
listed, an unusable --python among them), an input cannot be read or the output cannot be
written; 4 a tool the build runs failed (patchelf).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import List, Optional

from . import checks
from .checks import BuildError
from .function_zip import build_function_zip
from .layer import build_layer
from .options import LayerOptions, host_arch, include_pairs
from .patch import PatchError
from .python_bundle import InterpreterError

EXIT_CHECK = 3
EXIT_TOOL = 4
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports Ctrl-C

LAYER_EPILOG = """\
The layer extracts to /opt: /opt/bootstrap runs the runtime (python -I -S, no /bin/sh
needed), bundled executables land in /opt/bin (on Lambda's PATH), and the interpreter,
the runtime, glibc with its loader and every other library live in /opt/bootstrap-sdk,
patched so that they run whatever the Lambda host's own libraries are. A layer that
bundles libcob (--executable cobcrun) also gets cobol-call-host, compiled here with cc
against that libcob, which call mode (BOOTSTRAP_SDK_EXEC_MODE=call) runs COBOL
subprograms in; --no-call-host leaves it out.

Checks before anything is written (exit 3, every problem listed): layer paths relative
and without '..'; no symlink leaving the layer; every file world-readable; every ELF file
built for --arch; programs that use the target's glibc need no newer symbol version than
it has (2.34 for provided.al2023, 2.26 for provided.al2); bootstrap present and
executable; at most 250 MB unzipped. A zip over 50 MB is built with a warning: publish it
through S3.

The zip is deterministic (sorted entries, SOURCE_DATE_EPOCH or 1980-01-01, explicit
modes); NAME.manifest.json beside it has the sha256, sizes, the publish command and
CloudFormation/SAM snippets.

examples:
  make-runtime-layer -o build/runtime.zip
  make-runtime-layer -o build/cobol.zip --executable /usr/bin/cobcrun --stdlib-module decimal
  make-runtime-layer -o build/tools.zip --include data/tables:share/tables --json
"""


def _progress(quiet: bool):  # type: ignore[no-untyped-def]
    started = time.monotonic()

    def report(line: str) -> None:
        if not quiet:
            print("[%5.1fs] %s" % (time.monotonic() - started, line), file=sys.stderr, flush=True)

    return report


def layer_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="make-runtime-layer", formatter_class=argparse.RawDescriptionHelpFormatter, epilog=LAYER_EPILOG,
        description="Build a self-contained AWS Lambda layer whose /opt/bootstrap runs the bootstrap-sdk "
                    "runtime (and your executables) on any provided.al2023 or provided.al2 host.")
    parser.add_argument("-o", "--output", type=Path, required=True, help="the layer zip to write")
    parser.add_argument("--runtime", default="provided.al2023", choices=sorted(checks.RUNTIMES),
                        help="target runtime (default provided.al2023; provided.al2 is past end of life)")
    parser.add_argument("--arch", default=host_arch(), choices=["x86_64", "arm64"],
                        help="target architecture (default: this machine's, %(default)s); any ELF file "
                             "built for another is refused")
    parser.add_argument("--executable", type=Path, action="append", default=[], metavar="PATH",
                        help="a program to bundle into /opt/bin with its shared-library closure (repeatable)")
    parser.add_argument("--include", action="append", default=[], metavar="SRC[:DEST]",
                        help="a file or directory to add at DEST in the layer (default: its name at the root; "
                             "repeatable)")
    parser.add_argument("--library-path", type=Path, action="append", default=[], metavar="DIR",
                        help="also look for shared libraries here (before the system's; repeatable)")
    parser.add_argument("--python", metavar="PATH",
                        help="the interpreter to bundle (default: this host's python3 that links libpython "
                             "statically, e.g. Debian's /usr/bin/python3)")
    parser.add_argument("--stdlib", choices=["minimal", "full"], default="minimal",
                        help="minimal: what the runtime imports (default); full: the whole standard library "
                             "without tests, IDLE and tkinter")
    parser.add_argument("--stdlib-module", action="append", default=[], metavar="NAME",
                        help="add a standard-library module and what it imports, e.g. decimal, logging "
                             "(repeatable)")
    parser.add_argument("--stub-library", action="append", default=[], metavar="SONAME",
                        help="ship a stub of this library (same name and symbols, no content): for a large "
                             "dependency the programs never call, e.g. libicudata.so.72 under libcob (repeatable)")
    parser.add_argument("--no-call-host", dest="call_host", action="store_false",
                        help="do not build cobol-call-host, which call mode (BOOTSTRAP_SDK_EXEC_MODE=call) CALLs "
                             "COBOL subprograms in; by default it is compiled (cc, libcob's header) whenever the "
                             "layer bundles libcob")
    parser.add_argument("--system-libc", action="store_true",
                        help="do not bundle glibc: programs use the target's, and must not need a newer one")
    parser.add_argument("--bootstrap", type=Path, metavar="FILE",
                        help="your own bootstrap instead of the generated one")
    parser.add_argument("--name", default="bootstrap-sdk-runtime", help="layer name (default %(default)s)")
    parser.add_argument("--description", default="Python custom runtime built with bootstrap-sdk",
                        help="layer description")
    parser.add_argument("--license", default="", help="license info, e.g. an SPDX identifier")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    parser.add_argument("--json", action="store_true", help="print the manifest as JSON on stdout (for CI)")
    return parser


def _fail(code: int, problems: List[str], prog: str = "make-runtime-layer") -> int:
    for problem in problems:
        print("%s: error: %s" % (prog, problem), file=sys.stderr)
    return code


def output_problem(output: Path) -> Optional[str]:
    """Why ``output`` cannot be written, found before a build spends its time: the
    directory is made and a scratch file tried in it (as root, access() says yes even
    where a read-only mount or an attribute says no)."""
    try:
        if output.is_dir():
            return "%s is a directory: -o takes the zip's file name, e.g. %s" % (output, output / "layer.zip")
        output.parent.mkdir(parents=True, exist_ok=True)
        fd, scratch = tempfile.mkstemp(prefix=".write-test-", dir=output.parent)
        os.close(fd)
        os.unlink(scratch)
    except OSError as exc:
        return ("cannot write %s: %s: choose another -o, or run as a user who can write there"
                % (output, exc.strerror or exc))
    return None


def _io_problem(exc: OSError) -> str:
    """An input or output the build could not use, in one line."""
    return "%s: %s" % (exc.filename or "a file of the build", exc.strerror or exc)


def make_runtime_layer(argv: Optional[List[str]] = None) -> int:
    args = layer_parser().parse_args(argv)
    unwritable = output_problem(args.output)
    if unwritable:
        return _fail(EXIT_CHECK, [unwritable])
    options = LayerOptions(
        output=args.output, runtime=args.runtime, arch=args.arch, executables=args.executable,
        includes=include_pairs(args.include), library_paths=args.library_path, python=args.python,
        stdlib=args.stdlib, stdlib_modules=args.stdlib_module, system_libc=args.system_libc,
        stub_libraries=args.stub_library,
        call_host=args.call_host,
        bootstrap=args.bootstrap, name=args.name, description=args.description, license=args.license)
    try:
        result = build_layer(options, _progress(args.quiet))
    except BuildError as exc:
        return _fail(EXIT_CHECK, exc.problems)
    except (InterpreterError, PatchError) as exc:
        return _fail(EXIT_TOOL, [str(exc)])
    except OSError as exc:
        return _fail(EXIT_CHECK, [_io_problem(exc)])
    except KeyboardInterrupt:
        return _fail(EXIT_INTERRUPTED, ["interrupted (Ctrl-C): no zip was finished"])
    for warning in result.warnings:
        print("make-runtime-layer: warning: %s" % warning, file=sys.stderr)
    if args.json:
        print(json.dumps(result.manifest, indent=2))
    elif not args.quiet:
        print("%s\nsha256 %s\npublish with:\n  %s" % (result.zip_path, result.manifest["sha256"],
                                                     result.manifest["publish_command"]))
    return 0


FUNCTION_EPILOG = """\
The same checks as make-runtime-layer's, for code that lands in /var/task (exit 3, every
problem listed): paths, symlinks, world-readable files, ELF files built for --arch and
for the target's glibc, programs that lean on a loader the target lacks; warnings for a
file meant to run without its execute bit, for a program linked against the OS's glibc
(it runs on Lambda, not in run-lambda-local's sandbox), and for a #! interpreter the code
does not bring. With --handler, what the handler names is checked too.

examples:
  make-function-zip app/ -o build/function.zip --handler app.handler
  make-function-zip . -o function.zip --handler cobcrun -q
"""


def function_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="make-function-zip", formatter_class=argparse.RawDescriptionHelpFormatter, epilog=FUNCTION_EPILOG,
        description="Zip a function's code directory with the layer rules: deterministic, explicit modes, "
                    "the same checks (bootstrap optional); writes NAME.manifest.json beside it.")
    parser.add_argument("source", type=Path, help="the directory whose contents become /var/task")
    parser.add_argument("-o", "--output", type=Path, required=True,
                        help="the zip to write (it may be inside the source directory: it is never zipped itself)")
    parser.add_argument("--runtime", default="provided.al2023", choices=sorted(checks.RUNTIMES),
                        help="the function's runtime: its glibc is what programs in the code are checked against "
                             "(default %(default)s: glibc 2.34; provided.al2: 2.26)")
    parser.add_argument("--arch", default=host_arch(), choices=["x86_64", "arm64"],
                        help="the function's architecture (default: this machine's, %(default)s); any ELF file "
                             "built for another is refused")
    parser.add_argument("--handler", metavar="H",
                        help="the function's handler (_HANDLER): checks that the program or Python module it "
                             "names is in the code and, for a program, executable")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress line (warnings still shown)")
    parser.add_argument("--json", action="store_true", help="print the manifest as JSON on stdout (for CI)")
    return parser


def make_function_zip(argv: Optional[List[str]] = None) -> int:
    args = function_parser().parse_args(argv)
    prog = "make-function-zip"
    unwritable = output_problem(args.output)
    if unwritable:
        return _fail(EXIT_CHECK, [unwritable], prog)
    try:
        manifest = build_function_zip(args.source, args.output, args.runtime, args.arch, _progress(args.quiet),
                                      handler=args.handler)
    except BuildError as exc:
        return _fail(EXIT_CHECK, exc.problems, prog)
    except OSError as exc:
        return _fail(EXIT_CHECK, [_io_problem(exc)], prog)
    except KeyboardInterrupt:
        return _fail(EXIT_INTERRUPTED, ["interrupted (Ctrl-C): no zip was finished"], prog)
    for warning in manifest["warnings"]:  # type: ignore[attr-defined]
        print("%s: warning: %s" % (prog, warning), file=sys.stderr)
    if args.json:
        print(json.dumps(manifest, indent=2))
    return 0
