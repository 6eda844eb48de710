"""context: the invocation parsed from ``/next``'s headers, and the handler's ``Context``."""

from __future__ import annotations

import json
import time

import pytest

from bootstrap_sdk.context import UNKNOWN_DEADLINE_BUDGET_MS, Context, FunctionInfo, Invocation
from bootstrap_sdk.errors import FunctionError

# Headers as HttpConnection hands them over: names lower-cased.
HEADERS = {
    "lambda-runtime-aws-request-id": "8476a536-e9f4-11e8-9739-2dfe598c3fcd",
    "lambda-runtime-deadline-ms": "1542409706888",
    "lambda-runtime-invoked-function-arn": "arn:aws:lambda:us-east-2:123456789012:function:custom-runtime",
    "lambda-runtime-trace-id": "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1",
    "lambda-runtime-client-context": json.dumps({
        "client": {"installation_id": "inst-1", "app_title": "Shop", "app_version_name": "1.2",
                   "app_version_code": "12", "app_package_name": "com.example.shop"},
        "custom": {"colour": "blue"},
        "env": {"platform": "Android"},
    }),
    "lambda-runtime-cognito-identity": json.dumps({"cognitoIdentityId": "eu-west-1:abc",
                                                   "cognitoIdentityPoolId": "eu-west-1:pool"}),
    "lambda-runtime-aws-tenant-id": "tenant-42",
}

FUNCTION = FunctionInfo("my-function", "$LATEST", "256", "/aws/lambda/my-function", "2024/01/01/[$LATEST]abc")


def _context(**changes: object) -> Context:
    headers = dict(HEADERS)
    for name, value in changes.items():
        if value is None:
            headers.pop(name, None)
        else:
            headers[name] = str(value)
    return Context(Invocation(headers, b"{}"), FUNCTION)


def test_invocation_parses_every_header():
    invocation = Invocation(HEADERS, b'{"k": 1}')
    assert invocation.request_id == "8476a536-e9f4-11e8-9739-2dfe598c3fcd"
    assert invocation.deadline_ms == 1542409706888 and isinstance(invocation.deadline_ms, int)
    assert invocation.invoked_function_arn == HEADERS["lambda-runtime-invoked-function-arn"]
    assert invocation.trace_id == HEADERS["lambda-runtime-trace-id"]
    assert invocation.client_context == HEADERS["lambda-runtime-client-context"]
    assert invocation.cognito_identity == HEADERS["lambda-runtime-cognito-identity"]
    assert invocation.tenant_id == "tenant-42"
    assert invocation.body == b'{"k": 1}'


def test_invocation_without_headers_has_empty_values():
    before = int(time.time() * 1000)
    invocation = Invocation({}, b"")
    assert invocation.request_id == ""
    assert invocation.deadline_known is False and invocation.deadline_header is None
    after = int(time.time() * 1000)
    assert before + UNKNOWN_DEADLINE_BUDGET_MS <= invocation.deadline_ms <= after + UNKNOWN_DEADLINE_BUDGET_MS
    assert invocation.invoked_function_arn is None
    assert invocation.trace_id is None
    assert invocation.client_context is None
    assert invocation.cognito_identity is None
    assert invocation.tenant_id is None


@pytest.mark.parametrize("deadline", ["", "soon", "-5", "12.5", "1e12", "1.5e12", " 123", "\u00b2", "0", "5000",
                                      "1700000000", "9" * 17, "9" * 5000, "1700000000000 ", "0x1a0000000000"])
def test_a_deadline_that_is_not_epoch_milliseconds_is_unknown(deadline):
    """Not 0 (every invoke would time out at once): the longest timeout from receipt, flagged."""
    before = int(time.time() * 1000)
    invocation = Invocation({"lambda-runtime-deadline-ms": deadline}, b"")
    assert invocation.deadline_known is False
    assert invocation.deadline_header == deadline
    after = int(time.time() * 1000)
    assert before + UNKNOWN_DEADLINE_BUDGET_MS <= invocation.deadline_ms <= after + UNKNOWN_DEADLINE_BUDGET_MS
    context = Context(invocation, FUNCTION)
    assert context.deadline_known is False
    assert UNKNOWN_DEADLINE_BUDGET_MS - 5000 < context.get_remaining_time_in_millis() <= UNKNOWN_DEADLINE_BUDGET_MS


