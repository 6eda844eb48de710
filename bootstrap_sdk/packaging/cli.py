"""``make-runtime-layer``, ``make-function-zip`` and ``make-runtime-image``: the packaging commands.

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
from typing import Callable, Dict, List, Optional, Tuple, TypeVar, Union

from . import checks
from .checks import BuildError
from .docker_context import write_docker_context
from .function_zip import build_function_zip
from .image import build_image
from .layer import build_layer
from .manifest import manifest_path_for
from .options import ImageOptions, LayerOptions, host_arch, include_pairs
from .patch import PatchError
from .python_bundle import InterpreterError
from .sysroot import sysroot_arch

EXIT_CHECK = 3
EXIT_TOOL = 4
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports Ctrl-C
T = TypeVar("T")

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
    parser.add_argument("-o", "--output", type=Path, required=True,
                        help="the layer zip to write (with two --arch: NAME-ARCH.zip for each)")
    runtime_arguments(parser, several_arches=True)
    parser.add_argument("--name", default="bootstrap-sdk-runtime", help="layer name (default %(default)s)")
    parser.add_argument("--description", default="Python custom runtime built with bootstrap-sdk",
                        help="layer description")
    parser.add_argument("--license", default="", help="license info, e.g. an SPDX identifier")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    parser.add_argument("--json", action="store_true", help="print the manifest as JSON on stdout (for CI)")
    return parser


def runtime_arguments(parser: argparse.ArgumentParser, several_arches: bool = False) -> None:
    """The options that say what the runtime's tree holds: a layer's and an image's alike
    (a layer command may build one per architecture)."""
    parser.add_argument("--runtime", default="provided.al2023", choices=sorted(checks.RUNTIMES),
                        help="target runtime: its glibc is what programs are checked against (default "
                             "provided.al2023; provided.al2 is past end of life)")
    if several_arches:
        parser.add_argument("--arch", action="append", choices=["x86_64", "arm64"],
                            help="target architecture (default: this machine's, %s); any ELF file built for another "
                                 "is refused. Given twice, one layer per architecture, named NAME-ARCH, each with "
                                 "its own manifest; {arch} in a path option stands for each" % host_arch())
    else:
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
                             "statically, e.g. Debian's /usr/bin/python3; with --sysroot, the sysroot's python3.N, "
                             "and a PATH is inside the sysroot)")
    parser.add_argument("--sysroot", type=Path, metavar="DIR", action="append" if several_arches else "store",
                        help="the target's userland for an --arch that is not this machine's: the interpreter, "
                             "glibc and every library come from there (made once by fetch-sysroot; offline after)%s"
                             % ("; one per such --arch" if several_arches else ""))
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


def _guarded(prog: str, what: str, build: Callable[[], T]) -> Tuple[Optional[T], int]:
    """What ``build`` returns, or None and the exit code after saying why it failed:
    3 for inputs, 4 for a tool the build runs, 130 for Ctrl-C."""
    try:
        return build(), 0
    except BuildError as exc:
        return None, _fail(EXIT_CHECK, exc.problems, prog)
    except (InterpreterError, PatchError) as exc:
        return None, _fail(EXIT_TOOL, [str(exc)], prog)
    except OSError as exc:
        return None, _fail(EXIT_CHECK, [_io_problem(exc)], prog)
    except KeyboardInterrupt:
        return None, _fail(EXIT_INTERRUPTED, ["interrupted (Ctrl-C): no %s was finished" % what], prog)


def _io_problem(exc: OSError) -> str:
    """An input or output the build could not use, in one line."""
    return "%s: %s" % (exc.filename or "a file of the build", exc.strerror or exc)


def layer_options(args: argparse.Namespace, output: Path) -> LayerOptions:
    """The runtime's tree as ``runtime_arguments`` described it."""
    return LayerOptions(
        output=output, runtime=args.runtime, arch=args.arch, executables=args.executable,
        includes=include_pairs(args.include), library_paths=args.library_path, python=args.python,
        sysroot=args.sysroot,
        stdlib=args.stdlib, stdlib_modules=args.stdlib_module, system_libc=args.system_libc,
        stub_libraries=args.stub_library, call_host=args.call_host, bootstrap=args.bootstrap,
        **({"name": args.name, "description": args.description, "license": args.license} if "name" in args else {}))


