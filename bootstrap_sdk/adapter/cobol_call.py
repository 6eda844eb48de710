"""Call mode: a COBOL subprogram CALLed with its LINKAGE records, in a warm host process.

``_HANDLER`` names the entry (``PAYCALC``, found on ``COB_LIBRARY_PATH``, the task root
first) or its module (``lib/PAYCALC.so``: the entry is the file's stem).
``BOOTSTRAP_SDK_EXEC_USING`` names one copybook per USING parameter, each ``in``,
``out`` or ``inout``. For each invoke the event is encoded into the input records
(``copybook.CallParameters``), the entry is CALLed with the buffers, and the output
records come back as the response. ``RETURN-CODE`` other than 0 is the invoke's error.

The CALL happens in ``cobol-call-host`` (``templates/cobol_call_host.c``, built by
make-runtime-layer against the libcob it bundles), started at init: libcob is
initialised and the entry resolved once, so an invoke costs a CALL, not a process. A
crash, a libcob runtime error or STOP RUN ends the host, not the runtime: that invoke
gets an error naming which, and the next one a fresh host. By default the host CANCELs
the entry after each CALL, so each invoke sees WORKING-STORAGE in its initial state, as
a new process would (``BOOTSTRAP_SDK_EXEC_STATE=fresh``); ``kept`` leaves it loaded.

The protocol, native byte order (both ends are on one machine), on two pipes that are
not the program's stdin and stdout (fd 3 and 4 in the host), so DISPLAY cannot corrupt it:

    setup    magic "BSCS", count (2 × u32), then each parameter's size (u32): once, at start
    request  magic "BSCQ", dir length, env length, data length (4 × u32),
             then the working directory, the invoke's variables ("NAME=VALUE" or "NAME"
             to unset, each NUL-ended), then every parameter's record end to end
    reply    magic "BSCR", kind, code (i32), detail, call_ns (u64), message length,
             data length, then the message, then the records (RETURNED only)

The kinds: READY or INIT_FAILED (once, at start: the entry resolved or not; BAD_REQUEST
if the host cannot go on), RETURNED (code is RETURN-CODE),
EXITED (the process is ending inside the CALL; the message is libcob's runtime error,
empty for STOP RUN) and OVERRUN (parameter ``code`` was touched at byte ``detail``,
past its end: the host's buffers end at a guard page).
"""

from __future__ import annotations

import os
import struct
import time

from .. import logs, shutdown
from ..errors import MALFORMED_HANDLER_NAME, FunctionError, InitError
from . import child_process
from .child_process import SpawnError
from .executable import RESPONSE_LIMIT, ProgramHandler, invalid_event, load_copybook, misapplied_settings
from .persistent import PersistentProgram

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, List, Mapping, Optional, Tuple

    from ..context import Context
    from ..copybook import CallParameters
    from ..settings import ExecSettings

HOST_NAME = "cobol-call-host"
SETUP = struct.Struct("=II")
REQUEST = struct.Struct("=IIII")
REPLY = struct.Struct("=IIiIQII")
SETUP_MAGIC = 0x53435342  # "BSCS"
REQUEST_MAGIC = 0x51435342  # "BSCQ"
REPLY_MAGIC = 0x52435342  # "BSCR"
READY, RETURNED, INIT_FAILED, EXITED, OVERRUN, BAD_REQUEST = range(6)
MAX_MESSAGE = 65536
START_TIMEOUT = 10.0  # seconds for the host to initialise libcob and resolve the entry
ENTRY_CHARACTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
ENTRY_LIMIT = 31  # GnuCOBOL's COB_MAX_NAMELEN
# Variables an invoke may set or not; one left over from an earlier invoke is unset.
OPTIONAL_VARIABLES = ("_X_AMZN_TRACE_ID", "LAMBDA_TENANT_ID")


class Reply:
    """One frame from the host."""

    __slots__ = ("kind", "code", "detail", "call_ns", "message", "data")

    def __init__(self, kind: int, code: int, detail: int, call_ns: int, message: str, data: bytes) -> None:
        self.kind = kind
        self.code = code
        self.detail = detail
        self.call_ns = call_ns
        self.message = message
        self.data = data


