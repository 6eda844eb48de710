"""The legacy-executable handler: the program ``_HANDLER`` names serves each invoke.

``_HANDLER`` is the program's command line (see ``command``); its configuration is the
``BOOTSTRAP_SDK_EXEC_*`` variables, parsed in ``settings.ExecSettings``.

Modes: ``stdio`` runs the program once per invoke, event on stdin, stdout is the
response. ``file`` writes the event to a file and reads the response from one; their
paths are in the variables above, in ``DD_<name>`` too (how GnuCOBOL maps ``ASSIGN``
names), and replace ``{input}``/``{output}`` in the arguments. ``persistent`` keeps one
program running and speaks NDJSON with it (see ``persistent``).
"""

from __future__ import annotations

import errno
import os
import stat
import time

from .. import logs, shutdown
from ..errors import MALFORMED_HANDLER_NAME, FunctionError, InitError
from . import child_process
from .child_process import SpawnError
from .command import missing_interpreter, resolve_program, split_command
from .workdir import Workdirs

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Dict, List, Mapping, Optional

    from ..context import Context
    from ..copybook import Copybook, RecordError
    from ..settings import ExecSettings
    from .persistent import PersistentProgram

# Lambda's (and the RIE's) synchronous response limit (docs/facts.md#lambdas-limits).
RESPONSE_LIMIT = 6 * 1024 * 1024 + 100
CREDENTIAL_VARIABLES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
# Not for the program: the Runtime API is the runtime's, and "_"-variables are Lambda's internals.
HIDDEN_VARIABLES = ("AWS_LAMBDA_RUNTIME_API", "_HANDLER", "_LAMBDA_TELEMETRY_LOG_FD")


class ProgramHandler:
    """What every mode shares: a handler (raw bytes in, bytes out) that hands each invoke to a
    program, in a working directory of its own, with the environment the program gets."""

    __bootstrap_sdk_raw_event__ = True

    def __init__(self, name: str, task_root: str, settings: ExecSettings, env: Mapping[str, str]) -> None:
        self.name = name
        self.task_root = task_root
        self.margin = settings.margin_ms / 1000.0
        self.grace = min(0.2, self.margin / 2)
        self.workdirs = Workdirs(settings.workdir)
        left = self.workdirs.remove_leftovers()
        if left:
            names = sorted(left)
            logs.warning("removed %d working director%s that a runtime killed mid-invoke left in %s: %s%s"
                         % (len(names), "y" if len(names) == 1 else "ies", settings.workdir, ", ".join(names[:5]),
                            ", …" if len(names) > 5 else ""))
        hidden = set(HIDDEN_VARIABLES)
        if not settings.credentials:
            hidden.update(CREDENTIAL_VARIABLES)
        self.base_env = {k: v for k, v in env.items() if k not in hidden and not k.startswith("BOOTSTRAP_SDK_")}
        self._subreaper_of = 0  # the process that made itself subreaper (forked workers redo it)

    @property
    def resident(self) -> Optional[PersistentProgram]:
        """The long-lived process this mode keeps (persistent mode's program, call mode's
        host), or None: a program per invoke."""
        return None

    def _spared(self) -> List[int]:
        """What a sweep leaves alone: the resident process, while it lives."""
        resident = self.resident
        return [resident.pid] if resident is not None and resident.pid else []

    def stop(self) -> None:
        """SIGTERM at shutdown: TERM the programs still running, KILL them within the budget."""
        child_process.terminate_children(self.grace)
        if self.resident is not None:
            self.resident.stop(0)
        self.workdirs.remove_all()

    def _adopt_orphans(self) -> None:
        """Become this process's subreaper (a forked worker must redo it: fork drops it)."""
        if self._subreaper_of != os.getpid():
            child_process.become_subreaper()
            self._subreaper_of = os.getpid()

    def _kill_at(self, context: Context) -> float:
        """When the program is stopped: the margin before the invoke's deadline."""
        return time.monotonic() + context.get_remaining_time_in_millis() / 1000.0 - self.margin

    def after_invoke(self) -> None:
        """Called by the loop once the response is posted: clean-up off the critical path."""
        self.workdirs.recycle()

    def _context_env(self, context: Context, workdir: str) -> Dict[str, str]:
        """What the program learns of this invoke, as environment variables."""
        env = {
            "LAMBDA_REQUEST_ID": context.aws_request_id,
            "LAMBDA_DEADLINE_MS": str(context.deadline_ms),
            "LAMBDA_REMAINING_MS": str(context.get_remaining_time_in_millis()),
            "LAMBDA_FUNCTION_ARN": context.invoked_function_arn or "",
            "LAMBDA_INVOKE_DIR": workdir,
            "TMPDIR": workdir,
        }
        if context.trace_id:
            env["_X_AMZN_TRACE_ID"] = context.trace_id
        if context.tenant_id:
            env["LAMBDA_TENANT_ID"] = context.tenant_id
        return env

    def _stderr_sink(self, line: str) -> None:
        logs.sink().log(20, line, logger=self.name + ".stderr")

    def _stdout_sink(self, line: str) -> None:
        logs.sink().log(20, line, logger=self.name + ".stdout")


