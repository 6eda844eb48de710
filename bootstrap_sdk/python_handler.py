"""Resolve a Python ``_HANDLER`` (``module.function``) to a callable, from ``LAMBDA_TASK_ROOT``.

Every way this can fail is an ``InitError`` with the managed runtime's errorType, so
Lambda reports it at ``/runtime/init/error`` instead of the runtime dying mid-import.
``path/to/module.function`` (slashes for packages) is accepted, as the managed runtime
does.

The import path is the managed Python runtime's: ``LAMBDA_TASK_ROOT`` first, then a
layer's ``/opt/python/lib/pythonX.Y/site-packages`` and ``/opt/python``, because layers
ship a Python function's dependencies there (AWS Lambda Developer Guide, "Packaging your
layer content", layer paths for each runtime:
<https://docs.aws.amazon.com/lambda/latest/dg/packaging-layers.html>).
"""

from __future__ import annotations

import sys

from .environment import is_dir, join
from .errors import (
    BUILT_IN_MODULE_CONFLICT,
    HANDLER_NOT_CALLABLE,
    HANDLER_NOT_FOUND,
    IMPORT_MODULE_ERROR,
    MALFORMED_HANDLER_NAME,
    NO_HANDLER,
    USER_CODE_SYNTAX_ERROR,
    ErrorReport,
    InitError,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, List, Optional, Tuple


def split_handler(handler: str) -> Tuple[str, str]:
    """``"pkg/mod.fn"`` → ``("pkg.mod", "fn")``; a malformed string is an InitError."""
    text = handler.strip()
    if not text:
        raise InitError(MALFORMED_HANDLER_NAME, NO_HANDLER)
    module, sep, function = text.rpartition(".")
    module = module.replace("/", ".")
    parts = module.split(".") if module else []
    if not sep or not function or not parts or not all(p.isidentifier() for p in parts + [function]):
        raise InitError(
            MALFORMED_HANDLER_NAME,
            "Bad handler %r: expected MODULE.FUNCTION, for example 'app.handler', or a program "
            "in LAMBDA_TASK_ROOT or on PATH" % (handler,),
        )
    return module, function


def layer_paths(opt_root: str = "/opt") -> List[str]:
    """The layer directories the managed Python runtime imports from, in its order, that exist:
    ``python/lib/pythonX.Y/site-packages`` (X.Y: this interpreter's) and ``python``.

    Added as plain path entries: the runtime starts Python with ``-S``, so ``.pth`` files in
    them are not read.
    """
    python = join(opt_root, "python")
    site_packages = join(python, "lib/python%d.%d/site-packages" % sys.version_info[:2])
    return [path for path in (site_packages, python) if is_dir(path)]


def load_handler(handler: str, task_root: Optional[str] = None, opt_root: str = "/opt") -> Callable[..., Any]:
    """The Python function ``_HANDLER`` names, imported with ``task_root`` first on ``sys.path``
    and the layer directories (``layer_paths(opt_root)``) right after it."""
    module_name, function_name = split_handler(handler)
    position = 0
    if task_root:
        if task_root not in sys.path:
            sys.path.insert(0, task_root)
        position = sys.path.index(task_root) + 1
    layers = layer_paths(opt_root)
    for path in layers:
        if path not in sys.path:
            sys.path.insert(position, path)
            position += 1
    if module_name.split(".")[0] in sys.builtin_module_names:
        raise InitError(BUILT_IN_MODULE_CONFLICT,
                        "Cannot use built-in module %s as a handler module" % (module_name,))
    try:
        # __import__ rather than importlib.import_module: the same import, without the ~0.8 ms
        # that importing importlib (and warnings) adds to a cold start (docs/facts.md#start-up-costs).
        __import__(module_name)
        module = sys.modules[module_name]
    except SyntaxError as exc:
        trace = ['  File "%s" Line %s\n    %s' % (exc.filename, exc.lineno, (exc.text or "").strip())]
        raise InitError(USER_CODE_SYNTAX_ERROR,
                        "Syntax error in module '%s': %s" % (module_name, exc), trace) from None
    except ImportError as exc:
        searched = ([task_root] if task_root else []) + layers
        where = " (looked in %s)" % ", ".join(searched) if searched else ""
        raise InitError(IMPORT_MODULE_ERROR, "Unable to import module '%s': %s%s%s"
                        % (module_name, exc, where, _stdlib_advice(exc))) from None
    except Exception as exc:  # the module itself raised while being imported
        report = ErrorReport.from_exception(exc)
        raise InitError(report.error_type,
                        "Error while importing module '%s': %s" % (module_name, report.message),
                        report.stack_trace) from None
    try:
        target: Callable[..., Any] = getattr(module, function_name)
    except AttributeError:
        raise InitError(HANDLER_NOT_FOUND,
                        "Handler '%s' missing on module '%s'" % (function_name, module_name)) from None
    if not callable(target):
        raise InitError(HANDLER_NOT_CALLABLE,
                        "Handler '%s' on module '%s' is not callable (it is of type %s)"
                        % (function_name, module_name, type(target).__name__))
    return target


def _stdlib_advice(exc: ImportError) -> str:
    """What to do when the missing module is the standard library's: a layer built by
    make-runtime-layer ships only the part the runtime needs (``--stdlib minimal``).

    ``sys.stdlib_module_names`` (Python 3.10+) names the top-level modules; before 3.10 there
    is no list to ask, and no advice.
    """
    name = exc.name if isinstance(exc, ModuleNotFoundError) else None
    stdlib = getattr(sys, "stdlib_module_names", None)
    if not name or not stdlib or (name not in stdlib and name.split(".")[0] not in stdlib):
        return ""
    return ("; %s is in Python's standard library, but not in this layer's: rebuild the layer with "
            "make-runtime-layer --stdlib-module %s (or --stdlib full)" % (name, name))
