"""Handlers that give their input back."""
from bootstrap_sdk import raw_event


def json_echo(event, context):
    return event


@raw_event
def raw_echo(event, context):
    return event