class ExecutableHandler(ProgramHandler):
    """The handler that runs the configured program: stdio, file and persistent modes."""

    def __init__(self, handler: str, task_root: str, settings: ExecSettings,
                 environ: Optional[Mapping[str, str]] = None) -> None:
        env = dict(os.environ if environ is None else environ)
        self.mode = settings.mode
        words = split_command(handler, settings.args)
        misapplied = misapplied_settings(settings, words)
        if misapplied:
            raise InitError("Runtime.InvalidExecutableConfig", "; ".join(misapplied))
        program = resolve_program(words[0], task_root, env.get("PATH", ""))
        if program is None:
            raise InitError("Runtime.ExecutableNotFound", "Program %r not found (looked in %s%s)%s"
                            % (words[0], task_root, "" if "/" in words[0] else " and on PATH",
                               _forced_by_mode(handler, settings)))
        python_file = None if settings.mode_set else _python_file(words[0], program)
        if python_file:
            raise InitError(MALFORMED_HANDLER_NAME, python_file)
        if not os.access(program, os.X_OK):
            raise InitError("Runtime.ExecutableNotExecutable",
                            "Program %s is not executable (mode %o): set its x bit (chmod 755) before zipping"
                            % (program, os.stat(program).st_mode & 0o7777))
        unstartable = missing_interpreter(program)
        if unstartable:
            raise InitError("Runtime.ExecutableInterpreterNotFound",
                            "Program %s cannot start: %s" % (program, unstartable))
        self.argv = [program] + words[1:]
        super().__init__(os.path.basename(program), task_root, settings, env)
        # How errors name the program: its command line, the program's directory left out.
        self.command = " ".join([self.name] + words[1:])
        self.input_name = settings.input_name
        self.output_name = settings.output_name
        self.records = self._record_codec(settings, task_root)
        self.persistent = None
        if self.mode == "persistent":
            from .persistent import PersistentProgram

            self.persistent = PersistentProgram(self.argv, self.base_env, task_root, RESPONSE_LIMIT * 4 // 3 + 4096,
                                                self._stderr_sink)
        shutdown.on_shutdown(self.stop)

    def _record_codec(self, settings: ExecSettings, task_root: str) -> Any:
        """The copybook codec, when BOOTSTRAP_SDK_EXEC_INPUT_COPYBOOK / _OUTPUT_COPYBOOK are set."""
        paths = [settings.input_copybook, settings.output_copybook]
        if not any(paths):
            return None
        from ..copybook import RecordCodec, Selector

        books = [load_copybook(task_root, path, settings) if path else None for path in paths]
        used = {one.field for book in books if book is not None for one in book.selectors}
        for one in Selector.parse_many(settings.select):
            if one.field not in used:
                raise InitError("Runtime.InvalidExecutableConfig", "BOOTSTRAP_SDK_EXEC_SELECT: %r applies to neither "
                                "copybook (%s): none holds both the field %s and a REDEFINES item (or 01 record) "
                                "named %s" % (one, " and ".join(p for p in paths if p), one.field,
                                              " or ".join(one.names())))
        return RecordCodec(books[0], books[1], b"\n" if self.mode == "stdio" else b"", settings.records,
                           settings.blank_as_zero, settings.record_format == "variable")

    # -- per invoke --------------------------------------------------------------------
    def __call__(self, event: bytes, context: Context) -> bytes:
        self._adopt_orphans()
        workdir = self.workdirs.take()
        kill_at = self._kill_at(context)
        if self.persistent is not None:
            return self._persistent(event, context, workdir, kill_at)
        if self.records is None:
            return self._run_once(event, context, workdir, kill_at)
        return self._run_with_records(event, context, workdir, kill_at)

    def _run_with_records(self, event: bytes, context: Context, workdir: str, kill_at: float) -> bytes:
        from ..copybook import RecordError
        from ..payload import encode_result

        try:
            records, count = self.records.encode_event(event)
        except RecordError as exc:
            raise invalid_event(exc) from None
        output = self._run_once(records, context, workdir, kill_at)
        try:
            return encode_result(self.records.decode_output(output, count))[0]
        except RecordError as exc:
            if exc.field == "output":  # the number of records, not one record's content
                raise FunctionError("%s: %s" % (self.command, exc.message), "Copybook.InvalidOutput") from None
            raise FunctionError("%s wrote output the output copybook does not describe: %s" % (self.command, exc),
                                "Copybook.InvalidOutput") from None

    def _run_once(self, event: bytes, context: Context, workdir: str, kill_at: float) -> bytes:
        env = dict(self.base_env)
        env.update(self._context_env(context, workdir))
        argv = self.argv
        stdin_data = event
        if self.mode == "file":
            input_path = os.path.join(workdir, "event")
            output_path = os.path.join(workdir, "response")
            _write_new_file(input_path, event)
            for name, path in ((self.input_name, input_path), (self.output_name, output_path)):
                env[name] = env["DD_" + name] = path
            argv = [word.replace("{input}", input_path).replace("{output}", output_path) for word in argv]
            stdin_data = b""
        try:
            outcome = child_process.run(argv, env, workdir, stdin_data, kill_at, RESPONSE_LIMIT,
                                        self._stderr_sink, self.grace, self._spared())
        except SpawnError as exc:
            raise FunctionError(str(exc), "Executable.SpawnError") from None
        self._check(outcome)
        if self.mode != "file":
            return outcome.stdout
        return self._read_output(output_path, outcome.stdout)

    def _read_output(self, path: str, stdout: bytes) -> bytes:
        """The response file: a regular file, never read through a symlink, read up to the limit.

        Its size cannot be trusted beforehand (a FIFO says 0 and blocks, a symlink to
        /dev/zero says 0 and never ends), so the cap applies while reading.
        """
        if stdout:
            for line in stdout.decode("utf-8", "replace").splitlines():
                self._stdout_sink(line)
        where = "%s=%s" % (self.output_name, path)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        except FileNotFoundError:
            raise FunctionError("%s exited 0 but wrote no response file (%s)" % (self.command, where),
                                "Executable.NoOutput") from None
        except OSError as exc:
            what = "a symlink" if exc.errno == errno.ELOOP else exc.strerror
            raise FunctionError("%s left a response file the runtime will not read (%s): %s; write the response "
                                "to a regular file at that path" % (self.command, where, what),
                                "Executable.InvalidOutputFile") from None
        try:
            mode = os.fstat(fd).st_mode
            if not stat.S_ISREG(mode):
                raise FunctionError("%s left a response file the runtime will not read (%s): %s, not a regular file"
                                    % (self.command, where, _file_kind(mode)), "Executable.InvalidOutputFile")
            parts: List[bytes] = []
            size = 0
            while size <= RESPONSE_LIMIT:
                data = os.read(fd, min(1 << 20, RESPONSE_LIMIT + 1 - size))
                if not data:
                    return b"".join(parts)
                parts.append(data)
                size += len(data)
        finally:
            os.close(fd)
        raise FunctionError("%s wrote a response of more than %d bytes, over Lambda's limit"
                            % (self.command, RESPONSE_LIMIT), "Executable.ResponseTooLarge")

    def _check(self, outcome: child_process.Outcome) -> None:
        tail = ("; stderr ends:\n" + outcome.stderr_tail) if outcome.stderr_tail else ""
        if outcome.timed_out:
            raise FunctionError("%s was stopped %d ms before the invoke's deadline after %.1f s%s"
                                % (self.command, self.margin * 1000, outcome.seconds, tail), "Executable.Timeout")
        if outcome.overflow:
            raise FunctionError("%s wrote more than %d bytes to stdout, over Lambda's response limit; it was "
                                "stopped and nothing was sent" % (self.command, RESPONSE_LIMIT),
                                "Executable.ResponseTooLarge")
        if outcome.status != 0:
            error_type, description = child_process.status_error(outcome.status)
            what = ("was " if description.startswith("killed") else "") + description
            raise FunctionError("%s %s%s" % (self.command, what, tail), error_type)

    def _persistent(self, event: bytes, context: Context, workdir: str, kill_at: float) -> bytes:
        from .persistent import encode_request, reply_body

        assert self.persistent is not None
        request = encode_request(context.aws_request_id, event, {
            "deadline_ms": context.deadline_ms,
            "function_arn": context.invoked_function_arn,
            "trace_id": context.trace_id,
            "workdir": workdir,
        })
        try:
            reply = self.persistent.invoke(request, context.aws_request_id, kill_at, self._stdout_sink, self.grace)
        except SpawnError as exc:
            raise FunctionError(str(exc), "Executable.SpawnError") from None
        except FunctionError:  # the program died or was stopped: sweep what it left behind
            child_process.sweep(self._spared())
            raise
        child_process.reap(self._spared())  # a live program owns its children; collect zombies only
        body, error = reply_body(reply)
        if error is not None:
            raise FunctionError(error[1], error[0])
        assert body is not None
        if len(body) > RESPONSE_LIMIT:
            raise FunctionError("%s replied with %d bytes, over Lambda's %d-byte limit"
                                % (self.command, len(body), RESPONSE_LIMIT), "Executable.ResponseTooLarge")
        return body

    @property
    def resident(self) -> Optional[PersistentProgram]:
        return self.persistent

    # -- shutdown ----------------------------------------------------------------------
    def start(self) -> None:
        """Start the persistent program now (at init), so a broken one fails init."""
        if self.persistent is not None and not self.persistent.running:
            self._adopt_orphans()
            try:
                self.persistent.start()
            except SpawnError as exc:
                raise InitError("Runtime.ExecutableSpawnError", str(exc)) from None



