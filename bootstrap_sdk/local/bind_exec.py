"""``python -m bootstrap_sdk.local.bind_exec [--bind SRC DST]... [--chroot DIR] [--chdir DIR] -- COMMAND ...``

Bind-mounts each SRC onto DST, optionally enters DIR as the new root and changes
directory, then execs COMMAND. Run it under ``unshare --mount --propagation private`` so
the mounts exist only for COMMAND and vanish with it. This is how the local loop builds a
Lambda-shaped root without Docker, and how the RIE's multi-concurrency mode (which looks
for a bootstrap only at /var/task/bootstrap, /opt/bootstrap) is pointed at a runtime.
No shell: every path stays one argv element. Needs root.
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import List, Optional, Sequence, Tuple

USAGE = "usage: bind_exec [--bind SRC DST]... [--chroot DIR] [--chdir DIR] -- COMMAND [ARGS...]"


def command_prefix(binds: Sequence[Tuple[str, str]], root: Optional[str] = None,
                   chdir: Optional[str] = None) -> List[str]:
    """The argv that runs a command with these mounts in a private mount namespace
    (append the command itself)."""
    argv = ["unshare", "--mount", "--propagation", "private", "--", sys.executable, "-m",
            "bootstrap_sdk.local.bind_exec"]
    for source, target in binds:
        argv += ["--bind", source, target]
    if root is not None:
        argv += ["--chroot", root]
    if chdir is not None:
        argv += ["--chdir", chdir]
    return argv + ["--"]


def parse(argv: List[str]) -> Tuple[List[Tuple[str, str]], Optional[str], Optional[str], List[str]]:
    binds: List[Tuple[str, str]] = []
    root = chdir = None
    i = 0
    while i < len(argv) and argv[i] != "--":
        if argv[i] == "--bind" and i + 2 < len(argv):
            binds.append((argv[i + 1], argv[i + 2]))
            i += 3
        elif argv[i] in ("--chroot", "--chdir") and i + 1 < len(argv):
            if argv[i] == "--chroot":
                root = argv[i + 1]
            else:
                chdir = argv[i + 1]
            i += 2
        else:
            raise SystemExit(USAGE)
    command = argv[i + 1:]
    if not command:
        raise SystemExit("bind_exec: no command after --")
    return binds, root, chdir, command


def main(argv: List[str]) -> None:
    binds, root, chdir, command = parse(argv)
    for source, target in binds:
        if os.path.isdir(source):
            os.makedirs(target, exist_ok=True)
        else:  # a file is mounted onto a file
            os.makedirs(os.path.dirname(target), exist_ok=True)
            if not os.path.exists(target):
                open(target, "a").close()
        subprocess.run(["mount", "--bind", source, target], check=True)
    if root is not None:
        os.chroot(root)
        os.chdir("/")
    if chdir is not None:
        os.chdir(chdir)
    os.execvp(command[0], command)


if __name__ == "__main__":
    main(sys.argv[1:])
