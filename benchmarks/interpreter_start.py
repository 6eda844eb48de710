#!/usr/bin/env python3
"""How to start the layer's bundled interpreter cheapest: each way measured, interleaved.

Builds the runtime-only layer (make-runtime-layer), lays it out as /opt in a root of its
own, and times the bundled interpreter from spawn to exit inside that root (chroot, uid
993, as Lambda runs it), for:

- the stdlib as the packager ships it (a directory of sourceless .pyc), as a stored zip
  and as a deflated zip (``lib/python311.zip``, which the interpreter puts first on
  ``sys.path``);
- ``-X frozen_modules=on`` (3.11's default: the start-up modules come from the binary)
  and ``=off`` (from the stdlib);
- ``-c pass`` (the interpreter alone) and the runtime's cold-start imports (what a
  bootstrap imports for a Python handler).

Prints a table (median and minimum over --runs, default 60) and the noise to read it
with; benchmarks/harness.py puts the same table in RESULTS.md. Needs root (chroot).
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
import zipfile
from pathlib import Path
from typing import Dict, List, Tuple

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bootstrap_sdk.packaging.zipper import extract  # noqa: E402

PYTHON = os.environ.get("BENCH_PYTHON", "/usr/bin/python3.11")
CHROOT = shutil.which("chroot", path="/usr/sbin:/usr/bin:/sbin:/bin") or "/usr/sbin/chroot"
PREFIX = "/opt/bootstrap-sdk/python"
IMPORTS = ("import sys; sys.path[:0] = ['/opt/bootstrap-sdk/sdk']; "
           "import bootstrap_sdk.entry, bootstrap_sdk.python_handler, bootstrap_sdk.adapter.command")


def build_root(work: Path) -> Path:
    layer = work / "runtime.zip"
    subprocess.run([str(Path(sys.executable).parent / "make-runtime-layer"), "-q", "-o", str(layer),
                    "--python", PYTHON], check=True)
    root = work / "directory"
    extract(layer, root / "opt")
    return root


def zipped_copy(root: Path, target: Path, method: int) -> Path:
    """``root`` with its stdlib in ``lib/python3X.zip`` (lib-dynload and the os.py landmark stay)."""
    shutil.copytree(root, target, symlinks=True)
    lib = next((target / PREFIX.lstrip("/") / "lib").glob("python3.*"))
    archive = lib.parent / ("python3%s.zip" % lib.name[len("python3."):])
    with zipfile.ZipFile(archive, "w", method) as out:
        for path in sorted(lib.rglob("*")):
            relative = path.relative_to(lib)
            if path.is_file() and relative.parts[0] != "lib-dynload" and str(relative) not in ("os.py", "os.pyc"):
                out.write(path, str(relative))
                path.unlink()
    return target


def interpreter(root: Path) -> str:
    found = sorted((root / PREFIX.lstrip("/") / "bin").glob("python3.*"))
    return "/" + str(found[0].relative_to(root))


def run_once(root: Path, argv: List[str]) -> float:
    """One start, spawned (no fork of this process) through chroot(8) as uid 993, to its exit."""
    command = [CHROOT, "--userspec=993:990", str(root)] + argv
    start = time.perf_counter()
    pid = os.posix_spawn(CHROOT, command, {"PATH": "/usr/bin:/bin"})
    _, status = os.waitpid(pid, 0)
    elapsed = time.perf_counter() - start
    if status != 0:
        raise RuntimeError("%s exited with status %d" % (" ".join(command), status))
    return elapsed


def measure(runs: int) -> List[str]:
    """The table (markdown lines) of every way, interleaved, ``runs`` starts each."""
    with tempfile.TemporaryDirectory(prefix="interpreter-start-") as tmp:
        work = Path(tmp)
        roots = {"directory of .pyc": build_root(work)}
        roots["stored zip"] = zipped_copy(roots["directory of .pyc"], work / "stored", zipfile.ZIP_STORED)
        roots["deflated zip"] = zipped_copy(roots["directory of .pyc"], work / "deflated", zipfile.ZIP_DEFLATED)
        for path in work.rglob("*"):
            os.chmod(path, 0o755 if path.is_dir() or os.access(path, os.X_OK) else 0o644, follow_symlinks=False)
        ways: Dict[Tuple[str, str, str], List[str]] = {}
        for stdlib, root in roots.items():
            python = interpreter(root)
            for frozen in ("on", "off"):
                for what, code in (("-c pass", "pass"), ("runtime imports", IMPORTS)):
                    ways[(stdlib, frozen, what)] = [python, "-I", "-S", "-X", "frozen_modules=" + frozen, "-c", code]
        times: Dict[Tuple[str, str, str], List[float]] = {way: [] for way in ways}
        for way, argv in ways.items():  # one start each first: nothing is timed cold from disk
            run_once(roots[way[0]], argv)
        keys = list(ways)
        for turn in range(runs):
            for way in keys[turn % len(keys):] + keys[:turn % len(keys)]:
                times[way].append(run_once(roots[way[0]], ways[way]))
    lines = ["| stdlib | frozen_modules | what | median ms | min ms |", "|---|---|---|---|---|"]
    for (stdlib, frozen, what), values in times.items():
        lines.append("| %s | %s | %s | %.2f | %.2f |" % (stdlib, frozen, what, statistics.median(values) * 1000,
                                                          min(values) * 1000))
    spread = statistics.median(statistics.pstdev(values) * 1000 for values in times.values())
    lines += ["", "Each start is spawned through chroot(8) and timed to its exit (%d starts a way, interleaved); "
              "the typical standard deviation of one start is %.2f ms: a difference of medians smaller than that is "
              "noise." % (runs, spread)]
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=60, help="starts per way (default 60)")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("interpreter_start: needs root (chroot)", file=sys.stderr)
        return 2
    print("\n".join(measure(args.runs)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