@pytest.mark.parametrize("deadline", ["1000000000000", "1542409706888", "9999999999999999"])
def test_a_deadline_in_epoch_milliseconds_is_known(deadline):
    invocation = Invocation({"lambda-runtime-deadline-ms": deadline}, b"")
    assert invocation.deadline_known is True and invocation.deadline_ms == int(deadline)
    assert Context(invocation, FUNCTION).deadline_known is True


def test_context_has_the_invocation_and_the_function():
    context = _context()
    assert context.aws_request_id == HEADERS["lambda-runtime-aws-request-id"]
    assert context.invoked_function_arn == HEADERS["lambda-runtime-invoked-function-arn"]
    assert context.trace_id == HEADERS["lambda-runtime-trace-id"]
    assert context.tenant_id == "tenant-42"
    assert context.deadline_ms == 1542409706888 and context.deadline_known is True
    assert context.function_name == "my-function"
    assert context.function_version == "$LATEST"
    assert context.memory_limit_in_mb == "256"  # a string, as in the managed runtime
    assert context.log_group_name == "/aws/lambda/my-function"
    assert context.log_stream_name == "2024/01/01/[$LATEST]abc"


def test_client_context_is_parsed_from_its_json_header():
    client_context = _context().client_context
    assert client_context is not None
    assert client_context.custom == {"colour": "blue"}
    assert client_context.env == {"platform": "Android"}
    client = client_context.client
    assert client is not None
    assert (client.installation_id, client.app_title, client.app_version_name, client.app_version_code,
            client.app_package_name) == ("inst-1", "Shop", "1.2", "12", "com.example.shop")


def test_client_context_without_a_client_object():
    context = _context(**{"lambda-runtime-client-context": json.dumps({"custom": {"a": 1}, "client": "text"})})
    assert context.client_context is not None
    assert context.client_context.client is None
    assert context.client_context.custom == {"a": 1}
    assert context.client_context.env is None


@pytest.mark.parametrize("value", [None, "", "null"])
def test_absent_client_context_is_none(value):
    assert _context(**{"lambda-runtime-client-context": value}).client_context is None


def test_identity_is_parsed_from_its_json_header():
    identity = _context().identity
    assert identity.cognito_identity_id == "eu-west-1:abc"
    assert identity.cognito_identity_pool_id == "eu-west-1:pool"


def test_identity_without_a_header_is_an_empty_identity():
    identity = _context(**{"lambda-runtime-cognito-identity": None}).identity
    assert identity is not None
    assert identity.cognito_identity_id is None and identity.cognito_identity_pool_id is None


@pytest.mark.parametrize("header", ["lambda-runtime-client-context", "lambda-runtime-cognito-identity"])
@pytest.mark.parametrize("value", ["{not json", '["a", "list"]', "42", '"text"'])
def test_malformed_json_header_is_a_context_unmarshal_error(header, value):
    with pytest.raises(FunctionError) as caught:
        _context(**{header: value})
    assert caught.value.error_type == "Runtime.LambdaContextUnmarshalError"
    what = "Client Context" if header.endswith("client-context") else "Cognito Identity"
    assert str(caught.value).startswith("Unable to parse %s JSON" % what)


def test_remaining_time_is_never_negative():
    past = int(time.time() * 1000) - 10_000
    assert _context(**{"lambda-runtime-deadline-ms": past}).get_remaining_time_in_millis() == 0


def test_remaining_time_counts_down_to_a_future_deadline():
    deadline = int(time.time() * 1000) + 60_000
    context = _context(**{"lambda-runtime-deadline-ms": deadline})
    first = context.get_remaining_time_in_millis()
    assert isinstance(first, int)
    assert 0 < first <= 60_000
    time.sleep(0.02)
    second = context.get_remaining_time_in_millis()
    assert 0 < second < first


