#!/usr/bin/env bash
# The main job: set up what is missing, then the COBOL example end to end — build its
# layer, function and image, lay the layer and function out as Lambda does, run them under
# the RIE in that sandbox, send sample events (good and bad) and print requests and
# responses; then the same events to the image, unpacked into a sandbox of its own; then,
# on x86_64, all of it cross-built for arm64 and run under qemu-user, every answer checked
# against x86_64's (examples/cobol/run.py --arch x86_64 leaves arm64 out).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/setup.sh
exec .venv/bin/python examples/cobol/run.py "$@"
