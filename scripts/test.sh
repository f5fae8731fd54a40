#!/usr/bin/env bash
# The whole test suite, from a fresh clone: lint, Rust unit and integration tests, and the
# conformance checks plus the openid-client interop run against a live server.
# Idempotent; installs what it needs (npm packages) on the way.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/servicekonto/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
mkdir -p "$CARGO_TARGET_DIR"

step() { printf '\n==> %s\n' "$*"; }

step "format and lints"
cargo fmt --check
cargo clippy --all-targets --locked -- -D warnings

step "build"
cargo build --locked --all-targets

step "unit and integration tests"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --locked --no-fail-fast
else
  cargo test --locked --no-fail-fast
fi

step "conformance checks and openid-client interop (against a live server)"
if [ ! -d conformance/node_modules ] || [ conformance/package-lock.json -nt conformance/node_modules/.package-lock.json ]; then
  (cd conformance && npm ci --no-audit --no-fund --loglevel=error)
fi
SERVICEKONTO_BIN="$CARGO_TARGET_DIR/debug/servicekonto" node conformance/run.mjs
