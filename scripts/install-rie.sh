#!/usr/bin/env bash
# Install the AWS Lambda Runtime Interface Emulator, pinned, into .tools/bin (git-ignored).
# Built from its Go module as a static binary; idempotent: a no-op when already there.
# One line of output, as each step of scripts/setup.sh (whose helpers it uses); go's own
# output goes to .tools/setup.log.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/setup.sh
source "$root/scripts/setup.sh"  # step, need_go

version="v0.0.0-20261030222936-bef5c4ba774d"
module="github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie"
bin="$root/.tools/bin"
stamp="$bin/.aws-lambda-rie.version"

rie_ready() {
  [ -x "$bin/aws-lambda-rie" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$version" ]
}
install_rie() {
  need_go  # the RIE needs Go >= 1.25, which GOTOOLCHAIN=auto fetches
  mkdir -p "$bin"
  GOTOOLCHAIN="${GOTOOLCHAIN:-auto}" GOFLAGS="${GOFLAGS:--buildvcs=false}" CGO_ENABLED=0 GOBIN="$bin" \
    go install "$module@$version"
  echo "$version" > "$stamp"
}
step "aws-lambda-rie $version in .tools/bin" rie_ready install_rie
