#!/usr/bin/env bash
# The README's test command: builds the server binary the end-to-end tests start, then runs
# every test of the workspace (installing the Python clients the real-client tests use first).
# Opt-in soak: TRACECORE_SOAK=1 (20 kill -9 cycles).
set -euo pipefail
cd "$(dirname "$0")/.."
ulimit -l unlimited 2>/dev/null || ulimit -l 8192 2>/dev/null || true
# The real-client end-to-end tests send through Python client libraries (OpenTelemetry SDK
# exporters, jaeger-client) kept in venvs under .venv-e2e: installed on the first run (~30 s),
# a no-op afterwards. TRACECORE_SKIP_PYTHON=1 skips both the install and those tests.
./scripts/setup-python-e2e.sh
export TRACECORE_E2E_VENV="${TRACECORE_E2E_VENV:-$PWD/.venv-e2e}"
cargo build --bin tracecore
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast
else
  cargo test --workspace --no-fail-fast
fi
