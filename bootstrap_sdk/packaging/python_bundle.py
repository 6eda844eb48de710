"""The interpreter a layer ships: which one, and which of its standard library.

The default interpreter is the build host's that links libpython statically (Debian's
``/usr/bin/python3`` does: it needs only libc, libm, libz and libexpat), so the layer
carries one binary instead of a 23 MB libpython. The standard library is compiled to
sourceless ``.pyc`` with unchecked hashes: valid on a read-only /opt, reproducible, and
~200 ms faster per cold start than ``.py`` alone (docs/facts.md#start-up-costs).

``minimal`` is the import closure of the runtime itself, found by importing every
runtime module in the chosen interpreter (``-I -S``) and recording what got loaded;
``full`` is the whole library without tests, IDLE, tkinter and the like.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from typing import TYPE_CHECKING, Dict, List, Optional, Sequence, Tuple

import attr

from .elf import read_elf
from .runtime_files import SDK_DIR, runtime_modules

if TYPE_CHECKING:
    from .sysroot import Sysroot

# Imported lazily on some path of the runtime (errors, adapter, shutdown): import them all.
# ``logging`` too: the runtime routes its records (logs.bridge_logging), and handlers
# written for the managed runtime import it.
LAZY_IMPORTS = ["traceback", "linecache", "tokenize", "threading", "shlex", "signal", "select", "ctypes",
                "importlib", "binascii", "logging", "glob"]  # glob: the vendored ebcdic package lists its codecs
# Never worth shipping in a runtime, even in a "full" library.
FULL_EXCLUDES = {"test", "tests", "idlelib", "tkinter", "turtledemo", "ensurepip", "lib2to3", "pydoc_data",
                 "site-packages", "dist-packages", "venv", "__pycache__", "turtle.py", "unittest", "distutils"}
DYNLOAD_EXCLUDES = ("_test", "xx", "_ctypes_test", "_xxtestfuzz", "_curses", "readline", "_tkinter")


class InterpreterError(Exception):
    pass


@attr.s(frozen=True, auto_attribs=True)
class Interpreter:
    executable: str      # the real binary (symlinks resolved)
    version: Tuple[int, int]
    stdlib: str          # e.g. /usr/lib/python3.11
    dynload: str         # e.g. /usr/lib/python3.11/lib-dynload
    static_libpython: bool
    runner: Tuple[str, ...] = ()  # what runs it here: qemu-user for another architecture's (sysroot.py)

    @property
    def name(self) -> str:
        return "python%d.%d" % self.version

    def command(self, *args: str) -> List[str]:
        return list(self.runner) + [self.executable] + list(args)


def describe(python: str, sysroot: Optional["Sysroot"] = None) -> Interpreter:
    """``python`` probed; with a ``sysroot``, a path inside it, run there under its runner."""
    runner: List[str] = []
    if sysroot is not None:
        from .sysroot import SysrootError

        real = str(sysroot.resolve(python[len(str(sysroot.root)):] if python.startswith(str(sysroot.root) + "/")
                                   else python))
        try:
            runner = sysroot.runner()
        except SysrootError as exc:
            raise InterpreterError(str(exc)) from None
    else:
        real = os.path.realpath(python)
    if not os.path.isfile(real) or not os.access(real, os.X_OK):
        found = shutil.which(python) if "/" not in python and sysroot is None else None
        hint = (": --python takes a path, PATH is not searched (--python \"$(command -v %s)\" names %s)"
                % (python, found)) if found else ""
        raise InterpreterError("interpreter %s is not an executable file%s" % (python, hint))
    script = ("import json, sys, sysconfig; p = sysconfig.get_paths(); "
              "print(json.dumps([sys.version_info[:2], p['stdlib'], sysconfig.get_config_var('DESTSHARED')]))")
    try:
        output = subprocess.run(runner + [real, "-I", "-S", "-c", script], check=True, capture_output=True,
                                text=True).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        raise InterpreterError("cannot run %s: %s" % (python, exc)) from None
    try:
        version, stdlib, dynload = json.loads(output)
    except ValueError:
        raise InterpreterError("%s is not a Python interpreter: it did not answer the probe (got %r)"
                               % (python, output[:200])) from None
    if tuple(version) < (3, 9):
        raise InterpreterError("%s is Python %d.%d; the runtime needs 3.9 or later" % (python, *version))
    info = read_elf(real)
    if info is None:
        raise InterpreterError("%s is not an ELF executable" % real)
    static = not any(name.startswith("libpython") for name in info.needed)
    dynload = dynload or os.path.join(stdlib, "lib-dynload")
    if sysroot is not None and not dynload.startswith(str(sysroot.root) + "/"):
        dynload = str(sysroot.resolve(dynload))  # a path of the target's, built into its sysconfig
    return Interpreter(real, (version[0], version[1]), stdlib, dynload, static, tuple(runner))


def default_interpreter() -> Interpreter:
    """The build host's Python 3 that links libpython statically, else the one running this."""
    candidates = ["/usr/bin/python3", "/usr/local/bin/python3", sys.executable]
    described = []
    for candidate in candidates:
        if os.path.exists(candidate):
            try:
                described.append(describe(candidate))
            except InterpreterError:
                continue
    for interpreter in described:
        if interpreter.static_libpython:
            return interpreter
    if described:
        return described[0]
    raise InterpreterError("no usable Python 3.9+ found; name one with --python")


