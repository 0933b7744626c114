#!/usr/bin/env bash
# The README's test command: builds the server binary the end-to-end tests start, then runs
# every test of the workspace. Opt-in soak: TRACECORE_SOAK=1 (20 kill -9 cycles).
set -euo pipefail
cd "$(dirname "$0")/.."
ulimit -l unlimited 2>/dev/null || ulimit -l 8192 2>/dev/null || true
cargo build --bin tracecore
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast
else
  cargo test --workspace --no-fail-fast
fi
