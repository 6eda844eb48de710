#!/usr/bin/env bash
# The main job: set up what is missing, then the COBOL example end to end — build its
# layer and function, lay them out as Lambda does, run them under the RIE in that
# sandbox, send sample events (good and bad) and print requests and responses.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/setup.sh
exec .venv/bin/python examples/cobol/run.py "$@"
