#!/usr/bin/env bash
# The whole test suite, from a fresh clone: lint, then Rust unit and integration tests and the
# conformance checks (openid-client interop, the browser journey with its accessibility scan)
# run against a live server, once on SQLite + in-process state and once on PostgreSQL + Redis.
# Idempotent; installs what it needs (npm packages, Debian's chromium) on the way.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/servicekonto/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
mkdir -p "$CARGO_TARGET_DIR"

step() { printf '\n==> %s\n' "$*"; }

step "format and lints"
cargo fmt --check
cargo clippy --all-targets --locked -- -D warnings

# Supply chain: licences, banned crates and sources (deny.toml); the advisory database cannot be
# fetched here, so that check runs elsewhere. cargo-deny is built from crates.io once.
step "licences, banned crates and sources (cargo-deny), and the SBOM"
command -v cargo-deny >/dev/null 2>&1 || cargo install --locked cargo-deny@0.20.2 >/dev/null
# cargo-deny reads the crates of every target platform; a build fetched only this one's.
cargo fetch --locked >/dev/null 2>&1 || cargo fetch --locked
cargo deny --offline check licenses bans sources
python3 scripts/sbom.py > "$CARGO_TARGET_DIR/servicekonto.cdx.json"

step "build"
cargo build --locked --all-targets

run_tests() {
  if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --locked --no-fail-fast
  else
    cargo test --locked --no-fail-fast
  fi
}

# Debian's Chromium for the browser journey (never a downloaded browser).
if [ ! -x /usr/bin/chromium ]; then
  step "install Debian's chromium for the browser journey"
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null \
    || { $sudo apt-get update -q >/dev/null && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null; }
fi
export SK_REQUIRE_BROWSER=1

if [ ! -d conformance/node_modules ] || [ conformance/package-lock.json -nt conformance/node_modules/.package-lock.json ]; then
  (cd conformance && npm ci --no-audit --no-fund --loglevel=error)
fi
# schemathesis (PyPI) checks the API against its OpenAPI document; in a virtualenv of its own
# beside the build cache, installed once per version.
SCHEMATHESIS_VERSION=4.32.5
VENV="${SK_VENV:-$HOME/.cache/servicekonto/venv}"
if [ "$("$VENV/bin/schemathesis" --version 2>/dev/null)" != "schemathesis, version $SCHEMATHESIS_VERSION" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi
export SK_SCHEMATHESIS="$VENV/bin/schemathesis"
export SERVICEKONTO_BIN="$CARGO_TARGET_DIR/debug/servicekonto"

step "backend 1/2: SQLite + in-process state — unit and integration tests"
run_tests

# The parsers' property tests (tests/fuzz.rs) once more with many more cases: about two minutes
# on this machine's two cores. A failure found is kept in tests/proptest-regressions/ and tried
# first on every later run.
step "property tests of the parsers, bounded run"
if cargo nextest --version >/dev/null 2>&1; then
  PROPTEST_CASES=50000 cargo nextest run --locked --no-fail-fast -E 'test(/^fuzz::/)'
else
  PROPTEST_CASES=50000 cargo test --locked --no-fail-fast --test main fuzz::
fi
step "backend 1/2: SQLite + in-process state — conformance checks and openid-client interop (live server)"
node conformance/run.mjs

# The machine's PostgreSQL (trust auth) and Redis; started here if they have stopped.
PG_ADMIN="${SERVICEKONTO_TEST_PG:-postgres://postgres@127.0.0.1:5432/test}"
REDIS="${SERVICEKONTO_TEST_REDIS:-redis://127.0.0.1:6379}"
services_up() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null && redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; }
if ! services_up; then
  pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null || pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start 2>/dev/null || true
  redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 || redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >/dev/null 2>&1 || true
  for _ in $(seq 50); do services_up && break; sleep 0.2; done
fi
if ! services_up; then
  if [ "${CI:-}" = "true" ]; then echo "PostgreSQL or Redis unavailable" >&2; exit 1; fi
  echo "PostgreSQL or Redis unavailable: skipping the second backend (CI never skips it)" >&2
  exit 0
fi

step "backend 2/2: PostgreSQL + Redis — unit and integration tests (a database and key prefix per test)"
SERVICEKONTO_TEST_DATABASE_URL="$PG_ADMIN" SERVICEKONTO_TEST_REDIS_URL="$REDIS" run_tests

step "backend 2/2: PostgreSQL + Redis — conformance checks and openid-client interop (live server)"
db="sk_conformance_$$_$RANDOM"
psql "$PG_ADMIN" -qc "create database $db"
prefix="sk-conformance-$db:"
cleanup() {
  psql "$PG_ADMIN" -qc "drop database if exists $db with (force)" >/dev/null 2>&1 || true
  redis-cli -u "$REDIS" --scan --pattern "$prefix*" | xargs -r redis-cli -u "$REDIS" del >/dev/null 2>&1 || true
}
trap cleanup EXIT
SK_CONFORMANCE_DATABASE_URL="${PG_ADMIN%/*}/$db" SK_CONFORMANCE_REDIS_URL="$REDIS" SK_CONFORMANCE_REDIS_PREFIX="$prefix" node conformance/run.mjs
