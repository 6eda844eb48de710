"""Shared by every test: the example budget, and the check that nothing is left behind.

``unit/`` tests one module each, in-process, without the RIE or root; ``integration/``
runs the real RIE, real programs, real layers and the sandbox (its conftest has those
fixtures). The pytest process is a child subreaper, so every process the suite starts,
and every orphan of those, stays its descendant: the leak check counts exactly those.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Dict, Iterator, List, Tuple

import pytest
from hypothesis import HealthCheck, settings

from bootstrap_sdk.local import syscalls

PR_SET_CHILD_SUBREAPER = 36

syscalls.prctl(PR_SET_CHILD_SUBREAPER, 1)

# A shared, noisy 2-core machine: a fixed example budget, no per-example deadline; no
# example database (the tree may be read-only, as when the unit tests run unprivileged).
settings.register_profile(
    "rie", max_examples=30, deadline=None, derandomize=False, database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                           HealthCheck.data_too_large, HealthCheck.large_base_example],
)
settings.load_profile("rie")


def _descendants_alive() -> List[str]:
    """Processes the suite started that still run (zombies among them are reaped)."""
    children: Dict[int, List[int]] = {}
    states: Dict[int, Tuple[str, str]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path("/proc/%s/stat" % entry).read_text(errors="replace")
        except OSError:
            continue
        name, rest = stat[stat.index("(") + 1:stat.rindex(")")], stat[stat.rindex(")") + 2:].split()
        children.setdefault(int(rest[1]), []).append(int(entry))
        states[int(entry)] = (rest[0], name)
    found, queue = [], [os.getpid()]
    while queue:
        for child in children.get(queue.pop(), []):
            queue.append(child)
            state, name = states[child]
            if state == "Z":
                try:
                    os.waitpid(child, os.WNOHANG)
                except ChildProcessError:
                    pass
            else:
                found.append("%d (%s)" % (child, name))
    return found


@pytest.fixture(autouse=True, scope="module")
def _no_leaked_processes() -> Iterator[None]:
    """Every test module leaves behind no process it started (no RIE, runtime, program or
    orphan: only the suite's own descendants count, not other RIEs on the machine), no
    sandbox cgroup and no mount."""
    yield
    deadline = time.monotonic() + 5  # a process being stopped may take a moment to go
    while _descendants_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    leftovers = _descendants_alive()
    assert not leftovers, "processes left running: %s" % leftovers
    cgroups = []
    for base, dirs, _ in os.walk("/sys/fs/cgroup"):
        cgroups += [os.path.join(base, d) for d in dirs if d.startswith("bootstrap-sdk-%d-" % os.getpid())]
    assert not cgroups, "sandbox cgroups left behind: %s" % cgroups
    with open("/proc/self/mountinfo") as handle:
        mounts = [line.split()[4] for line in handle if "lambda-sandbox-" in line or "/pytest-of-" in line]
    assert not mounts, "mounts left behind: %s" % mounts
