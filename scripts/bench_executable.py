#!/usr/bin/env python3
"""Benchmark: the executable adapter's per-invoke overhead, through the real RIE.

The same trivial C programs (tests/integration/programs/cat.c, echo_persistent.c), compiled here,
run four ways under the RIE, interleaved round by round:
- direct stdio: a Python handler that spawns cat itself (scripts/bench_functions/direct.py);
- adapter stdio: _HANDLER=bin/cat (process group, deadline, stderr, workdir, clean-up);
- direct persistent: a Python handler that writes one line to a running echo_persistent;
- adapter persistent: _HANDLER=bin/echo_persistent, BOOTSTRAP_SDK_EXEC_MODE=persistent.
Overhead = median(adapter) - median(direct), per mode, over N invokes (default 1,000).
Targets: stdio <= 3 ms, persistent <= 0.5 ms. Exit 1 if one is missed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Dict, List

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bootstrap_sdk.local.rie import Rie, find_rie  # noqa: E402
from bootstrap_sdk.packaging.bootstrap_file import write_bootstrap  # noqa: E402

PAYLOAD = b'{"record": "' + b"x" * 1000 + b'"}'


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--invokes", type=int, default=1000)
    args = parser.parse_args()
    rie = find_rie()
    with tempfile.TemporaryDirectory() as tmp:
        task = Path(tmp) / "task"
        (task / "bin").mkdir(parents=True)
        for name in ("cat", "echo_persistent"):
            subprocess.run(["gcc", "-O2", "-o", str(task / "bin" / name), str(ROOT / "tests" / "integration" / "programs" / (name + ".c"))],
                           check=True)
        shutil.copy(ROOT / "scripts" / "bench_functions" / "direct.py", task / "direct.py")
        bootstrap = write_bootstrap(Path(tmp) / "bootstrap", python=os.path.realpath(sys.executable), sys_path=[str(ROOT)])
        base = {"LAMBDA_TASK_ROOT": str(task), "AWS_LAMBDA_FUNCTION_TIMEOUT": "30"}
        setups = {
            "direct stdio": {"_HANDLER": "direct.stdio"},
            "adapter stdio": {"_HANDLER": "bin/cat"},
            "direct persistent": {"_HANDLER": "direct.persistent"},
            "adapter persistent": {"_HANDLER": "bin/echo_persistent", "BOOTSTRAP_SDK_EXEC_MODE": "persistent"},
        }
        running = {name: Rie([str(bootstrap)], env=dict(base, **env), cwd=str(task), rie=rie).start()
                   for name, env in setups.items()}
        times: Dict[str, List[float]] = {name: [] for name in running}
        try:
            for name, runtime in running.items():
                for _ in range(50):
                    result = runtime.invoke(PAYLOAD)
                    assert result.status == 200 and result.body == PAYLOAD, (name, result)
            for _ in range(args.invokes):
                for name, runtime in running.items():
                    result = runtime.invoke(PAYLOAD)
                    assert result.body == PAYLOAD, (name, result)
                    times[name].append(result.seconds * 1000)
        finally:
            for runtime in running.values():
                runtime.stop()
    median = {name: statistics.median(values) for name, values in times.items()}
    print("payload: %d bytes; median of %d invokes each, through the RIE" % (len(PAYLOAD), args.invokes))
    for name, value in median.items():
        print("  %-20s %8.3f ms" % (name, value))
    stdio = median["adapter stdio"] - median["direct stdio"]
    persistent = median["adapter persistent"] - median["direct persistent"]
    print("adapter overhead, stdio:      %6.3f ms (target <= 3.0): %s" % (stdio, "PASS" if stdio <= 3.0 else "FAIL"))
    print("adapter overhead, persistent: %6.3f ms (target <= 0.5): %s"
          % (persistent, "PASS" if persistent <= 0.5 else "FAIL"))
    return 0 if stdio <= 3.0 and persistent <= 0.5 else 1


if __name__ == "__main__":
    sys.exit(main())
