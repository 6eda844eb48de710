"""Process start: settings, init, then one invoke loop or a pool of workers.

Init reads the settings, resolves the handler — a Python function, or a program for the
executable adapter — and posts any failure to ``/runtime/init/error`` before exiting 1
(docs/facts.md#the-runtime-api). It registers the internal extension that gets SIGTERM
delivered when shutdown hooks exist (docs/facts.md#extensions-and-shutdown), then serves.
With ``AWS_LAMBDA_MAX_CONCURRENCY`` set (Lambda Managed Instances) the initialised
process forks that many workers, each with its own connection and its own loop, as the
managed Python runtime does: Python handlers run in parallel, free of one another's GIL.

Exit codes: 0 after SIGTERM; 1 when init failed or the Runtime API is broken
(a 500, an unexpected answer, or unreachable after the retries); 2 when the process was
not started by Lambda (``AWS_LAMBDA_RUNTIME_API`` unset).
"""

from __future__ import annotations

import sys

from . import environment, logs, shutdown
from .context import FunctionInfo
from .errors import EXIT_FATAL, EXIT_NOT_IN_LAMBDA, ErrorReport, InitError
from .invoke_loop import InvokeLoop
from .runtime_api import Backoff, RuntimeApiClient, RuntimeApiError
from .settings import Settings

RIE_IN_IMAGE = "/usr/local/bin/aws-lambda-rie"  # where AWS's base images, and make-runtime-image, put it
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, List, NoReturn, Optional

    Handler = Callable[[Any, Any], Any]


def run(handler: Optional[Handler] = None, *, raw_event: bool = False) -> None:
    """Run the runtime: init, then serve invokes until Lambda shuts the environment down.

    ``handler`` is the function to call for each invoke; without one, the handler that
    ``_HANDLER`` names (``module.function``, imported from ``LAMBDA_TASK_ROOT``, or a
    program for the executable adapter); arguments given to the process (an image's Cmd)
    set ``_HANDLER``. With ``raw_event=True`` (or the ``@raw_event`` decorator) the handler
    gets the event's bytes. Never returns.
    """
    if handler is None and len(sys.argv) > 1:
        environment.set_variable("_HANDLER", image_handler(sys.argv[1:]))
    settings = Settings.from_environ()
    if not settings.runtime_api:
        if handler is None and len(sys.argv) > 1:  # started as an image is: Entrypoint + Cmd
            _start_emulator()
        _fatal("AWS_LAMBDA_RUNTIME_API is not set: this runtime must be started by Lambda or the "
               "Runtime Interface Emulator (an image: run it with run-lambda-local --image, or build it with "
               "make-runtime-image --with-rie)", EXIT_NOT_IN_LAMBDA)
    logs.configure(settings.log_format, settings.log_level)
    shutdown.set_budget(settings.shutdown_budget_ms / 1000.0)
    try:
        client = RuntimeApiClient(settings.runtime_api, Backoff(settings.connect_attempts))
    except ValueError as exc:  # nowhere to post an init error to
        _fatal("AWS_LAMBDA_RUNTIME_API=%r: %s" % (settings.runtime_api, exc), EXIT_NOT_IN_LAMBDA)
    try:
        try:
            if handler is None:
                handler = load_handler(settings)
            else:
                check_settings(settings)
        except InitError as exc:
            report = ErrorReport.from_exception(exc)
            logs.error("init failed: %s: %s" % (report.error_type, report.message))
            client.post_init_error(report.body(), report.error_type)
            sys.exit(EXIT_FATAL)
        logs.bridge_logging_if_imported()
        sigterm = settings.sigterm if settings.sigterm is not None else bool(shutdown.hooks())
        if sigterm:
            from .extensions import ExtensionsApiError, enable_sigterm

            try:
                enable_sigterm(settings.runtime_api)
            except ExtensionsApiError as exc:
                logs.warning("SIGTERM not enabled: %s" % (exc,))
        function = FunctionInfo(settings.function_name, settings.function_version, settings.memory_size,
                                settings.log_group_name, settings.log_stream_name)
        if settings.max_concurrency > 0:
            from .workers import WorkerPool

            WorkerPool(handler, settings.runtime_api, settings.max_concurrency, function,
                       Backoff(settings.connect_attempts), raw_event).run()
        else:
            if shutdown.hooks() or sigterm:
                shutdown.install_sigterm_handler()
            InvokeLoop(handler, client, function, raw_event).serve_forever()
    except RuntimeApiError as exc:
        _fatal("fatal: %s" % (exc,))


def image_handler(words: List[str]) -> str:
    """The handler from an image's Cmd, which Lambda passes to the entrypoint as its
    arguments (AWS's base images take it as ``_HANDLER`` too): one word is the handler;
    more are a program's command line, quoted so that the adapter splits them back."""
    if len(words) == 1:
        return words[0]
    import shlex

    return " ".join(shlex.quote(word) for word in words)


def _start_emulator() -> None:
    """Started outside Lambda with a Cmd (``docker run`` of an image): run this bootstrap
    under the image's RIE, as AWS's base images do, if the image has one; else return."""
    if not environment.is_executable_file(RIE_IN_IMAGE):
        return
    bootstrap = sys.argv[0]
    if not bootstrap.startswith("/"):
        bootstrap = environment.join(environment.working_directory() or "/", bootstrap)
    import posix

    logs.info("AWS_LAMBDA_RUNTIME_API is not set: serving invokes through %s on port 8080" % RIE_IN_IMAGE)
    sys.stdout.flush()
    posix.execv(RIE_IN_IMAGE, [RIE_IN_IMAGE, bootstrap] + sys.argv[1:])


def check_settings(settings: Settings) -> None:
    """Malformed ``BOOTSTRAP_SDK_*`` values fail init, every one of them named."""
    problem = settings.problem()
    if problem is not None:
        raise InitError(*problem)


def load_handler(settings: Settings) -> Handler:
    """The handler ``_HANDLER`` names: the adapter for a program, or a Python function."""
    check_settings(settings)
    from .adapter.command import names_program

    task_root = settings.task_root or environment.working_directory() or "."
    forced = settings.executable.mode_set or "BOOTSTRAP_SDK_EXEC_ARGS" in settings.executable.given
    if names_program(settings.handler, task_root, settings.path, forced):
        adapter: Handler
        if settings.executable.mode == "call":
            from .adapter.cobol_call import CallHandler

            adapter = CallHandler(settings.handler, task_root, settings.executable,
                                  start_now=settings.max_concurrency == 0)
        else:
            from .adapter.executable import ExecutableHandler

            adapter = ExecutableHandler(settings.handler, task_root, settings.executable)
        if settings.max_concurrency == 0:
            adapter.start()  # with workers, each starts its own program after the fork
        return adapter
    from .python_handler import load_handler as load_python

    return load_python(settings.handler, settings.task_root)


def _fatal(message: str, code: int = EXIT_FATAL) -> NoReturn:
    logs.error(message)
    sys.stdout.flush()
    sys.exit(code)
