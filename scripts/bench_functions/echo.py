"""The benchmark's handler: no imports, so each runtime pays only for itself."""


def handler(event, context):
    return event
