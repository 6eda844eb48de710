"""bootstrap-sdk: AWS Lambda custom runtimes in Python.

>>> from bootstrap_sdk import run
>>> def handler(event, context): return {"ok": True}
>>> run(handler)  # serves invokes until Lambda shuts the environment down

``python -m bootstrap_sdk`` runs the handler ``_HANDLER`` names instead.
"""

from .context import Context
from .errors import FunctionError
from .entry import run
from .payload import raw_event
from .shutdown import on_shutdown

__all__ = ["Context", "FunctionError", "on_shutdown", "raw_event", "run"]
__version__ = "0.1.0"
