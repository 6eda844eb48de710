"""Reports which modules the runtime process has loaded by the first invoke."""
import sys


def handler(event, context):
    return sorted(sys.modules)
