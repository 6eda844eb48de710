"""executable: ExecutableHandler running real programs per invoke (stdio, file and
persistent modes), its errors, the environment it gives them and the directories it cleans."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Dict, Iterator, List, Optional

import pytest

from children import alive
from handler_harness import stopped_after
from bootstrap_sdk import shutdown
from bootstrap_sdk.adapter.executable import ExecutableHandler
from bootstrap_sdk.context import Context, FunctionInfo, Invocation
from bootstrap_sdk.errors import FunctionError, InitError
from bootstrap_sdk.settings import Settings

ARN = "arn:aws:lambda:eu-west-1:123456789012:function:legacy"
TRACE = "Root=1-5e1b4151-5ac6c58f5b5d1b4c8b5d1b4c;Parent=53995c3f42cd8ad8;Sampled=1"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "AKIAEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret/key",
               "AWS_SESSION_TOKEN": "token=="}
LAMBDA_INTERNALS = {"AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9001", "_HANDLER": "set-per-test",
                    "_LAMBDA_TELEMETRY_LOG_FD": "3", "BOOTSTRAP_SDK_EXEC_MODE": "stdio"}


def _env_lines(text: bytes) -> Dict[str, str]:
    return dict(line.split("=", 1) for line in text.decode().splitlines() if "=" in line)


class Harness:
    def __init__(self, tmp_path: Path) -> None:
        self.task = tmp_path / "task"
        self.work = tmp_path / "work"
        self.task.mkdir()
        self.work.mkdir()
        self.handlers: List[ExecutableHandler] = []

    def script(self, name: str, body: str, mode: int = 0o755, shebang: str = "#!/bin/sh") -> Path:
        path = self.task / "bin" / name
        path.parent.mkdir(exist_ok=True)
        path.write_text(shebang + "\n" + body)
        path.chmod(mode)
        return path

    def handler(self, handler: str, environ: Optional[Dict[str, str]] = None, **settings: str) -> ExecutableHandler:
        exec_settings = Settings.from_environ(dict(settings, BOOTSTRAP_SDK_EXEC_WORKDIR=str(self.work))).executable
        env = {"PATH": "/usr/bin:/bin", "LC_ALL": "C", "AWS_REGION": "eu-west-1"}
        env.update(environ or {})
        made = ExecutableHandler(handler, str(self.task), exec_settings, env)
        self.handlers.append(made)
        return made

    @staticmethod
    def context(seconds: float = 5.0, request_id: str = "req-1") -> Context:
        headers = {
            "lambda-runtime-aws-request-id": request_id,
            "lambda-runtime-deadline-ms": str(int(time.time() * 1000 + seconds * 1000)),
            "lambda-runtime-invoked-function-arn": ARN,
            "lambda-runtime-trace-id": TRACE,
        }
        return Context(Invocation(headers, b""), FunctionInfo())

    def invoke(self, handler: ExecutableHandler, event: bytes, seconds: float = 5.0,
               request_id: str = "req-1") -> bytes:
        """One invoke as the loop makes it: the handler, then after_invoke whatever happened."""
        try:
            return handler(event, self.context(seconds, request_id))
        finally:
            handler.after_invoke()

    def error(self, handler: ExecutableHandler, event: bytes = b"{}", seconds: float = 5.0) -> FunctionError:
        with pytest.raises(FunctionError) as caught:
            self.invoke(handler, event, seconds)
        return caught.value


@pytest.fixture
def harness(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    yield from stopped_after(Harness(tmp_path), monkeypatch)


# -- stdio -------------------------------------------------------------------------------

def test_stdio_mode_echoes_through_cat(harness):
    handler = harness.handler("cat")  # found on PATH
    assert handler.argv[0] in ("/usr/bin/cat", "/bin/cat")
    event = b'{"name": "ada", "bytes": "\xff\x00"}'
    assert harness.invoke(handler, event) == event
    big = os.urandom(3 << 20)
    assert harness.invoke(handler, big) == big


def test_arguments_are_passed_as_split_words_without_a_shell(harness, tmp_path):
    harness.script("args.sh", 'for a in "$@"; do printf "[%s]" "$a"; done\n')
    marker = tmp_path / "touched"
    handler = harness.handler("bin/args.sh 'a b' '; touch %s' '$HOME'" % marker)
    assert harness.invoke(handler, b"{}") == b"[a b][; touch %s][$HOME]" % str(marker).encode()
    assert not marker.exists()


def test_arguments_from_the_setting_follow_the_handler_as_split_words(harness, tmp_path):
    """Lambda's Handler may hold no white space: `bin/args.sh` there, its arguments here."""
    harness.script("args.sh", 'for a in "$@"; do printf "[%s]" "$a"; done\n')
    marker = tmp_path / "touched"
    handler = harness.handler("bin/args.sh", BOOTSTRAP_SDK_EXEC_ARGS="'a b' '; touch %s' '$HOME'" % marker)
    assert harness.invoke(handler, b"{}") == b"[a b][; touch %s][$HOME]" % str(marker).encode()
    assert not marker.exists()


