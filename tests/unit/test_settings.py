"""settings: every environment variable the runtime reads, its default, parsing and error."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from bootstrap_sdk.settings import (
    DEFAULTS,
    INVALID_EXECUTABLE_CONFIG,
    INVALID_EXECUTABLE_MODE,
    INVALID_SETTING,
    Settings,
)

# The numeric settings: (variable, attribute path, smallest accepted value, errorType when malformed).
NUMBERS = [
    ("BOOTSTRAP_SDK_CONNECT_ATTEMPTS", "connect_attempts", 1, INVALID_SETTING),
    ("BOOTSTRAP_SDK_SHUTDOWN_BUDGET_MS", "shutdown_budget_ms", 0, INVALID_SETTING),
    ("BOOTSTRAP_SDK_EXEC_MARGIN_MS", "executable.margin_ms", 0, INVALID_EXECUTABLE_CONFIG),
]
ON_WORDS = ["1", "true", "yes", "on", "ON", "True", " yes ", "On"]
OFF_WORDS = ["0", "false", "no", "off", "OFF", "False", " no ", "Off"]


def _get(settings: Settings, path: str) -> object:
    value: object = settings
    for part in path.split("."):
        value = getattr(value, part)
    return value


def test_defaults_when_nothing_is_set():
    settings = Settings({})
    assert settings.runtime_api == ""
    assert settings.handler == ""
    assert settings.task_root is None
    assert settings.path == ""
    assert settings.max_concurrency == 0
    assert settings.log_format == "Text"
    assert settings.log_level == ""
    assert (settings.function_name, settings.function_version, settings.memory_size,
            settings.log_group_name, settings.log_stream_name) == (None, None, None, None, None)
    assert settings.sigterm is None  # auto
    assert settings.connect_attempts == 10
    assert settings.shutdown_budget_ms == 450
    exe = settings.executable
    assert exe.mode == "stdio" and exe.mode_set is False
    assert exe.margin_ms == 500
    assert exe.credentials is True
    assert exe.input_name == "LAMBDA_EVENT_FILE"
    assert exe.output_name == "LAMBDA_RESPONSE_FILE"
    assert exe.workdir == "/tmp"
    assert exe.input_copybook == "" and exe.output_copybook == ""
    assert exe.given == frozenset()
    assert settings.problems == []
    assert settings.problem() is None


def test_blank_values_mean_the_default():
    environ = {name: "  \t" for name in DEFAULTS}
    settings = Settings(environ)
    assert settings.problems == []
    assert settings.connect_attempts == 10 and settings.shutdown_budget_ms == 450
    assert settings.executable.mode == "stdio" and settings.executable.mode_set is False
    assert settings.executable.workdir == "/tmp"


def test_every_default_is_one_its_own_parser_accepts():
    settings = Settings({name: default for name, default in DEFAULTS.items()})
    assert settings.problems == []
    assert settings.executable.mode_set is True  # set explicitly, to its default


def test_lambdas_own_variables_are_taken_as_they_are():
    settings = Settings({
        "AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9001",
        "_HANDLER": "app.handler",
        "LAMBDA_TASK_ROOT": "/var/task",
        "PATH": "/var/lang/bin:/usr/bin",
        "AWS_LAMBDA_LOG_FORMAT": "JSON",
        "AWS_LAMBDA_LOG_LEVEL": "DEBUG",
        "AWS_LAMBDA_FUNCTION_NAME": "fn",
        "AWS_LAMBDA_FUNCTION_VERSION": "7",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/fn",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2024/01/01/[7]abc",
    })
    assert settings.runtime_api == "127.0.0.1:9001"
    assert settings.handler == "app.handler"
    assert settings.task_root == "/var/task"
    assert settings.path == "/var/lang/bin:/usr/bin"
    assert settings.log_format == "JSON"
    assert settings.log_level == "DEBUG"
    assert settings.function_name == "fn"
    assert settings.function_version == "7"
    assert settings.memory_size == "1024"  # a string, as the managed runtime has it
    assert settings.log_group_name == "/aws/lambda/fn"
    assert settings.log_stream_name == "2024/01/01/[7]abc"
    assert settings.problems == []


def test_an_empty_task_root_is_none():
    assert Settings({"LAMBDA_TASK_ROOT": ""}).task_root is None


@pytest.mark.parametrize("concurrency, expected", [("4", 4), (" 16 ", 16), ("0", 0)])
def test_max_concurrency_is_read(concurrency, expected):
    assert Settings({"AWS_LAMBDA_MAX_CONCURRENCY": concurrency}).max_concurrency == expected


def test_max_concurrency_forces_json_logs():
    settings = Settings({"AWS_LAMBDA_MAX_CONCURRENCY": "8", "AWS_LAMBDA_LOG_FORMAT": "Text"})
    assert settings.max_concurrency == 8
    assert settings.log_format == "JSON"
    assert Settings({"AWS_LAMBDA_MAX_CONCURRENCY": "0", "AWS_LAMBDA_LOG_FORMAT": "Text"}).log_format == "Text"


@pytest.mark.parametrize("concurrency", ["four", "-2", "1.5", "", "0x10"])
def test_lambdas_variables_are_read_leniently(concurrency):
    settings = Settings({"AWS_LAMBDA_MAX_CONCURRENCY": concurrency, "AWS_LAMBDA_LOG_FORMAT": "Text"})
    assert settings.max_concurrency == 0
    assert settings.log_format == "Text"
    assert settings.problems == []


def test_max_concurrency_of_digits_int_rejects_reads_as_zero():
    assert Settings({"AWS_LAMBDA_MAX_CONCURRENCY": "\u00b2"}).max_concurrency == 0


@pytest.mark.parametrize("word, meaning", [(w, True) for w in ON_WORDS] + [(w, False) for w in OFF_WORDS])
def test_on_and_off_words(word, meaning):
    settings = Settings({"BOOTSTRAP_SDK_SIGTERM": word, "BOOTSTRAP_SDK_EXEC_CREDENTIALS": word})
    assert settings.sigterm is meaning
    assert settings.executable.credentials is meaning
    assert settings.problems == []


@pytest.mark.parametrize("word", ["auto", "AUTO", " Auto "])
def test_sigterm_auto_is_none(word):
    settings = Settings({"BOOTSTRAP_SDK_SIGTERM": word})
    assert settings.sigterm is None
    assert settings.problems == []


@pytest.mark.parametrize("name, path, minimum, error_type", NUMBERS)
@pytest.mark.parametrize("value, expected", [("0", 0), ("1", 1), ("250", 250), (" 3000 ", 3000), ("007", 7)])
def test_numbers(name, path, minimum, error_type, value, expected):
    settings = Settings({name: value})
    if expected < minimum:
        assert [t for t, _ in settings.problems] == [error_type]
    else:
        assert _get(settings, path) == expected
        assert settings.problems == []


def test_connect_attempts_of_zero_is_refused():
    settings = Settings({"BOOTSTRAP_SDK_CONNECT_ATTEMPTS": "0"})
    assert settings.connect_attempts == 10  # the default stands in until init fails
    assert settings.problem() == (
        INVALID_SETTING,
        "BOOTSTRAP_SDK_CONNECT_ATTEMPTS='0' is not a number: expected a whole number of at least 1")


@pytest.mark.parametrize("mode", ["stdio", "file", "persistent", "FILE", " Persistent "])
def test_exec_mode(mode):
    settings = Settings({"BOOTSTRAP_SDK_EXEC_MODE": mode})
    assert settings.executable.mode == mode.strip().lower()
    assert settings.executable.mode_set is True
    assert settings.problems == []


def test_exec_text_settings():
    settings = Settings({
        "BOOTSTRAP_SDK_EXEC_INPUT": "IN_FILE",
        "BOOTSTRAP_SDK_EXEC_OUTPUT": " OUT_FILE ",
        "BOOTSTRAP_SDK_EXEC_WORKDIR": "/mnt/scratch",
        "BOOTSTRAP_SDK_EXEC_INPUT_COPYBOOK": "books/in.cpy",
        "BOOTSTRAP_SDK_EXEC_OUTPUT_COPYBOOK": "books/out.cpy",
    })
    exe = settings.executable
    assert (exe.input_name, exe.output_name, exe.workdir) == ("IN_FILE", "OUT_FILE", "/mnt/scratch")
    assert (exe.input_copybook, exe.output_copybook) == ("books/in.cpy", "books/out.cpy")
    assert settings.problems == []


@pytest.mark.parametrize("name, value, error_type, default_path, default", [
    ("BOOTSTRAP_SDK_SIGTERM", "maybe", INVALID_SETTING, "sigterm", None),
    ("BOOTSTRAP_SDK_CONNECT_ATTEMPTS", "ten", INVALID_SETTING, "connect_attempts", 10),
    ("BOOTSTRAP_SDK_CONNECT_ATTEMPTS", "-1", INVALID_SETTING, "connect_attempts", 10),
    ("BOOTSTRAP_SDK_SHUTDOWN_BUDGET_MS", "0.5", INVALID_SETTING, "shutdown_budget_ms", 450),
    ("BOOTSTRAP_SDK_SHUTDOWN_BUDGET_MS", "450ms", INVALID_SETTING, "shutdown_budget_ms", 450),
    ("BOOTSTRAP_SDK_EXEC_MARGIN_MS", "1e3", INVALID_EXECUTABLE_CONFIG, "executable.margin_ms", 500),
    ("BOOTSTRAP_SDK_EXEC_CREDENTIALS", "sometimes", INVALID_EXECUTABLE_CONFIG, "executable.credentials", True),
    ("BOOTSTRAP_SDK_EXEC_MODE", "batch", INVALID_EXECUTABLE_MODE, "executable.mode", "stdio"),
    ("BOOTSTRAP_SDK_EXEC_RECORDS", "many", INVALID_EXECUTABLE_CONFIG, "executable.records", "one"),
    ("BOOTSTRAP_SDK_EXEC_RECORDS", "1:1", INVALID_EXECUTABLE_CONFIG, "executable.records", "one"),
    ("BOOTSTRAP_SDK_EXEC_BLANK_NUMBERS", "spaces", INVALID_EXECUTABLE_CONFIG, "executable.blank_as_zero", False),
])
def test_a_malformed_value_is_a_problem_with_its_error_type(name, value, error_type, default_path, default):
    settings = Settings({name: value})
    assert len(settings.problems) == 1
    found_type, message = settings.problems[0]
    assert found_type == error_type
    assert message.startswith("%s=%r" % (name, value))
    assert _get(settings, default_path) == default
    assert settings.problem() == (error_type, message)


def test_sigterms_message_offers_auto_and_credentials_does_not():
    sigterm = Settings({"BOOTSTRAP_SDK_SIGTERM": "x"}).problems[0][1]
    credentials = Settings({"BOOTSTRAP_SDK_EXEC_CREDENTIALS": "x"}).problems[0][1]
    assert sigterm.endswith("or auto")
    assert "auto" not in credentials


def test_credentials_auto_is_a_problem():
    settings = Settings({"BOOTSTRAP_SDK_EXEC_CREDENTIALS": "auto"})
    assert [t for t, _ in settings.problems] == [INVALID_EXECUTABLE_CONFIG]


def test_problem_names_every_malformed_setting_in_one_message():
    settings = Settings({
        "BOOTSTRAP_SDK_SIGTERM": "sometimes",
        "BOOTSTRAP_SDK_CONNECT_ATTEMPTS": "0",
        "BOOTSTRAP_SDK_SHUTDOWN_BUDGET_MS": "lots",
        "BOOTSTRAP_SDK_EXEC_MODE": "batch",
        "BOOTSTRAP_SDK_EXEC_MARGIN_MS": "-1",
        "BOOTSTRAP_SDK_EXEC_CREDENTIALS": "perhaps",
    })
    assert [t for t, _ in settings.problems] == [
        INVALID_SETTING, INVALID_SETTING, INVALID_SETTING,
        INVALID_EXECUTABLE_MODE, INVALID_EXECUTABLE_CONFIG, INVALID_EXECUTABLE_CONFIG]
    error_type, message = settings.problem()
    assert error_type == INVALID_SETTING  # the first problem's
    for name, value in [("BOOTSTRAP_SDK_SIGTERM", "sometimes"), ("BOOTSTRAP_SDK_CONNECT_ATTEMPTS", "0"),
                        ("BOOTSTRAP_SDK_SHUTDOWN_BUDGET_MS", "lots"), ("BOOTSTRAP_SDK_EXEC_MODE", "batch"),
                        ("BOOTSTRAP_SDK_EXEC_MARGIN_MS", "-1"), ("BOOTSTRAP_SDK_EXEC_CREDENTIALS", "perhaps")]:
        assert "%s=%r" % (name, value) in message
    assert message.count("; ") == 5


def test_from_environ_reads_the_process_environment(monkeypatch):
    monkeypatch.setenv("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:1234")
    monkeypatch.setenv("BOOTSTRAP_SDK_SHUTDOWN_BUDGET_MS", "123")
    monkeypatch.delenv("BOOTSTRAP_SDK_CONNECT_ATTEMPTS", raising=False)
    settings = Settings.from_environ()
    assert settings.runtime_api == "127.0.0.1:1234"
    assert settings.shutdown_budget_ms == 123
    assert settings.connect_attempts == 10
    assert Settings.from_environ({"AWS_LAMBDA_RUNTIME_API": "x:1"}).runtime_api == "x:1"


# -- properties -------------------------------------------------------------------------

_padding = st.sampled_from(["", " ", "\t", "  "])


@given(index=st.sampled_from(range(len(NUMBERS))), number=st.integers(min_value=0, max_value=10 ** 18),
       zeros=st.integers(min_value=0, max_value=3), left=_padding, right=_padding)
def test_any_whole_number_round_trips(index, number, zeros, left, right):
    name, path, minimum, _ = NUMBERS[index]
    assume(number >= minimum)
    settings = Settings({name: left + "0" * zeros + str(number) + right})
    assert settings.problems == []
    assert _get(settings, path) == number


def _is_whole_number(text: str, minimum: int) -> bool:
    text = text.strip()
    return text.isascii() and text.isdigit() and int(text) >= minimum


@given(index=st.sampled_from(range(len(NUMBERS))), value=st.text())
@example(index=0, value="0")  # CONNECT_ATTEMPTS below its minimum
@example(index=1, value="-0")
@example(index=2, value="+5")
@example(index=2, value="5_000")
def test_any_other_string_is_a_problem_never_an_exception(index, value):
    name, path, minimum, error_type = NUMBERS[index]
    assume(value.strip())  # blank: the default, covered above
    assume(not _is_whole_number(value, minimum))
    settings = Settings({name: value})
    assert [t for t, _ in settings.problems] == [error_type]
    assert name in settings.problem()[1]
    assert _get(settings, path) == int(DEFAULTS[name])


@pytest.mark.parametrize("name", [n for n, _, _, _ in NUMBERS])
def test_digits_int_rejects_are_a_problem_not_an_exception(name):
    settings = Settings({name: "\u00b2"})
    assert len(settings.problems) == 1


@given(value=st.text())
@example(value="auto")
@example(value="enabled")
def test_any_string_but_a_flag_word_is_a_sigterm_problem(value):
    word = value.strip().lower()
    assume(word)
    settings = Settings({"BOOTSTRAP_SDK_SIGTERM": value})
    if word in ("1", "true", "yes", "on"):
        assert settings.sigterm is True and settings.problems == []
    elif word in ("0", "false", "no", "off"):
        assert settings.sigterm is False and settings.problems == []
    elif word == "auto":
        assert settings.sigterm is None and settings.problems == []
    else:
        assert [t for t, _ in settings.problems] == [INVALID_SETTING]
        assert settings.sigterm is None


@given(value=st.text())
def test_any_string_but_a_mode_is_an_exec_mode_problem(value):
    assume(value.strip())
    settings = Settings({"BOOTSTRAP_SDK_EXEC_MODE": value})
    if value.strip().lower() in ("stdio", "file", "persistent"):
        assert settings.problems == []
    else:
        assert [t for t, _ in settings.problems] == [INVALID_EXECUTABLE_MODE]


def test_the_readme_documents_every_setting_with_its_default():
    """The README's tables are the users' reference: every variable, with the default settings.py uses."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    for name, default in DEFAULTS.items():
        assert "`%s`" % name in readme, "%s is not in the README" % name
        if default and default != "auto":
            rows = [line for line in readme.splitlines() if line.startswith("| `%s`" % name)]
            assert rows and any(default in row for row in rows), "%s: the README does not give its default %s" % (
                name, default)