def per_arch(args: argparse.Namespace) -> List[argparse.Namespace]:
    """One set of arguments per --arch of make-runtime-layer: with two, each gets its own
    output and name (suffixed -ARCH), its sysroot, and {arch} replaced in its paths."""
    arches = list(dict.fromkeys(args.arch or [host_arch()]))
    sysroots: Dict[str, Path] = {}
    for path in args.sysroot or []:
        sysroots.setdefault(sysroot_arch(path) or ("?" + str(path)), path)
    unused = [str(path) for key, path in sysroots.items() if key not in arches]
    if unused:
        raise BuildError(["--sysroot %s is for none of the --arch given (%s)" % (path, ", ".join(arches))
                          for path in unused])

    def fill(value: Union[None, str, Path], arch: str) -> Union[None, str, Path]:
        if value is None:
            return None
        text = str(value).replace("{arch}", arch)
        return Path(text) if isinstance(value, Path) else text

    result = []
    for arch in arches:
        one = argparse.Namespace(**vars(args))
        one.arch = arch
        one.sysroot = sysroots.get(arch)
        for name in ("executable", "include", "library_path"):
            setattr(one, name, [fill(value, arch) for value in getattr(args, name)])
        for name in ("python", "bootstrap"):
            setattr(one, name, fill(getattr(args, name), arch))
        if len(arches) > 1:
            one.output = args.output.with_name("%s-%s%s" % (args.output.stem, arch, args.output.suffix or ".zip"))
            one.name = "%s-%s" % (args.name, arch)
        result.append(one)
    return result


def make_runtime_layer(argv: Optional[List[str]] = None) -> int:
    args = layer_parser().parse_args(argv)
    try:
        builds = per_arch(args)
    except BuildError as exc:
        return _fail(EXIT_CHECK, exc.problems)
    unwritable = [problem for one in builds for problem in [output_problem(one.output)] if problem]
    if unwritable:
        return _fail(EXIT_CHECK, unwritable)
    results, worst = [], 0
    for one in builds:
        if len(builds) > 1 and not args.quiet:
            print("== %s: %s" % (one.arch, one.output), file=sys.stderr)
        result, code = _guarded("make-runtime-layer" + (" (%s)" % one.arch if len(builds) > 1 else ""), "zip",
                                lambda: build_layer(layer_options(one, one.output), _progress(args.quiet)))
        worst = max(worst, code)
        if result is None:
            continue
        results.append(result)
        for warning in result.warnings:
            print("make-runtime-layer: warning: %s" % warning, file=sys.stderr)
        if not args.json and not args.quiet:
            print("%s\nsha256 %s\npublish with:\n  %s" % (result.zip_path, result.manifest["sha256"],
                                                         result.manifest["publish_command"]))
    if args.json and results:
        manifests = [result.manifest for result in results]
        print(json.dumps(manifests[0] if len(builds) == 1 else manifests, indent=2))
    return worst


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
    manifest, code = _guarded(prog, "zip", lambda: build_function_zip(
        args.source, args.output, args.runtime, args.arch, _progress(args.quiet), handler=args.handler))
    if manifest is None:
        return code
    for warning in manifest["warnings"]:  # type: ignore[attr-defined]
        print("%s: warning: %s" % (prog, warning), file=sys.stderr)
    if args.json:
        print(json.dumps(manifest, indent=2))
    return 0


