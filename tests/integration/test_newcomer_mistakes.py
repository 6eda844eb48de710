"""The ordinary mistakes of a first hour, each driven through the real command as a user
types it: the message must say what went wrong and what to do, and the exit code must
say it failed. No traceback, no bare errno, no silent success that fails on Lambda."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence

import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
COBOL = REPO / "examples" / "cobol"
ECHO_PROGRAM = '#include <stdio.h>\nint main(void) { char b[256]; size_t n = fread(b, 1, sizeof b, stdin);\n' \
               '  printf("{\\"read\\": %zu}", n); return 0; }\n'
UNPRIVILEGED = ["setpriv", "--reuid", "993", "--regid", "990", "--clear-groups"]


def run(command: Sequence[str], *, user: bool = False, stdin: bytes = b"", cwd: Optional[Path] = None,
        timeout: float = 300) -> subprocess.CompletedProcess:
    """A command as a user runs it: the venv's tools first on PATH (an activated venv)."""
    env = dict(os.environ, PATH="%s:%s" % (BIN, os.environ.get("PATH", "/usr/bin:/bin")))
    argv = (UNPRIVILEGED if user else []) + list(command)
    return subprocess.run(argv, input=stdin, capture_output=True, env=env, cwd=cwd, timeout=timeout)


def lines(text: bytes) -> List[str]:
    return text.decode(errors="replace").splitlines()


def assert_no_traceback(result: subprocess.CompletedProcess) -> None:
    assert b"Traceback" not in result.stderr and b"panic:" not in result.stderr, result.stderr.decode()


@pytest.fixture(scope="module")
def work() -> Iterator[Path]:
    """Scratch space uid 993 can reach (pytest's own is private to root)."""
    tmp = Path(tempfile.mkdtemp(prefix="newcomer-"))
    tmp.chmod(0o755)
    yield tmp
    shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="module")
def runtime_layer(work: Path) -> Path:
    result = run([str(BIN / "make-runtime-layer"), "-o", str(work / "runtime.zip"), "-q"])
    assert result.returncode == 0, result.stderr.decode()
    return work / "runtime.zip"


@pytest.fixture(scope="module")
def dynamic_function(work: Path) -> Path:
    """Function code holding a program gcc linked against this machine's glibc, as a
    newcomer builds one (not bundled with make-runtime-layer --executable)."""
    code = work / "dynamic-code"
    (code / "bin").mkdir(parents=True)
    source = work / "echo.c"
    source.write_text(ECHO_PROGRAM)
    subprocess.run(["gcc", "-O2", "-o", str(code / "bin" / "echo"), str(source)], check=True)
    return code


# -- a dynamically linked program in the function code ------------------------------------

def test_make_function_zip_names_the_loader_and_glibc_a_dynamic_program_needs(dynamic_function: Path, work: Path):
    result = run([str(BIN / "make-function-zip"), str(dynamic_function), "-o", str(work / "dynamic.zip"),
                  "--handler", "bin/echo", "-q"])
    assert result.returncode == 0  # it runs on Lambda, on the OS's glibc
    [warning] = lines(result.stderr)
    assert warning.startswith("make-function-zip: warning: bin/echo is linked against the OS's glibc (loader "
                              "/lib64/ld-linux-x86-64.so.2, needs GLIBC_2.")
    assert "provided.al2023 has 2.34" in warning and "make-runtime-layer --executable" in warning
    assert "--os-userland" in warning


def test_in_the_sandbox_it_fails_init_naming_the_missing_loader_and_runs_with_os_userland(
        dynamic_function: Path, runtime_layer: Path, work: Path):
    zipped = work / "dynamic-run.zip"
    assert run([str(BIN / "make-function-zip"), str(dynamic_function), "-o", str(zipped), "-q"]).returncode == 0
    command = [str(BIN / "run-lambda-local"), "--layer", str(runtime_layer), "--function", str(zipped),
               "--handler", "bin/echo", "--quiet"]
    failed = run(command, stdin=b'{"name": "Ada"}')
    assert failed.returncode == 1
    answer = json.loads(failed.stdout)
    assert answer["errorType"] == "Runtime.ExecutableInterpreterNotFound"
    assert answer["errorMessage"].startswith("Program /var/task/bin/echo cannot start: it is dynamically linked "
                                             "and needs the loader /lib64/ld-linux-x86-64.so.2")
    assert "make-runtime-layer --executable" in answer["errorMessage"]
    served = run(command + ["--os-userland"], stdin=b'{"name": "Ada"}')
    assert (served.returncode, json.loads(served.stdout)) == (0, {"read": 15}), served.stderr.decode()


