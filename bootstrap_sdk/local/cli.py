"""``run-lambda-local``: run layers and a function as Lambda lays them out, under the RIE.

Exit codes: 0 the invoke answered (or serving ended); 1 the invoke answered with a
function error; 2 bad command line; 3 Lambda would refuse these inputs (more than five
layers, over 250 MB unzipped, no bootstrap) or this machine cannot sandbox (not root).
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional

from ..packaging.zipper import UnsafeZip
from .sandbox import Sandbox, SandboxError, lay_out

EPILOG = """\
The root holds /opt (the layers, extracted in order), /var/task (the function), an
empty /tmp, the host's /dev and /proc, and the RIE at /var/rapid; nothing else. The
RIE runs chrooted into it, in a private mount namespace (unshare --mount), with Lambda's
default PATH and LD_LIBRARY_PATH, and finds /var/task/bootstrap or /opt/bootstrap as
Lambda does. Needs root, as Docker would.

examples:
  run-lambda-local --layer build/runtime.zip --function build/function.zip \\
      --handler app.handler --event event.json
  echo '{"name": "COBOL"}' | run-lambda-local --layer build/cobol.zip --function build/payroll.zip
  run-lambda-local --layer build/runtime.zip --function build/function.zip --serve --port 9000
"""


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="run-lambda-local", formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=EPILOG,
                                description="Lay out up to five layer zips and a function zip as Lambda does, run "
                                            "them under the real Runtime Interface Emulator, and invoke them.")
    p.add_argument("--layer", type=Path, action="append", default=[], metavar="ZIP",
                   help="a layer zip, extracted into /opt in the order given (at most 5)")
    p.add_argument("--function", type=Path, metavar="ZIP", help="the function zip, extracted into /var/task")
    p.add_argument("--handler", help="_HANDLER (default: none; a bootstrap may not need one)")
    p.add_argument("--env", action="append", default=[], metavar="NAME=VALUE", help="function environment")
    p.add_argument("--timeout", type=int, default=30, help="function timeout in seconds (default 30)")
    p.add_argument("--memory", type=int, default=512, help="memory size in MB (default 512)")
    p.add_argument("--event", metavar="FILE", help="invoke once with this event ('-': stdin; default: stdin "
                                                   "unless --serve)")
    p.add_argument("--serve", action="store_true", help="keep serving invokes until interrupted")
    p.add_argument("--port", type=int, default=0, help="with --serve: the invoke port on 127.0.0.1")
    p.add_argument("--root", type=Path, help="lay the root out here (default: a temporary directory)")
    p.add_argument("--keep-root", action="store_true", help="do not delete the root afterwards")
    p.add_argument("--quiet", action="store_true", help="do not print the function's log to stderr")
    return p


def _env(args: argparse.Namespace) -> Dict[str, str]:
    env = {"AWS_LAMBDA_FUNCTION_TIMEOUT": str(args.timeout), "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(args.memory),
           "AWS_LAMBDA_FUNCTION_NAME": "local", "AWS_REGION": "us-east-1"}
    if args.handler:
        env["_HANDLER"] = args.handler
    for item in args.env:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise SandboxError("--env %r: expected NAME=VALUE" % item)
        env[name] = value
    return env


def _print_log(path: Path, already: int) -> int:
    text = path.read_text(errors="replace")
    for line in text[already:].splitlines():
        if "(rapid)" not in line and not line.startswith("time="):
            print(line, file=sys.stderr)
    return len(text)


def main(argv: Optional[List[str]] = None) -> int:
    args = parser().parse_args(argv)
    root = args.root or Path(tempfile.mkdtemp(prefix="lambda-root-"))
    log_path = Path(tempfile.mkstemp(prefix="run-lambda-local-", suffix=".log")[1])
    try:
        env = _env(args)
        lay_out(root, args.layer, args.function)
        with open(log_path, "wb") as log:
            with Sandbox(root, env, log=log, port=args.port if args.serve else 0) as sandbox:
                if args.serve:
                    return _serve(sandbox, log_path, args.quiet)
                event = sys.stdin.buffer.read() if args.event in (None, "-") else Path(args.event).read_bytes()
                result = sandbox.rie.invoke(event)
                time.sleep(0.05)  # let the runtime's last log lines land
        if not args.quiet:
            _print_log(log_path, 0)
        sys.stdout.buffer.write(result.body + (b"" if result.body.endswith(b"\n") else b"\n"))
        sys.stdout.flush()
        return 1 if result.status != 200 or _is_error(result.body) else 0
    except (SandboxError, UnsafeZip) as exc:
        print("run-lambda-local: error: %s" % exc, file=sys.stderr)
        return 3
    finally:
        log_path.unlink()
        if not args.keep_root and args.root is None:
            shutil.rmtree(root, ignore_errors=True)


def _is_error(body: bytes) -> bool:
    try:
        value = json.loads(body)
    except ValueError:
        return False
    return isinstance(value, dict) and "errorType" in value and ("errorMessage" in value or len(value) <= 4)


def _serve(sandbox: Sandbox, log_path: Path, quiet: bool) -> int:
    print("serving: curl -d '{}' http://127.0.0.1:%d/2015-03-31/functions/function/invocations"
          % sandbox.rie.invoke_port, file=sys.stderr, flush=True)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    seen = 0
    try:
        while not stop and sandbox.rie.process is not None and sandbox.rie.process.poll() is None:
            time.sleep(0.2)
            if not quiet:
                seen = _print_log(log_path, seen)
    except KeyboardInterrupt:
        pass
    return 0
