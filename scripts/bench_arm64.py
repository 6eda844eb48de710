#!/usr/bin/env python3
"""Benchmark: the arm64 runtime-only layer, built on this x86_64 machine from a sysroot.

- build: wall time of `make-runtime-layer --arch arm64 --sysroot DIR` for the runtime-only
  layer, with the sysroot's packages already fetched (offline), median of 3 builds;
- size: that layer zipped and unzipped, beside the x86_64 runtime-only layer's.
Targets: build <= 20 s; zipped <= 8 MB (as x86_64's). Exit 1 if one is missed.
The sysroot is .tools/sysroot/arm64 (scripts/setup.sh fetches it), or --sysroot.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import List

ROOT = Path(__file__).resolve().parents[1]
BUILD_TARGET_S = 20.0
ZIPPED_TARGET_BYTES = 8 * 1000 * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sysroot", type=Path, default=ROOT / ".tools" / "sysroot" / "arm64")
    parser.add_argument("--builds", type=int, default=3)
    args = parser.parse_args()
    tools = Path(sys.executable).parent
    layer = str(tools / "make-runtime-layer")
    print("load average before: %.2f" % os.getloadavg()[0])
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        seconds: List[float] = []
        for number in range(args.builds):
            started = time.perf_counter()
            subprocess.run([layer, "-q", "--arch", "arm64", "--sysroot", str(args.sysroot),
                            "-o", str(tmp / ("arm64-%d.zip" % number))], check=True)
            seconds.append(time.perf_counter() - started)
        subprocess.run([layer, "-q", "-o", str(tmp / "x86_64.zip")], check=True)
        manifests = {arch: json.loads((tmp / name).read_text())
                     for arch, name in (("arm64", "arm64-0.manifest.json"), ("x86_64", "x86_64.manifest.json"))}
        same = all((tmp / ("arm64-%d.zip" % n)).read_bytes() == (tmp / "arm64-0.zip").read_bytes()
                   for n in range(args.builds))
    build = statistics.median(seconds)
    arm64 = manifests["arm64"]
    print("arm64 runtime-only layer build: median %.2f s of %s (target <= %.0f s)"
          % (build, ", ".join("%.2f" % s for s in seconds), BUILD_TARGET_S))
    for arch, manifest in manifests.items():
        print("%-7s runtime-only layer: %.2f MB zipped, %.2f MB unzipped, %d files, libraries: %s" % (
            arch, int(manifest["zipped_bytes"]) / 1e6, int(manifest["unzipped_bytes"]) / 1e6, int(manifest["files"]),
            ", ".join(manifest["bundled_libraries"])))
    print("arm64 zipped target: <= %.0f MB; %d builds byte-identical: %s" % (ZIPPED_TARGET_BYTES / 1e6, args.builds,
                                                                        "yes" if same else "NO"))
    print("load average after: %.2f" % os.getloadavg()[0])
    missed = build > BUILD_TARGET_S or int(arm64["zipped_bytes"]) > ZIPPED_TARGET_BYTES or not same
    print("targets: %s" % ("MISSED" if missed else "met"))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