def find_host(path: str) -> Optional[str]:
    """The host: in the layer's private bin (``/opt/bootstrap-sdk/bin``: two levels above
    this package), else on ``PATH`` (an image or an install that put it there)."""
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    candidates = [os.path.join(os.path.dirname(os.path.dirname(package)), "bin", HOST_NAME)]
    candidates += [os.path.join(directory, HOST_NAME) for directory in path.split(os.pathsep) if directory]
    for candidate in candidates:
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def entry_and_library_path(handler: str, task_root: str, library_path: str) -> Tuple[str, str]:
    """(the entry's name, the COB_LIBRARY_PATH to find it on) from ``_HANDLER``."""
    text = handler.strip()
    if not text:
        raise InitError(MALFORMED_HANDLER_NAME, "_HANDLER is empty: in call mode it names the COBOL entry to CALL "
                                                "(PAYCALC) or its module (lib/PAYCALC.so)")
    directory = task_root
    entry = text
    if "/" in text or text.endswith(".so"):
        module = os.path.normpath(os.path.join(task_root, text))
        if not os.path.isfile(module):
            raise InitError("Runtime.CobolEntryNotFound", "module %s not found (_HANDLER %r, relative to %s)"
                            % (module, text, task_root))
        directory = os.path.dirname(module)
        entry = os.path.basename(module)
        if entry.endswith(".so"):
            entry = entry[:-3]
    if not entry or len(entry) > ENTRY_LIMIT or not set(entry) <= ENTRY_CHARACTERS or entry[0] in "-_":
        raise InitError(MALFORMED_HANDLER_NAME, "_HANDLER %r does not name a COBOL entry: in call mode it is the "
                                                "PROGRAM-ID or ENTRY to CALL (up to %d letters, digits, hyphens and "
                                                "underscores: PAYCALC) or its module's path (lib/PAYCALC.so)"
                        % (text, ENTRY_LIMIT))
    directories = [directory] + [d for d in library_path.split(os.pathsep) if d and d != directory]
    return entry, os.pathsep.join(directories)