def test_a_non_zero_exit_is_a_function_error_with_the_stderr_tail(harness, capsys):
    harness.script("fail.sh", 'echo "reading ledger" >&2\necho "LEDGER CLOSED      " >&2\nexit 3\n')
    handler = harness.handler("bin/fail.sh --strict")
    error = harness.error(handler)
    assert error.error_type == "Executable.ExitCode3"
    message = str(error)
    assert message.startswith("fail.sh --strict exited with code 3")
    assert message.endswith("stderr ends:\nreading ledger\nLEDGER CLOSED")
    assert "LEDGER CLOSED" in capsys.readouterr().out, "stderr lines are logged as they come"


def test_a_program_killed_by_a_signal(harness):
    harness.script("segv.sh", "ulimit -c 0\nkill -SEGV $$\n")
    error = harness.error(harness.handler("bin/segv.sh"))
    assert error.error_type == "Executable.SIGSEGV"
    assert "segv.sh was killed by SIGSEGV" in str(error)


def test_a_program_that_runs_past_the_margin_is_a_timeout(harness, tmp_path):
    pidfile = tmp_path / "pid"
    harness.script("hang.sh", 'echo $$ > "%s"\necho "still going" >&2\nexec sleep 30\n' % pidfile)
    handler = harness.handler("bin/hang.sh", BOOTSTRAP_SDK_EXEC_MARGIN_MS="500")
    error = harness.error(handler, seconds=1.2)
    assert error.error_type == "Executable.Timeout"
    assert "500 ms before the invoke's deadline" in str(error) and "still going" in str(error)
    assert not alive(int(pidfile.read_text()))


def test_stdout_over_the_response_limit_is_refused(harness):
    harness.script("big.sh", "head -c 7000000 /dev/zero\n")
    error = harness.error(harness.handler("bin/big.sh"))
    assert error.error_type == "Executable.ResponseTooLarge"


def test_a_program_removed_after_init_is_a_spawn_error(harness):
    path = harness.script("gone.sh", "echo hi\n")
    handler = harness.handler("bin/gone.sh")
    path.unlink()
    error = harness.error(handler)
    assert error.error_type == "Executable.SpawnError"


# -- the program's environment and directory ---------------------------------------------

def test_the_program_gets_the_invoke_context_and_a_fresh_directory(harness):
    harness.script("ctx.sh", 'pwd\necho "ls:$(ls -A)"\necho litter > left.txt\nenv\n')
    handler = harness.handler("bin/ctx.sh")
    context = harness.context(request_id="req-a")
    try:
        first = handler(b"{}", context).decode().splitlines()
    finally:
        handler.after_invoke()
    second = harness.invoke(handler, b"{}", request_id="req-b").decode().splitlines()
    first_env, second_env = _env_lines("\n".join(first).encode()), _env_lines("\n".join(second).encode())
    assert first_env["LAMBDA_REQUEST_ID"] == "req-a" and second_env["LAMBDA_REQUEST_ID"] == "req-b"
    assert first_env["LAMBDA_FUNCTION_ARN"] == ARN
    assert first_env["_X_AMZN_TRACE_ID"] == TRACE
    assert first_env["LAMBDA_DEADLINE_MS"] == str(context.deadline_ms)
    assert 0 < int(first_env["LAMBDA_REMAINING_MS"]) <= 5000
    assert "LAMBDA_TENANT_ID" not in first_env, "set only for an invoke that has a tenant"
    for lines, env in ((first, first_env), (second, second_env)):
        workdir = lines[0]
        assert workdir == env["LAMBDA_INVOKE_DIR"] == env["TMPDIR"]
        assert os.path.dirname(workdir) == str(harness.work)
        assert lines[1] == "ls:", "it started empty"
    assert first[0] != second[0]
    assert not os.path.exists(first[0]), "the first invoke's directory, litter and all, is gone"


