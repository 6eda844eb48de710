#!/usr/bin/env bash
# The test command: set up what is missing (and the AWS SAM CLI in .tools/sam), then run
# the whole suite against the real RIE.
# As root, the unit tests first run once more as an unprivileged user (uid 993, as the
# runtime runs on Lambda) from a world-readable copy: "no root needed" is checked, not assumed.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/setup.sh
bash scripts/install-sam.sh
if [ "$(id -u)" = 0 ] && [ "$#" = 0 ]; then
  copy="$(mktemp -d /tmp/bootstrap-sdk-unit-XXXXXX)"
  trap 'rm -rf "$copy"' EXIT
  cp -r bootstrap_sdk templates tests examples pyproject.toml README.md "$copy/"
  chmod -R a+rX "$copy" && chmod 1777 "$copy"
  if [ -d .tools/sysroot ]; then  # the arm64 sysroot, read (never written) by the arm64 build tests
    mkdir "$copy/.tools" && ln -s "$root/.tools/sysroot" "$copy/.tools/sysroot"
  fi
  echo "test: unit tests as uid 993 (no root)" >&2
  (cd "$copy" && setpriv --reuid 993 --regid 990 --clear-groups \
     env HOME="$copy" PYTHONPATH="$copy" "$root/.venv/bin/python" -m pytest -q -p no:cacheprovider \
     --basetemp="$copy/.pytest" tests/unit)
fi
exec .venv/bin/python -m pytest "$@"
