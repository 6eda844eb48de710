"""``python -m bootstrap_sdk.local.jail SPEC_JSON -- COMMAND ...``: run COMMAND as Lambda runs code.

Started as root by ``Sandbox``. This process stays outside as the supervisor; its child
becomes process 1 of a new PID namespace and, in a private mount namespace:

- binds the Lambda-shaped root onto itself and remounts it read-only (``/opt``,
  ``/var/task`` and everything else), with ``/tmp`` a fresh, sized file system (an ext4
  image on a loop device when the spec names one, else a tmpfs), a minimal ``/dev`` (null,
  zero, full, random, urandom and the stdio links) and its own ``/proc``;
- waits until the supervisor has put it in the sandbox's cgroup (memory cap, at most
  1,024 processes; done in parallel with the mounts), limits open files to 1,024 (as
  Lambda does), chroots, changes to ``/var/task``, drops to an unprivileged
  uid/gid with no supplementary groups (so no capabilities), sets ``no_new_privs`` and a
  parent-death signal, then execs COMMAND (the RIE).

When process 1 ends, the kernel kills everything else in its PID namespace: a daemon the
function started cannot outlive the sandbox, and the mounts vanish with the namespace.
The supervisor forwards SIGTERM, SIGINT and SIGHUP as SIGTERM to process 1, kills it
after ``stop_seconds`` if it lingers, and dies with its own parent (parent-death signal),
so a killed ``run-lambda-local`` leaves nothing running. No shell anywhere.
"""

from __future__ import annotations

import json
import os
import resource
import select
import signal
import sys
from typing import Any, Dict, List, NoReturn

from . import syscalls as sc

DEVICES = ("null", "zero", "full", "random", "urandom")
DEV_LINKS = {"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1",
             "stderr": "/proc/self/fd/2"}
MOUNT_POINTS = ("opt", "var/task", "var/rapid", "tmp", "dev", "proc")
RIE_IN_ROOT = "var/rapid/aws-lambda-rie"
USERLAND = ("usr", "bin", "lib", "lib64", "sbin")


def command(spec: Dict[str, Any], argv: List[str]) -> List[str]:
    """The argv that runs ``argv`` in the jail described by ``spec``."""
    return [sys.executable, "-m", "bootstrap_sdk.local.jail", json.dumps(spec, sort_keys=True), "--"] + list(argv)


class UnsafeRoot(Exception):
    """A root whose mount points are symlinks: preparing it would change the host."""


def prepare_root(root: str, rie: str, userland: bool = False) -> None:
    """Mount points the jail needs, made while the root is still writable (as root, on the
    host). A root handed in from outside may hold symlinks where the mount points go: each
    is refused, never followed, as a chmod or a mount through it would land on the host."""
    if os.path.islink(root) or not os.path.isdir(root):
        raise UnsafeRoot("%s is not a directory" % root)
    for name in MOUNT_POINTS + ("var",) + (USERLAND if userland else ()):
        path = root
        for part in name.split("/"):
            path = os.path.join(path, part)
            if os.path.islink(path) and not (userland and name in USERLAND and os.path.islink("/" + name)):
                raise UnsafeRoot("%s is a symlink: a sandbox root holds real directories there" % path)
    for name in MOUNT_POINTS:
        os.makedirs(os.path.join(root, name), exist_ok=True)
    for name in USERLAND if userland else ():
        source, target = "/" + name, os.path.join(root, name)
        if os.path.lexists(target) or not os.path.lexists(source):
            continue
        if os.path.islink(source):  # merged /usr: bin -> usr/bin
            os.symlink(os.readlink(source), target)
        else:
            os.mkdir(target, 0o755)
    for name in ("", "opt", "var", "var/task", "var/rapid", "dev", "proc"):
        os.chmod(os.path.join(root, name), 0o755)
    os.chmod(os.path.join(root, "tmp"), 0o1777)
    target = os.path.join(root, RIE_IN_ROOT)
    if not os.path.lexists(target):
        os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, 0o755))
    elif os.path.islink(target) or not os.path.isfile(target):
        raise UnsafeRoot("%s is not a plain file: the RIE is mounted there" % target)
    if not os.path.isfile(rie):
        raise FileNotFoundError("aws-lambda-rie not found at %s" % rie)


def _mount_tmp(root: str, spec: Dict[str, Any]) -> None:
    tmp = os.path.join(root, "tmp")
    image = spec.get("tmp_image")
    if image:
        # An ext4 image, as Lambda's /tmp is a disk: what a function writes there is page
        # cache, not memory charged to the function's cgroup as a tmpfs would be.
        sc.mount_image(image, tmp, "ext4", sc.MS_NOSUID | sc.MS_NODEV)
        os.unlink(image)  # the loop device holds it; gone from the host once unmounted
        lost = os.path.join(tmp, "lost+found")
        if os.path.isdir(lost):
            os.rmdir(lost)
        os.chmod(tmp, 0o1777)
    else:
        sc.mount("tmpfs", tmp, "tmpfs", sc.MS_NOSUID | sc.MS_NODEV, "size=%dm,mode=1777" % spec["tmp_mb"])