def test_context_has_the_attributes_of_awslambdarics_context(monkeypatch):
    """A differential check: the managed runtime's context, built from the same headers."""
    bootstrap = pytest.importorskip("awslambdaric.bootstrap")
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", FUNCTION.function_name)
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_VERSION", FUNCTION.function_version)
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", FUNCTION.memory_limit_in_mb)
    monkeypatch.setenv("AWS_LAMBDA_LOG_GROUP_NAME", FUNCTION.log_group_name)
    monkeypatch.setenv("AWS_LAMBDA_LOG_STREAM_NAME", FUNCTION.log_stream_name)
    theirs = bootstrap.create_lambda_context(
        HEADERS["lambda-runtime-client-context"], HEADERS["lambda-runtime-cognito-identity"],
        int(HEADERS["lambda-runtime-deadline-ms"]), HEADERS["lambda-runtime-aws-request-id"],
        HEADERS["lambda-runtime-invoked-function-arn"], HEADERS["lambda-runtime-aws-tenant-id"])
    ours = _context()
    names = [name for name in vars(theirs) if not name.startswith("_")]
    assert "aws_request_id" in names and "identity" in names  # the comparison compares something
    for name in names:
        assert hasattr(ours, name), name
        value = getattr(theirs, name)
        if name == "identity":
            assert (ours.identity.cognito_identity_id, ours.identity.cognito_identity_pool_id) == (
                value.cognito_identity_id, value.cognito_identity_pool_id)
        elif name == "client_context":
            assert (ours.client_context.custom, ours.client_context.env) == (value.custom, value.env)
            for field in type(value.client).__slots__:
                assert getattr(ours.client_context.client, field) == getattr(value.client, field), field
        else:
            assert getattr(ours, name) == value, name
    assert callable(ours.get_remaining_time_in_millis)
    assert ours.get_remaining_time_in_millis() == theirs.get_remaining_time_in_millis() == 0


def test_repr_names_the_request():
    assert "8476a536-e9f4-11e8-9739-2dfe598c3fcd" in repr(_context())


def test_context_log_writes_one_tagged_line_as_awslambdaric_does(capsys):
    from bootstrap_sdk import logs

    saved = logs._sink
    logs.configure("Text", "")
    try:
        context = Context(Invocation({"lambda-runtime-aws-request-id": "req-7"}, b""), FunctionInfo())
        logs.set_request_id("req-7")
        context.log("payroll batch 12 done")
    finally:
        logs.set_request_id(None)
        logs._sink = saved
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and out.startswith("[INFO]\t") and out.endswith("\treq-7\tpayroll batch 12 done\n")


class _Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("no str")

    def __repr__(self) -> str:
        raise SystemExit("no repr either")


@pytest.mark.parametrize("kind, logged", [
    ("unprintable", "<unprintable _Unprintable object: str() raised RuntimeError>"),
    ("surrogate", "lone \\udcff surrogate"),
    ("bytes", "b'bytes'"),
])
def test_context_log_never_raises_and_never_loses_the_line(kind, logged):
    import io

    message = {"unprintable": _Unprintable, "surrogate": lambda: "lone \udcff surrogate",
               "bytes": lambda: b"bytes"}[kind]()
    from bootstrap_sdk import logs

    saved = logs._sink
    raw = io.BytesIO()
    stdout = io.TextIOWrapper(raw, encoding="utf-8", errors="strict", write_through=True)  # as strict as a real one
    logs._sink = logs.LogSink("Text", "", stdout)
    try:
        Context(Invocation({"lambda-runtime-aws-request-id": "req-8"}, b""), FunctionInfo()).log(message)
    finally:
        logs._sink = saved
    line = raw.getvalue().decode("utf-8")
    assert line.count("\n") == 1 and line.endswith("\t" + logged + "\n")
