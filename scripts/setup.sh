#!/usr/bin/env bash
# Set up everything the project needs on a fresh machine, idempotently:
# a virtualenv in .venv (Debian's python3, which links libpython statically and runs as
# any user), the package with its test tools, gcc and GnuCOBOL, and the pinned RIE in
# .tools/bin.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

apt_install() {
  if [ -z "${_apt_updated:-}" ]; then apt-get update -qq; _apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

python=/usr/bin/python3
if [ ! -x "$python" ] || ! "$python" -c "import ensurepip, venv" 2>/dev/null; then
  echo "setup: installing python3 and python3-venv from Debian's packages" >&2
  apt_install python3 python3-venv
fi

# The tests compile C and COBOL programs: gcc and GnuCOBOL from Debian's packages.
missing=()
command -v gcc >/dev/null 2>&1 || missing+=(gcc libc6-dev)
command -v cobc >/dev/null 2>&1 || missing+=(gnucobol3)
command -v unzip >/dev/null 2>&1 || missing+=(unzip)          # the layer tests extract as a user would
command -v unshare >/dev/null 2>&1 || missing+=(util-linux)   # mount namespaces (multi-concurrency tests)
PATH="$PATH:/usr/sbin:/sbin" command -v mkfs.ext4 >/dev/null 2>&1 || missing+=(e2fsprogs)  # the sandbox's /tmp
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]} from Debian's packages" >&2
  apt_install "${missing[@]}"
fi

stamp=".venv/.setup-stamp"
want="$(cat pyproject.toml | sha256sum | cut -c1-16)"
if [ ! -x .venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: creating .venv and installing the package with its test tools" >&2
  "$python" -m venv .venv
  .venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
  .venv/bin/python -m pip install -q --disable-pip-version-check -e ".[test]"
  echo "$want" > "$stamp"
fi

bash scripts/install-rie.sh