def test_credentials_pass_by_default(harness):
    handler = harness.handler("env", environ=dict(CREDENTIALS))
    env = _env_lines(harness.invoke(handler, b"{}"))
    assert {k: env.get(k) for k in CREDENTIALS} == CREDENTIALS
    assert env["AWS_REGION"] == "eu-west-1"


def test_credentials_are_withheld_when_settings_say_so(harness):
    handler = harness.handler("env", environ=dict(CREDENTIALS), BOOTSTRAP_SDK_EXEC_CREDENTIALS="0")
    env = _env_lines(harness.invoke(handler, b"{}"))
    assert not set(CREDENTIALS) & set(env)
    assert env["AWS_REGION"] == "eu-west-1", "the rest of the environment is passed on"


def test_the_runtime_api_and_lambda_internals_never_reach_the_program(harness):
    environ = dict(LAMBDA_INTERNALS, BOOTSTRAP_SDK_EXEC_CREDENTIALS="1", BOOTSTRAP_SDK_CUSTOM="x")
    handler = harness.handler("env", environ=environ)
    env = _env_lines(harness.invoke(handler, b"{}"))
    assert not set(environ) & set(env)
    assert env["PATH"] == "/usr/bin:/bin"


# -- file mode ---------------------------------------------------------------------------

def test_file_mode_writes_the_event_file_and_reads_the_response_file(harness, capsys):
    harness.script("upper.sh",
                   'echo "in=$LAMBDA_EVENT_FILE out=$LAMBDA_RESPONSE_FILE" >&2\n'
                   'test "$DD_LAMBDA_EVENT_FILE" = "$LAMBDA_EVENT_FILE" || exit 10\n'
                   'test "$DD_LAMBDA_RESPONSE_FILE" = "$LAMBDA_RESPONSE_FILE" || exit 11\n'
                   'test "$(dirname "$LAMBDA_EVENT_FILE")" = "$LAMBDA_INVOKE_DIR" || exit 12\n'
                   'test -e "$LAMBDA_RESPONSE_FILE" && exit 13\n'
                   'cat > /dev/null  # stdin is empty in file mode\n'
                   'echo "a line for the log"\n'
                   'tr a-z A-Z < "$LAMBDA_EVENT_FILE" > "$LAMBDA_RESPONSE_FILE"\n')
    handler = harness.handler("bin/upper.sh", BOOTSTRAP_SDK_EXEC_MODE="file")
    assert harness.invoke(handler, b'{"name": "ada"}') == b'{"NAME": "ADA"}'
    assert "a line for the log" in capsys.readouterr().out, "stdout is logged in file mode"


def test_file_mode_with_custom_variable_names(harness):
    harness.script("custom.sh", 'test -z "$LAMBDA_EVENT_FILE" || exit 9\n'
                   'test "$DD_INFILE" = "$INFILE" || exit 10\n'
                   'rev < "$INFILE" > "$DD_OUTFILE"\n')
    handler = harness.handler("bin/custom.sh", BOOTSTRAP_SDK_EXEC_MODE="file",
                              BOOTSTRAP_SDK_EXEC_INPUT="INFILE", BOOTSTRAP_SDK_EXEC_OUTPUT="OUTFILE")
    assert harness.invoke(handler, b"abc\n") == b"cba\n"


