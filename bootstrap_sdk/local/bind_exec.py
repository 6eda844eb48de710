"""``python -m bootstrap_sdk.local.bind_exec [--bind SRC DST]... -- COMMAND ...``

Bind-mounts each SRC onto DST, then execs COMMAND. Run it under ``unshare --mount
--propagation private`` so the mounts exist only for COMMAND and vanish with it. The
RIE's multi-concurrency mode looks for a bootstrap only at /var/task/bootstrap and
/opt/bootstrap, and needs root to start the runtime as uid 993: this is how a test
points it at a runtime. (The Lambda-shaped sandbox itself is ``jail``.) No shell: every
path stays one argv element. Needs root.
"""

from __future__ import annotations

import os
import sys
from typing import List, Sequence, Tuple

from . import syscalls

USAGE = "usage: bind_exec [--bind SRC DST]... -- COMMAND [ARGS...]"


def command_prefix(binds: Sequence[Tuple[str, str]]) -> List[str]:
    """The argv that runs a command with these mounts in a private mount namespace
    (append the command itself)."""
    argv = ["unshare", "--mount", "--propagation", "private", "--", sys.executable, "-m",
            "bootstrap_sdk.local.bind_exec"]
    for source, target in binds:
        argv += ["--bind", source, target]
    return argv + ["--"]


def parse(argv: List[str]) -> Tuple[List[Tuple[str, str]], List[str]]:
    binds: List[Tuple[str, str]] = []
    i = 0
    while i < len(argv) and argv[i] != "--":
        if argv[i] == "--bind" and i + 2 < len(argv):
            binds.append((argv[i + 1], argv[i + 2]))
            i += 3
        else:
            raise SystemExit(USAGE)
    command = argv[i + 1:]
    if not command:
        raise SystemExit("bind_exec: no command after --")
    return binds, command


def main(argv: List[str]) -> None:
    binds, command = parse(argv)
    for source, target in binds:
        if os.path.isdir(source):
            os.makedirs(target, exist_ok=True)
        else:  # a file is mounted onto a file
            os.makedirs(os.path.dirname(target), exist_ok=True)
            if not os.path.exists(target):
                open(target, "a").close()
        syscalls.mount(source, target, None, syscalls.MS_BIND)
    os.execvp(command[0], command)


if __name__ == "__main__":
    main(sys.argv[1:])
