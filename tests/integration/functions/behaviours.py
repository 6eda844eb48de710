"""Handlers whose behaviour the event chooses: raise, sleep, stream, exit, oversize."""
import os
import sys
import time


def raise_named(event, context):
    """Raise an exception of the class named in the event, with the event's message."""
    exc_type = type(event["type"], (Exception,), {})
    raise exc_type(event["message"])


def sleep(event, context):
    time.sleep(event.get("seconds", 0))
    return {"slept": event.get("seconds", 0), "pid": os.getpid()}


def big(event, context):
    return b"x" * event["bytes"]


def stream(event, context):
    for i in range(event.get("chunks", 3)):
        yield "chunk-%d;" % i
    if event.get("fail"):
        raise RuntimeError("failed mid-stream")


def exit_now(event, context):
    sys.exit(event.get("code", 3))


def interrupt(event, context):
    """What a handler may raise that is no Exception at all, and a message no UTF-8 holds."""
    if event.get("surrogate"):
        raise ValueError("ledger \udcff unreadable")
    raise KeyboardInterrupt("stop")


def unserialisable(event, context):
    return {"when": object()}


def decimal(event, context):
    from decimal import Decimal

    return {"amount": Decimal("12345678901234567890.123456789"), "list": [Decimal("-0.10")]}


def rendezvous(event, context):
    """Wait until `count` invokes have arrived in `directory`: proves they run at once."""
    directory = event["directory"]
    open(os.path.join(directory, context.aws_request_id), "w").close()
    deadline = time.time() + event.get("seconds", 20)
    while len(os.listdir(directory)) < event["count"]:
        if time.time() > deadline:
            raise TimeoutError("only %d of %d invokes arrived" % (len(os.listdir(directory)), event["count"]))
        time.sleep(0.01)
    return {"pid": os.getpid(), "trace": os.environ.get("_X_AMZN_TRACE_ID")}
