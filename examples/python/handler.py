"""A small Python handler: greets, and shows what the context carries."""

import logging

logger = logging.getLogger(__name__)
logger.setLevel(logging.INFO)


def handler(event, context):
    name = event.get("name", "world")
    if not isinstance(name, str):
        raise TypeError("name must be a string, got %s" % type(name).__name__)
    logger.info("greeting %s", name)
    return {
        "greeting": "Hello, %s!" % name,
        "request_id": context.aws_request_id,
        "function_name": context.function_name,
        "remaining_ms": context.get_remaining_time_in_millis(),
    }