class CallHost(PersistentProgram):
    """The host process of one runtime process (each forked worker starts its own)."""

    def __init__(self, argv: List[str], env: Mapping[str, str], cwd: str, entry: str, labels: List[str],
                 stdout_sink: Callable[[str], None], stderr_sink: Callable[[str], None]) -> None:
        super().__init__(argv, env, cwd, 0, stderr_sink)
        self.entry = entry
        self.labels = labels
        self.sizes: List[int] = []  # the parameters' sizes, once the copybooks are read (set_sizes)
        self.total = 0
        self.stdout_sink = stdout_sink
        self.last_words: Optional[Reply] = None  # an EXITED or OVERRUN frame: why the host is ending
        self.calling = False  # a CALL is in flight (not the start)
        self.ready = False  # it answered READY: libcob initialised, the entry resolved, the buffers made

    def set_sizes(self, sizes: List[int]) -> None:
        self.sizes = sizes
        self.total = sum(sizes)

    def start(self, kill_at: Optional[float] = None) -> None:
        """Start the host (unless ``spawn`` did) and wait until it is ready; FunctionError if it cannot."""
        if not self.running:
            self.spawn()
        setup = SETUP.pack(SETUP_MAGIC, len(self.sizes)) + struct.pack("=%dI" % len(self.sizes), *self.sizes)
        try:
            os.write(self._stdin, setup)  # a few bytes into an empty pipe: all of them
        except (BlockingIOError, BrokenPipeError):
            pass  # a host that ended already: the wait below says how
        give_up = time.monotonic() + START_TIMEOUT if kill_at is None else kill_at
        while True:
            reply = self._take_reply("", self.stdout_sink)
            if reply is not None:
                break
            try:
                self._step(memoryview(b""), give_up, 0.2)
            except FunctionError as exc:
                if exc.error_type != "Executable.Timeout":
                    raise
                raise FunctionError("%s was not ready in time (it initialises libcob and resolves %s)"
                                    % (HOST_NAME, self.entry), "Runtime.CallHostFailed") from None
        if reply.kind == READY:
            self.ready = True
            return
        if reply.kind == INIT_FAILED:
            self._exit_status(0.2)
            self._forget()
            raise FunctionError(reply.message, "Runtime.CobolEntryNotFound")
        self.stop(0)
        if reply.kind == BAD_REQUEST:
            raise FunctionError("%s could not start: %s" % (HOST_NAME, reply.message), "Runtime.CallHostFailed")
        raise FunctionError("%s answered its start with frame kind %d" % (HOST_NAME, reply.kind),
                            "Executable.ProtocolError")

    def spawn(self) -> None:
        """Start the host process: it loads libcob and resolves the entry while the runtime
        reads the copybooks; ``start`` then sends the sizes and waits for READY."""
        ends = [os.pipe() for _ in range(4)]  # requests, replies, stdout, stderr
        (request_r, request_w), (reply_r, reply_w), (out_r, out_w), (err_r, err_w) = ends
        devnull = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
        try:
            pid = child_process.spawn(self.argv, self.env, self.cwd, devnull, out_w, err_w,
                                      extra=((request_r, 3), (reply_w, 4)))
        except SpawnError:
            for fd in (request_w, reply_r, out_r, err_r):
                os.close(fd)
            raise
        finally:
            for fd in (request_r, reply_w, out_w, err_w, devnull):
                os.close(fd)
        for fd in (request_w, reply_r, out_r, err_r):
            os.set_blocking(fd, False)
        self._watch(pid, request_w, reply_r, err_r, out_r, self.stdout_sink)
        self.last_words = None
        self.calling = False
        self.ready = False

    def call(self, workdir: str, variables: Mapping[str, str], records: bytes, kill_at: float,
             grace: float) -> Reply:
        """One CALL: the records in, the RETURNED frame back; FunctionError if the host ended."""
        if self.running and self.ready:
            self._replace_if_unfit()
        if not (self.running and self.ready):
            self.start(kill_at)
        environment = b"".join(("%s=%s" % (name, value.replace("\0", ""))).encode("utf-8", "surrogateescape")
                               + b"\0" for name, value in variables.items())
        environment += b"".join(name.encode("ascii") + b"\0" for name in OPTIONAL_VARIABLES if name not in variables)
        directory = workdir.encode("utf-8", "surrogateescape")
        request = REQUEST.pack(REQUEST_MAGIC, len(directory), len(environment), len(records))
        self.stderr.tail = []  # an error quotes this invoke's lines only
        self.calling = True
        try:
            reply: Reply = self.invoke(request + directory + environment + records, "", kill_at, self.stdout_sink,
                                       grace)
        finally:
            self.calling = False
        if self.chatter is not None:  # DISPLAY lines flushed before the reply: log them with this invoke
            self._read_lines(self._chatter, self.chatter, 1 << 20)
        self._read_lines(self._stderr, self.stderr, 1 << 20)
        return reply

    def _replace_if_unfit(self) -> None:
        """Before a CALL: a host that ended since the last one, or that sent what nobody asked
        for, is not trusted with this invoke (which did nothing wrong): it is replaced, and
        the log says why. Costs a waitpid and a read that finds nothing."""
        status = child_process.wait_exit(self.pid, 0)
        if status is not None:
            self._drain()
            tail = self.stderr.tail_text()
            self._forget()
            logs.warning("%s ended between invokes (it %s)%s; a fresh one serves this invoke"
                         % (HOST_NAME, child_process.describe_status(status), "; stderr ends:\n" + tail if tail else ""))
            return
        stale = bytes(self._buffer)
        try:
            data = os.read(self._stdout, REPLY.size + MAX_MESSAGE)
        except BlockingIOError:  # nothing there, as it should be
            data = None
        if stale or data is not None:
            self.stop(0)
            logs.warning("%s %s between invokes; a fresh one serves this invoke" % (
                HOST_NAME, "closed its reply pipe" if data == b"" and not stale
                else "sent %d bytes nobody asked for" % (len(stale) + len(data or b""))))

    def _take_reply(self, request_id: str, on_chatter: Callable[[str], None]) -> Any:
        """A whole frame from the reply pipe, if there is one; EXITED and OVERRUN are kept."""
        while len(self._buffer) >= REPLY.size:
            magic, kind, code, detail, call_ns, message_length, data_length = REPLY.unpack_from(self._buffer)
            if magic != REPLY_MAGIC or message_length > MAX_MESSAGE or data_length not in (0, self.total):
                self.stop(0)
                raise FunctionError("%s sent a malformed reply frame; a fresh host serves the next invoke"
                                    % HOST_NAME, "Executable.ProtocolError")
            end = REPLY.size + message_length + data_length
            if len(self._buffer) < end:
                return None
            message = bytes(self._buffer[REPLY.size:REPLY.size + message_length]).decode("utf-8", "replace")
            reply = Reply(kind, code, detail, call_ns, message, bytes(self._buffer[REPLY.size + message_length:end]))
            del self._buffer[:end]
            if kind in (EXITED, OVERRUN):
                self.last_words = reply
                continue
            return reply
        return None

    def _died(self, status: int) -> FunctionError:
        last: Optional[Reply] = None
        if self._stdout >= 0:  # a frame sent just before the end may still be in the pipe
            try:
                self._buffer += os.read(self._stdout, REPLY.size + MAX_MESSAGE)
            except OSError:
                pass
            try:
                last = self._take_reply("", self.stdout_sink)
            except FunctionError:
                pass
        self._drain()
        self._forget()
        tail = self.stderr.tail_text()
        tail = "; stderr ends:\n" + tail if tail else ""
        words = self.last_words
        error_type, description = child_process.status_error(status)
        after = "; a fresh host serves the next invoke"
        if words is not None and words.kind == OVERRUN and 0 <= words.code < len(self.sizes):
            return FunctionError(
                "%s touched byte %d of USING parameter %d (%s, %d bytes) and was stopped: the program's LINKAGE "
                "record is longer than the copybook says, or it indexes past the record's end; make the copybook "
                "describe the LINKAGE SECTION's record%s%s" % (
                    self.entry, words.detail + 1, words.code + 1, self.labels[words.code], self.sizes[words.code],
                    after, tail), "Executable.ParameterOverrun")
        if words is not None and words.kind == EXITED and words.message:
            return FunctionError("%s stopped on a libcob runtime error: %s (the host %s)%s%s"
                                 % (self.entry, words.message, description, after, tail), "Executable.CobolRuntimeError")
        if words is not None and words.kind == EXITED:
            return FunctionError("%s ended the run unit inside the CALL (STOP RUN or an exit; the host %s): a "
                                 "subprogram returns with GOBACK%s%s" % (self.entry, description, after, tail),
                                 "Executable.StopRun")
        if not self.calling and last is not None and last.kind == INIT_FAILED:  # it said why, then ended
            return FunctionError(last.message, "Runtime.CobolEntryNotFound")
        if not self.calling:
            why = ": " + last.message if last is not None and last.message else ""
            return FunctionError("%s ended before it was ready%s: it %s%s" % (HOST_NAME, why, description, tail),
                                 "Runtime.CallHostFailed")
        return FunctionError("%s crashed inside the CALL: its host %s%s%s"
                             % (self.entry, ("was " if description.startswith("killed") else "") + description,
                                after, tail), error_type)

    def _timed_out(self, status: int) -> FunctionError:
        tail = self.stderr.tail_text()
        return FunctionError("%s did not return before the deadline margin; its host was %s%s%s"
                             % (self.entry, child_process.describe_status(status),
                                "; a fresh host serves the next invoke", "; stderr ends:\n" + tail if tail else ""),
                             "Executable.Timeout")


