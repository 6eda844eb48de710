"""Registers a shutdown hook that records that it ran (path from the environment)."""
import os

from bootstrap_sdk import on_shutdown


@on_shutdown
def record():
    with open(os.environ["HOOK_MARKER"], "w") as handle:
        handle.write("hook ran in %d" % os.getpid())


def handler(event, context):
    return {"pid": os.getpid()}
