#!/usr/bin/env python3
"""Benchmark: the COBOL example's size, warm invoke and cold start.

Builds the example (examples/cobol/build.py), lays it out in the Lambda-shaped sandbox
and measures through the real RIE, with events/good-week.json:
- size: layer + function, zipped;
- warm invoke of the stdio program (PAYROLL): median of N invokes (default 500);
- cold start: a fresh RIE, first invoke until its response; median of M (default 25).
Targets: size <= 15 MB; warm <= 10 ms; cold <= 150 ms. Exit 1 if one is missed. Needs root.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "cobol"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(EXAMPLE))

import build  # noqa: E402
import run  # noqa: E402

from bootstrap_sdk.local.sandbox import Sandbox, lay_out  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--invokes", type=int, default=500)
    parser.add_argument("--starts", type=int, default=25)
    args = parser.parse_args()
    event = (EXAMPLE / "events" / "good-week.json").read_bytes()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        tmp.chmod(0o755)
        built = build.build(tmp / "out")
        sizes = {kind: built[kind].stat().st_size for kind in ("layer", "function")}
        size = sum(sizes.values())
        root = lay_out(tmp / "root", [built["layer"]], built["function"])
        env = run.function_config("payroll")
        cold = []
        for _ in range(args.starts):
            with Sandbox(root, env) as sandbox:
                result = sandbox.rie.invoke(event)
                assert b'"status": "OK"' in result.body, result
                cold.append(result.seconds * 1000)
        warm = []
        with Sandbox(root, env) as sandbox:
            for _ in range(20):
                sandbox.rie.invoke(event)
            for _ in range(args.invokes):
                result = sandbox.rie.invoke(event)
                assert b'"status": "OK"' in result.body, result
                warm.append(result.seconds * 1000)
    warm_ms, cold_ms = statistics.median(warm), statistics.median(cold)
    print("layer %s: %.2f MB; function %s: %.2f MB; together %.2f MB zipped" % (
        built["layer"].name, sizes["layer"] / 1e6, built["function"].name, sizes["function"] / 1e6, size / 1e6))
    print("warm invoke of PAYROLL (stdio), median of %d: %.2f ms" % (args.invokes, warm_ms))
    print("cold start, median of %d: %.1f ms" % (args.starts, cold_ms))
    checks = [("size %.2f MB <= 15 MB" % (size / 1e6), size <= 15_000_000),
              ("warm %.2f ms <= 10 ms" % warm_ms, warm_ms <= 10), ("cold %.1f ms <= 150 ms" % cold_ms, cold_ms <= 150)]
    for label, ok in checks:
        print("%s: %s" % (label, "PASS" if ok else "FAIL"))
    return 0 if all(ok for _, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