IMAGE_EPILOG = """\
The image holds the runtime exactly as make-runtime-layer lays it out in /opt (the same
interpreter, SDK, programs and private glibc, the same checks), the function's code in
/var/task and, with --with-rie, the Runtime Interface Emulator at
/usr/local/bin/aws-lambda-rie. Its layers, bottom to top: the --base's (kept as they are),
the runtime, the RIE, the function: a code change leaves the runtime's layer, and its
digest, alone. Config: Entrypoint /opt/bootstrap, Cmd the --handler, WorkingDir /var/task,
Env with Lambda's PATH, LD_LIBRARY_PATH and LAMBDA_TASK_ROOT (over the base's), and the
architecture of --arch. Lambda gives the Cmd to the entrypoint as its argument, which the
runtime takes as _HANDLER; started where AWS_LAMBDA_RUNTIME_API is unset (docker run), it
starts the RIE from the image if there is one, as AWS's base images do.

Checks before anything is written (exit 3, every problem listed): those of
make-runtime-layer and make-function-zip (paths, symlinks, world-readable files, ELF
files built for --arch), the base (one image manifest, never an index; every blob matching
its digest; tar layers; the same architecture), the entrypoint an executable file of the
image, at most 10 GB uncompressed in all.

Output: an oci-archive tar (or, with --layout, an OCI image layout directory) holding one
OCI image manifest, reproducible: the same inputs give the same digests (sorted tar
entries, owner 0:0, explicit modes, SOURCE_DATE_EPOCH or 1980-01-01, gzip without name or
time). NAME.manifest.json beside it has the digests, sizes, the commands to push it with
skopeo (no daemon) and to create or update the function, and CloudFormation/SAM.
--docker-context writes a Docker build context instead (Dockerfile, opt/, task/, tmp/),
for teams that build with Docker: FROM scratch, or FROM AWS's provided:al2023 base.

examples:
  make-runtime-image -o build/app.tar --function app/ --handler app.handler
  make-runtime-image -o build/payroll.tar --executable /usr/bin/cobcrun --function build/cobol/function \\
      --handler PAYROLL --with-rie .tools/bin/aws-lambda-rie
  make-runtime-image -o build/app.tar --base provided-al2023.tar --function app/ --handler app.handler
  make-runtime-image --docker-context build/context --docker-base provided --function app/ --handler app.handler
"""


def image_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="make-runtime-image", formatter_class=argparse.RawDescriptionHelpFormatter, epilog=IMAGE_EPILOG,
        description="Build a Lambda function's container image (OCI, one architecture) whose entrypoint runs the "
                    "bootstrap-sdk runtime, without a Docker daemon.")
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("-o", "--output", type=Path, help="the oci-archive to write (with --layout: the directory)")
    target.add_argument("--docker-context", type=Path, metavar="DIR",
                        help="write a Docker build context into DIR (new or empty) instead of an image")
    parser.add_argument("--function", type=Path, metavar="DIR|ZIP",
                        help="the function's code, for /var/task: a directory or a zip from make-function-zip")
    parser.add_argument("--handler", metavar="H", help="the image's Cmd, which the runtime takes as _HANDLER: "
                                                       "MODULE.FUNCTION or a program (checked against --function)")
    parser.add_argument("--base", type=Path, metavar="ARCHIVE|DIR",
                        help="a base image, as an oci-archive or OCI layout of one architecture (e.g. skopeo copy "
                             "docker://public.ecr.aws/lambda/provided:al2023 oci-archive:base.tar); its layers and "
                             "config are kept under the new ones (default: from scratch)")
    parser.add_argument("--entrypoint", default="/opt/bootstrap", metavar="PATH",
                        help="the image's entrypoint (default %(default)s, the runtime's bootstrap)")
    parser.add_argument("--with-rie", type=Path, metavar="PATH", dest="rie",
                        help="add this RIE binary at /usr/local/bin/aws-lambda-rie, so that `docker run -p "
                             "9000:8080 IMAGE` serves invokes as AWS's base images do")
    parser.add_argument("--layout", action="store_true", help="write an OCI image layout directory, not a tar")
    parser.add_argument("--tag", default="latest", help="the image's tag in the archive and the push command "
                                                        "(default %(default)s)")
    parser.add_argument("--docker-base", choices=["scratch", "provided"], default="scratch",
                        help="with --docker-context: FROM scratch over the self-contained tree (default), or FROM "
                             "public.ecr.aws/lambda/provided:al2023 with the bootstrap at /var/runtime/bootstrap")
    runtime_arguments(parser)
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    parser.add_argument("--json", action="store_true", help="print the manifest as JSON on stdout (for CI)")
    return parser