def invalid_event(exc: RecordError) -> FunctionError:
    """The error for an event the copybooks refuse: a field's error names it; the event's
    shape as a whole ("event") needs no name twice."""
    what = exc.message if exc.field == "event" else str(exc)
    return FunctionError("invalid event: %s" % what, "Copybook.InvalidEvent")


def load_copybook(task_root: str, path: str, settings: Optional[ExecSettings] = None) -> Copybook:
    """A copybook the configuration names (relative to the task root), in the records'
    encoding, with BOOTSTRAP_SDK_EXEC_SELECT; InitError if it cannot be read or used."""
    from ..copybook import Copybook, CopybookError, DataEncoding, Selector

    full = os.path.join(task_root, path)
    try:
        encoding = DataEncoding(settings.encoding if settings is not None else "ascii")
        selector = Selector.parse_many(settings.select) if settings is not None and settings.select else None
    except ValueError as exc:  # a selector that is no FIELD=VALUE:VIEW list; cp1047 without its codec
        raise InitError("Runtime.InvalidExecutableConfig", str(exc)) from None
    try:
        book = Copybook.load(full, encoding)
        # A selector applies to the copybooks that hold its field (an input's segment id is
        # no field of the summary the program writes); _record_codec checks that one does.
        chosen = [one for one in selector or [] if one.applies_to(book.root)]
        return Copybook(book.root, encoding, chosen) if chosen else book
    except OSError as exc:
        raise InitError("Runtime.InvalidExecutableConfig", "copybook %s: %s" % (full, exc.strerror)) from None
    except CopybookError as exc:
        raise InitError("Runtime.InvalidCopybook", str(exc)) from None
    except ValueError as exc:  # the selector names no field or view of this copybook
        raise InitError("Runtime.InvalidExecutableConfig", "BOOTSTRAP_SDK_EXEC_SELECT with copybook %s: %s"
                        % (full, exc)) from None


