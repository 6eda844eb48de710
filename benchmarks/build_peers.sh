#!/usr/bin/env bash
# Build the benchmark's peer contenders into .tools/bench (git-ignored), idempotently:
#   .tools/bench/go/{lambda-decoded,lambda-raw,floor}  from benchmarks/peers/go
#   .tools/bench/awslambdaric/  a function directory as AWS documents awslambdaric on a
#       custom runtime: `pip install --target` of the client, the echo handler, and a
#       bootstrap that execs one interpreter (`python -m awslambdaric $_HANDLER`).
# The shell peer (benchmarks/peers/shell) runs in place; it only needs curl.
# One line a step (scripts/setup.sh's `step`); the tools' own output goes to .tools/setup.log.
# Each step keeps a stamp, the hash of its sources and of this script: a second run is a
# no-op, an edit rebuilds. BENCH_PYTHON (default /usr/bin/python3.11) picks the
# interpreter the awslambdaric bootstrap runs.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/setup.sh
source "$root/scripts/setup.sh"  # step, apt_install, need_go

awslambdaric_version="4.2.2"
out="$root/.tools/bench"
peers="$root/benchmarks/peers"
venv_python="$root/.venv/bin/python"
python="${BENCH_PYTHON:-/usr/bin/python3.11}"
case "$python" in
  /*) ;;
  *) python="$(command -v "$python" || true)" ;;
esac
if [ ! -x "$python" ]; then
  echo "build_peers: no Python at '${BENCH_PYTHON:-/usr/bin/python3.11}' (BENCH_PYTHON)" >&2
  exit 1
fi
# The interpreter itself, not a wrapper that starts it (a pyenv shim is a shell script).
python="$("$python" -c 'import sys; print(sys.executable)')"

# hash_of FILE...: one short hash of these files' contents and names, and of this script.
hash_of() {
  (cd "$root" && sha256sum "$@" benchmarks/build_peers.sh) | sha256sum | cut -c1-16
}

# -- curl, for the shell peer ---------------------------------------------------------------
curl_ready() { command -v curl >/dev/null 2>&1; }
install_curl() { apt_install curl; }
step "curl (the shell peer's client)" curl_ready install_curl

# -- Go: aws-lambda-go (decoded, raw) and the standard-library floor ------------------------
go_stamp="$out/go/.stamp"
go_want="$(cd "$root" && hash_of $(find benchmarks/peers/go -type f \( -name '*.go' -o -name go.mod -o -name go.sum \) | sort))"
go_ready() {
  [ -x "$out/go/lambda-decoded" ] && [ -x "$out/go/lambda-raw" ] && [ -x "$out/go/floor" ] \
    && [ "$(cat "$go_stamp" 2>/dev/null)" = "$go_want" ]
}
build_go() {
  need_go  # aws-lambda-go v1.55.1 needs Go >= 1.26, which GOTOOLCHAIN=auto fetches
  mkdir -p "$out/go"
  rm -f "$go_stamp"
  cd "$peers/go"
  # Static, stripped, no RPC fallback (lambda.norpc: what provided.* runtimes use).
  GOTOOLCHAIN="${GOTOOLCHAIN:-auto}" GOFLAGS="${GOFLAGS:--buildvcs=false}" CGO_ENABLED=0 \
    go build -trimpath -tags lambda.norpc -ldflags='-s -w' -o "$out/go/" ./cmd/...
  echo "$go_want" > "$go_stamp"
}
step "Go peers (aws-lambda-go decoded/raw, floor) in .tools/bench/go" go_ready build_go

# -- awslambdaric, one interpreter with its own bootstrap -----------------------------------
ric="$out/awslambdaric"
ric_stamp="$ric/.stamp"
ric_want="$(hash_of scripts/bench_functions/echo.py | cut -c1-8)-$awslambdaric_version-$(printf '%s' "$python" | sha256sum | cut -c1-8)"
ric_ready() {
  [ -x "$ric/bootstrap" ] && [ -f "$ric/echo.py" ] && [ -d "$ric/awslambdaric" ] \
    && [ "$(cat "$ric_stamp" 2>/dev/null)" = "$ric_want" ]
}
build_ric() {
  local py_version venv_version
  py_version="$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
  venv_version="$("$venv_python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
  local target_python=()
  if [ "$py_version" != "$venv_version" ]; then
    # pip runs under the venv's Python: ask it for wheels of the bootstrap's Python instead.
    target_python=(--python-version "$py_version" --implementation cp --only-binary=:all:)
  fi
  rm -rf "$ric"
  mkdir -p "$ric"
  # .pyc are kept (no --no-compile), as a deployed function would ship them.
  "$venv_python" -m pip install --disable-pip-version-check --no-input \
    --target "$ric" "${target_python[@]}" "awslambdaric==$awslambdaric_version"
  cp "$root/scripts/bench_functions/echo.py" "$ric/echo.py"
  # .pyc for the interpreter that will run them (a no-op when pip's Python is the same).
  "$python" -m compileall -q "$ric"
  # One interpreter, exec'd by /bin/sh: no second Python process. The task directory
  # (LAMBDA_TASK_ROOT, else this one) holds both the client and the handler.
  cat > "$ric/bootstrap" <<EOF
#!/bin/sh
# awslambdaric $awslambdaric_version on a custom runtime, started as AWS documents it.
# Written by benchmarks/build_peers.sh.
PYTHONPATH="\${LAMBDA_TASK_ROOT:-$ric}" exec "$python" -m awslambdaric "\$_HANDLER"
EOF
  chmod 755 "$ric/bootstrap"
  echo "$ric_want" > "$ric_stamp"
}
step "awslambdaric $awslambdaric_version function directory in .tools/bench/awslambdaric ($python)" \
  ric_ready build_ric