@pytest.mark.parametrize("records", ["one", "batch", "one-for-one", "ONE-FOR-ONE"])
def test_records_shapes_are_read(records):
    settings = Settings({"BOOTSTRAP_SDK_EXEC_RECORDS": records})
    assert settings.problems == [] and settings.executable.records == records.lower()


def test_blank_numbers_as_zero_is_opt_in():
    assert Settings({}).executable.blank_as_zero is False
    assert Settings({"BOOTSTRAP_SDK_EXEC_BLANK_NUMBERS": "zero"}).executable.blank_as_zero is True


def test_the_record_shapes_are_the_codecs():
    """settings (foundation) cannot import the codec; the two lists must still agree."""
    from bootstrap_sdk.copybook.codec import RECORD_SHAPES as CODEC_SHAPES
    from bootstrap_sdk.settings import RECORD_SHAPES

    assert RECORD_SHAPES == CODEC_SHAPES


# -- names: only the settings the runtime reads ----------------------------------------------------

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name, error_type, guess", [
    ("BOOTSTRAP_SDK_EXEC_OUTPUT_COPYBOK", INVALID_EXECUTABLE_CONFIG, "BOOTSTRAP_SDK_EXEC_OUTPUT_COPYBOOK"),
    ("BOOTSTRAP_SDK_EXEC_RECORD", INVALID_EXECUTABLE_CONFIG, "BOOTSTRAP_SDK_EXEC_RECORDS"),
    ("BOOTSTRAP_SDK_EXEC_RECRODS", INVALID_EXECUTABLE_CONFIG, "BOOTSTRAP_SDK_EXEC_RECORDS"),
    ("BOOTSTRAP_SDK_SHUTDOWN_BUDGET", INVALID_SETTING, "BOOTSTRAP_SDK_SHUTDOWN_BUDGET_MS"),
    ("bootstrap_sdk_exec_mode", INVALID_EXECUTABLE_CONFIG, "BOOTSTRAP_SDK_EXEC_MODE"),  # names are case-sensitive
    ("BOOTSTRAP_SDK_CUSTOM", INVALID_SETTING, None),
    ("BOOTSTRAP_SDK_EXEC_TIMEOUT_MS", INVALID_EXECUTABLE_CONFIG, None),
])
def test_an_unknown_sdk_variable_is_refused_naming_the_closest_setting(name, error_type, guess):
    settings = Settings({name: "batch"})
    if guess:
        expected = "%s is not a setting of this runtime: did you mean %s?" % (name, guess)
    else:
        expected = ("%s is not a setting of this runtime: remove it or correct its name (the README lists them "
                    "under Configuration and Legacy executables)" % name)
    assert settings.problems == [(error_type, expected)]
    assert settings.problem() == (error_type, expected)