# -- a program without its execute bit ---------------------------------------------------

def test_make_function_zip_warns_of_a_program_without_its_x_bit(work: Path):
    code = work / "no-x"
    (code / "bin").mkdir(parents=True)
    (code / "bin" / "report").write_text("echo no shebang either\n")
    (code / "bin" / "report").chmod(0o644)
    result = run([str(BIN / "make-function-zip"), str(code), "-o", str(work / "no-x.zip"), "--handler",
                  "bin/report", "-q"])
    assert result.returncode == 0
    assert lines(result.stderr) == [
        'make-function-zip: warning: bin/report is not executable (mode 644): Lambda would fail to run it with '
        '"permission denied" (Runtime.ExecutableNotExecutable when it is the handler); chmod 755 it',
        "make-function-zip: warning: the handler names bin/report, which is not executable (mode 644): Lambda "
        "would fail with Runtime.ExecutableNotExecutable; chmod 755 it"]


def test_make_function_zip_refuses_a_handler_naming_a_program_the_code_lacks(work: Path):
    code = work / "empty-code"
    code.mkdir()
    (code / "app.py").write_text("def handler(event, context):\n    return event\n")
    result = run([str(BIN / "make-function-zip"), str(code), "-o", str(work / "lacks.zip"), "--handler",
                  "bin/payroll", "-q"])
    assert result.returncode == 3
    assert lines(result.stderr) == ["make-function-zip: error: the handler names the program bin/payroll, which "
                                    "is not in %s: Lambda would fail with Runtime.ExecutableNotFound" % code]
    assert not (work / "lacks.zip").exists()


# -- a COBOL module given to --executable -------------------------------------------------

def test_make_runtime_layer_says_a_cobol_module_is_no_program_and_shows_cobcrun(work: Path):
    source = work / "GREET.cob"
    source.write_text("       IDENTIFICATION DIVISION.\n       PROGRAM-ID. GREET.\n       PROCEDURE DIVISION.\n"
                      "           DISPLAY \"HELLO\".\n           GOBACK.\n")
    subprocess.run(["cobc", "-m", "-o", str(work / "GREET.so"), str(source)], check=True)
    result = run([str(BIN / "make-runtime-layer"), "-o", str(work / "greet.zip"), "--executable",
                  str(work / "GREET.so"), "-q"])
    assert_no_traceback(result)
    assert result.returncode == 3
    [error] = lines(result.stderr)
    assert error.startswith("make-runtime-layer: error: %s is a loadable module (a shared library), not a program"
                            % (work / "GREET.so"))
    assert "--executable \"$(command -v cobcrun)\"" in error and "BOOTSTRAP_SDK_EXEC_ARGS='-M /var/task/ GREET'" in error
    assert ".interp" not in error and not (work / "greet.zip").exists()


# -- directories for --function and --layer -------------------------------------------------

def test_run_lambda_local_takes_directories_as_make_function_zip_would_zip_them(runtime_layer: Path, work: Path):
    layer_dir, code = work / "layer-dir", work / "python-code"
    with zipfile.ZipFile(runtime_layer) as archive:
        archive.extractall(layer_dir)
    for info in zipfile.ZipFile(runtime_layer).infolist():  # extractall drops modes: put them back
        os.chmod(layer_dir / info.filename, info.external_attr >> 16 & 0o7777)
    code.mkdir()
    (code / "app.py").write_text("def handler(event, context):\n    return {'hello': event['name']}\n")
    result = run([str(BIN / "run-lambda-local"), "--layer", str(layer_dir), "--function", str(code),
                  "--handler", "app.handler", "--quiet"], stdin=b'{"name": "Ada"}')
    assert (result.returncode, json.loads(result.stdout)) == (0, {"hello": "Ada"}), result.stderr.decode()
    assert result.stderr == b""


