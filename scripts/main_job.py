#!/usr/bin/env python3
"""The main job: run the example function under the real RIE and invoke it.

Starts examples/python/handler.py behind this runtime's bootstrap (python -IS, as a
layer runs it) under aws-lambda-rie on loopback, sends sample events, good and bad,
and prints each request with its response.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bootstrap_sdk.local.rie import Rie, write_bootstrap  # noqa: E402

EXAMPLE = ROOT / "examples" / "python"
EVENTS = [
    ("a greeting", b'{"name": "COBOL"}'),
    ("no name given", b"{}"),
    ("an event that is not JSON", b"{not json"),
    ("a handler error", b'{"name": 42}'),
]


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        bootstrap = write_bootstrap(Path(tmp) / "bootstrap", python=os.path.realpath(sys.executable),
                                    sys_path=[str(ROOT)])
        log_path = Path(tmp) / "rie.log"
        env = {"_HANDLER": "handler.handler", "LAMBDA_TASK_ROOT": str(EXAMPLE),
               "AWS_LAMBDA_FUNCTION_NAME": "example", "AWS_LAMBDA_FUNCTION_TIMEOUT": "10"}
        failures = 0
        with open(log_path, "wb") as log, Rie([str(bootstrap)], env=env, cwd=str(EXAMPLE), log=log) as rie:
            print("aws-lambda-rie listening on 127.0.0.1:%d, runtime API on 127.0.0.1:%d"
                  % (rie.invoke_port, rie.api_port))
            for title, event in EVENTS:
                result = rie.invoke(event)
                print("\n== %s" % title)
                print("request : %s" % event.decode())
                try:
                    shown = json.dumps(result.json(), indent=2)
                except ValueError:
                    shown = result.body.decode("utf-8", "replace")
                print("response: HTTP %d in %.1f ms\n%s" % (result.status, result.seconds * 1000, shown))
                failures += result.status != 200
        print("\n== runtime log (stdout of the runtime, as Lambda would capture it)")
        print("\n".join(line for line in log_path.read_text().splitlines() if not line.startswith("time=")
                        and "(rapid)" not in line))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