def test_unknown_names_join_the_one_message_with_malformed_values():
    settings = Settings({"BOOTSTRAP_SDK_SIGTERM": "maybe", "BOOTSTRAP_SDK_EXEC_RECORD": "batch",
                         "BOOTSTRAP_SDK_EXEC_OUTPUT_COPYBOK": "books/out.cpy", "BOOTSTRAP_SDK_RIE": "/usr/bin/rie",
                         "BOOTSTRAP_SDK_TEST_PYTHON": "/usr/bin/python3.9", "NOT_BOOTSTRAP_SDK_X": "1"})
    error_type, message = settings.problem()
    assert error_type == INVALID_SETTING  # the first problem's: SIGTERM's value
    assert message.split("; ") == [
        "BOOTSTRAP_SDK_SIGTERM='maybe': expected on or off (1/0, true/false, yes/no) or auto",
        "BOOTSTRAP_SDK_EXEC_OUTPUT_COPYBOK is not a setting of this runtime: did you mean "
        "BOOTSTRAP_SDK_EXEC_OUTPUT_COPYBOOK?",
        "BOOTSTRAP_SDK_EXEC_RECORD is not a setting of this runtime: did you mean BOOTSTRAP_SDK_EXEC_RECORDS?",
    ]
    assert settings.executable.output_copybook == "" and settings.executable.records == "one"


