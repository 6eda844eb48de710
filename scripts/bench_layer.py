#!/usr/bin/env python3
"""Benchmark: the runtime-only layer's size, build time and cold start.

- build: wall time of `make-runtime-layer` for a runtime-only layer (SDK + minimal
  Python, no executables), median of 3 builds;
- size: that layer's zip;
- cold start: a fresh RIE, first invoke until its response (echo handler, 1 KB), for the
  layer in the Lambda-shaped sandbox, against the same runtime started by the host's
  Python under the same RIE; interleaved, median of N starts (default 25);
- the sandbox's own cost: set-up (namespaces, cgroup, /tmp image, mounts, until the RIE
  listens) plus the first invoke, against the plain chroot the sandbox used to be (the RIE
  as root in a writable root with the host's /dev and /proc bound in), same starts.
Targets: zipped <= 8 MB; cold start <= 1.2 x the host Python's; build <= 10 s; the
sandbox adds <= 30 ms to set-up + cold start over the plain chroot. Exit 1 if one is
missed. Needs root (the sandbox).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Dict, List, Tuple, Union

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bootstrap_sdk.local.bind_exec import command_prefix  # noqa: E402
from bootstrap_sdk.local.rie import Rie, find_rie  # noqa: E402
from bootstrap_sdk.local.sandbox import RIE_IN_ROOT, Sandbox, lay_out, sandbox_env  # noqa: E402
from bootstrap_sdk.packaging.bootstrap_file import write_bootstrap  # noqa: E402

PAYLOAD = b'{"data": "' + b"x" * 1010 + b'"}'
assert len(PAYLOAD) == 1022


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--starts", type=int, default=25)
    args = parser.parse_args()
    command = Path(sys.executable).parent / "make-runtime-layer"
    rie = find_rie()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        tmp.chmod(0o755)
        builds: List[float] = []
        for _ in range(3):
            started = time.perf_counter()
            subprocess.run([str(command), "-q", "-o", str(tmp / "runtime.zip")], check=True)
            builds.append(time.perf_counter() - started)
        zipped = (tmp / "runtime.zip").stat().st_size
        function = tmp / "function"
        function.mkdir()
        shutil.copy(ROOT / "scripts" / "bench_functions" / "echo.py", function / "echo.py")
        subprocess.run([str(Path(sys.executable).parent / "make-function-zip"), "-q", str(function), "-o",
                        str(tmp / "function.zip")], check=True)
        root = lay_out(tmp / "root", [tmp / "runtime.zip"], tmp / "function.zip")
        host_bootstrap = write_bootstrap(tmp / "bootstrap", python=os.path.realpath(sys.executable),
                                         sys_path=[str(ROOT)])
        env = {"_HANDLER": "echo.handler", "AWS_LAMBDA_FUNCTION_TIMEOUT": "30"}
        contenders: Dict[str, Callable[[], Union[Sandbox, Rie]]] = {
            "layer in sandbox": lambda: Sandbox(root, env, rie=rie),
            "plain chroot": lambda: plain_chroot(root, env, rie),
            "host python": lambda: Rie([str(host_bootstrap)], env=dict(env, LAMBDA_TASK_ROOT=str(function)),
                                       rie=rie, cwd=str(function)),
        }
        times: Dict[str, List[float]] = {name: [] for name in contenders}
        totals: Dict[str, List[float]] = {name: [] for name in contenders}
        for _ in range(args.starts):
            for name, make in contenders.items():
                cold, total = first_invoke(make())
                times[name].append(cold)
                totals[name].append(total)
    build = statistics.median(builds)
    cold = {name: statistics.median(values) for name, values in times.items()}
    total = {name: statistics.median(values) for name, values in totals.items()}
    ratio = cold["layer in sandbox"] / cold["host python"]
    added = total["layer in sandbox"] - total["plain chroot"]
    print("runtime-only layer: %.2f MB zipped (%d bytes)" % (zipped / 1e6, zipped))
    print("build time: %.2f s (median of 3)" % build)
    print("cold start (first invoke), median of %d: layer in sandbox %.1f ms, in a plain chroot %.1f ms, "
          "host python %.1f ms" % (args.starts, cold["layer in sandbox"], cold["plain chroot"], cold["host python"]))
    print("set-up + cold start, median of %d: sandbox %.1f ms, plain chroot %.1f ms: the sandbox adds %.1f ms" % (
        args.starts, total["layer in sandbox"], total["plain chroot"], added))
    checks = [("zipped <= 8 MB", zipped <= 8_000_000), ("cold start ratio %.3f <= 1.2" % ratio, ratio <= 1.2),
              ("build %.2f s <= 10 s" % build, build <= 10),
              ("sandbox adds %.1f ms <= 30 ms" % added, added <= 30)]
    for label, ok in checks:
        print("%s: %s" % (label, "PASS" if ok else "FAIL"))
    return 0 if all(ok for _, ok in checks) else 1


def first_invoke(contender: Union[Sandbox, Rie]) -> Tuple[float, float]:
    """(first invoke, start + first invoke) in ms, for a contender not yet started."""
    started = time.perf_counter()
    contender.start()
    try:
        result = contender.invoke(PAYLOAD)
        assert result.body == PAYLOAD, result
        return result.seconds * 1000, (time.perf_counter() - started) * 1000
    finally:
        contender.stop()


def plain_chroot(root: Path, env: Dict[str, str], rie: str) -> Rie:
    """The sandbox as it was: the RIE as root, chrooted into the writable root, with the
    host's /dev and /proc bound in (the baseline for the sandbox's added cost)."""
    wrapper = command_prefix([("/dev", str(root / "dev")), ("/proc", str(root / "proc")),
                              (rie, str(root / RIE_IN_ROOT.lstrip("/")))])
    wrapper += [shutil.which("chroot", path="/usr/sbin:/sbin:/usr/bin:/bin") or "chroot", str(root)]
    return Rie([], env=sandbox_env(env), rie=RIE_IN_ROOT, wrapper=wrapper, cwd=str(ROOT))


if __name__ == "__main__":
    sys.exit(main())
