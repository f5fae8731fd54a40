#!/usr/bin/env bash
# The login storm (R-SEC-1): full password logins through the real pages at 1, 8, 32 and 64 at a
# time, then a burst of simultaneous login POSTs, against one release server on SQLite +
# in-process state. Prints each stage's server CPU per flow as a multiple of one argon2id hash
# measured in the same run (examples/argon2_cost.rs, the server's own pool): back to back (warm
# caches, the yardstick), and with 32 MiB of other memory written between two hashes (cold
# caches, as in a server that does other work between two logins); and the server's peak RSS
# per stage.
#   bench/login_storm.sh [LEVELS (default 1,8,32,64)] [BURST (default 500)]
set -euo pipefail
cd "$(dirname "$0")/.."
LEVELS="${1:-1,8,32,64}"
BURST="${2:-500}"
ACCOUNTS="${ACCOUNTS:-64}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/servicekonto/target}"
command -v jq >/dev/null || { apt-get update -qq && apt-get install -y -qq jq; }
cargo build --release --locked -q --bin servicekonto --example argon2_cost
BIN="$CARGO_TARGET_DIR/release/servicekonto"
COST="$CARGO_TARGET_DIR/release/examples/argon2_cost"
WORK="$(mktemp -d)"
PID=""
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
trap "exit 1" INT TERM

HASH_BEFORE=$("$COST" 40)
COLD_BEFORE=$("$COST" 40 32)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# Every flow comes from 127.0.0.1 and the 64 accounts log in many times over: the failed-login
# throttle is set out of the way, since this measures the hashing, not the throttle.
cat > "$WORK/config.toml" <<TOML
[login_throttle]
delay_after = 1000000
lock_after = 1000000
address_lock_after = 1000000
TOML
export SERVICEKONTO_CONFIG="$WORK/config.toml" SERVICEKONTO_ISSUER="http://127.0.0.1:$port" \
  SERVICEKONTO_BIND="127.0.0.1:$port" SERVICEKONTO_DATABASE_URL="sqlite://$WORK/db.sqlite" \
  SERVICEKONTO_KEYS_DIR="$WORK/keys" SERVICEKONTO_SECRETS_FILE="$WORK/secrets.toml" SERVICEKONTO_OUTBOX_DIR="$WORK/outbox" RUST_LOG=error
"$BIN" migrate --json >/dev/null
RP="http://127.0.0.1:9/cb"
CLIENT=$("$BIN" client add --json --name bench-login --redirect-uri "$RP")
for i in $(seq 0 $((ACCOUNTS - 1))); do
  "$BIN" account add --json --email "bench$i@example.de" --password 'Bench1234!' --given-name Bench --family-name "User $i" >/dev/null
done
ulimit -n 65536 2>/dev/null || true
"$BIN" serve >"$WORK/server.log" 2>&1 &
PID=$!
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done
OUT=$(node bench/login_storm.mjs "http://127.0.0.1:$port" "$(jq -r .client_id <<<"$CLIENT")" "$(jq -r .client_secret <<<"$CLIENT")" "$RP" "$ACCOUNTS" "$PID" "$LEVELS" "$BURST")
HASH_AFTER=$("$COST" 40)
COLD_AFTER=$("$COST" 40 32)
kill -0 "$PID" 2>/dev/null && ALIVE=yes || ALIVE=no

HASH=$(jq -n --argjson a "$HASH_BEFORE" --argjson b "$HASH_AFTER" '($a.argon2id_cpu_ms + $b.argon2id_cpu_ms) / 2')
COLD=$(jq -n --argjson a "$COLD_BEFORE" --argjson b "$COLD_AFTER" '($a.argon2id_cpu_ms + $b.argon2id_cpu_ms) / 2')
echo "one argon2id hash (m=19 MiB, t=2, p=1) through the server's pool, this run: back to back $(jq .argon2id_cpu_ms <<<"$HASH_BEFORE") ms before and $(jq .argon2id_cpu_ms <<<"$HASH_AFTER") ms after the storm; with cold caches $(jq .argon2id_cpu_ms <<<"$COLD_BEFORE") / $(jq .argon2id_cpu_ms <<<"$COLD_AFTER") ms"
echo
echo "| concurrent flows | flows ok / failed | flows/s | server CPU per flow (ms) | of which argon2 threads | × one hash | × one cold hash | peak RSS (MB) |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|"
jq -r --argjson h "$HASH" --argjson c "$COLD" '.stages[] | "| \(.concurrency) | \(.ok) / \(.failed) | \(.flows_per_s * 10 | floor / 10) | \(.cpu_ms_per_flow * 10 | floor / 10) | \(.cpu_ms_per_flow_by_thread.argon2 * 10 | floor / 10) | \(.cpu_ms_per_flow / $h * 100 | floor / 100) | \(.cpu_ms_per_flow / $c * 100 | floor / 100) | \(.peak_rss_mb | floor) |"' <<<"$OUT"
echo
jq -r '"burst: \(.burst.posts) simultaneous login POSTs in \(.burst.seconds) s → statuses \(.burst.statuses | tostring), Retry-After \(.burst.retry_after | tostring); peak RSS \(.burst.peak_rss_mb | floor) MB"' <<<"$OUT"
jq -r '"after the burst: /healthz \(.after_burst.healthz), a full login: \(.after_burst.login)"' <<<"$OUT"
echo "server still running: $ALIVE"
jq -r '.stages[] | select(.failed > 0) | "failures at \(.concurrency): \(.errors | tostring)"' <<<"$OUT"
