"""What of ``bootstrap_sdk`` ships inside a layer: the runtime, named file by file.

An explicit list, not a glob, so the layout of the package does not decide what ships
and tooling (``packaging/``, ``local/``) never does. A new runtime module goes here;
``tests/unit/test_runtime_files.py`` fails until it does (it compares this list with what
the runtime's entry can import).
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Tuple

SDK_DIR = Path(__file__).resolve().parents[1]

RUNTIME_FILES = (
    "__init__.py", "__main__.py", "py.typed",
    # the runtime core
    "entry.py", "settings.py", "invoke_loop.py", "python_handler.py", "workers.py",
    "runtime_api.py", "http_connection.py", "extensions.py", "shutdown.py", "streaming.py",
    "context.py", "payload.py", "json_text.py", "environment.py", "errors.py", "logs.py",
    # the executable adapter
    "adapter/__init__.py", "adapter/command.py", "adapter/executable.py", "adapter/persistent.py",
    "adapter/child_process.py", "adapter/workdir.py", "adapter/cobol_call.py",
    # the copybook codec (the adapter's records)
    "copybook/__init__.py", "copybook/parser.py", "copybook/codec.py", "copybook/fields.py",
    "copybook/fast_decode.py", "copybook/codepages.py", "copybook/floats.py", "copybook/edited.py",
    "copybook/record_formats.py",
)
# Third-party files the runtime imports for one feature, shipped beside it (sdk/<package>/):
# the ebcdic package's cp1047, the one code page of copybook.codepages the standard library
# lacks, imported only when a function's records are in it.
VENDORED = {"ebcdic": ("__init__.py", "_version.py", "cp1047.py")}


def runtime_sources() -> List[Path]:
    """The files of the runtime, as paths in this checkout or installation."""
    return [SDK_DIR / name for name in RUNTIME_FILES]


def vendored_sources() -> List[Tuple[Path, str]]:
    """(the installed file, its path under sdk/) for each VENDORED file, and the package's
    licence; ImportError when a package is not installed here."""
    import importlib.metadata
    import importlib.util

    found = []
    for package, names in VENDORED.items():
        spec = importlib.util.find_spec(package)
        if spec is None or spec.origin is None:
            raise ImportError("make-runtime-layer ships the %s package, which is not installed: pip install %s"
                              % (package, package))
        directory = Path(spec.origin).parent
        found += [(directory / name, "%s/%s" % (package, name)) for name in names]
        for file in importlib.metadata.distribution(package).files or []:
            if file.name.upper().startswith("LICENSE"):
                found.append((Path(str(file.locate())), "%s/%s" % (package, file.name)))
    return found


def runtime_modules() -> List[str]:
    """The runtime's modules by dotted name (``bootstrap_sdk.adapter.command``)."""
    names = []
    for name in RUNTIME_FILES:
        if not name.endswith(".py"):
            continue
        parts = ["bootstrap_sdk"] + name[:-3].split("/")
        if parts[-1] == "__init__":
            parts.pop()
        names.append(".".join(parts))
    return names
