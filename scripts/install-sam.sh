#!/usr/bin/env bash
# Install the AWS SAM CLI, pinned, into its own virtualenv .tools/sam (git-ignored), made
# with Debian's python3: its pinned dependencies never meet the project's .venv.
# Idempotent (a version stamp, as install-rie.sh); one line of output, as each step of
# scripts/setup.sh (whose helpers it uses); pip's own output goes to .tools/setup.log.
# About 50 s the first time. Run it as .tools/sam/bin/sam, with SAM_CLI_TELEMETRY=0;
# `sam build` then needs no network.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/setup.sh
source "$root/scripts/setup.sh"  # step, apt_install

version="1.170.0"
venv="$root/.tools/sam"
stamp="$venv/.aws-sam-cli.version"

sam_ready() {
  [ -x "$venv/bin/sam" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$version" ]
}
install_sam() {
  if ! /usr/bin/python3 -c "import ensurepip, venv" 2>/dev/null; then
    apt_install python3 python3-venv
  fi
  /usr/bin/python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --disable-pip-version-check "aws-sam-cli==$version"
  echo "$version" > "$stamp"
}
step "AWS SAM CLI $version in .tools/sam" sam_ready install_sam
