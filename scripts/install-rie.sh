#!/usr/bin/env bash
# Install the AWS Lambda Runtime Interface Emulator, pinned, into .tools/bin (git-ignored),
# and the same version built for arm64 into .tools/bin/arm64 (run-lambda-local runs arm64
# layers and images under qemu-user with it). Built from its Go module as static binaries;
# idempotent: a step is a no-op when its binary is already there.
# One line of output a step, as each step of scripts/setup.sh (whose helpers it uses); go's
# own output goes to .tools/setup.log.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/setup.sh
source "$root/scripts/setup.sh"  # step, need_go

version="v0.0.0-20261030222936-bef5c4ba774d"
module="github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie"
bin="$root/.tools/bin"
stamp="$bin/.aws-lambda-rie.version"
arm64_bin="$bin/arm64"
arm64_stamp="$arm64_bin/.aws-lambda-rie.version"

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

arm64_rie_ready() {
  [ -x "$arm64_bin/aws-lambda-rie" ] && [ "$(cat "$arm64_stamp" 2>/dev/null)" = "$version" ]
}
# go install refuses to put a cross-compiled binary in GOBIN: it is built under a throwaway
# GOPATH instead (it lands in GOPATH/bin/linux_arm64) and copied. GOMODCACHE stays where it
# was (it defaults to GOPATH/pkg/mod), so the module the first step fetched is used again.
install_arm64_rie() {
  need_go
  mkdir -p "$arm64_bin"
  # not local: the EXIT trap runs when step's subshell ends, after this function returned
  arm64_gopath="$(mktemp -d "${TMPDIR:-/tmp}/aws-lambda-rie-arm64-XXXXXX")"
  trap 'rm -rf "$arm64_gopath"' EXIT
  env -u GOBIN GOPATH="$arm64_gopath" GOMODCACHE="$(go env GOMODCACHE)" GOOS=linux GOARCH=arm64 \
    CGO_ENABLED=0 GOTOOLCHAIN="${GOTOOLCHAIN:-auto}" GOFLAGS="${GOFLAGS:--buildvcs=false}" \
    go install "$module@$version"
  install -m 0755 "$arm64_gopath/bin/linux_arm64/aws-lambda-rie" "$arm64_bin/aws-lambda-rie"
  echo "$version" > "$arm64_stamp"
}
step "aws-lambda-rie $version for arm64 in .tools/bin/arm64" arm64_rie_ready install_arm64_rie
