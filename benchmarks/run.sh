#!/usr/bin/env bash
# The runtime benchmark, in one command:
#
#   bash benchmarks/run.sh [harness options]     e.g. --starts 5 --invokes 200 --only bootstrap-sdk,awslambdaric
#
# Sets up what is missing (scripts/setup.sh: the venv, the pinned RIE, gcc, GnuCOBOL),
# builds the peer runtimes (benchmarks/build_peers.sh: aws-lambda-go, the Go floor,
# awslambdaric), then runs benchmarks/harness.py, which writes benchmarks/RESULTS.md and
# prints it. `.venv/bin/python benchmarks/harness.py --help` lists the options.
# Needs root: the layer contender and the COBOL example run in the Lambda-shaped sandbox
# (namespaces, mounts, a cgroup); without root those are reported as not run.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
if [ "$(id -u)" != 0 ]; then
  echo "benchmarks/run.sh: not root: the sandboxed contenders will be reported as not run" >&2
fi
bash scripts/setup.sh
bash benchmarks/build_peers.sh
BENCH_COMMAND="bash benchmarks/run.sh" exec .venv/bin/python benchmarks/harness.py "$@"