class CallHandler(ProgramHandler):
    """The handler for call mode: each invoke is one CALL of the entry in the warm host."""

    def __init__(self, handler: str, task_root: str, settings: ExecSettings,
                 environ: Optional[Mapping[str, str]] = None, start_now: bool = False) -> None:
        """``start_now``: spawn the host at once, so that it loads libcob while the
        copybooks are read (``start`` still waits for it); not before workers fork."""
        env = dict(os.environ if environ is None else environ)
        problems = misapplied_settings(settings, [])
        if problems:
            raise InitError("Runtime.InvalidExecutableConfig", "; ".join(problems))
        entry, library_path = entry_and_library_path(handler, task_root, env.get("COB_LIBRARY_PATH", ""))
        host = find_host(env.get("PATH", ""))
        if host is None:
            raise InitError("Runtime.CallHostNotFound",
                            "call mode needs %s, which make-runtime-layer builds into every layer that bundles "
                            "libcob (--executable $(command -v cobcrun)); it is in neither the layer's "
                            "bootstrap-sdk/bin nor on PATH" % HOST_NAME)
        super().__init__(entry, task_root, settings, env)
        self.base_env["COB_LIBRARY_PATH"] = library_path
        labels = ["%s:%s" % (direction, path) for direction, path in settings.using]
        self.host = CallHost([host, entry, settings.state], self.base_env, task_root, entry, labels,
                             self._stdout_sink, self._stderr_sink)
        if start_now:
            self._adopt_orphans()
            try:
                self.host.spawn()
            except SpawnError as exc:
                raise InitError("Runtime.ExecutableSpawnError", str(exc)) from None
        try:
            self.parameters = self._parameters(task_root, settings)
        except InitError:
            self.host.stop(0)
            raise
        self.host.set_sizes(self.parameters.sizes)
        self.call_ns = 0  # the last CALL's own duration, as the host measured it (for the benchmark)
        shutdown.on_shutdown(self.stop)

    @staticmethod
    def _parameters(task_root: str, settings: ExecSettings) -> CallParameters:
        """The USING parameters' copybooks, read and checked."""
        from ..copybook import CallParameters  # noqa: F811 (the runtime's import; the one above is for typing)

        books = [(direction, load_copybook(task_root, path, settings)) for direction, path in settings.using]
        parameters = CallParameters(books, settings.blank_as_zero)
        clashes = parameters.name_clashes()
        if clashes:
            raise InitError("Runtime.InvalidExecutableConfig",
                            "BOOTSTRAP_SDK_EXEC_USING: two records named %s in one direction, so the event (or "
                            "the response) could not say which is which: rename one 01 level"
                            % ", ".join(clashes))
        return parameters

    def start(self) -> None:
        """Start the host now (at init), so a missing entry fails init."""
        if self.host.running and self.host.ready:
            return
        self._adopt_orphans()
        try:
            self.host.start()
        except SpawnError as exc:
            raise InitError("Runtime.ExecutableSpawnError", str(exc)) from None
        except FunctionError as exc:
            error_type = exc.error_type if exc.error_type.startswith("Runtime.") else "Runtime.CallHostFailed"
            raise InitError(error_type, "%s: %s (COB_LIBRARY_PATH=%s)"
                            % (self.name, exc, self.base_env["COB_LIBRARY_PATH"])) from None

    def __call__(self, event: bytes, context: Context) -> bytes:
        from ..copybook import RecordError
        from ..payload import encode_result

        self._adopt_orphans()
        try:
            records = self.parameters.encode_event(event)
        except RecordError as exc:
            raise invalid_event(exc) from None
        workdir = self.workdirs.take()
        try:
            reply = self.host.call(workdir, self._context_env(context, workdir), records, self._kill_at(context),
                                   self.grace)
        except SpawnError as exc:
            raise FunctionError(str(exc), "Executable.SpawnError") from None
        finally:
            keep = self._spared()
            if child_process.strays(keep):  # what escaped the host's clean-up (it ends its own children)
                child_process.sweep(keep)
        self.call_ns = reply.call_ns
        if reply.kind != RETURNED:  # a host out of step with its runtime serves no further invoke
            self.host.stop(0)
            raise FunctionError("%s answered a CALL with frame kind %d: %s" % (HOST_NAME, reply.kind, reply.message),
                                "Executable.ProtocolError")
        if reply.code != 0:
            tail = self.host.stderr.tail_text()
            raise FunctionError("%s returned RETURN-CODE %d%s" % (self.name, reply.code,
                                                                  "; stderr ends:\n" + tail if tail else ""),
                                "Executable.ReturnCode%d" % reply.code)
        try:
            body = encode_result(self.parameters.decode_outputs(reply.data))[0]
        except RecordError as exc:
            raise FunctionError("%s left output records the copybooks do not describe: %s" % (self.name, exc),
                                "Copybook.InvalidOutput") from None
        if len(body) > RESPONSE_LIMIT:
            raise FunctionError("%s's response is %d bytes, over Lambda's %d-byte limit"
                                % (self.name, len(body), RESPONSE_LIMIT), "Executable.ResponseTooLarge")
        return body

    @property
    def resident(self) -> CallHost:
        return self.host