def misapplied_settings(settings: ExecSettings, words: List[str]) -> List[str]:
    """What is given but would do nothing: file-mode settings in another mode, copybooks in
    persistent mode, record settings without the copybook they shape, a program's settings
    in call mode and call mode's elsewhere."""
    given = settings.given
    mode = "%s (%s)" % (settings.mode, "BOOTSTRAP_SDK_EXEC_MODE=" + settings.mode if settings.mode_set
                        else "the default: BOOTSTRAP_SDK_EXEC_MODE is unset")
    problems = []
    if settings.mode == "call":
        names: List[str] = [name for name in ("BOOTSTRAP_SDK_EXEC_ARGS", "BOOTSTRAP_SDK_EXEC_INPUT", "BOOTSTRAP_SDK_EXEC_OUTPUT",
                                   "BOOTSTRAP_SDK_EXEC_INPUT_COPYBOOK", "BOOTSTRAP_SDK_EXEC_OUTPUT_COPYBOOK",
                                   "BOOTSTRAP_SDK_EXEC_RECORDS", "BOOTSTRAP_SDK_EXEC_RECORD_FORMAT",
                                   "BOOTSTRAP_SDK_EXEC_SELECT") if name in given]
        if names:
            problems.append("%s appl%s to a program, not to call mode (BOOTSTRAP_SDK_EXEC_MODE=call), which CALLs "
                            "_HANDLER's entry once per invoke with the records BOOTSTRAP_SDK_EXEC_USING names: "
                            "remove %s" % (" and ".join(names), "ies" if len(names) == 1 else "y",
                                           "it" if len(names) == 1 else "them"))
        if not settings.using:
            problems.append("call mode needs BOOTSTRAP_SDK_EXEC_USING: one DIRECTION:COPYBOOK per parameter of the "
                            "entry's PROCEDURE DIVISION USING, in order (in:copybooks/PAYIN.cpy "
                            "out:copybooks/PAYOUT.cpy)")
        return problems
    names = [name for name in ["BOOTSTRAP_SDK_EXEC_USING", "BOOTSTRAP_SDK_EXEC_STATE"] if name in given]
    if names:
        problems.append("%s appl%s only with BOOTSTRAP_SDK_EXEC_MODE=call, and the mode is %s: to CALL a COBOL "
                        "subprogram set BOOTSTRAP_SDK_EXEC_MODE=call, otherwise remove %s"
                        % (" and ".join(names), "ies" if len(names) == 1 else "y", mode,
                           "it" if len(names) == 1 else "them"))
    if settings.mode != "file":
        names = [name for name in ("BOOTSTRAP_SDK_EXEC_INPUT", "BOOTSTRAP_SDK_EXEC_OUTPUT") if name in given]
        if names:
            problems.append("%s appl%s only with BOOTSTRAP_SDK_EXEC_MODE=file, and the mode is %s: for a program "
                            "that reads and writes files set BOOTSTRAP_SDK_EXEC_MODE=file, otherwise remove %s"
                            % (" and ".join(names), "ies" if len(names) == 1 else "y", mode,
                               "it" if len(names) == 1 else "them"))
        placeholders = [p for p in ("{input}", "{output}") if any(p in word for word in words[1:])]
        if placeholders:
            problems.append("_HANDLER's %s %s replaced with file paths only with BOOTSTRAP_SDK_EXEC_MODE=file, and "
                            "the mode is %s: the program would get %s literally"
                            % (" and ".join(placeholders), "is" if len(placeholders) == 1 else "are", mode,
                               "it" if len(placeholders) == 1 else "them"))
    copybook = settings.input_copybook or settings.output_copybook
    names = [name for name in ("BOOTSTRAP_SDK_EXEC_RECORD_ENCODING", "BOOTSTRAP_SDK_EXEC_SELECT") if name in given]
    if names and not copybook:
        problems.append("%s appl%s only with a copybook (BOOTSTRAP_SDK_EXEC_INPUT_COPYBOOK or "
                        "BOOTSTRAP_SDK_EXEC_OUTPUT_COPYBOOK): set one, or remove %s"
                        % (" and ".join(names), "ies" if len(names) == 1 else "y", "it" if len(names) == 1 else "them"))
    if "BOOTSTRAP_SDK_EXEC_RECORD_FORMAT" in given and (settings.mode != "file" or not copybook):
        problems.append("BOOTSTRAP_SDK_EXEC_RECORD_FORMAT applies only to file mode's records with a copybook (stdio "
                        "mode's are lines), and the mode is %s%s: remove it" % (
                            mode, "" if copybook else ", with no copybook"))
    if copybook and settings.mode == "persistent":
        problems.append("copybooks work with the stdio and file modes, not persistent (whose protocol is JSON already)")
    if not copybook and "BOOTSTRAP_SDK_EXEC_RECORDS" in given:
        problems.append("BOOTSTRAP_SDK_EXEC_RECORDS applies only with a copybook (BOOTSTRAP_SDK_EXEC_INPUT_COPYBOOK "
                        "or BOOTSTRAP_SDK_EXEC_OUTPUT_COPYBOOK): set one, or remove it")
    if not settings.output_copybook and "BOOTSTRAP_SDK_EXEC_BLANK_NUMBERS" in given:
        problems.append("BOOTSTRAP_SDK_EXEC_BLANK_NUMBERS applies only with BOOTSTRAP_SDK_EXEC_OUTPUT_COPYBOOK (it says "
                        "how the program's output records are read): set that, or remove it")
    return problems