def test_file_mode_substitutes_input_and_output_in_the_arguments(harness):
    harness.script("args.sh", 'tr a-z A-Z < "$1" > "$2"\necho "$3" >&2\ntest "$3" = "--log=$1.log" || exit 9\n')
    handler = harness.handler("bin/args.sh {input} {output} --log={input}.log", BOOTSTRAP_SDK_EXEC_MODE="file")
    assert harness.invoke(handler, b"payroll") == b"PAYROLL"
    assert handler.argv[1:] == ["{input}", "{output}", "--log={input}.log"], "the template is kept for the next"
    assert harness.invoke(handler, b"again") == b"AGAIN"


def test_file_mode_without_a_response_file_is_no_output(harness):
    harness.script("silent.sh", "exit 0\n")
    error = harness.error(harness.handler("bin/silent.sh", BOOTSTRAP_SDK_EXEC_MODE="file"))
    assert error.error_type == "Executable.NoOutput"
    assert "LAMBDA_RESPONSE_FILE=" in str(error)


def test_file_mode_non_zero_exit_wins_over_the_response_file(harness):
    harness.script("half.sh", 'echo partial > "$LAMBDA_RESPONSE_FILE"\nexit 2\n')
    error = harness.error(harness.handler("bin/half.sh", BOOTSTRAP_SDK_EXEC_MODE="file"))
    assert error.error_type == "Executable.ExitCode2"


# -- persistent mode ---------------------------------------------------------------------

PERSISTENT = r'''
import json, os, sys
for line in sys.stdin:
    request = json.loads(line)
    event = request.get("event") or {}
    if "fail" in event:
        reply = {"id": request["id"], "error": {"type": "Ledger.Closed", "message": event["fail"]}}
    elif "die" in event:
        sys.stderr.write("giving up\n")
        sys.stderr.flush()
        sys.exit(event["die"])
    else:
        reply = {"id": request["id"], "response": {"pid": os.getpid(), "event": event,
                 "workdir": request["workdir"], "workdir_exists": os.path.isdir(request["workdir"]),
                 "arn": request["function_arn"], "deadline_ms": request["deadline_ms"]}}
    print(json.dumps(reply), flush=True)
'''


def test_persistent_mode_serves_invokes_from_one_process_and_restarts_it(harness):
    harness.script("serve.py", PERSISTENT, shebang="#!%s -I" % sys.executable)
    handler = harness.handler("bin/serve.py", BOOTSTRAP_SDK_EXEC_MODE="persistent")
    handler.start()
    first = json.loads(harness.invoke(handler, b'{"n": 1}'))
    second = json.loads(harness.invoke(handler, b'{"n": 2}'))
    assert first["pid"] == second["pid"] == handler.persistent.pid
    assert first["event"] == {"n": 1} and second["event"] == {"n": 2}
    assert first["workdir_exists"] and os.path.dirname(first["workdir"]) == str(harness.work)
    assert first["arn"] == ARN and first["deadline_ms"] > 0
    error = harness.error(handler, b'{"fail": "books are closed"}')
    assert (error.error_type, str(error)) == ("Ledger.Closed", "books are closed")
    error = harness.error(handler, b'{"die": 5}')
    assert error.error_type == "Executable.ExitCode5" and "giving up" in str(error)
    assert not alive(first["pid"])
    third = json.loads(harness.invoke(handler, b'{"n": 3}'))
    assert third["pid"] != first["pid"]
    handler.stop()
    assert not alive(third["pid"])


def test_persistent_program_that_cannot_start_fails_init(harness):
    # The interpreter exists but cannot be executed (a directory): exec fails at spawn.
    harness.script("serve.py", PERSISTENT, shebang="#!%s" % harness.task)
    handler = harness.handler("bin/serve.py", BOOTSTRAP_SDK_EXEC_MODE="persistent")
    with pytest.raises(InitError) as caught:
        handler.start()
    assert caught.value.error_type == "Runtime.ExecutableSpawnError"


