"""entry: resolving the handler at init, and ``run()``'s init failures and exit codes.

``run()`` ends the process, so it runs in a subprocess (a fresh interpreter, a cleared
environment) or a forked child, against the fake Runtime API where it needs one.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Dict, Iterator

import pytest

import bootstrap_sdk
from children import in_child
from bootstrap_sdk import logs, shutdown
from bootstrap_sdk.adapter.executable import ExecutableHandler
from bootstrap_sdk.context import Context, FunctionInfo, Invocation
from bootstrap_sdk.adapter.command import split_command
from bootstrap_sdk.entry import check_settings, image_handler, load_handler
from bootstrap_sdk.errors import EXIT_FATAL, EXIT_NOT_IN_LAMBDA, InitError
from bootstrap_sdk.settings import Settings

PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(bootstrap_sdk.__file__)))
RUN = "from bootstrap_sdk.entry import run; run()"
WAIT = 30.0
INIT_ERROR = "/2018-06-01/runtime/init/error"


@pytest.fixture(autouse=True)
def _restore_globals() -> Iterator[None]:
    """load_handler puts the task root on sys.path and imports; ExecutableHandler adds a hook."""
    saved_path, saved_modules = list(sys.path), set(sys.modules)
    saved_hooks, saved_sink = list(shutdown._hooks), logs._sink
    try:
        yield
    finally:
        sys.path[:] = saved_path
        for name in set(sys.modules) - saved_modules:
            if name.startswith("entry_app_"):
                del sys.modules[name]
        shutdown._hooks[:] = saved_hooks
        logs._sink = saved_sink


def _module(task_root: Path, source: str) -> str:
    """Write a uniquely named handler module into the task root; return its name."""
    name = "entry_app_%s" % uuid.uuid4().hex[:12]
    (task_root / (name + ".py")).write_text(source)
    return name


def _settings(task_root: Path, handler: str, **extra: str) -> Settings:
    environ = {"_HANDLER": handler, "LAMBDA_TASK_ROOT": str(task_root), "PATH": "/usr/bin:/bin",
               "BOOTSTRAP_SDK_EXEC_WORKDIR": str(task_root)}
    environ.update(extra)
    return Settings(environ)


def test_load_handler_returns_the_python_function(tmp_path):
    name = _module(tmp_path, "def handler(event, context):\n    return {'doubled': event * 2, 'module': __name__}\n")
    handler = load_handler(_settings(tmp_path, name + ".handler"))
    assert callable(handler) and handler.__name__ == "handler"
    assert handler.__module__ == name
    assert handler(21, None) == {"doubled": 42, "module": name}
    assert sys.modules[name].__file__ == str(tmp_path / (name + ".py"))


def test_load_handler_reports_a_missing_function_as_an_init_error(tmp_path):
    name = _module(tmp_path, "def other(event, context):\n    return 1\n")
    with pytest.raises(InitError) as caught:
        load_handler(_settings(tmp_path, name + ".handler"))
    assert caught.value.error_type == "Runtime.HandlerNotFound"


def _program(task_root: Path, name: str, text: str) -> Path:
    path = task_root / name
    path.write_text(text)
    path.chmod(0o755)
    return path


def test_load_handler_returns_an_executable_handler_for_a_program(tmp_path):
    program = _program(tmp_path, "upper.sh", "#!/bin/sh\nprintf '%s:' \"$1\"; tr a-z A-Z\n")
    hooks_before = len(shutdown.hooks())
    handler = load_handler(_settings(tmp_path, "upper.sh --strict"))
    try:
        assert isinstance(handler, ExecutableHandler)
        assert handler.argv == [str(program), "--strict"]
        assert handler.mode == "stdio"
        assert len(shutdown.hooks()) == hooks_before + 1  # it stops its programs at shutdown
        invocation = Invocation({"lambda-runtime-aws-request-id": "req-1",
                                 "lambda-runtime-deadline-ms": str(int(time.time() * 1000) + 60000)}, b"hello")
        assert handler(b"hello", Context(invocation, FunctionInfo())) == b"--strict:HELLO"
    finally:
        handler.stop()


def test_load_handler_finds_a_program_in_a_subfolder_of_the_task_root(tmp_path):
    (tmp_path / "bin").mkdir()
    program = _program(tmp_path / "bin", "payroll", "#!/bin/sh\ncat\n")
    handler = load_handler(_settings(tmp_path, "bin/payroll"))
    try:
        assert isinstance(handler, ExecutableHandler) and handler.argv == [str(program)]
    finally:
        handler.stop()


def test_malformed_settings_raise_an_init_error_naming_every_bad_variable(tmp_path):
    name = _module(tmp_path, "def handler(event, context):\n    return 1\n")
    settings = _settings(tmp_path, name + ".handler", BOOTSTRAP_SDK_CONNECT_ATTEMPTS="lots",
                         BOOTSTRAP_SDK_EXEC_MODE="batch", BOOTSTRAP_SDK_SIGTERM="perhaps")
    with pytest.raises(InitError) as caught:
        load_handler(settings)
    assert caught.value.error_type == "Runtime.InvalidSetting"
    for variable in ("BOOTSTRAP_SDK_CONNECT_ATTEMPTS", "BOOTSTRAP_SDK_EXEC_MODE", "BOOTSTRAP_SDK_SIGTERM"):
        assert variable in caught.value.message
    assert name not in sys.modules  # the settings fail init before any import


def test_check_settings_passes_well_formed_settings(tmp_path):
    check_settings(_settings(tmp_path, "app.handler", BOOTSTRAP_SDK_CONNECT_ATTEMPTS="3"))
    with pytest.raises(InitError) as caught:
        check_settings(_settings(tmp_path, "app.handler", BOOTSTRAP_SDK_EXEC_MARGIN_MS="soon"))
    assert caught.value.error_type == "Runtime.InvalidExecutableConfig"
    assert "BOOTSTRAP_SDK_EXEC_MARGIN_MS='soon'" in caught.value.message


# -- run(), in another process -----------------------------------------------------------

def _run(env: Dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    full = {"PYTHONPATH": PACKAGE_ROOT, "PATH": "/usr/bin:/bin"}
    full.update(env)
    return subprocess.run([sys.executable, "-c", RUN], env=full, cwd=str(cwd), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, timeout=WAIT)


def test_run_without_the_runtime_api_exits_2(tmp_path):
    result = subprocess.run([sys.executable, "-c", RUN], env={"PYTHONPATH": PACKAGE_ROOT}, cwd=str(tmp_path),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=WAIT)
    assert result.returncode == EXIT_NOT_IN_LAMBDA == 2
    assert b"AWS_LAMBDA_RUNTIME_API is not set" in result.stdout
    assert b"Traceback" not in result.stdout


@pytest.mark.parametrize("address", ["localhost", "host:port", "host:\u00b2", ":9001"])
def test_run_with_a_malformed_runtime_api_address_exits_2_with_a_message(tmp_path, address):
    result = subprocess.run([sys.executable, "-c", RUN], env={"PYTHONPATH": PACKAGE_ROOT,
                            "AWS_LAMBDA_RUNTIME_API": address}, cwd=str(tmp_path),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=WAIT)
    assert result.returncode == EXIT_NOT_IN_LAMBDA
    assert b"AWS_LAMBDA_RUNTIME_API=" in result.stdout and b"expected HOST:PORT" in result.stdout
    assert b"Traceback" not in result.stdout


@pytest.mark.parametrize("handler, error_type", [
    ("entry_app_missing_module.handler", "Runtime.ImportModuleError"),
    ("nodot", "Runtime.MalformedHandlerName"),
])
def test_run_with_a_bad_handler_posts_an_init_error_and_exits_1(api, tmp_path, handler, error_type):
    result = _run({"AWS_LAMBDA_RUNTIME_API": api.address, "_HANDLER": handler,
                   "LAMBDA_TASK_ROOT": str(tmp_path)}, tmp_path)
    assert result.returncode == EXIT_FATAL == 1, result.stdout
    (init_error,) = api.posts("/init/error")
    assert init_error.path == INIT_ERROR
    assert init_error.headers["lambda-runtime-function-error-type"] == error_type
    body = init_error.json()
    assert body["errorType"] == error_type
    assert handler.split(".")[0] in body["errorMessage"]
    assert body["requestId"] == "" and isinstance(body["stackTrace"], list)
    assert not any(r.path.endswith("/invocation/next") for r in api.requests)  # no invoke served
    assert ("init failed: %s" % error_type).encode() in result.stdout


@pytest.mark.parametrize("words", [["app.handler"], ["cobcrun", "PAYROLL"], ["prog", "two words", "it's", ""]])
def test_an_images_cmd_becomes_the_handler_and_a_program_gets_its_words_back(words):
    handler = image_handler(words)
    if len(words) == 1:
        assert handler == words[0]
    else:
        assert split_command(handler) == words


def test_run_takes_the_handler_from_its_arguments_as_an_image_entrypoint_does(api, tmp_path):
    """Lambda passes an image's Cmd to the entrypoint: it wins over _HANDLER, as in AWS's base images."""
    name = _module(tmp_path, "def handler(event, context):\n    return {'from': 'argv', 'event': event}\n")
    request_id = api.add_event(b'{"n": 7}')
    env = {"PYTHONPATH": PACKAGE_ROOT, "PATH": "/usr/bin:/bin", "AWS_LAMBDA_RUNTIME_API": api.address,
           "_HANDLER": "not_this.handler", "LAMBDA_TASK_ROOT": str(tmp_path)}
    process = subprocess.Popen([sys.executable, "-c", RUN, name + ".handler"], env=env, cwd=str(tmp_path),
                               stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        (response,) = api.wait_posts(request_id + "/response", timeout=WAIT)
        assert response.json() == {"from": "argv", "event": {"n": 7}}
        assert api.posts("/init/error") == []
    finally:
        process.kill()
        process.wait()


def test_run_with_a_cmd_outside_lambda_and_no_emulator_in_the_image_says_how_to_run_it(tmp_path):
    result = subprocess.run([sys.executable, "-c", RUN, "app.handler"], env={"PYTHONPATH": PACKAGE_ROOT},
                            cwd=str(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=WAIT)
    assert result.returncode == EXIT_NOT_IN_LAMBDA
    assert b"AWS_LAMBDA_RUNTIME_API is not set" in result.stdout
    assert b"run-lambda-local --image" in result.stdout and b"--with-rie" in result.stdout


def test_run_with_malformed_settings_posts_an_init_error_naming_them(api, tmp_path):
    name = _module(tmp_path, "def handler(event, context):\n    return 1\n")
    result = _run({"AWS_LAMBDA_RUNTIME_API": api.address, "_HANDLER": name + ".handler",
                   "LAMBDA_TASK_ROOT": str(tmp_path), "BOOTSTRAP_SDK_SHUTDOWN_BUDGET_MS": "half",
                   "BOOTSTRAP_SDK_EXEC_CREDENTIALS": "maybe"}, tmp_path)
    assert result.returncode == 1, result.stdout
    (init_error,) = api.posts("/init/error")
    assert init_error.headers["lambda-runtime-function-error-type"] == "Runtime.InvalidSetting"
    message = init_error.json()["errorMessage"]
    assert "BOOTSTRAP_SDK_SHUTDOWN_BUDGET_MS='half'" in message
    assert "BOOTSTRAP_SDK_EXEC_CREDENTIALS='maybe'" in message


def test_run_with_a_handler_still_checks_the_settings(api, tmp_path):
    log = tmp_path / "log"

    def child() -> None:
        os.environ.clear()
        os.environ.update({"AWS_LAMBDA_RUNTIME_API": api.address, "BOOTSTRAP_SDK_EXEC_MODE": "batch"})
        sys.stdout = open(log, "w")
        bootstrap_sdk.run(lambda event, context: "never called")

    assert in_child(tmp_path, child) == EXIT_FATAL
    (init_error,) = api.posts("/init/error")
    assert init_error.headers["lambda-runtime-function-error-type"] == "Runtime.InvalidExecutableMode"
    assert "BOOTSTRAP_SDK_EXEC_MODE='batch'" in init_error.json()["errorMessage"]


def test_run_exits_1_when_the_runtime_api_answers_500(api, tmp_path):
    name = _module(tmp_path, "def handler(event, context):\n    return 1\n")
    api.next_status = 500
    result = _run({"AWS_LAMBDA_RUNTIME_API": api.address, "_HANDLER": name + ".handler",
                   "LAMBDA_TASK_ROOT": str(tmp_path)}, tmp_path)
    assert result.returncode == 1, result.stdout
    assert b"fatal: GET /2018-06-01/runtime/invocation/next answered 500" in result.stdout
    assert api.posts("/init/error") == []


def test_run_serves_invokes_and_exits_0_on_sigterm(fresh_api, tmp_path):
    """The whole path: init, the SIGTERM extension, an invoke, SIGTERM, the hooks, exit 0."""
    api = fresh_api
    marker = tmp_path / "hook-ran"
    name = _module(tmp_path, (
        "import bootstrap_sdk\n"
        "@bootstrap_sdk.on_shutdown\n"
        "def bye():\n"
        "    open(%r, 'w').write('bye')\n"
        "def handler(event, context):\n"
        "    return {'echo': event, 'function': context.function_name}\n") % str(marker))
    request_id = api.add_event(b'{"x": 1}')
    env = {"PYTHONPATH": PACKAGE_ROOT, "PATH": "/usr/bin:/bin", "AWS_LAMBDA_RUNTIME_API": api.address,
           "_HANDLER": name + ".handler", "LAMBDA_TASK_ROOT": str(tmp_path), "AWS_LAMBDA_FUNCTION_NAME": "entry-fn"}
    log = open(tmp_path / "runtime.log", "wb")
    process = subprocess.Popen([sys.executable, "-c", RUN], env=env, cwd=str(tmp_path), stdout=log,
                               stderr=subprocess.STDOUT)
    try:
        (response,) = api.wait_posts(request_id + "/response", timeout=WAIT)
        assert response.json() == {"echo": {"x": 1}, "function": "entry-fn"}
        # a hook exists, so the internal extension was registered during init, before the first /next
        paths = [r.path for r in api.requests]
        register = paths.index("/2020-01-01/extension/register")
        assert register < paths.index("/2018-06-01/runtime/invocation/next")
        assert api.posts("/extension/register")[0].json() == {"events": []}
        api.wait_for(lambda reqs: sum(r.path.endswith("/invocation/next") for r in reqs) >= 2, WAIT)
        process.send_signal(signal.SIGTERM)
        assert process.wait(WAIT) == 0, (tmp_path / "runtime.log").read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        log.close()
    assert marker.read_text() == "bye"
