"""A handler written for the managed Python runtime: it must behave the same under both."""


def handler(event, context):
    summary = {"echo": event, "kind": type(event).__name__}
    if isinstance(event, dict):
        summary["keys"] = sorted(event)
    elif isinstance(event, (list, str)):
        summary["length"] = len(event)
    elif isinstance(event, (int, float)) and not isinstance(event, bool):
        summary["doubled"] = event * 2
    summary["has_context"] = bool(context.aws_request_id) and context.function_name == "under-test"
    return summary
