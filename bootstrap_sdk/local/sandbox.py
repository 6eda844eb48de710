"""A Lambda-shaped root, without Docker: layers in /opt, the function in /var/task.

``lay_out`` extracts up to five layer zips (in order, later ones over earlier ones) and
the function zip into a fresh directory; ``Sandbox`` runs the real RIE chrooted into it,
in a private mount namespace, so the runtime finds exactly what Lambda would give it:

    /opt            the layers            /var/task   the function code
    /tmp            empty, 1777           /dev, /proc the host's (every Lambda host has them)
    /var/rapid/aws-lambda-rie             the RIE itself (Lambda's own init lives in /var/rapid)

and nothing else: no /usr, /lib or /bin, so a layer that leans on the build host's
libraries fails here as it would on Lambda. The RIE looks for /var/task/bootstrap, then
/opt/bootstrap, as Lambda does, with Lambda's default PATH and LD_LIBRARY_PATH.

Needs root (chroot and ``unshare --mount``), as Docker would.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path
from typing import IO, Dict, Mapping, Optional, Sequence

from ..packaging.checks import MAX_LAYERS, UNZIPPED_LIMIT, megabytes
from ..packaging.zipper import extract, unzipped_size
from .bind_exec import command_prefix
from .rie import Rie, find_rie

LAMBDA_PATH = "/usr/local/bin:/usr/bin/:/bin:/opt/bin"
LAMBDA_LD_LIBRARY_PATH = "/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib"
RIE_IN_ROOT = "/var/rapid/aws-lambda-rie"


class SandboxError(Exception):
    pass


def check_inputs(layers: Sequence[Path], function: Optional[Path]) -> int:
    """Lambda's own refusals, before anything is extracted; the total unzipped size."""
    if len(layers) > MAX_LAYERS:
        raise SandboxError("%d layers: a function can use at most %d" % (len(layers), MAX_LAYERS))
    total = 0
    for path in list(layers) + ([function] if function else []):
        if not path.is_file():
            raise SandboxError("%s: no such zip" % path)
        try:
            total += unzipped_size(path)
        except zipfile.BadZipFile as exc:
            raise SandboxError("%s is not a zip file (%s)" % (path, exc)) from None
    if total > UNZIPPED_LIMIT:
        raise SandboxError("function and layers unzip to %s, over Lambda's %s limit"
                           % (megabytes(total), megabytes(UNZIPPED_LIMIT)))
    return total


def make_root(root: Path) -> Path:
    for name in ("opt", "var/task", "var/rapid", "tmp", "dev", "proc"):
        (root / name).mkdir(parents=True, exist_ok=True)
    os.chmod(root, 0o755)
    os.chmod(root / "tmp", 0o1777)
    return root


def lay_out(root: Path, layers: Sequence[Path], function: Optional[Path]) -> Path:
    check_inputs(layers, function)
    make_root(root)
    for layer in layers:
        extract(layer, root / "opt")
    if function is not None:
        extract(function, root / "var" / "task")
    return root


def bootstrap_in(root: Path) -> str:
    for candidate in ("var/task/bootstrap", "opt/bootstrap"):
        if (root / candidate).is_file():
            if not os.access(root / candidate, os.X_OK):
                raise SandboxError("/%s is not executable: Lambda would fail with Runtime.InvalidEntrypoint"
                                   % candidate)
            return "/" + candidate
    raise SandboxError("neither /var/task/bootstrap nor /opt/bootstrap exists: Lambda would fail with "
                       "Runtime.InvalidEntrypoint")


def sandbox_env(env: Mapping[str, str]) -> Dict[str, str]:
    full = {"PATH": LAMBDA_PATH, "LD_LIBRARY_PATH": LAMBDA_LD_LIBRARY_PATH, "LAMBDA_TASK_ROOT": "/var/task",
            "LAMBDA_RUNTIME_DIR": "/var/runtime", "LANG": "en_US.UTF-8", "TZ": ":UTC"}
    full.update(env)
    return full


class Sandbox:
    """The RIE, chrooted into ``root``, serving invokes on a loopback port."""

    def __init__(self, root: Path, env: Optional[Mapping[str, str]] = None, log: Optional[IO[bytes]] = None,
                 rie: Optional[str] = None, port: int = 0) -> None:
        if os.geteuid() != 0:
            raise SandboxError("the local loop needs root: it chroots and bind-mounts in a private mount namespace")
        self.root = root.resolve()
        self.bootstrap = bootstrap_in(self.root)
        host_rie = rie or find_rie()
        wrapper = command_prefix([("/dev", str(self.root / "dev")), ("/proc", str(self.root / "proc")),
                                  (host_rie, str(self.root / RIE_IN_ROOT.lstrip("/")))],
                                 root=str(self.root), chdir="/var/task")
        self.rie = Rie([], env=sandbox_env(env or {}), log=log, rie=RIE_IN_ROOT, wrapper=wrapper,
                       cwd=str(Path(__file__).resolve().parents[2]), port=port)

    def start(self) -> "Sandbox":
        self.rie.start()
        return self

    def stop(self) -> None:
        self.rie.stop()

    def __enter__(self) -> "Sandbox":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