@attr.s(frozen=True, auto_attribs=True)
class StdlibFile:
    source: str   # host path
    relative: str  # path under the layer's lib/pythonX.Y
    kind: str     # "py" (compiled to sourceless .pyc) or "so" (extension module) or "data"


def _probe(interpreter: Interpreter, modules: Sequence[str]) -> List[str]:
    """Files of the modules loaded when ``modules`` are imported (-I -S, SDK on the path)."""
    script = (
        "import json, sys\n"
        "sys.path.insert(0, sys.argv[2])\n"
        "failed = []\n"
        "for name in json.loads(sys.argv[1]):\n"
        "    try:\n"
        "        __import__(name)\n"
        "    except ImportError as exc:\n"
        "        failed.append('%s: %s' % (name, exc))\n"
        "files = sorted({getattr(m, '__file__', None) or '' for m in list(sys.modules.values())} - {''})\n"
        "print(json.dumps({'files': files, 'failed': failed}))\n"
    )
    env = {"PATH": "/usr/bin:/bin"}
    result = subprocess.run(interpreter.command("-I", "-S", "-c", script, json.dumps(list(modules)),
                                                str(SDK_DIR.parent)),
                            capture_output=True, text=True, cwd=str(SDK_DIR.parent), env=env)
    if result.returncode != 0:
        raise InterpreterError("probing %s failed: %s" % (interpreter.executable, result.stderr.strip()[-2000:]))
    data = json.loads(result.stdout)
    if data["failed"]:
        raise InterpreterError("%s cannot import: %s" % (interpreter.executable, "; ".join(data["failed"])))
    return list(data["files"])


def stdlib_files(interpreter: Interpreter, policy: str, extra_modules: Sequence[str] = ()) -> List[StdlibFile]:
    """The standard-library files a layer ships for ``policy`` (minimal | full) plus modules."""
    stdlib = os.path.realpath(interpreter.stdlib)
    dynload = os.path.realpath(interpreter.dynload)
    chosen: Dict[str, StdlibFile] = {}

    def add(path: str) -> None:
        real = os.path.realpath(path)
        if real.startswith(dynload + os.sep):
            if os.path.basename(real).startswith(DYNLOAD_EXCLUDES):
                return
            rel = "lib-dynload/" + os.path.basename(real)
            chosen[rel] = StdlibFile(real, rel, "so")
        elif real.startswith(stdlib + os.sep):
            rel = os.path.relpath(real, stdlib)
            if rel.endswith(".pyc"):
                return
            chosen[rel] = StdlibFile(real, rel, "py" if rel.endswith(".py") else "data")

    if policy == "full":
        for directory, dirs, files in os.walk(stdlib):
            dirs[:] = sorted(d for d in dirs if d not in FULL_EXCLUDES and not d.startswith("config-"))
            for name in sorted(files):
                if name.endswith(".py") and name not in FULL_EXCLUDES:
                    add(os.path.join(directory, name))
        for name in sorted(os.listdir(dynload)):
            if name.endswith(".so"):
                add(os.path.join(dynload, name))
        modules = list(extra_modules)
    elif policy == "minimal":
        modules = runtime_modules()
        modules = [m for m in modules if not m.endswith("__main__")] + LAZY_IMPORTS + list(extra_modules)
        # Every codec, so that events and programs in any encoding can be decoded.
        encodings = os.path.join(stdlib, "encodings")
        for name in sorted(os.listdir(encodings)):
            if name.endswith(".py"):
                add(os.path.join(encodings, name))
    else:
        raise ValueError("stdlib policy must be minimal or full, not %r" % policy)
    for path in _probe(interpreter, modules):
        if os.path.realpath(path).startswith(str(SDK_DIR) + os.sep):
            continue  # the runtime itself is staged separately
        add(path)
        # A package's __init__ must come with any of its submodules.
        parent = os.path.dirname(os.path.realpath(path))
        while parent.startswith(stdlib + os.sep):
            init = os.path.join(parent, "__init__.py")
            if os.path.exists(init):
                add(init)
            parent = os.path.dirname(parent)
    landmark = os.path.join(stdlib, "os.py")
    add(landmark)  # how the interpreter finds its home
    return sorted(chosen.values(), key=lambda f: f.relative)


COMPILER = """
import json, py_compile, sys
jobs = json.load(sys.stdin)
for source, target, display in jobs:
    py_compile.compile(source, cfile=target, dfile=display, doraise=True,
                       invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
"""


def compile_pyc(interpreter: Interpreter, jobs: List[Tuple[str, str, str]]) -> None:
    """Compile (source, target .pyc, path shown in tracebacks) with the bundled interpreter."""
    if not jobs:
        return
    result = subprocess.run(interpreter.command("-I", "-S", "-c", COMPILER), input=json.dumps(jobs),
                            capture_output=True, text=True, env={"PATH": "/usr/bin:/bin", "PYTHONHASHSEED": "0"})
    if result.returncode != 0:
        raise InterpreterError("compiling .pyc failed: %s" % result.stderr.strip()[-2000:])