def test_a_directory_that_fails_the_checks_is_refused_naming_the_file(runtime_layer: Path, work: Path):
    code = work / "unsafe-code"
    code.mkdir()
    os.symlink("/etc/passwd", code / "passwd")
    result = run([str(BIN / "run-lambda-local"), "--layer", str(runtime_layer), "--function", str(code),
                  "--handler", "app.handler"], stdin=b"{}")
    assert result.returncode == 3
    assert lines(result.stderr) == ["run-lambda-local: error: --function %s: passwd is a symlink to the absolute "
                                    "path /etc/passwd: make it relative, inside the layer" % code]


def test_a_missing_function_says_no_such_file(runtime_layer: Path, work: Path):
    result = run([str(BIN / "run-lambda-local"), "--layer", str(runtime_layer), "--function",
                  str(work / "nope.zip"), "--handler", "app.handler"], stdin=b"{}")
    assert result.returncode == 3
    assert lines(result.stderr)[-1] == "run-lambda-local: error: %s: no such file" % (work / "nope.zip")


# -- no --handler -------------------------------------------------------------------------

def test_no_handler_is_said_to_be_missing_and_where_it_comes_from(runtime_layer: Path, work: Path):
    code = work / "handlerless"
    code.mkdir()
    (code / "app.py").write_text("def handler(event, context):\n    return 1\n")
    result = run([str(BIN / "run-lambda-local"), "--layer", str(runtime_layer), "--function", str(code),
                  "--quiet"], stdin=b"{}")
    assert result.returncode == 1
    assert lines(result.stderr)[0].startswith("run-lambda-local: warning: no --handler: _HANDLER is empty")
    answer = json.loads(result.stdout)
    assert answer["errorType"] == "Runtime.MalformedHandlerName"
    assert answer["errorMessage"].startswith("No handler: _HANDLER is empty. Lambda sets it from the function's "
                                             "Handler setting")


# -- an output that cannot be written ---------------------------------------------------------

@pytest.fixture(scope="module")
def root_only(work: Path) -> Path:
    """A directory only root may write in, seen by uid 993 as an ordinary user sees /usr."""
    path = work / "root-only"
    path.mkdir(mode=0o755)
    return path


@pytest.mark.parametrize("command", ["make-runtime-layer", "make-function-zip"])
def test_an_unwritable_output_is_one_line_and_exit_3(root_only: Path, work: Path, command: str):
    code = work / "tiny-code"
    code.mkdir(exist_ok=True)
    (code / "app.py").write_text("x = 1\n")
    code.chmod(0o755)
    (code / "app.py").chmod(0o644)
    args = [str(BIN / command)] + ([str(code)] if command == "make-function-zip" else [])
    result = run(args + ["-o", str(root_only / "out" / "x.zip"), "-q"], user=True)
    assert_no_traceback(result)
    assert result.returncode == 3
    assert lines(result.stderr) == ["%s: error: cannot write %s: Permission denied: choose another -o, or run as a "
                                    "user who can write there" % (command, root_only / "out" / "x.zip")]


def test_build_py_into_an_unwritable_directory_is_one_line(root_only: Path):
    result = run([sys.executable, str(COBOL / "build.py"), "--out", str(root_only / "cobol")], user=True)
    assert_no_traceback(result)
    assert result.returncode == 1
    assert lines(result.stderr) == ["build.py: error: cannot write %s: Permission denied (choose another --out, or "
                                    "run as a user who can write there)" % (root_only / "cobol")]


def test_the_main_job_into_an_unwritable_directory_is_one_line(work: Path):
    """As root, a read-only place: /proc refuses new files whoever asks."""
    result = run(["bash", str(REPO / "scripts" / "main-job.sh"), "--out", "/proc/cobol-build"])
    assert_no_traceback(result)
    assert result.returncode == 2
    assert lines(result.stderr)[-1].startswith("run.py: error: cannot write /proc/cobol-build: ")


