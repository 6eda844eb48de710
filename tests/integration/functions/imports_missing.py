import no_such_module_anywhere  # noqa: F401


def handler(event, context):
    return 1
