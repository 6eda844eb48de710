"""Reports what the runtime gave the handler."""
import os


def handler(event, context):
    identity = context.identity
    client_context = context.client_context
    return {
        "aws_request_id": context.aws_request_id,
        "function_name": context.function_name,
        "function_version": context.function_version,
        "invoked_function_arn": context.invoked_function_arn,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "log_group_name": context.log_group_name,
        "log_stream_name": context.log_stream_name,
        "tenant_id": context.tenant_id,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "cognito_identity_id": identity.cognito_identity_id if identity else None,
        "client_custom": client_context.custom if client_context else None,
        "client_env": client_context.env if client_context else None,
        "trace_env": os.environ.get("_X_AMZN_TRACE_ID"),
        "pid": os.getpid(),
    }