def make_runtime_image(argv: Optional[List[str]] = None) -> int:
    args = image_parser().parse_args(argv)
    prog = "make-runtime-image"
    if args.docker_context is not None:
        return _docker_context(args, prog)
    # A layout is a directory (new or empty, image.py checks): what must be writable is its parent.
    unwritable = output_problem(manifest_path_for(args.output) if args.layout else args.output)
    if unwritable:
        return _fail(EXIT_CHECK, [unwritable.replace("the zip's file name, e.g. %s" % (args.output / "layer.zip"),
                                                     "the archive's file name, e.g. %s" % (args.output / "image.tar"))],
                     prog)
    options = ImageOptions(output=args.output, layer=layer_options(args, args.output), function=args.function,
                           handler=args.handler, base=args.base, entrypoint=args.entrypoint, rie=args.rie,
                           layout=args.layout, tag=args.tag)
    result, code = _guarded(prog, "image", lambda: build_image(options, _progress(args.quiet)))
    if result is None:
        return code
    for warning in result.warnings:
        print("%s: warning: %s" % (prog, warning), file=sys.stderr)
    if args.json:
        print(json.dumps(result.manifest, indent=2))
    elif not args.quiet:
        print("%s\nmanifest %s\npush with:\n  %s" % (result.output, result.manifest["manifest_digest"],
                                                  result.manifest["push_command"]))
    return 0


def _docker_context(args: argparse.Namespace, prog: str) -> int:
    written, code = _guarded(prog, "context", lambda: write_docker_context(
        args.docker_context, layer_options(args, args.docker_context / "unused.zip"), args.function, args.handler,
        args.docker_base, _progress(args.quiet)))
    if written is None:
        return code
    if not args.quiet:
        print("%s\nbuild with:\n  docker build --platform linux/%s -t IMAGE %s" % (
            written, "amd64" if args.arch == "x86_64" else "arm64", args.docker_context))
    return 0


SYSROOT_EPILOG = """\
A sysroot is what a layer or image for another architecture bundles instead of this
machine's files: Debian's Python, glibc with its loader, libcob and every library they
need, for --arch. The packages (those below, those of --package, and their dependencies)
(gnucobol3, for cobcrun, without its dependencies: they are compilers) are downloaded
once into DIR/debs with apt-get download and unpacked into DIR/root with
dpkg-deb -x: nothing is installed on this machine. DIR/sysroot.json records each package's
version and sha256; the layer's manifest repeats the versions. Run again, it downloads
nothing and works offline; --refresh downloads the current versions.

apt must know the architecture's packages first (as root, once):
  dpkg --add-architecture arm64 && apt-get update

examples:
  fetch-sysroot --arch arm64 .tools/sysroot/arm64
  make-runtime-layer --arch arm64 --sysroot .tools/sysroot/arm64 -o build/runtime-arm64.zip
"""


def sysroot_parser() -> argparse.ArgumentParser:
    from .sysroot import DEFAULT_PACKAGES

    parser = argparse.ArgumentParser(
        prog="fetch-sysroot", formatter_class=argparse.RawDescriptionHelpFormatter, epilog=SYSROOT_EPILOG,
        description="Fetch and unpack Debian's packages for another architecture into a sysroot that "
                    "make-runtime-layer --sysroot builds from (default packages: %s)." % ", ".join(DEFAULT_PACKAGES))
    parser.add_argument("dest", type=Path, metavar="DIR", help="the sysroot's directory (made, or updated)")
    parser.add_argument("--arch", required=True, choices=["x86_64", "arm64"], help="the target architecture")
    parser.add_argument("--package", action="append", default=[], metavar="NAME",
                        help="also fetch this Debian package and its dependencies, e.g. a library your programs "
                             "link (repeatable)")
    parser.add_argument("--package-only", action="append", default=[], metavar="NAME",
                        help="also fetch this package without its dependencies, for a program whose package "
                             "depends on build tools (as gnucobol3 does, for cobcrun) (repeatable)")
    parser.add_argument("--refresh", action="store_true", help="download the current versions again")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    return parser


def fetch_sysroot(argv: Optional[List[str]] = None) -> int:
    from .sysroot import SysrootError, fetch_sysroot as fetch

    args = sysroot_parser().parse_args(argv)
    prog = "fetch-sysroot"
    try:
        sysroot = fetch(args.dest, args.arch, args.package, _progress(args.quiet), refresh=args.refresh,
                        extra_only=args.package_only)
    except SysrootError as exc:
        return _fail(EXIT_CHECK, [str(exc)], prog)
    except OSError as exc:
        return _fail(EXIT_CHECK, [_io_problem(exc)], prog)
    if not args.quiet:
        print("%s\nbuild with:\n  make-runtime-layer --arch %s --sysroot %s -o LAYER.zip"
              % (sysroot.root, args.arch, args.dest))
    return 0
