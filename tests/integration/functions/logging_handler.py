"""Logs through the standard logging module at several levels."""
import logging

logger = logging.getLogger("app")
logger.setLevel(logging.DEBUG)


def handler(event, context):
    logger.debug("debug line")
    logger.info("info line %s", event.get("n"))
    logger.warning("warning line\nsecond line")
    logger.error("error line")
    return "logged"