def test_the_names_settings_reads_are_the_settings_and_the_tooling_names():
    """DEFAULTS is the one list: every BOOTSTRAP_SDK_* name settings.py spells is in it, or is a tooling name."""
    import ast

    from bootstrap_sdk import settings as module
    from bootstrap_sdk.settings import TOOLING_VARIABLES

    tree = ast.parse(Path(module.__file__).read_text())
    spelt = {node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)
             and node.value.startswith("BOOTSTRAP_SDK_") and node.value.rstrip("_") != "BOOTSTRAP_SDK"
             and node.value.replace("_", "").isalnum()}
    assert spelt == set(DEFAULTS) | set(TOOLING_VARIABLES)
    assert not set(DEFAULTS) & set(TOOLING_VARIABLES)


def test_the_readme_tables_document_exactly_the_settings():
    """Each name in the first column of a README table is a setting, and each setting has its row."""
    import re

    from bootstrap_sdk.settings import TOOLING_VARIABLES

    rows = [line for line in (REPO / "README.md").read_text().splitlines() if line.startswith("|")]
    documented = {match.group(1) for line in rows for match in [re.match(r"\|\s*`(BOOTSTRAP_SDK_[A-Z0-9_]+)`", line)]
                  if match}
    assert documented - set(TOOLING_VARIABLES) == set(DEFAULTS)


