#!/usr/bin/env python3
"""Benchmark: this runtime against awslambdaric, both under the same real RIE.

Echo handler, 1 KB JSON payload, contenders interleaved in the same run:
- warm invoke round trip: median of N invokes (default 2,000) on a warm runtime;
- cold start: fresh RIE, first invoke until its response (the RIE starts the runtime
  lazily on that invoke), median of M starts (default 25).
Targets: warm ≤ awslambdaric's; cold ≤ 0.8 × awslambdaric's. Exit 1 if one is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Dict, List

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bootstrap_sdk.local.rie import Rie, find_rie  # noqa: E402
from bootstrap_sdk.packaging.bootstrap_file import write_bootstrap, write_peer_bootstrap  # noqa: E402

FUNCTIONS = ROOT / "scripts" / "bench_functions"
PAYLOAD = json.dumps({"data": "x" * (1024 - len(json.dumps({"data": ""})))}).encode()
assert len(PAYLOAD) == 1024


def bootstraps(workdir: Path) -> Dict[str, List[str]]:
    python = os.path.realpath(sys.executable)
    ours = write_bootstrap(workdir / "bootstrap-sdk", python=python, sys_path=[str(ROOT)])
    theirs = write_peer_bootstrap(workdir / "awslambdaric", "awslambdaric")
    return {"bootstrap-sdk": [str(ours)], "awslambdaric": [str(theirs)]}


def env() -> Dict[str, str]:
    return {"_HANDLER": "echo.handler", "LAMBDA_TASK_ROOT": str(FUNCTIONS), "AWS_LAMBDA_FUNCTION_TIMEOUT": "30"}


def start(bootstrap: List[str], rie: str) -> Rie:
    return Rie(bootstrap, env=env(), cwd=str(FUNCTIONS), rie=rie).start()


def warm(contenders: Dict[str, List[str]], rie: str, invokes: int) -> Dict[str, float]:
    running = {name: start(bootstrap, rie) for name, bootstrap in contenders.items()}
    times: Dict[str, List[float]] = {name: [] for name in running}
    try:
        for runtime in running.values():
            for _ in range(50):
                assert runtime.invoke(PAYLOAD).body == PAYLOAD
        for _ in range(invokes):
            for name, runtime in running.items():
                result = runtime.invoke(PAYLOAD)
                assert result.status == 200 and result.body == PAYLOAD, result
                times[name].append(result.seconds)
    finally:
        for runtime in running.values():
            runtime.stop()
    return {name: statistics.median(values) * 1000 for name, values in times.items()}


def cold(contenders: Dict[str, List[str]], rie: str, starts: int) -> Dict[str, float]:
    times: Dict[str, List[float]] = {name: [] for name in contenders}
    for _ in range(starts):
        for name, bootstrap in contenders.items():
            runtime = start(bootstrap, rie)
            try:
                result = runtime.invoke(PAYLOAD)
                assert result.status == 200 and result.body == PAYLOAD, result
                times[name].append(result.seconds)
            finally:
                runtime.stop()
    return {name: statistics.median(values) * 1000 for name, values in times.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--invokes", type=int, default=2000, help="warm invokes per contender (default 2000)")
    parser.add_argument("--starts", type=int, default=25, help="cold starts per contender (default 25)")
    args = parser.parse_args()
    rie = find_rie()
    with tempfile.TemporaryDirectory() as tmp:
        contenders = bootstraps(Path(tmp))
        warm_ms = warm(contenders, rie, args.invokes)
        cold_ms = cold(contenders, rie, args.starts)
    warm_ratio = warm_ms["bootstrap-sdk"] / warm_ms["awslambdaric"]
    cold_ratio = cold_ms["bootstrap-sdk"] / cold_ms["awslambdaric"]
    print("payload: %d bytes; warm: median of %d invokes; cold: median of %d starts" % (
        len(PAYLOAD), args.invokes, args.starts))
    print("%-28s %12s %12s" % ("", "bootstrap-sdk", "awslambdaric"))
    print("%-28s %10.3f ms %10.3f ms" % ("warm invoke round trip", warm_ms["bootstrap-sdk"], warm_ms["awslambdaric"]))
    print("%-28s %10.3f ms %10.3f ms" % ("cold start (first invoke)", cold_ms["bootstrap-sdk"], cold_ms["awslambdaric"]))
    warm_ok, cold_ok = warm_ratio <= 1.0, cold_ratio <= 0.8
    print("warm ratio %.3f (target <= 1.00): %s" % (warm_ratio, "PASS" if warm_ok else "FAIL"))
    print("cold ratio %.3f (target <= 0.80): %s" % (cold_ratio, "PASS" if cold_ok else "FAIL"))
    return 0 if warm_ok and cold_ok else 1


if __name__ == "__main__":
    sys.exit(main())
