"""``python -m bootstrap_sdk.local.bind_exec --bind SRC DST ... -- COMMAND ...``

Bind-mounts each SRC onto DST, then execs COMMAND: run it under
``unshare --mount --propagation private`` so the mounts exist only for COMMAND and are
gone when it ends. The RIE's multi-concurrency mode looks for the bootstrap only at
Lambda's own paths (/var/task/bootstrap, /opt/bootstrap), so this is how it is pointed
at a runtime without touching the host. No shell: every path stays one argv element.
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import List, Tuple


def parse(argv: List[str]) -> Tuple[List[Tuple[str, str]], List[str]]:
    binds: List[Tuple[str, str]] = []
    i = 0
    while i < len(argv) and argv[i] != "--":
        if argv[i] != "--bind" or i + 2 >= len(argv):
            raise SystemExit("usage: bind_exec --bind SRC DST [--bind SRC DST ...] -- COMMAND [ARGS...]")
        binds.append((argv[i + 1], argv[i + 2]))
        i += 3
    command = argv[i + 1:]
    if not command:
        raise SystemExit("bind_exec: no command after --")
    return binds, command


def main(argv: List[str]) -> None:
    binds, command = parse(argv)
    for source, target in binds:
        os.makedirs(target, exist_ok=True)
        subprocess.run(["mount", "--bind", source, target], check=True)
    os.execvp(command[0], command)


if __name__ == "__main__":
    main(sys.argv[1:])
