#!/usr/bin/env bash
# Set up everything the project needs on a fresh machine, idempotently:
# a virtualenv in .venv (Debian's python3, which links libpython statically and runs as
# any user), the package with its test tools, gcc and GnuCOBOL, qemu-user-static and an
# arm64 cross gcc, an arm64 sysroot in .tools/sysroot/arm64 (fetch-sysroot), and the pinned
# RIE, for x86_64 and arm64, in .tools/bin (scripts/install-rie.sh).
#
# It prints one line a step, on stderr: "setup: WHAT ... already there", or
# "... installed (N s)". What the tools themselves say (apt-get, pip, go) goes to
# .tools/setup.log, begun afresh by the first step of a run that installs something (a run
# with nothing to do leaves the last one alone). A step that fails prints the last 40 lines
# of its output and the log's path, and the script exits non-zero.
#
# install-rie.sh and install-sam.sh source this file for the same helpers: sourced, it
# defines them and returns before doing anything.
set -euo pipefail
setup_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
setup_log="$setup_root/.tools/setup.log"

# step WHAT CHECK INSTALL: CHECK and INSTALL name shell functions (called by name, never
# through eval). If CHECK succeeds, WHAT is already there. Otherwise INSTALL runs in a
# subshell under `set -e`, all its output appended to the log, and CHECK must succeed after.
step() {
  local what=$1 check=$2 install=$3 start=$SECONDS before rc
  if "$check"; then
    echo "setup: $what ... already there" >&2
    return 0
  fi
  mkdir -p "$(dirname "$setup_log")"
  if [ -z "${SETUP_LOG_BEGUN:-}" ]; then  # exported: install-rie.sh run by setup.sh appends
    : > "$setup_log"
    export SETUP_LOG_BEGUN=1
  fi
  if [ -s "$setup_log" ]; then echo >> "$setup_log"; fi
  before=$(wc -l < "$setup_log")
  echo "== $(date -u +%Y-%m-%dT%H:%M:%SZ)  $what" >> "$setup_log"
  printf 'setup: %s ... ' "$what" >&2
  # `set -e` is ignored in a subshell whose status is tested (`if`, `||`): run it untested.
  set +e
  (set -e; "$install") < /dev/null >> "$setup_log" 2>&1
  rc=$?
  set -e
  if [ "$rc" = 0 ] && ! "$check"; then
    echo "setup: $install finished, yet $check still fails" >> "$setup_log"
    rc=1
  fi
  if [ "$rc" != 0 ]; then
    {
      echo "FAILED (exit $rc after $((SECONDS - start)) s); the last 40 lines of its output:"
      tail -n "+$((before + 1))" "$setup_log" | tail -n 40 | sed 's/^/    /'
      echo "setup: the whole log is $setup_log"
    } >&2
    exit "$rc"
  fi
  echo "installed ($((SECONDS - start)) s)" >&2
}

# apt_install PACKAGE...: from Debian's packages, without questions (as root).
apt_install() {
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y "$@"
}

# need_go: a Go on PATH: the one there, one in a usual place, else Debian's golang-go
# (any Go will do: GOTOOLCHAIN=auto fetches the version a module asks for).
need_go() {
  if ! command -v go >/dev/null 2>&1; then
    for candidate in /usr/local/go/bin /usr/lib/go/bin; do
      if [ -x "$candidate/go" ]; then PATH="$candidate:$PATH"; fi
    done
  fi
  if ! command -v go >/dev/null 2>&1; then
    echo "no go on PATH: installing golang-go from Debian's packages"
    apt_install golang-go
  fi
}

# Sourced by install-rie.sh, install-sam.sh or benchmarks/build_peers.sh: the helpers only.
if [ "${BASH_SOURCE[0]}" != "$0" ]; then
  return 0
fi

cd "$setup_root"
python=/usr/bin/python3

# Python with venv; the tests compile C and COBOL programs (gcc, GnuCOBOL); the layer tests
# extract as a user would (unzip); mount namespaces for the multi-concurrency tests
# (unshare); the sandbox's /tmp (mkfs.ext4); skopeo and umoci, which read images; qemu-user
# and an arm64 cross gcc, for arm64 layers in run-lambda-local.
missing_debian_packages() {
  missing=()
  if [ ! -x "$python" ] || ! "$python" -c "import ensurepip, venv" 2>/dev/null; then
    missing+=(python3 python3-venv)
  fi
  command -v gcc >/dev/null 2>&1 || missing+=(gcc libc6-dev)
  command -v cobc >/dev/null 2>&1 || missing+=(gnucobol3)
  command -v unzip >/dev/null 2>&1 || missing+=(unzip)
  command -v unshare >/dev/null 2>&1 || missing+=(util-linux)
  PATH="$PATH:/usr/sbin:/sbin" command -v mkfs.ext4 >/dev/null 2>&1 || missing+=(e2fsprogs)
  # the image tests validate what make-runtime-image writes with tools independent of it
  command -v skopeo >/dev/null 2>&1 || missing+=(skopeo)
  command -v umoci >/dev/null 2>&1 || missing+=(umoci)
  # run-lambda-local runs arm64 layers under qemu-user (binfmt_misc); the arm64 tests cross-compile
  command -v qemu-aarch64-static >/dev/null 2>&1 || missing+=(qemu-user-static)
  command -v aarch64-linux-gnu-gcc >/dev/null 2>&1 || missing+=(gcc-aarch64-linux-gnu)
  [ "${#missing[@]}" = 0 ]
}
install_debian_packages() {
  echo "missing: ${missing[*]}"
  apt_install "${missing[@]}"
}
step "Debian packages (python3-venv gcc gnucobol3 unzip util-linux e2fsprogs skopeo umoci qemu-user-static \
gcc-aarch64-linux-gnu)" missing_debian_packages install_debian_packages

# The venv is made again whenever pyproject.toml changes (its hash is the stamp).
venv_stamp=".venv/.setup-stamp"
venv_want="$(sha256sum < pyproject.toml | cut -c1-16)"
venv_ready() {
  [ -x .venv/bin/python ] && [ "$(cat "$venv_stamp" 2>/dev/null)" = "$venv_want" ]
}
install_venv() {
  "$python" -m venv .venv
  .venv/bin/python -m pip install --disable-pip-version-check --upgrade pip
  .venv/bin/python -m pip install --disable-pip-version-check -e ".[test]"
  echo "$venv_want" > "$venv_stamp"
}
step ".venv with bootstrap-sdk and its test tools" venv_ready install_venv

# The arm64 sysroot the arm64 layers and tests are built from: Debian's arm64 Python, glibc
# and libcob, downloaded (never installed) by fetch-sysroot. apt must know arm64 packages
# first (dpkg --add-architecture). Fetched again when the package's list of them changes.
sysroot_dir=".tools/sysroot/arm64"
sysroot_want="$(sha256sum < bootstrap_sdk/packaging/sysroot.py | cut -c1-16)"
sysroot_ready() {
  [ -s "$sysroot_dir/sysroot.json" ] && [ "$(cat "$sysroot_dir/.setup-stamp" 2>/dev/null)" = "$sysroot_want" ]
}
install_sysroot() {
  if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    dpkg --add-architecture arm64
  fi
  apt-get update
  .venv/bin/fetch-sysroot --arch arm64 "$sysroot_dir"
  echo "$sysroot_want" > "$sysroot_dir/.setup-stamp"
}
if [ "$(uname -m)" = x86_64 ]; then
  step "arm64 sysroot (Debian's arm64 Python, glibc, libcob) in $sysroot_dir" sysroot_ready install_sysroot
fi

bash scripts/install-rie.sh