def _mount_dev(root: str) -> None:
    dev = os.path.join(root, "dev")
    sc.mount("tmpfs", dev, "tmpfs", sc.MS_NOSUID, "size=64k,mode=755")
    for name in DEVICES:
        node = os.path.join(dev, name)
        os.close(os.open(node, os.O_WRONLY | os.O_CREAT, 0o666))
        sc.mount("/dev/" + name, node, None, sc.MS_BIND)
    for name, target in DEV_LINKS.items():
        os.symlink(target, os.path.join(dev, name))
    sc.mount(None, dev, None, sc.MS_REMOUNT | sc.MS_RDONLY | sc.MS_NOSUID, "size=64k,mode=755")


def _enter(spec: Dict[str, Any], argv: List[str], alive: int) -> NoReturn:
    """Process 1 of the new PID namespace: build the root's mounts, drop privileges, exec."""
    root = spec["root"]
    sc.mount(root, root, None, sc.MS_BIND | sc.MS_REC)
    rie = os.path.join(root, RIE_IN_ROOT)
    sc.mount(spec["rie"], rie, None, sc.MS_BIND)
    sc.mount(None, rie, None, sc.MS_REMOUNT | sc.MS_BIND | sc.MS_RDONLY | sc.MS_NOSUID | sc.MS_NODEV)
    if spec.get("userland"):
        for name in USERLAND:
            source, target = "/" + name, os.path.join(root, name)
            if os.path.isdir(source) and os.path.isdir(target) and not os.path.islink(source):
                sc.mount(source, target, None, sc.MS_BIND | sc.MS_REC)
                sc.mount(None, target, None, sc.MS_REMOUNT | sc.MS_BIND | sc.MS_RDONLY | sc.MS_NOSUID)
    _mount_tmp(root, spec)
    _mount_dev(root)
    sc.mount("proc", os.path.join(root, "proc"), "proc", sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC)
    sc.mount(None, root, None, sc.MS_REMOUNT | sc.MS_BIND | sc.MS_RDONLY | sc.MS_NOSUID | sc.MS_NODEV)
    if os.read(alive, 1) != b"+":  # the supervisor has put us in the memory cgroup (or died)
        os._exit(1)
    os.chroot(root)
    os.chdir(spec.get("chdir", "/var/task"))
    uid, gid = spec["uid"], spec["gid"]
    if spec.get("max_open_files"):
        resource.setrlimit(resource.RLIMIT_NOFILE, (spec["max_open_files"], spec["max_open_files"]))
    sc.drop_capability_bounding_set()
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)  # from uid 0 to another: every capability is dropped
    sc.prctl(sc.PR_SET_NO_NEW_PRIVS, 1)
    sc.prctl(sc.PR_SET_PDEATHSIG, signal.SIGKILL)  # set after setresuid, which clears it
    if select.select([alive], [], [], 0)[0]:  # the supervisor died before the line above
        os._exit(1)
    os.close(alive)
    os.execv(argv[0], argv)


def main(args: List[str]) -> int:
    if len(args) < 3 or args[1] != "--":
        raise SystemExit("usage: python -m bootstrap_sdk.local.jail SPEC_JSON -- COMMAND [ARGS...]")
    spec, argv = json.loads(args[0]), args[2:]
    sc.prctl(sc.PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != spec.get("parent", os.getppid()):
        return 1  # our parent is already gone
    sc.unshare(sc.CLONE_NEWNS | sc.CLONE_NEWPID | sc.CLONE_NEWIPC)
    sc.mount(None, "/", None, sc.MS_REC | sc.MS_PRIVATE)  # nothing we mount reaches the host
    alive, keep = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(keep)
        try:
            _enter(spec, argv, alive)
        except BaseException as exc:  # noqa: B036 - report any failure, never return into the supervisor
            print("sandbox: cannot start %s: %s" % (argv[0], exc), file=sys.stderr, flush=True)
        os._exit(127)
    os.close(alive)
    # Joining a cgroup waits for an RCU grace period (~10 ms on cgroup v1): done here,
    # while the child builds its mounts, and before it may run anything of the function.
    try:
        for procs in spec.get("cgroup_procs", []):
            with open(procs, "w") as handle:
                handle.write(str(child))
    except OSError as exc:
        print("sandbox: cannot join the cgroup: %s" % exc, file=sys.stderr, flush=True)
        _kill(child)
    os.write(keep, b"+")
    return _supervise(child, float(spec.get("stop_seconds", 10)))


def _supervise(child: int, stop_seconds: float) -> int:
    def forward(signum: int, frame: object) -> None:
        try:
            os.kill(child, signal.SIGTERM)
        except ProcessLookupError:
            pass
        signal.signal(signal.SIGALRM, lambda *_: _kill(child))
        signal.setitimer(signal.ITIMER_REAL, stop_seconds)

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, forward)
    _, status = os.waitpid(child, 0)
    code = os.waitstatus_to_exitcode(status)
    return code if code >= 0 else 128 - code


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