def test_the_main_job_without_root_says_it_needs_root(work: Path):
    result = run([sys.executable, str(COBOL / "run.py"), "--out", str(work / "as-user")], user=True)
    assert_no_traceback(result)
    assert result.returncode == 2
    assert lines(result.stderr) == ["run.py: error: the sandbox needs root (namespaces, mounts, a cgroup, chroot), "
                                    "as Docker would: run this as root"]


# -- the walkthrough's adaptation: the function is named after its program ---------------------

def test_build_py_names_the_function_after_the_adapted_program(tmp_path: Path):
    example = tmp_path / "cobol"
    shutil.copytree(COBOL, example, ignore=shutil.ignore_patterns("__pycache__"))
    (example / "src" / "GREET.cob").write_text(
        "       IDENTIFICATION DIVISION.\n       PROGRAM-ID. GREET.\n       PROCEDURE DIVISION.\n"
        "           DISPLAY \"HELLO\".\n           GOBACK.\n")
    result = run([sys.executable, str(example / "build.py"), "--out", str(tmp_path / "out"), "--program", "GREET"])
    assert result.returncode == 0, result.stderr.decode()
    assert lines(result.stdout)[-2:] == ["function: %s" % (tmp_path / "out" / "greet-function.zip"),
                                         "image:    %s" % (tmp_path / "out" / "greet-image.tar")]
    with zipfile.ZipFile(tmp_path / "out" / "greet-function.zip") as archive:
        names = archive.namelist()
    assert "GREET.so" in names and "PAYROLL.so" not in names
    missing = run([sys.executable, str(example / "build.py"), "--out", str(tmp_path / "out"), "--program", "NOPE"])
    assert missing.returncode == 1
    assert lines(missing.stderr) == ["build.py: error: %s: no such program (each name in --program or PROGRAMS is "
                                     "a file src/NAME.cob)" % (example / "src" / "NOPE.cob")]


# -- --help describes every option -----------------------------------------------------------

def _parsers() -> Dict[str, object]:
    sys.path.insert(0, str(COBOL))
    try:
        import build
        import run as run_example
    finally:
        sys.path.remove(str(COBOL))
    from bootstrap_sdk.copybook.cli import parser as data_parser
    from bootstrap_sdk.local.cli import parser as local_parser
    from bootstrap_sdk.packaging.cli import function_parser, layer_parser
    return {"make-runtime-layer": layer_parser(), "make-function-zip": function_parser(),
            "run-lambda-local": local_parser(), "build.py": build.arg_parser(), "run.py": run_example.arg_parser(),
            "cobol-data": data_parser()}


def _actions(parser: Any) -> List[Any]:
    """A parser's options, and its subcommands' (cobol-data decode, encode, ...)."""
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                found += _actions(sub)
        else:
            found.append(action)
    return found


@pytest.mark.parametrize("name", ["make-runtime-layer", "make-function-zip", "run-lambda-local", "build.py",
                                  "run.py", "cobol-data"])
def test_help_describes_every_option(name: str):
    parser = _parsers()[name]
    bare = [action.option_strings or [action.dest] for action in _actions(parser) if not (action.help or "").strip()]
    assert bare == [], "%s: options without help: %s" % (name, bare)


# -- the Quick start's first paste --------------------------------------------------------

def test_rie_takes_a_bootstrap_in_the_current_directory_by_its_bare_name(tmp_path: Path, monkeypatch):
    """The RIE execs its bootstrap argument, which looks a bare name up on PATH: a
    `bootstrap` here must reach it as ./bootstrap, not fail as Runtime.InvalidEntrypoint."""
    from bootstrap_sdk.local.rie import Rie
    from bootstrap_sdk.packaging.bootstrap_file import write_bootstrap

    code = tmp_path / "code"
    code.mkdir()
    (code / "app.py").write_text("def handler(event, context):\n    return {'n': event['n'] + 1}\n")
    monkeypatch.chdir(tmp_path)
    written = write_bootstrap(Path("bootstrap"))
    assert written == tmp_path / "bootstrap"
    with Rie(["bootstrap"], env={"_HANDLER": "app.handler", "LAMBDA_TASK_ROOT": str(code)}) as rie:
        assert rie.bootstrap[0] == str(tmp_path / "bootstrap")
        assert rie.invoke(b'{"n": 41}').json() == {"n": 42}