def test_tooling_variables_are_let_through_and_are_all_the_tooling_reads():
    """The names the project's own tools read on the host are not settings, and a runtime that
    inherits them from a developer's shell runs as if they were not there."""
    import re

    from bootstrap_sdk.settings import TOOLING_VARIABLES

    settings = Settings({name: "/usr/bin/x" for name in TOOLING_VARIABLES})
    assert settings.problems == []
    read = re.compile(r"""(?:environ\.get\(|environ\[|getenv\()\s*["'](BOOTSTRAP_SDK_[A-Z0-9_]+)["']""")
    found = set()
    for path in list((REPO / "bootstrap_sdk").rglob("*.py")) + list((REPO / "tests").rglob("*.py")):
        if path.name != "settings.py":
            found.update(read.findall(path.read_text(errors="replace")))
    for path in (REPO / "scripts").glob("*.sh"):  # not in every copy of the tests
        found.update(re.findall(r"\$\{?(BOOTSTRAP_SDK_[A-Z0-9_]+)", path.read_text(errors="replace")))
    assert "BOOTSTRAP_SDK_RIE" in found, "local/rie.py reads it"
    assert found <= set(TOOLING_VARIABLES), "read outside settings.py, so a tooling name: %s" % sorted(
        found - set(TOOLING_VARIABLES))