@pytest.mark.parametrize("mode", ["stdio", "persistent"])
def test_a_program_whose_interpreter_is_missing_fails_init_saying_which(harness, mode):
    missing = harness.task / "no-such-interpreter"
    harness.script("serve.py", PERSISTENT, shebang="#!%s" % missing)
    with pytest.raises(InitError) as caught:
        harness.handler("bin/serve.py", BOOTSTRAP_SDK_EXEC_MODE=mode)
    assert caught.value.error_type == "Runtime.ExecutableInterpreterNotFound"
    assert "'#!%s'" % missing in caught.value.message


# -- init errors -------------------------------------------------------------------------

@pytest.mark.parametrize("handler", ["bin/missing", "bin/missing --flag", "no-such-program-anywhere"])
def test_a_missing_program_is_an_init_error(harness, handler):
    with pytest.raises(InitError) as caught:
        harness.handler(handler)
    assert caught.value.error_type == "Runtime.ExecutableNotFound"
    assert str(harness.task) in caught.value.message


def test_a_program_without_the_x_bit_is_an_init_error(harness):
    harness.script("plain.sh", "echo hi\n", mode=0o644)
    with pytest.raises(InitError) as caught:
        harness.handler("bin/plain.sh")
    assert caught.value.error_type == "Runtime.ExecutableNotExecutable"
    assert "644" in caught.value.message and "chmod 755" in caught.value.message


@pytest.mark.parametrize("handler, settings, expected", [
    ("cat", {"BOOTSTRAP_SDK_EXEC_INPUT": "EVENTIN"},
     "BOOTSTRAP_SDK_EXEC_INPUT applies only with BOOTSTRAP_SDK_EXEC_MODE=file, and the mode is stdio (the default: "
     "BOOTSTRAP_SDK_EXEC_MODE is unset): for a program that reads and writes files set BOOTSTRAP_SDK_EXEC_MODE=file, "
     "otherwise remove it"),
    ("cat", {"BOOTSTRAP_SDK_EXEC_MODE": "stdio", "BOOTSTRAP_SDK_EXEC_INPUT": "EVENTIN",
             "BOOTSTRAP_SDK_EXEC_OUTPUT": "EVENTOUT"},
     "BOOTSTRAP_SDK_EXEC_INPUT and BOOTSTRAP_SDK_EXEC_OUTPUT apply only with BOOTSTRAP_SDK_EXEC_MODE=file, and the "
     "mode is stdio (BOOTSTRAP_SDK_EXEC_MODE=stdio): for a program that reads and writes files set "
     "BOOTSTRAP_SDK_EXEC_MODE=file, otherwise remove them"),
    ("cat", {"BOOTSTRAP_SDK_EXEC_MODE": "persistent", "BOOTSTRAP_SDK_EXEC_OUTPUT": "EVENTOUT"},
     "BOOTSTRAP_SDK_EXEC_OUTPUT applies only with BOOTSTRAP_SDK_EXEC_MODE=file, and the mode is persistent "
     "(BOOTSTRAP_SDK_EXEC_MODE=persistent): for a program that reads and writes files set "
     "BOOTSTRAP_SDK_EXEC_MODE=file, otherwise remove it"),
    # The siblings: what else is given where it does nothing.
    ("cp {input} {output}", {},
     "_HANDLER's {input} and {output} are replaced with file paths only with BOOTSTRAP_SDK_EXEC_MODE=file, and the "
     "mode is stdio (the default: BOOTSTRAP_SDK_EXEC_MODE is unset): the program would get them literally"),
    ("cat", {"BOOTSTRAP_SDK_EXEC_MODE": "persistent", "BOOTSTRAP_SDK_EXEC_INPUT_COPYBOOK": "IN.cpy"},
     "copybooks work with the stdio and file modes, not persistent (whose protocol is JSON already)"),
    ("cat", {"BOOTSTRAP_SDK_EXEC_RECORDS": "batch"},
     "BOOTSTRAP_SDK_EXEC_RECORDS applies only with a copybook (BOOTSTRAP_SDK_EXEC_INPUT_COPYBOOK or "
     "BOOTSTRAP_SDK_EXEC_OUTPUT_COPYBOOK): set one, or remove it"),
    ("cat", {"BOOTSTRAP_SDK_EXEC_INPUT_COPYBOOK": "IN.cpy", "BOOTSTRAP_SDK_EXEC_BLANK_NUMBERS": "zero"},
     "BOOTSTRAP_SDK_EXEC_BLANK_NUMBERS applies only with BOOTSTRAP_SDK_EXEC_OUTPUT_COPYBOOK (it says how the "
     "program's output records are read): set that, or remove it"),
    ("cat", {"BOOTSTRAP_SDK_EXEC_RECORD_ENCODING": "cp037", "BOOTSTRAP_SDK_EXEC_SELECT": "K=A:B"},
     "BOOTSTRAP_SDK_EXEC_RECORD_ENCODING and BOOTSTRAP_SDK_EXEC_SELECT apply only with a copybook "
     "(BOOTSTRAP_SDK_EXEC_INPUT_COPYBOOK or BOOTSTRAP_SDK_EXEC_OUTPUT_COPYBOOK): set one, or remove them"),
    ("cat", {"BOOTSTRAP_SDK_EXEC_INPUT_COPYBOOK": "IN.cpy", "BOOTSTRAP_SDK_EXEC_RECORD_FORMAT": "variable"},
     "BOOTSTRAP_SDK_EXEC_RECORD_FORMAT applies only to file mode's records with a copybook (stdio mode's are "
     "lines), and the mode is stdio (the default: BOOTSTRAP_SDK_EXEC_MODE is unset): remove it"),
])
def test_settings_given_where_they_do_nothing_fail_init(harness, handler, settings, expected):
    with pytest.raises(InitError) as caught:
        harness.handler(handler, **settings)
    assert (caught.value.error_type, caught.value.message) == ("Runtime.InvalidExecutableConfig", expected)


