#!/usr/bin/env bash
# Creates the Python venvs whose real client libraries the end-to-end tests send traces with
# (tests/tests/e2e/real_clients.rs, scripts in tests/python/). Called by scripts/test.sh and
# .ci/run; idempotent: a venv whose requirements file has not changed since it was installed is
# left alone (well under a second in total).
#
# Three venvs, because the libraries cannot share one (../shared/DEPENDENCIES.md §8):
#   otel          OpenTelemetry SDK 1.45: OTLP gRPC/HTTP and Zipkin JSON exporters
#   zipkin-proto  Zipkin protobuf exporter (pins protobuf 3)
#   jaeger        SDK 1.21 with the Jaeger Thrift/gRPC exporters, and jaeger-client 4.8
#
# Where: $TRACECORE_E2E_VENV, default .venv-e2e in the repository (gitignored).
# Which Python: $TRACECORE_E2E_BASE_PYTHON, default python3 (3.11 here; any 3.9-3.12 works).
# TRACECORE_SKIP_PYTHON=1 skips everything (the real-client tests then skip too).
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ "${TRACECORE_SKIP_PYTHON:-}" == 1 ]]; then
  echo "setup-python-e2e: TRACECORE_SKIP_PYTHON=1, not installing the Python clients"
  exit 0
fi

root="${TRACECORE_E2E_VENV:-$PWD/.venv-e2e}"
base="${TRACECORE_E2E_BASE_PYTHON:-python3}"
venvs=(otel zipkin-proto jaeger)
# An import per venv that fails when the install is broken (e.g. the SDK/exporter mismatch
# DEPENDENCIES.md §8 describes installs cleanly and fails only here).
declare -A smoke=(
  [otel]="import opentelemetry.exporter.otlp.proto.grpc.trace_exporter, opentelemetry.exporter.otlp.proto.http.trace_exporter, opentelemetry.exporter.zipkin.json"
  [zipkin-proto]="import opentelemetry.exporter.zipkin.proto.http"
  [jaeger]="import opentelemetry.exporter.jaeger.thrift, opentelemetry.exporter.jaeger.proto.grpc, jaeger_client, six"
)

fingerprint() {
  # The requirements and the base interpreter's version: either changing means reinstalling.
  { cat "tests/python/requirements-$1.txt"; "$base" --version 2>&1; } | sha256sum | cut -d' ' -f1
}

up_to_date() {
  local dir="$root/$1"
  [[ -x "$dir/bin/python" ]] &&
    [[ "$(cat "$dir/.tracecore-requirements" 2>/dev/null)" == "$(fingerprint "$1")" ]] &&
    "$dir/bin/python" -c "${smoke[$1]}" 2>/dev/null
}

all_up_to_date() {
  local name
  for name in "${venvs[@]}"; do
    up_to_date "$name" || return 1
  done
}

if ! command -v "$base" >/dev/null 2>&1; then
  echo "setup-python-e2e: $base not found; install Python 3 (apt-get install python3 python3-venv)" >&2
  exit 1
fi

if all_up_to_date; then
  echo "setup-python-e2e: venvs in $root are up to date"
  exit 0
fi

# venv needs ensurepip; Debian's python3 has it only with python3-venv. Installed only when
# missing (a pyenv or python.org interpreter has it built in).
if ! "$base" -c 'import ensurepip, venv' >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1 && [[ "$(id -u)" == 0 ]]; then
    echo "setup-python-e2e: installing python3-venv"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
  else
    echo "setup-python-e2e: $base has no venv/ensurepip module; install python3-venv" >&2
    exit 1
  fi
fi

mkdir -p "$root"
# One installer at a time (test.sh and .ci/run may both call this).
exec 9>"$root/.lock"
flock 9

started=$SECONDS
for name in "${venvs[@]}"; do
  if up_to_date "$name"; then
    continue
  fi
  dir="$root/$name"
  echo "setup-python-e2e: creating $dir"
  rm -rf "$dir"
  "$base" -m venv "$dir"
  "$dir/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
    -r "tests/python/requirements-$name.txt"
  if ! "$dir/bin/python" -c "${smoke[$name]}"; then
    echo "setup-python-e2e: the $name venv installed but its clients do not import" >&2
    exit 1
  fi
  fingerprint "$name" >"$dir/.tracecore-requirements"
done
echo "setup-python-e2e: venvs ready in $root ($((SECONDS - started)) s)"
