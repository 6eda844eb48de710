"""Resolve a Python ``_HANDLER`` (``module.function``) to a callable, from ``LAMBDA_TASK_ROOT``.

Every way this can fail is an ``InitError`` with the managed runtime's errorType, so
Lambda reports it at ``/runtime/init/error`` instead of the runtime dying mid-import.
``path/to/module.function`` (slashes for packages) is accepted, as the managed runtime
does.
"""

from __future__ import annotations

import sys

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
    from typing import Any, Callable, Optional, Tuple


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


def load_handler(handler: str, task_root: Optional[str] = None) -> Callable[..., Any]:
    """The Python function ``_HANDLER`` names, imported with ``task_root`` on ``sys.path``."""
    module_name, function_name = split_handler(handler)
    if task_root and task_root not in sys.path:
        sys.path.insert(0, task_root)
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
        where = " (looked in %s)" % task_root if task_root else ""
        raise InitError(IMPORT_MODULE_ERROR,
                        "Unable to import module '%s': %s%s" % (module_name, exc, where)) from None
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
