#!/usr/bin/env bash
# The main job: set up what is missing, then the COBOL example end to end — build its
# layer, function and image, lay the layer and function out as Lambda does, run them under
# the RIE in that sandbox, send sample events (good and bad) and print requests and
# responses; then the same events to the image, unpacked into a sandbox of its own.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/setup.sh
exec .venv/bin/python examples/cobol/run.py "$@"
