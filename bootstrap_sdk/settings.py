"""Every environment variable the runtime reads: its default, its parsing, its error.

Read once, at start (``Settings.from_environ``), then passed to what needs it; no other
runtime module reads ``os.environ`` for a setting. Lambda's own variables
(``AWS_LAMBDA_*``, ``_HANDLER``, ``LAMBDA_TASK_ROOT``) are taken as Lambda sets them,
leniently, as the managed runtime does. The SDK's ``BOOTSTRAP_SDK_*`` variables are the
function author's: a malformed value is not guessed around but recorded in ``problems``,
which the entry posts to ``/runtime/init/error`` (docs/facts.md#the-runtime-api).

Standard library only, and only ``os`` at that: this module is on the cold-start path.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import List, Mapping, Optional, Tuple

INVALID_SETTING = "Runtime.InvalidSetting"
INVALID_EXECUTABLE_CONFIG = "Runtime.InvalidExecutableConfig"
INVALID_EXECUTABLE_MODE = "Runtime.InvalidExecutableMode"

EXEC_MODES = ("stdio", "file", "persistent")
RECORD_SHAPES = ("one", "batch", "one-for-one")  # what a copybook program takes: copybook.codec agrees
BLANK_NUMBERS = ("error", "zero")
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")

# Each SDK variable's default; the README's tables say what each means (a test holds them together).
DEFAULTS = {
    "BOOTSTRAP_SDK_SIGTERM": "auto",                  # on, off, or auto: on when shutdown hooks exist
    "BOOTSTRAP_SDK_CONNECT_ATTEMPTS": "10",           # about 3 s of reconnecting in all
    "BOOTSTRAP_SDK_SHUTDOWN_BUDGET_MS": "450",
    "BOOTSTRAP_SDK_EXEC_MODE": "stdio",               # stdio, file or persistent
    "BOOTSTRAP_SDK_EXEC_MARGIN_MS": "500",
    "BOOTSTRAP_SDK_EXEC_CREDENTIALS": "1",
    "BOOTSTRAP_SDK_EXEC_INPUT": "LAMBDA_EVENT_FILE",
    "BOOTSTRAP_SDK_EXEC_OUTPUT": "LAMBDA_RESPONSE_FILE",
    "BOOTSTRAP_SDK_EXEC_WORKDIR": "/tmp",
    "BOOTSTRAP_SDK_EXEC_INPUT_COPYBOOK": "",
    "BOOTSTRAP_SDK_EXEC_OUTPUT_COPYBOOK": "",
    "BOOTSTRAP_SDK_EXEC_RECORDS": "one",              # one, batch or one-for-one
    "BOOTSTRAP_SDK_EXEC_BLANK_NUMBERS": "error",      # error or zero
}


def whole_number(text: str) -> bool:
    """ASCII digits only: ``str.isdigit()`` alone admits '²', which ``int()`` refuses."""
    return text.isascii() and text.isdigit()


class _Reader:
    """Parses values out of one environment, collecting what is malformed."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ
        self.problems: List[Tuple[str, str]] = []

    def text(self, name: str) -> str:
        """An SDK variable's value, stripped, or its default when unset or blank."""
        return self.environ.get(name, "").strip() or DEFAULTS[name]

    def flag(self, name: str, error_type: str = INVALID_SETTING) -> Optional[bool]:
        """on/off (1/0, true/false, yes/no); None for ``auto``."""
        value = self.text(name).lower()
        if value in _TRUE:
            return True
        if value in _FALSE:
            return False
        has_auto = DEFAULTS[name] == "auto"
        if value != "auto" or not has_auto:
            self.problems.append((error_type, "%s=%r: expected on or off (1/0, true/false, yes/no)%s"
                                  % (name, value, " or auto" if has_auto else "")))
        return None

    def choice(self, name: str, choices: Tuple[str, ...], error_type: str = INVALID_SETTING) -> str:
        """One of ``choices`` (any case); the default, and a problem, for anything else."""
        value = self.text(name).lower()
        if value in choices:
            return value
        self.problems.append((error_type, "%s=%r: expected one of %s" % (name, value, ", ".join(choices))))
        return DEFAULTS[name]

    def count(self, name: str, minimum: int, error_type: str = INVALID_SETTING) -> int:
        """A whole number of at least ``minimum``."""
        value = self.text(name)
        if whole_number(value) and int(value) >= minimum:
            return int(value)
        self.problems.append((error_type, "%s=%r is not a number: expected a whole number of at least %d"
                              % (name, value, minimum)))
        return int(DEFAULTS[name])