def _forced_by_mode(handler: str, settings: ExecSettings) -> str:
    """Said when a program is not found: BOOTSTRAP_SDK_EXEC_MODE, not ``_HANDLER`` itself, made
    a Python-looking handler (``app.handler``) name a program."""
    text = handler.strip()
    module, dot, function = text.rpartition(".")
    parts = module.replace("/", ".").split(".") + [function]
    if not settings.mode_set or not dot or not all(part.isidentifier() for part in parts):
        return ""
    return ("; BOOTSTRAP_SDK_EXEC_MODE is set (to %s), which makes _HANDLER name a program whatever it looks like: "
            "if %r is a Python handler (MODULE.FUNCTION), unset BOOTSTRAP_SDK_EXEC_MODE" % (settings.mode, text))


def _python_file(word: str, program: str) -> Optional[str]:
    """Why ``_HANDLER`` names a Python source file rather than a program, or None.

    A ``.py`` file without a ``#!`` line cannot be exec'd, x bit or not (ENOEXEC): whoever
    named it meant a Python handler, and ``chmod`` would not help.
    """
    if not program.endswith(".py"):
        return None
    try:
        with open(program, "rb") as handle:
            if handle.read(2) == b"#!":
                return None
    except OSError:
        return None
    stem = os.path.normpath(word)[:-3]
    example = stem + ".handler"
    if os.path.isabs(word) or not all(part.isidentifier() for part in stem.split("/")):
        example = "app.handler"
    return ("%s is a Python file, not a program: for a Python handler give MODULE.FUNCTION, e.g. %s (to run it as "
            "a program instead, start it with a #! line and set its x bit: chmod 755)" % (word, example))


def _file_kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device")):
        if test(mode):
            return name
    return "a special file"


def _write_new_file(path: str, data: bytes) -> None:
    """Write a file that must not exist yet (never through a link someone planted)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)
