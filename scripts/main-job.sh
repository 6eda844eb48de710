#!/usr/bin/env bash
# The main job: set up what is missing, then run the example under the RIE and invoke it.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/setup.sh
exec .venv/bin/python scripts/main_job.py "$@"
