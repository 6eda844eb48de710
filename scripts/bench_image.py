#!/usr/bin/env python3
"""Benchmark: the runtime-only image's build time and size, and its cold start against the layer's.

- build: wall time of `make-runtime-image` for a runtime-only image (the same tree as
  the runtime-only layer, no function), median of 3 builds; and its sizes;
- cold start: a fresh sandbox, first invoke until its response (echo handler, 1 KB), for
  the image (unpacked by run-lambda-local's code, its Entrypoint and Cmd run by the RIE)
  against the runtime-only layer plus a function zip laid out as Lambda does, both in
  the same Lambda-shaped sandbox; interleaved, median of N starts (default 25).
Targets: build <= 10 s; image cold start <= 1.1 x the layer's. Exit 1 if one is missed.
Needs root (the sandbox).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Dict, List

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bootstrap_sdk.local.image_root import unpack_image  # noqa: E402
from bootstrap_sdk.local.rie import find_rie  # noqa: E402
from bootstrap_sdk.local.sandbox import Sandbox, lay_out, make_root  # noqa: E402
from bootstrap_sdk.packaging.options import host_arch  # noqa: E402

PAYLOAD = b'{"data": "' + b"x" * 1010 + b'"}'


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--starts", type=int, default=25)
    args = parser.parse_args()
    tools = Path(sys.executable).parent
    rie = find_rie()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        tmp.chmod(0o755)
        builds: List[float] = []
        for number in range(3):
            started = time.perf_counter()
            subprocess.run([str(tools / "make-runtime-image"), "-q", "-o", str(tmp / ("runtime-%d.tar" % number))],
                           check=True)
            builds.append(time.perf_counter() - started)
        runtime_only = tmp / "runtime-0.tar"
        function = tmp / "function"
        function.mkdir()
        shutil.copy(ROOT / "scripts" / "bench_functions" / "echo.py", function / "echo.py")
        subprocess.run([str(tools / "make-runtime-image"), "-q", "-o", str(tmp / "echo.tar"), "--function",
                        str(function), "--handler", "echo.handler"], check=True)
        subprocess.run([str(tools / "make-runtime-layer"), "-q", "-o", str(tmp / "runtime.zip")], check=True)
        subprocess.run([str(tools / "make-function-zip"), "-q", str(function), "-o", str(tmp / "function.zip")],
                       check=True)
        layer_root = lay_out(tmp / "layer-root", [tmp / "runtime.zip"], tmp / "function.zip")
        image_root = make_root(tmp / "image-root")
        config = unpack_image(tmp / "echo.tar", image_root, tmp, host_arch())
        env = {"AWS_LAMBDA_FUNCTION_TIMEOUT": "30"}
        contenders: Dict[str, Callable[[], Sandbox]] = {
            "image": lambda: Sandbox(image_root, dict(config.env, **env), rie=rie,
                                     command=config.entrypoint + config.cmd, workdir=config.working_dir),
            "layer": lambda: Sandbox(layer_root, dict(env, _HANDLER="echo.handler"), rie=rie),
        }
        times: Dict[str, List[float]] = {name: [] for name in contenders}
        for _ in range(args.starts):
            for name, make in contenders.items():
                times[name].append(first_invoke(make()))
        compressed = runtime_only.stat().st_size
    build = statistics.median(builds)
    cold = {name: statistics.median(values) for name, values in times.items()}
    ratio = cold["image"] / cold["layer"]
    print("runtime-only image: %.2f MB oci-archive (%d bytes)" % (compressed / 1e6, compressed))
    print("build time: %.2f s (median of 3: %s)" % (build, ", ".join("%.2f" % b for b in builds)))
    print("cold start (first invoke) in the sandbox, median of %d: image %.1f ms, layer %.1f ms (ratio %.3f)"
          % (args.starts, cold["image"], cold["layer"], ratio))
    checks = [("build %.2f s <= 10 s" % build, build <= 10), ("cold start ratio %.3f <= 1.1" % ratio, ratio <= 1.1)]
    for label, ok in checks:
        print("%s: %s" % (label, "PASS" if ok else "FAIL"))
    return 0 if all(ok for _, ok in checks) else 1


def first_invoke(sandbox: Sandbox) -> float:
    """The first invoke's time in ms, for a sandbox not yet started."""
    sandbox.start()
    try:
        result = sandbox.invoke(PAYLOAD)
        assert result.body == PAYLOAD, result
        return result.seconds * 1000
    finally:
        sandbox.stop()


if __name__ == "__main__":
    sys.exit(main())
