"""A small Python handler: greets, echoes, and shows what the context carries."""

import logging

logger = logging.getLogger(__name__)


def handler(event, context):
    name = event.get("name", "world") if isinstance(event, dict) else "world"
    logger.info("greeting %s", name)
    return {
        "greeting": "Hello, %s!" % name,
        "request_id": context.aws_request_id,
        "function_name": context.function_name,
        "remaining_ms": context.get_remaining_time_in_millis(),
    }