def test_every_setting_given_where_it_does_nothing_is_named_in_one_message(harness):
    with pytest.raises(InitError) as caught:
        harness.handler("cat {output}", BOOTSTRAP_SDK_EXEC_INPUT="EVENTIN", BOOTSTRAP_SDK_EXEC_RECORDS="one")
    assert caught.value.message.count("; ") == 2
    for part in ("BOOTSTRAP_SDK_EXEC_INPUT applies", "{output} is replaced", "BOOTSTRAP_SDK_EXEC_RECORDS applies"):
        assert part in caught.value.message


def test_file_mode_settings_with_file_mode_are_accepted(harness):
    harness.handler("cat {input}", BOOTSTRAP_SDK_EXEC_MODE="file", BOOTSTRAP_SDK_EXEC_INPUT="EVENTIN",
                    BOOTSTRAP_SDK_EXEC_OUTPUT="EVENTOUT")


@pytest.mark.parametrize("path, handler, mode, example", [
    ("app.py", "app.py", 0o644, "app.handler"),
    ("app.py", "app.py", 0o755, "app.handler"),  # the x bit would not help: exec says ENOEXEC
    ("src/app.py", "src/app.py", 0o644, "src/app.handler"),
    ("app.py", "./app.py --verbose", 0o644, "app.handler"),
    ("my-app.py", "my-app.py", 0o644, "app.handler"),  # not a module name: the generic example
])
def test_a_python_file_named_as_the_program_says_to_give_module_function(harness, path, handler, mode, example):
    source = harness.task / path
    source.parent.mkdir(parents=True, exist_ok=True)
    source.write_text("def handler(event, context):\n    return 1\n")
    source.chmod(mode)
    with pytest.raises(InitError) as caught:
        harness.handler(handler)
    word = handler.split()[0]
    assert caught.value.error_type == "Runtime.MalformedHandlerName"
    assert caught.value.message == (
        "%s is a Python file, not a program: for a Python handler give MODULE.FUNCTION, e.g. %s (to run it as a "
        "program instead, start it with a #! line and set its x bit: chmod 755)" % (word, example))


