"""The sandbox's cgroup: Lambda's memory size as a hard cap, its process limit, and what was used.

Works with the controllers the host offers: cgroup v2 (``memory.max``, ``memory.peak``,
``memory.events``, ``pids.max``: one directory) or v1 (``memory.limit_in_bytes``,
``memory.max_usage_in_bytes``, ``memory.oom_control`` and ``pids.max``: one directory
per hierarchy). Each directory is made below the one this process runs in, so it also
works inside a container or a delegated subtree. Swap is capped at zero where the host
has the knob: on Lambda a function past its memory is killed, never swapped.
"""

from __future__ import annotations

import os
import signal
import time
from typing import Dict, List, Optional, Tuple

MEMORY_KNOBS = {
    # version: (limit, swap limit, peak, events file, events key)
    1: ("memory.limit_in_bytes", "memory.memsw.limit_in_bytes", "memory.max_usage_in_bytes",
        "memory.oom_control", "oom_kill"),
    2: ("memory.max", "memory.swap.max", "memory.peak", "memory.events", "oom_kill"),
}


class CgroupUnavailable(Exception):
    """The host offers no such controller to this process."""


def _mounts() -> Dict[str, Tuple[int, str]]:
    """{'unified': (2, mount point), 'memory': (1, ...), 'pids': (1, ...)} from mountinfo."""
    found: Dict[str, Tuple[int, str]] = {}
    with open("/proc/self/mountinfo") as handle:
        for line in handle:
            fields = line.split()
            separator = fields.index("-")
            point, fstype, options = fields[4], fields[separator + 1], fields[separator + 3]
            if fstype == "cgroup2":
                found.setdefault("unified", (2, point))
            elif fstype == "cgroup":
                for controller in ("memory", "pids"):
                    if controller in options.split(","):
                        found.setdefault(controller, (1, point))
    return found


def _own_path(version: int, controller: str) -> str:
    with open("/proc/self/cgroup") as handle:
        for line in handle:
            _, controllers, path = line.rstrip("\n").split(":", 2)
            if (version == 2 and controllers == "") or (version == 1 and controller in controllers.split(",")):
                return path
    return "/"


def _parent(controller: str, mounts: Dict[str, Tuple[int, str]]) -> Tuple[int, str]:
    """(version, directory under which this process may make a cgroup with ``controller``)."""
    if "unified" in mounts:
        parent = os.path.join(mounts["unified"][1], _own_path(2, "").lstrip("/"))
        try:
            with open(os.path.join(parent, "cgroup.subtree_control")) as handle:
                enabled = handle.read().split()
            if controller not in enabled:
                with open(os.path.join(parent, "cgroup.subtree_control"), "w") as handle:
                    handle.write("+" + controller)
            return 2, parent
        except OSError:
            pass  # not delegated here: try v1
    if controller in mounts:
        return 1, os.path.join(mounts[controller][1], _own_path(1, controller).lstrip("/"))
    raise CgroupUnavailable("no %s cgroup controller (v1 or v2) is available to this process" % controller)


PREFIX = "bootstrap-sdk-"


def cgroup_name(scratch: str) -> str:
    """A name that says which process made the cgroup, so a later one can reclaim it."""
    return "%s%d-%s" % (PREFIX, os.getpid(), scratch)


def _reclaim_stale(parent: str) -> None:
    """Remove empty cgroups whose maker is gone: one killed outright (SIGKILL) cannot clean up."""
    try:
        names = [n for n in os.listdir(parent) if n.startswith(PREFIX)]
    except OSError:
        return
    for name in names:
        pid = name[len(PREFIX):].split("-", 1)[0]
        if pid.isdigit() and not os.path.exists("/proc/%s" % pid):
            try:
                os.rmdir(os.path.join(parent, name))  # fails, harmlessly, while processes are inside
            except OSError:
                pass


class SandboxCgroup:
    """The cgroup directories (one on v2; one per controller on v1) a sandbox runs in.

    ``procs`` lists the files a supervisor writes the sandbox's first process to; every
    process it starts stays inside. ``warnings`` says which limits could not be set.
    """

    def __init__(self) -> None:
        self.paths: Dict[str, Tuple[int, str]] = {}  # controller -> (version, directory)
        self.warnings: List[str] = []

    @classmethod
    def create(cls, name: str, memory_bytes: int, max_pids: int) -> "SandboxCgroup":
        group = cls()
        mounts = _mounts()
        try:
            for controller in ("memory", "pids"):
                try:
                    version, parent = _parent(controller, mounts)
                except CgroupUnavailable as exc:
                    group.warnings.append(str(exc))
                    continue
                path = os.path.join(parent, name)
                if path not in [p for _, p in group.paths.values()]:  # v2: one directory serves both
                    _reclaim_stale(parent)
                    try:
                        os.mkdir(path)
                    except OSError as exc:
                        group.warnings.append("cannot make a cgroup at %s: %s" % (path, exc.strerror))
                        continue
                group.paths[controller] = (version, path)
                if controller == "memory":
                    limit, swap = MEMORY_KNOBS[version][:2]
                    group._write(path, limit, str(memory_bytes))
                    if os.path.exists(os.path.join(path, swap)):
                        group._write(path, swap, "0" if version == 2 else str(memory_bytes))
                else:
                    group._write(path, "pids.max", str(max_pids))
        except OSError as exc:
            group.remove()
            raise CgroupUnavailable("cannot set a cgroup limit: %s" % exc) from None
        return group

    @staticmethod
    def _write(directory: str, knob: str, value: str) -> None:
        with open(os.path.join(directory, knob), "w") as handle:
            handle.write(value)

    def _read(self, controller: str, knob: str) -> Optional[str]:
        if controller not in self.paths:
            return None
        try:
            with open(os.path.join(self.paths[controller][1], knob)) as handle:
                return handle.read()
        except OSError:
            return None

    @property
    def procs(self) -> List[str]:
        return sorted({os.path.join(path, "cgroup.procs") for _, path in self.paths.values()})

    @property
    def caps_memory(self) -> bool:
        return "memory" in self.paths

    def peak_bytes(self) -> Optional[int]:
        """The most memory the sandbox has used so far (None where the kernel cannot say)."""
        if "memory" not in self.paths:
            return None
        text = self._read("memory", MEMORY_KNOBS[self.paths["memory"][0]][2])
        return int(text) if text and text.strip().isdigit() else None

    def oom_kills(self) -> int:
        """How many processes the kernel has killed for exceeding the memory cap."""
        if "memory" not in self.paths:
            return 0
        events, key = MEMORY_KNOBS[self.paths["memory"][0]][3:]
        for line in (self._read("memory", events) or "").splitlines():
            name, _, value = line.partition(" ")
            if name == key and value.strip().isdigit():
                return int(value)
        return 0

    def pids(self) -> List[int]:
        found: "set[int]" = set()
        for controller in self.paths:
            found.update(int(p) for p in (self._read(controller, "cgroup.procs") or "").split())
        return sorted(found)

    def remove(self, timeout: float = 5.0) -> None:
        """Kill whatever is still inside, then remove the directories."""
        deadline = time.monotonic() + timeout
        for _, path in sorted(set(self.paths.values()), key=lambda item: item[1]):
            while True:
                for pid in self.pids():
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except OSError:
                        pass
                try:
                    os.rmdir(path)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.01)
        self.paths.clear()
