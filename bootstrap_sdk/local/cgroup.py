"""A memory cgroup for one sandbox: Lambda's memory size as a hard cap, and what was used.

Works with the controller the host offers: cgroup v2 (``memory.max``, ``memory.peak``,
``memory.events``) or v1 (``memory.limit_in_bytes``, ``memory.max_usage_in_bytes``,
``memory.oom_control``). The cgroup is made below the one this process runs in, so it
also works inside a container or a delegated subtree. Swap is capped at zero where the
host has the knob: on Lambda a function past its memory is killed, never swapped.
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
    """The host offers no memory controller this process can use."""


def _mounts() -> Dict[str, Tuple[int, str]]:
    """{'memory' or 'unified': (version, mount point)} from /proc/self/mountinfo."""
    found: Dict[str, Tuple[int, str]] = {}
    with open("/proc/self/mountinfo") as handle:
        for line in handle:
            fields = line.split()
            separator = fields.index("-")
            point, fstype, options = fields[4], fields[separator + 1], fields[separator + 3]
            if fstype == "cgroup2":
                found.setdefault("unified", (2, point))
            elif fstype == "cgroup" and "memory" in options.split(","):
                found.setdefault("memory", (1, point))
    return found


def _own_path(version: int) -> str:
    with open("/proc/self/cgroup") as handle:
        for line in handle:
            _, controllers, path = line.rstrip("\n").split(":", 2)
            if (version == 2 and controllers == "") or (version == 1 and "memory" in controllers.split(",")):
                return path
    return "/"


def _locate() -> Tuple[int, str]:
    """(version, directory under which this process may make a memory cgroup)."""
    mounts = _mounts()
    if "unified" in mounts:
        point = mounts["unified"][1]
        parent = os.path.join(point, _own_path(2).lstrip("/"))
        try:
            with open(os.path.join(parent, "cgroup.subtree_control")) as handle:
                enabled = handle.read().split()
            if "memory" not in enabled:
                with open(os.path.join(parent, "cgroup.subtree_control"), "w") as handle:
                    handle.write("+memory")
            return 2, parent
        except OSError:
            pass  # no memory controller delegated here: try v1
    if "memory" in mounts:
        point = mounts["memory"][1]
        return 1, os.path.join(point, _own_path(1).lstrip("/"))
    raise CgroupUnavailable("no memory cgroup controller (v1 or v2) is available to this process")


class MemoryCgroup:
    """One cgroup with a memory cap; ``procs`` is the file a process writes its pid to."""

    def __init__(self, path: str, version: int) -> None:
        self.path = path
        self.version = version
        self.procs = os.path.join(path, "cgroup.procs")

    @classmethod
    def create(cls, name: str, limit_bytes: int) -> "MemoryCgroup":
        version, parent = _locate()
        path = os.path.join(parent, name)
        try:
            os.mkdir(path)
        except OSError as exc:
            raise CgroupUnavailable("cannot make a memory cgroup at %s: %s" % (path, exc.strerror)) from None
        group = cls(path, version)
        limit, swap = MEMORY_KNOBS[version][:2]
        try:
            group._write(limit, str(limit_bytes))
            if os.path.exists(os.path.join(path, swap)):
                group._write(swap, "0" if version == 2 else str(limit_bytes))
        except OSError as exc:
            group.remove()
            raise CgroupUnavailable("cannot set the memory limit in %s: %s" % (path, exc.strerror)) from None
        return group

    def _write(self, knob: str, value: str) -> None:
        with open(os.path.join(self.path, knob), "w") as handle:
            handle.write(value)

    def _read(self, knob: str) -> str:
        with open(os.path.join(self.path, knob)) as handle:
            return handle.read()

    def peak_bytes(self) -> Optional[int]:
        """The most memory the sandbox has used so far (None where the kernel cannot say)."""
        try:
            return int(self._read(MEMORY_KNOBS[self.version][2]))
        except (OSError, ValueError):
            return None

    def oom_kills(self) -> int:
        """How many processes the kernel has killed for exceeding the cap."""
        events, key = MEMORY_KNOBS[self.version][3:]
        try:
            for line in self._read(events).splitlines():
                name, _, value = line.partition(" ")
                if name == key:
                    return int(value)
        except (OSError, ValueError):
            pass
        return 0

    def pids(self) -> List[int]:
        try:
            return [int(p) for p in self._read("cgroup.procs").split()]
        except OSError:
            return []

    def remove(self, timeout: float = 5.0) -> None:
        """Kill whatever is still inside, then remove the cgroup."""
        deadline = time.monotonic() + timeout
        while True:
            for pid in self.pids():
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            try:
                os.rmdir(self.path)
                return
            except FileNotFoundError:
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.01)