@pytest.mark.parametrize("shebang, settings", [
    ("#!/bin/sh", {}),  # a script with a #! line is a program: chmod is the advice
    ("", {"BOOTSTRAP_SDK_EXEC_MODE": "stdio"}),  # the mode says it is a program
])
def test_a_python_file_that_is_meant_as_a_program_still_says_chmod(harness, shebang, settings):
    source = harness.task / "app.py"
    source.write_text(shebang + "\nprint('hi')\n")
    source.chmod(0o644)
    with pytest.raises(InitError) as caught:
        harness.handler("app.py", **settings)
    assert caught.value.error_type == "Runtime.ExecutableNotExecutable"
    assert "644" in caught.value.message and "chmod 755" in caught.value.message


@pytest.mark.parametrize("handler", ["app.handler", "src/app.handler"])
def test_a_python_handler_with_exec_mode_set_says_the_mode_made_it_a_program(harness, handler):
    with pytest.raises(InitError) as caught:
        harness.handler(handler, BOOTSTRAP_SDK_EXEC_MODE="file")
    assert caught.value.error_type == "Runtime.ExecutableNotFound"
    assert caught.value.message == (
        "Program %r not found (looked in %s%s); BOOTSTRAP_SDK_EXEC_MODE is set (to file), which makes _HANDLER "
        "name a program whatever it looks like: if %r is a Python handler (MODULE.FUNCTION), unset "
        "BOOTSTRAP_SDK_EXEC_MODE" % (handler, harness.task, "" if "/" in handler else " and on PATH", handler))
    with pytest.raises(InitError) as caught:  # a program's path: nothing to say about Python
        harness.handler("bin/missing", BOOTSTRAP_SDK_EXEC_MODE="file")
    assert "BOOTSTRAP_SDK_EXEC_MODE" not in caught.value.message


def test_a_malformed_command_line_is_an_init_error(harness):
    with pytest.raises(InitError) as caught:
        harness.handler("bin/prog 'unbalanced")
    assert caught.value.error_type == "Runtime.MalformedHandlerName"


def test_the_handler_registers_its_stop_as_a_shutdown_hook(harness):
    handler = harness.handler("cat")
    assert handler.stop in shutdown.hooks()


# -- clean-up ----------------------------------------------------------------------------

def test_after_invoke_and_stop_leave_no_directory_and_no_process(harness, tmp_path):
    pidfile = tmp_path / "pid"
    harness.script("litter.sh", 'sleep 30 &\necho $! > "%s"\nmkdir ro && echo x > ro/f && chmod 500 ro\n'
                   'mkdir locked && chmod 000 locked\nbasename "$PWD"\n' % pidfile)
    handler = harness.handler("bin/litter.sh")
    used = harness.invoke(handler, b"{}").decode().strip()
    assert not alive(int(pidfile.read_text())), "the program's background child did not outlive the invoke"
    deadline = time.monotonic() + 10  # the janitor removes the used directory, makes the next one
    while os.listdir(harness.work) in ([], [used]) and time.monotonic() < deadline:
        time.sleep(0.01)
    (ready,) = os.listdir(harness.work)
    assert ready != used and os.listdir(harness.work / ready) == []
    handler.stop()
    assert os.listdir(harness.work) == []


@pytest.mark.parametrize("select, words", [
    ("KIND", "a selector is FIELD=VALUE:VIEW"),
    ("NOSUCH=A:R-B", "applies to neither copybook (IN.cpy): none holds both the field NOSUCH and a REDEFINES item "
                     "(or 01 record) named R-B"),
    ("KIND=A:NOVIEW", "none holds both the field KIND and a REDEFINES item (or 01 record) named NOVIEW"),
    ("KIND=A:R-B,B:R-KIND", "BOOTSTRAP_SDK_EXEC_SELECT with copybook"),
])
def test_a_selector_the_copybook_cannot_use_fails_init(harness, select, words):
    (harness.task / "IN.cpy").write_text("       01  R.\n           05  R-KIND PIC X.\n           05  R-A PIC X(2).\n"
                                         "           05  R-B REDEFINES R-A PIC 99.\n")
    with pytest.raises(InitError) as caught:
        harness.handler("cat", BOOTSTRAP_SDK_EXEC_INPUT_COPYBOOK="IN.cpy", BOOTSTRAP_SDK_EXEC_SELECT=select)
    assert caught.value.error_type == "Runtime.InvalidExecutableConfig" and words in caught.value.message
