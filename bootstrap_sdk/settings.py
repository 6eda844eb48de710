"""Every environment variable the runtime reads: its default, its parsing, its error.

Read once, at start (``Settings.from_environ``), then passed to what needs it; no other
runtime module reads ``os.environ`` for a setting. Lambda's own variables
(``AWS_LAMBDA_*``, ``_HANDLER``, ``LAMBDA_TASK_ROOT``) are taken as Lambda sets them,
leniently, as the managed runtime does. The SDK's ``BOOTSTRAP_SDK_*`` variables are the
function author's: a malformed value is not guessed around but recorded in ``problems``,
which the entry posts to ``/runtime/init/error`` (docs/facts.md#the-runtime-api). So is a
``BOOTSTRAP_SDK_*`` name this module does not read: a misspelt setting
(``BOOTSTRAP_SDK_EXEC_RECORD``) would otherwise be ignored in silence and change what the
function does.

Standard library only, and not even ``os`` (see ``environment``): this module is on the cold-start path.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import List, Mapping, Optional, Tuple

INVALID_SETTING = "Runtime.InvalidSetting"
INVALID_EXECUTABLE_CONFIG = "Runtime.InvalidExecutableConfig"
INVALID_EXECUTABLE_MODE = "Runtime.InvalidExecutableMode"

EXEC_MODES = ("stdio", "file", "persistent", "call")
CALL_DIRECTIONS = ("in", "out", "inout")  # a USING parameter's: read by the program, written, or both
CALL_STATES = ("fresh", "kept")
RECORD_SHAPES = ("one", "batch", "one-for-one")  # what a copybook program takes: copybook.codec agrees
RECORD_ENCODINGS = ("ascii", "cp037", "cp1140", "cp500", "cp273", "cp1047")  # copybook.codepages agrees
RECORD_FORMATS = ("fixed", "variable")  # file mode: records end to end, or each behind its RDW
BLANK_NUMBERS = ("error", "zero")
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")

PREFIX = "BOOTSTRAP_SDK_"
# Each SDK variable's default; the README's tables say what each means (a test holds them together).
# These are the only BOOTSTRAP_SDK_* names the runtime reads (``_Reader`` reads nothing else), so
# they are also the names it knows: any other in the environment is refused.
DEFAULTS = {
    "BOOTSTRAP_SDK_SIGTERM": "auto",                  # on, off, or auto: on when shutdown hooks exist
    "BOOTSTRAP_SDK_CONNECT_ATTEMPTS": "10",           # about 3 s of reconnecting in all
    "BOOTSTRAP_SDK_SHUTDOWN_BUDGET_MS": "450",
    "BOOTSTRAP_SDK_EXEC_MODE": "stdio",               # stdio, file, persistent or call
    "BOOTSTRAP_SDK_EXEC_ARGS": "",                    # the program's arguments (Lambda's Handler has no spaces)
    "BOOTSTRAP_SDK_EXEC_MARGIN_MS": "500",
    "BOOTSTRAP_SDK_EXEC_CREDENTIALS": "1",
    "BOOTSTRAP_SDK_EXEC_INPUT": "LAMBDA_EVENT_FILE",
    "BOOTSTRAP_SDK_EXEC_OUTPUT": "LAMBDA_RESPONSE_FILE",
    "BOOTSTRAP_SDK_EXEC_WORKDIR": "/tmp",
    "BOOTSTRAP_SDK_EXEC_INPUT_COPYBOOK": "",
    "BOOTSTRAP_SDK_EXEC_OUTPUT_COPYBOOK": "",
    "BOOTSTRAP_SDK_EXEC_RECORDS": "one",              # one, batch or one-for-one
    "BOOTSTRAP_SDK_EXEC_BLANK_NUMBERS": "error",      # error or zero
    "BOOTSTRAP_SDK_EXEC_USING": "",                   # call mode: DIRECTION:COPYBOOK per USING parameter
    "BOOTSTRAP_SDK_EXEC_STATE": "fresh",              # call mode: fresh (CANCEL after each CALL) or kept
    "BOOTSTRAP_SDK_EXEC_RECORD_ENCODING": "ascii",    # the records' encoding: ascii or an EBCDIC code page
    "BOOTSTRAP_SDK_EXEC_RECORD_FORMAT": "fixed",      # file mode: fixed or variable (RDW)
    "BOOTSTRAP_SDK_EXEC_SELECT": "",                  # FIELD=VALUE:VIEW,...: the REDEFINES view a record uses
}
# Read by the project's tooling on the build or test host, never by the runtime: local/rie.py's
# BOOTSTRAP_SDK_RIE and BOOTSTRAP_SDK_RIE_ARM64 (which RIE binary, for this machine and for arm64)
# and the integration tests' BOOTSTRAP_SDK_TEST_PYTHON. A shell that exports them passes them on
# to a runtime started from it (the RIE hands its own environment to the bootstrap), and they
# change nothing here: let through, not refused.
TOOLING_VARIABLES = ("BOOTSTRAP_SDK_RIE", "BOOTSTRAP_SDK_RIE_ARM64", "BOOTSTRAP_SDK_TEST_PYTHON")


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

    def given(self, name: str) -> bool:
        """Is the SDK variable ``name`` set to something (not blank)?"""
        return name in DEFAULTS and bool(self.environ.get(name, "").strip())

    def unknown_names(self) -> None:
        """Every ``BOOTSTRAP_SDK_*`` name (in any case) that is not a setting is a problem."""
        for name in sorted(self.environ):
            upper = name.upper()
            if not upper.startswith(PREFIX) or name in DEFAULTS or name in TOOLING_VARIABLES:
                continue
            error_type = INVALID_EXECUTABLE_CONFIG if upper.startswith(PREFIX + "EXEC_") else INVALID_SETTING
            guess = closest_name(name)
            if guess is not None:
                self.problems.append((error_type, "%s is not a setting of this runtime: did you mean %s?"
                                      % (name, guess)))
            else:
                self.problems.append((error_type, "%s is not a setting of this runtime: remove it or correct its "
                                      "name (the README lists them under Configuration and Legacy executables)"
                                      % (name,)))

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


    def parameters(self, name: str) -> List[Tuple[str, str]]:
        """``DIRECTION:PATH`` items, separated by spaces or commas: [(direction, path)]."""
        items: List[Tuple[str, str]] = []
        for item in self.text(name).replace(",", " ").split():
            direction, colon, path = item.partition(":")
            direction = direction.lower().replace("-", "")
            if not colon or not path or direction not in CALL_DIRECTIONS:
                self.problems.append((INVALID_EXECUTABLE_CONFIG, "%s item %r: expected DIRECTION:COPYBOOK, the "
                                      "direction one of %s (in:copybooks/PAYIN.cpy)"
                                      % (name, item, ", ".join(CALL_DIRECTIONS))))
                continue
            items.append((direction, path))
        return items


class ExecSettings:
    """``BOOTSTRAP_SDK_EXEC_*``: how the executable adapter runs a program."""

    __slots__ = ("mode", "mode_set", "args", "given", "margin_ms", "credentials", "input_name", "output_name",
                 "workdir", "input_copybook", "output_copybook", "records", "blank_as_zero", "using", "state",
                 "encoding", "record_format", "select")

    def __init__(self, reader: _Reader) -> None:
        # Which were set, not left to their defaults: some apply only to one mode, or with a
        # copybook, and the adapter refuses them elsewhere rather than ignore them.
        self.given = frozenset(name for name in DEFAULTS if name.startswith(PREFIX + "EXEC_") and reader.given(name))
        self.mode_set = "BOOTSTRAP_SDK_EXEC_MODE" in self.given
        self.mode = reader.choice("BOOTSTRAP_SDK_EXEC_MODE", EXEC_MODES, INVALID_EXECUTABLE_MODE)
        # Lambda's Handler may hold no white space ([^\s]+): `cobcrun` there, `-M /var/task/ PAYROLL` here.
        self.args = reader.text("BOOTSTRAP_SDK_EXEC_ARGS")
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
        self.using = reader.parameters("BOOTSTRAP_SDK_EXEC_USING")
        self.state = reader.choice("BOOTSTRAP_SDK_EXEC_STATE", CALL_STATES, INVALID_EXECUTABLE_CONFIG)
        self.encoding = reader.choice("BOOTSTRAP_SDK_EXEC_RECORD_ENCODING", RECORD_ENCODINGS,
                                      INVALID_EXECUTABLE_CONFIG).lower()
        self.record_format = reader.choice("BOOTSTRAP_SDK_EXEC_RECORD_FORMAT", RECORD_FORMATS,
                                           INVALID_EXECUTABLE_CONFIG)
        self.select = reader.text("BOOTSTRAP_SDK_EXEC_SELECT")  # parsed with the copybooks it names fields of


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
        reader.unknown_names()
        self.problems = reader.problems

    @classmethod
    def from_environ(cls, environ: Optional[Mapping[str, str]] = None) -> "Settings":
        if environ is None:
            from .environment import variables

            environ = variables()
        return cls(environ)

    def problem(self) -> Optional[Tuple[str, str]]:
        """(errorType, message) for every malformed setting at once; None if all are well formed."""
        if not self.problems:
            return None
        return self.problems[0][0], "; ".join(message for _, message in self.problems)


def closest_name(name: str) -> Optional[str]:
    """The setting ``name`` most likely misspells, or None when none is close.

    Close: the fewest one-character edits (insert, delete, replace, swap two neighbours)
    after the prefix, and at most a third of the setting's length after it. Not difflib:
    this runs at start, only on this error path, and a minimal layer's standard library
    (packaging/python_bundle.py) does not ship difflib.
    """
    upper = name.upper()
    if upper in DEFAULTS:  # right name, wrong case
        return upper
    tail = upper[len(PREFIX):] if upper.startswith(PREFIX) else upper
    best: Optional[str] = None
    best_edits = 0
    for known in DEFAULTS:
        known_tail = known[len(PREFIX):]
        edits = _edits(tail, known_tail)
        if edits <= len(known_tail) // 3 and (best is None or edits < best_edits):
            best, best_edits = known, edits
    return best


def _edits(a: str, b: str) -> int:
    """Optimal-string-alignment distance: Levenshtein plus swapping two neighbours."""
    before: List[int] = []
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                current[j] = min(current[j], before[j - 2] + 1)
        before, previous = previous, current
    return previous[len(b)]