# -- more of the same, found by trying the commands as a newcomer --------------------------

def _python_code(work: Path, name: str, source: str) -> Path:
    code = work / name
    code.mkdir()
    (code / "app.py").write_text(source)
    return code


def test_a_timed_out_invoke_exits_1_and_says_so(runtime_layer: Path, work: Path):
    code = _python_code(work, "slow", "import time\ndef handler(event, context):\n    time.sleep(30)\n")
    result = run([str(BIN / "run-lambda-local"), "--layer", str(runtime_layer), "--function", str(code),
                  "--handler", "app.handler", "--timeout", "1", "--quiet"], stdin=b"{}")
    assert result.returncode == 1
    assert result.stdout.startswith(b"Task timed out after 1.00 seconds")
    assert lines(result.stderr) == ["run-lambda-local: the function timed out (--timeout 1.00): Lambda answers "
                                    "that invoke with an error"]


def test_a_runtime_that_exits_during_init_is_explained(runtime_layer: Path, work: Path):
    code = work / "exits"
    code.mkdir()
    (code / "bootstrap").write_text("#!/opt/bootstrap-sdk/python/bin/python3.11 -IS\nimport sys\nsys.exit(3)\n")
    (code / "bootstrap").chmod(0o755)
    result = run([str(BIN / "run-lambda-local"), "--layer", str(runtime_layer), "--function", str(code),
                  "--handler", "x.y", "--quiet"], stdin=b"{}")
    assert result.returncode == 1
    assert lines(result.stderr)[-1] == ("run-lambda-local: the runtime exited during init without reporting an "
                                        "error (Lambda answers Runtime.ExitError): see the log above for what it "
                                        "printed")


def test_a_bootstrap_with_windows_line_endings_is_refused_when_zipped(work: Path):
    code = work / "crlf"
    code.mkdir()
    (code / "bootstrap").write_bytes(b"#!/opt/bootstrap-sdk/python/bin/python3.11 -IS\r\nprint(1)\r\n")
    (code / "bootstrap").chmod(0o755)
    result = run([str(BIN / "make-function-zip"), str(code), "-o", str(work / "crlf.zip"), "-q"])
    assert result.returncode == 3
    assert lines(result.stderr) == ["make-function-zip: error: bootstrap has Windows line endings (CRLF): its #! "
                                    "line asks for '/opt/bootstrap-sdk/python/bin/python3.11 -IS', which fails to "
                                    "start; convert it (dos2unix, or sed -i 's/\\r$//')"]


@pytest.mark.parametrize("variable, says", [
    ("MY VAR=1", "--env MY VAR: Lambda refuses this name"),
    ("A-B=1", "--env A-B: Lambda refuses this name"),
    ("AWS_REGION=eu-west-1", "--env AWS_REGION: Lambda reserves this name and refuses to set it"),
    ("_HANDLER=app.handler", "--env _HANDLER: Lambda reserves this name and refuses to set it (use --handler)"),
    ("NOEQUALS", "--env 'NOEQUALS': expected NAME=VALUE"),
])
def test_an_environment_lambda_would_refuse_is_a_usage_error(runtime_layer: Path, variable: str, says: str):
    result = run([str(BIN / "run-lambda-local"), "--layer", str(runtime_layer), "--handler", "app.handler",
                  "--env", variable], stdin=b"{}")
    assert result.returncode == 2
    assert lines(result.stderr)[-1].startswith("run-lambda-local: error: " + says)


@pytest.mark.parametrize("args, says", [(["--serve", "--port", "90000"], "--port 90000: a port is 1-65535"),
                                        (["--port", "9000"], "--port is for --serve")])
def test_a_bad_port_is_a_usage_error(runtime_layer: Path, args: List[str], says: str):
    result = run([str(BIN / "run-lambda-local"), "--layer", str(runtime_layer), "--handler", "app.handler"] + args,
                 stdin=b"{}")
    assert_no_traceback(result)
    assert result.returncode == 2 and says in result.stderr.decode()


