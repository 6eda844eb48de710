#!/usr/bin/env bash
# Install the AWS Lambda Runtime Interface Emulator, pinned, into .tools/bin (git-ignored).
# Built from its Go module as a static binary; idempotent: a no-op when already there.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
version="v0.0.0-20261030222936-bef5c4ba774d"
module="github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie"
bin="$root/.tools/bin"
stamp="$bin/.aws-lambda-rie.version"

if [ -x "$bin/aws-lambda-rie" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$version" ]; then
  exit 0
fi
if ! command -v go >/dev/null 2>&1; then
  for candidate in /usr/local/go/bin /usr/lib/go/bin; do
    [ -x "$candidate/go" ] && PATH="$candidate:$PATH"
  done
fi
if ! command -v go >/dev/null 2>&1; then
  echo "install-rie: installing Go from Debian's packages (the RIE needs Go >= 1.25: GOTOOLCHAIN=auto fetches it)" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq golang-go >/dev/null
fi
mkdir -p "$bin"
echo "install-rie: building aws-lambda-rie@$version" >&2
GOTOOLCHAIN="${GOTOOLCHAIN:-auto}" GOFLAGS="${GOFLAGS:--buildvcs=false}" CGO_ENABLED=0 GOBIN="$bin" \
  go install "$module@$version"
echo "$version" > "$stamp"
