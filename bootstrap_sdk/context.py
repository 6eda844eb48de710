"""What one invoke is: the raw invocation from ``/next`` and the handler's context.

``Context`` has the attributes of the managed Python runtime's context object
(awslambdaric's ``LambdaContext``), so handlers written for it run unchanged. The
runtime's hot path avoids attrs here: these are plain ``__slots__`` classes.
"""

from __future__ import annotations

import time

from . import json_text
from .errors import CONTEXT_UNMARSHAL_ERROR, FunctionError
from .settings import whole_number

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Dict, Optional

# When /next gives no usable deadline, the invoke is assumed to have Lambda's longest
# timeout (docs/facts.md#lambdas-limits) from its receipt: nothing in the environment
# tells the function's own timeout (docs/facts.md#the-execution-environment).
UNKNOWN_DEADLINE_BUDGET_MS = 900_000
# Epoch milliseconds have 13 digits until the year 2286; fewer than 10**12 (2001) is not a
# time in milliseconds (seconds, most likely), and over 16 digits is not a time at all.
_EPOCH_MS_FLOOR = 10 ** 12
_DEADLINE_DIGITS = 16


def _deadline(text: Optional[str]) -> Optional[int]:
    """The deadline in epoch milliseconds, or None if ``text`` is not a plausible one."""
    if text is None or len(text) > _DEADLINE_DIGITS or not whole_number(text):
        return None
    value = int(text)
    return value if value >= _EPOCH_MS_FLOOR else None


class Invocation:
    """One event as ``GET /runtime/invocation/next`` delivered it.

    ``deadline_known`` is False when ``Lambda-Runtime-Deadline-Ms`` was missing or not a
    plausible epoch time in milliseconds; ``deadline_ms`` is then the receipt time plus
    ``UNKNOWN_DEADLINE_BUDGET_MS``, and ``deadline_header`` keeps what was sent.
    """

    __slots__ = ("request_id", "deadline_ms", "deadline_known", "deadline_header", "invoked_function_arn",
                 "trace_id", "client_context", "cognito_identity", "tenant_id", "body")

    def __init__(self, headers: Dict[str, str], body: bytes) -> None:
        get = headers.get
        self.request_id = get("lambda-runtime-aws-request-id", "")
        self.deadline_header = get("lambda-runtime-deadline-ms")
        deadline = _deadline(self.deadline_header)
        self.deadline_known = deadline is not None
        self.deadline_ms = deadline if deadline is not None else (
            int(time.time() * 1000) + UNKNOWN_DEADLINE_BUDGET_MS)
        self.invoked_function_arn = get("lambda-runtime-invoked-function-arn")
        self.trace_id = get("lambda-runtime-trace-id")
        self.client_context = get("lambda-runtime-client-context")
        self.cognito_identity = get("lambda-runtime-cognito-identity")
        self.tenant_id = get("lambda-runtime-aws-tenant-id")
        self.body = body


class FunctionInfo:
    """The function's own settings (``AWS_LAMBDA_FUNCTION_NAME`` and the like), read at init."""

    __slots__ = ("function_name", "function_version", "memory_limit_in_mb",
                 "log_group_name", "log_stream_name")

    def __init__(self, function_name: Optional[str] = None, function_version: Optional[str] = None,
                 memory_limit_in_mb: Optional[str] = None, log_group_name: Optional[str] = None,
                 log_stream_name: Optional[str] = None) -> None:
        self.function_name = function_name
        self.function_version = function_version
        # A string, as in the managed runtime (it reads the variable as is).
        self.memory_limit_in_mb = memory_limit_in_mb
        self.log_group_name = log_group_name
        self.log_stream_name = log_stream_name


class CognitoIdentity:
    __slots__ = ("cognito_identity_id", "cognito_identity_pool_id")

    def __init__(self, data: Optional[Dict[str, Any]] = None) -> None:
        data = data or {}
        self.cognito_identity_id = data.get("cognitoIdentityId")
        self.cognito_identity_pool_id = data.get("cognitoIdentityPoolId")

    def __repr__(self) -> str:
        return "CognitoIdentity(cognito_identity_id=%r, cognito_identity_pool_id=%r)" % (
            self.cognito_identity_id, self.cognito_identity_pool_id)


class Client:
    __slots__ = ("installation_id", "app_title", "app_version_name", "app_version_code", "app_package_name")

    def __init__(self, data: Dict[str, Any]) -> None:
        for name in self.__slots__:
            setattr(self, name, data.get(name))

    def __repr__(self) -> str:
        return "Client(%s)" % ", ".join("%s=%r" % (n, getattr(self, n)) for n in self.__slots__)


class ClientContext:
    __slots__ = ("client", "custom", "env")

    def __init__(self, data: Dict[str, Any]) -> None:
        client = data.get("client")
        self.client = Client(client) if isinstance(client, dict) else None
        self.custom = data.get("custom")
        self.env = data.get("env")

    def __repr__(self) -> str:
        return "ClientContext(client=%r, custom=%r, env=%r)" % (self.client, self.custom, self.env)


def _parse_json_header(value: Optional[str], what: str) -> Optional[Dict[str, Any]]:
    if not value:
        return None
    try:
        parsed = json_text.loads(value)
    except (ValueError, RecursionError) as exc:
        raise FunctionError("Unable to parse %s JSON: %s" % (what, exc), CONTEXT_UNMARSHAL_ERROR) from None
    if parsed is not None and not isinstance(parsed, dict):
        raise FunctionError("Unable to parse %s JSON: expected an object, got %s" % (what, type(parsed).__name__),
                            CONTEXT_UNMARSHAL_ERROR)
    return parsed


class Context:
    """The second argument of every handler: this invoke and this function."""

    __slots__ = ("aws_request_id", "invoked_function_arn", "trace_id", "tenant_id",
                 "client_context", "identity", "function_name", "function_version",
                 "memory_limit_in_mb", "log_group_name", "log_stream_name", "deadline_ms",
                 "deadline_known")

    def __init__(self, invocation: Invocation, function: FunctionInfo) -> None:
        self.aws_request_id = invocation.request_id
        self.invoked_function_arn = invocation.invoked_function_arn
        self.trace_id = invocation.trace_id
        self.tenant_id = invocation.tenant_id
        self.deadline_ms = invocation.deadline_ms
        # False: Lambda gave no usable deadline, and deadline_ms is an assumed one (see Invocation).
        self.deadline_known = invocation.deadline_known
        client_context = _parse_json_header(invocation.client_context, "Client Context")
        self.client_context = ClientContext(client_context) if client_context is not None else None
        self.identity = CognitoIdentity(_parse_json_header(invocation.cognito_identity, "Cognito Identity"))
        self.function_name = function.function_name
        self.function_version = function.function_version
        self.memory_limit_in_mb = function.memory_limit_in_mb
        self.log_group_name = function.log_group_name
        self.log_stream_name = function.log_stream_name

    def log(self, msg: Any) -> None:
        """Write ``msg`` to the function's log, as awslambdaric's ``context.log`` does.

        Never raises: an object whose ``str()`` fails is logged as a placeholder naming it.
        """
        from . import logs

        logs.sink().log(20, logs.safe_text(msg), logger="context")

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before Lambda's deadline for this invoke (never negative).

        With ``deadline_known`` False, the time left of the assumed 15 minutes.
        """
        remaining = self.deadline_ms - int(time.time() * 1000)
        return remaining if remaining > 0 else 0

    def __repr__(self) -> str:
        return "Context(%s)" % ", ".join("%s=%r" % (n, getattr(self, n)) for n in self.__slots__)