class ExecSettings:
    """``BOOTSTRAP_SDK_EXEC_*``: how the executable adapter runs a program."""

    __slots__ = ("mode", "mode_set", "margin_ms", "credentials", "input_name", "output_name", "workdir",
                 "input_copybook", "output_copybook", "records", "blank_as_zero")

    def __init__(self, reader: _Reader) -> None:
        self.mode_set = bool(reader.environ.get("BOOTSTRAP_SDK_EXEC_MODE", "").strip())
        self.mode = reader.choice("BOOTSTRAP_SDK_EXEC_MODE", EXEC_MODES, INVALID_EXECUTABLE_MODE)
        self.margin_ms = reader.count("BOOTSTRAP_SDK_EXEC_MARGIN_MS", 0, INVALID_EXECUTABLE_CONFIG)
        self.credentials = reader.flag("BOOTSTRAP_SDK_EXEC_CREDENTIALS", INVALID_EXECUTABLE_CONFIG) is not False
        self.input_name = reader.text("BOOTSTRAP_SDK_EXEC_INPUT")
        self.output_name = reader.text("BOOTSTRAP_SDK_EXEC_OUTPUT")
        self.workdir = reader.text("BOOTSTRAP_SDK_EXEC_WORKDIR")
        self.input_copybook = reader.text("BOOTSTRAP_SDK_EXEC_INPUT_COPYBOOK")
        self.output_copybook = reader.text("BOOTSTRAP_SDK_EXEC_OUTPUT_COPYBOOK")
        self.records = reader.choice("BOOTSTRAP_SDK_EXEC_RECORDS", RECORD_SHAPES, INVALID_EXECUTABLE_CONFIG)
        self.blank_as_zero = reader.choice("BOOTSTRAP_SDK_EXEC_BLANK_NUMBERS", BLANK_NUMBERS,
                                           INVALID_EXECUTABLE_CONFIG) == "zero"


class Settings:
    """The runtime's configuration, as the environment gave it at start."""

    __slots__ = ("runtime_api", "handler", "task_root", "path", "max_concurrency", "log_format", "log_level",
                 "function_name", "function_version", "memory_size", "log_group_name", "log_stream_name",
                 "sigterm", "connect_attempts", "shutdown_budget_ms", "executable", "problems")

    def __init__(self, environ: Mapping[str, str]) -> None:
        get = environ.get
        reader = _Reader(environ)
        # Lambda's own variables (docs/facts.md#the-execution-environment).
        self.runtime_api = get("AWS_LAMBDA_RUNTIME_API", "")
        self.handler = get("_HANDLER", "")
        self.task_root: Optional[str] = get("LAMBDA_TASK_ROOT") or None
        self.path = get("PATH", "")
        concurrency = get("AWS_LAMBDA_MAX_CONCURRENCY", "").strip()
        self.max_concurrency = int(concurrency) if whole_number(concurrency) else 0
        # Lambda Managed Instances require JSON logs (docs/facts.md#multi-concurrency-lambda-managed-instances).
        self.log_format = "JSON" if self.max_concurrency else get("AWS_LAMBDA_LOG_FORMAT", "Text")
        self.log_level = get("AWS_LAMBDA_LOG_LEVEL", "")
        self.function_name = get("AWS_LAMBDA_FUNCTION_NAME")
        self.function_version = get("AWS_LAMBDA_FUNCTION_VERSION")
        self.memory_size = get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")  # a string, as the managed runtime has it
        self.log_group_name = get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = get("AWS_LAMBDA_LOG_STREAM_NAME")
        # The SDK's own.
        self.sigterm = reader.flag("BOOTSTRAP_SDK_SIGTERM")
        self.connect_attempts = reader.count("BOOTSTRAP_SDK_CONNECT_ATTEMPTS", 1)
        self.shutdown_budget_ms = reader.count("BOOTSTRAP_SDK_SHUTDOWN_BUDGET_MS", 0)
        self.executable = ExecSettings(reader)
        self.problems = reader.problems

    @classmethod
    def from_environ(cls, environ: Optional[Mapping[str, str]] = None) -> "Settings":
        if environ is None:
            import os

            environ = os.environ
        return cls(environ)

    def problem(self) -> Optional[Tuple[str, str]]:
        """(errorType, message) for every malformed setting at once; None if all are well formed."""
        if not self.problems:
            return None
        return self.problems[0][0], "; ".join(message for _, message in self.problems)