def test_keep_root_says_where_the_root_is(runtime_layer: Path, work: Path):
    code = _python_code(work, "kept", "def handler(event, context):\n    return 1\n")
    result = run([str(BIN / "run-lambda-local"), "--layer", str(runtime_layer), "--function", str(code),
                  "--handler", "app.handler", "--keep-root", "--quiet"], stdin=b"{}")
    assert result.returncode == 0
    last = lines(result.stderr)[-1]
    assert last.startswith("run-lambda-local: the root is kept in ")
    kept = Path(last.rsplit(" ", 1)[1])
    assert (kept / "var" / "task" / "app.py").is_file()
    shutil.rmtree(kept)


def test_an_empty_function_directory_is_refused(work: Path):
    (work / "empty").mkdir()
    result = run([str(BIN / "make-function-zip"), str(work / "empty"), "-o", str(work / "empty.zip"), "-q"])
    assert result.returncode == 3
    assert lines(result.stderr) == ["make-function-zip: error: %s holds no files: Lambda refuses an empty zip (is "
                                    "it the right directory?)" % (work / "empty")]


def test_a_layer_rebuilt_into_its_include_directory_does_not_bundle_itself(work: Path):
    data = work / "tables"
    data.mkdir()
    (data / "rates.txt").write_text("1\n")
    for _ in range(2):
        result = run([str(BIN / "make-runtime-layer"), "-o", str(data / "layer.zip"), "--include", str(data), "-q"])
        assert result.returncode == 0, result.stderr.decode()
    with zipfile.ZipFile(data / "layer.zip") as archive:
        names = [n for n in archive.namelist() if n.startswith("tables/")]
    assert names == ["tables/", "tables/rates.txt"]


@pytest.mark.parametrize("args, code, says", [
    (["--executable", "cobcrun"], 3, "cobcrun: no such file (for --executable): --executable takes a path, PATH is "
                                     "not searched (--executable \"$(command -v cobcrun)\" names "),
    (["--python", "python3"], 3, "interpreter python3 is not an executable file: --python takes a path, PATH is "
                                 "not searched"),
    (["--name", "my cobol layer"], 3, "--name 'my cobol layer': Lambda's layer names are 1-140 letters, digits, "
                                      "'-' and '_'"),
])
def test_make_runtime_layer_says_what_an_option_wants(work: Path, args: List[str], code: int, says: str):
    result = run([str(BIN / "make-runtime-layer"), "-o", str(work / "opts.zip"), "-q"] + args, cwd=work)
    assert_no_traceback(result)
    assert result.returncode == code
    assert says in result.stderr.decode()


def test_a_script_without_a_shebang_is_no_program(work: Path):
    script = work / "report"
    script.write_text("echo weekly\n")
    script.chmod(0o755)
    result = run([str(BIN / "make-runtime-layer"), "-o", str(work / "noshebang.zip"), "--executable", str(script),
                  "-q"])
    assert result.returncode == 3
    assert lines(result.stderr) == ["make-runtime-layer: error: %s is neither a compiled program nor a script with a "
                                    "#! line: exec would fail with \"Exec format error\"; add a #! line naming its "
                                    "interpreter" % script]


def test_a_handler_lambda_would_refuse_runs_here_with_a_warning(runtime_layer: Path, work: Path):
    code = work / "spaced"
    (code / "bin").mkdir(parents=True)
    (code / "bin" / "tool").write_text("#!/opt/bootstrap-sdk/python/bin/python3.11 -IS\nimport sys\n"
                                       "print(sys.argv[1:])\n")
    (code / "bin" / "tool").chmod(0o755)
    result = run([str(BIN / "run-lambda-local"), "--layer", str(runtime_layer), "--function", str(code),
                  "--handler", "bin/tool --weekly", "--quiet"], stdin=b"{}")
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout.strip() == b"['--weekly']"
    assert lines(result.stderr) == ["run-lambda-local: warning: --handler 'bin/tool --weekly': Lambda refuses a "
                                    "Handler with white space or over 128 characters; this runs here, but on "
                                    "Lambda name the program alone and give its arguments in "
                                    "BOOTSTRAP_SDK_EXEC_ARGS"]
