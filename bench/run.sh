#!/usr/bin/env bash
# Load benchmark over loopback with wrk: discovery, JWKS, /token (client_credentials, RS256 and
# ES256), the full authorization-code exchange, userinfo and introspection, next to this
# machine's raw RS256 signing rate (`openssl speed -multi 2 rsa2048`) and the server's peak RSS.
#   bench/run.sh [seconds per scenario (default 10)]      CONNS=64 by default
set -euo pipefail
cd "$(dirname "$0")/.."
DUR="${1:-10}"
CONNS="${CONNS:-64}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/servicekonto/target}"
export SK_BENCH_DIR="$PWD/bench"
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
cargo build --release --locked -q
BIN="$CARGO_TARGET_DIR/release/servicekonto"
WORK="$(mktemp -d)"
PIDS=()
PG_ADMIN="${SERVICEKONTO_TEST_PG:-postgres://postgres@127.0.0.1:5432/test}"
REDIS="${SERVICEKONTO_TEST_REDIS:-redis://127.0.0.1:6379}"
BENCH_DB="sk_bench_$$"
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  psql "$PG_ADMIN" -qc "drop database if exists $BENCH_DB with (force)" >/dev/null 2>&1 || true
  redis-cli -u "$REDIS" --scan --pattern "$BENCH_DB:*" | xargs -r redis-cli -u "$REDIS" del >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
trap "exit 1" INT TERM

RAW=$(openssl speed -seconds 5 -multi 2 rsa2048 2>/dev/null | awk '/^rsa 2048 bits/ {print $6}')
echo "raw RS256 (openssl speed -multi 2 rsa2048): ${RAW} signs/s"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_server NAME ALG: a fresh server with its own database and keys; sets URL and PID.
start_server() {
  local name=$1 alg=$2 port
  port=$(free_port)
  mkdir -p "$WORK/$name"
  printf '[tokens]\naccess_token_alg = "%s"\n' "$alg" > "$WORK/$name/config.toml"
  export SERVICEKONTO_CONFIG="$WORK/$name/config.toml" SERVICEKONTO_ISSUER="http://127.0.0.1:$port" \
    SERVICEKONTO_BIND="127.0.0.1:$port" SERVICEKONTO_DATABASE_URL="sqlite://$WORK/$name/db.sqlite" \
    SERVICEKONTO_KEYS_DIR="$WORK/$name/keys" SERVICEKONTO_SECRETS_FILE="$WORK/$name/secrets.toml" SERVICEKONTO_OUTBOX_DIR="$WORK/$name/outbox" RUST_LOG=warn
  "$BIN" migrate --json >/dev/null
  RP="http://127.0.0.1:9/cb"
  CC=$("$BIN" client add --json --name bench-cc --grant-type client_credentials)
  CODE=$("$BIN" client add --json --name bench-code --redirect-uri "$RP")
  "$BIN" account add --json --email bench@example.de --password 'Bench1234!' --given-name Bench --family-name User >/dev/null
  "$BIN" serve >"$WORK/$name/server.log" 2>&1 &
  PID=$!
  PIDS+=("$PID")
  URL="http://127.0.0.1:$port"
  for _ in $(seq 100); do curl -fs "$URL/jwks" >/dev/null && break; sleep 0.1; done
}

basic_of() { printf '%s:%s' "$(jq -r .client_id <<<"$1")" "$(jq -r .client_secret <<<"$1")" | base64 -w0; }

RESULTS=()
# scenario LABEL PATH SCRIPT: one wrk run, its JSON line kept with the label.
scenario() {
  local label=$1 path=$2 script=$3 line
  line=$(wrk -t2 -c"$CONNS" -d"${DUR}s" --latency -s "$SK_BENCH_DIR/lua/$script" "$URL$path" | tail -n 1)
  RESULTS+=("$(jq -c --arg s "$label" '. + {scenario: $s}' <<<"$line")")
  echo "$label: $line"
}

command -v jq >/dev/null || { apt-get update -qq && apt-get install -y -qq jq; }

start_server rs RS256
PREP=$(node bench/prepare.mjs "$URL" "$(jq -r .client_id <<<"$CODE")" "$(jq -r .client_secret <<<"$CODE")" "$RP" bench@example.de 'Bench1234!')
export SK_BASIC SK_FORM SK_BEARER="" SK_COOKIE SK_AUTHORIZE_PATH SK_REDIRECT_ENC
scenario "discovery" "/.well-known/openid-configuration" get.lua
scenario "jwks" "/jwks" get.lua
SK_BASIC=$(basic_of "$CC") SK_FORM="grant_type=client_credentials"
scenario "token client_credentials RS256" "/token" post_form.lua
SK_BASIC=$(basic_of "$CODE") SK_COOKIE=$(jq -r .cookie <<<"$PREP") SK_AUTHORIZE_PATH="$(jq -r .authorize <<<"$PREP")&prompt=none"
SK_REDIRECT_ENC=$(python3 -c 'import urllib.parse,sys; print(urllib.parse.quote(sys.argv[1], safe=""))' "$RP")
scenario "authorization_code exchange (authorize + token, RS256)" "/authorize" code_exchange.lua
SK_BEARER=$(jq -r .access_token <<<"$PREP")
scenario "userinfo" "/userinfo" get.lua
SK_BEARER="" SK_FORM="token=$(jq -r .access_token <<<"$PREP")"
scenario "introspection" "/introspect" post_form.lua
RSS_RS=$(awk '/VmHWM/ {print $2}' "/proc/$PID/status")
kill "$PID"

start_server es ES256
SK_BASIC=$(basic_of "$CC") SK_FORM="grant_type=client_credentials"
scenario "token client_credentials ES256" "/token" post_form.lua
RSS_ES=$(awk '/VmHWM/ {print $2}' "/proc/$PID/status")
kill "$PID"

# Two nodes behind one issuer on PostgreSQL + Redis, keys sealed in the database. Each node gets
# half the connections from a wrk of its own; the figures are summed (latencies: the worse node).
psql "$PG_ADMIN" -qc "create database $BENCH_DB"
mkdir -p "$WORK/cluster"
P1=$(free_port); P2=$(free_port)
printf '[tokens]\naccess_token_alg = "RS256"\n' > "$WORK/cluster/config.toml"
export SERVICEKONTO_CONFIG="$WORK/cluster/config.toml" SERVICEKONTO_ISSUER="http://127.0.0.1:$P1" \
  SERVICEKONTO_DATABASE_URL="${PG_ADMIN%/*}/$BENCH_DB" SERVICEKONTO_REDIS_URL="$REDIS" SERVICEKONTO_REDIS_PREFIX="$BENCH_DB:" \
  SERVICEKONTO_SECRETS_FILE="$WORK/cluster/secrets.toml" SERVICEKONTO_KEY_ENCRYPTION_KEY="$(head -c 32 /dev/urandom | base64 -w0 | tr '+/' '-_' | tr -d '=')" RUST_LOG=warn
"$BIN" migrate --json >/dev/null
CC=$("$BIN" client add --json --name bench-cc --grant-type client_credentials)
CODE=$("$BIN" client add --json --name bench-code --redirect-uri "$RP")
"$BIN" account add --json --email bench@example.de --password 'Bench1234!' --given-name Bench --family-name User >/dev/null
NODE_PIDS=()
for port in "$P1" "$P2"; do
  SERVICEKONTO_BIND="127.0.0.1:$port" "$BIN" serve >"$WORK/cluster/node-$port.log" 2>&1 &
  NODE_PIDS+=("$!"); PIDS+=("$!")
done
for port in "$P1" "$P2"; do for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done; done
CLUSTER=()
scenario2() {
  local label=$1 path=$2 script=$3 a b
  a=$(mktemp); b=$(mktemp)
  wrk -t1 -c"$((CONNS / 2))" -d"${DUR}s" --latency -s "$SK_BENCH_DIR/lua/$script" "http://127.0.0.1:$P1$path" | tail -n 1 >"$a" &
  local first=$!
  wrk -t1 -c"$((CONNS / 2))" -d"${DUR}s" --latency -s "$SK_BENCH_DIR/lua/$script" "http://127.0.0.1:$P2$path" | tail -n 1 >"$b"
  wait "$first"
  CLUSTER+=("$(jq -c -s --arg s "$label" '{scenario: $s, rps: (.[0].rps + .[1].rps), p50_ms: ([.[].p50_ms] | max), p99_ms: ([.[].p99_ms] | max), errors: ([.[].errors + .[].non_2xx_3xx] | add)}' "$a" "$b")")
  echo "two nodes, $label: ${CLUSTER[-1]}"
  rm -f "$a" "$b"
}
PREP=$(node bench/prepare.mjs "http://127.0.0.1:$P1" "$(jq -r .client_id <<<"$CODE")" "$(jq -r .client_secret <<<"$CODE")" "$RP" bench@example.de 'Bench1234!')
SK_BASIC=$(basic_of "$CC") SK_FORM="grant_type=client_credentials"
scenario2 "token client_credentials RS256" "/token" post_form.lua
SK_BASIC=$(basic_of "$CODE") SK_COOKIE=$(jq -r .cookie <<<"$PREP") SK_AUTHORIZE_PATH="$(jq -r .authorize <<<"$PREP")&prompt=none"
scenario2 "authorization_code exchange (authorize + token, RS256)" "/authorize" code_exchange.lua
SK_BEARER=$(jq -r .access_token <<<"$PREP")
scenario2 "userinfo" "/userinfo" get.lua
RSS_NODES=$(for p in "${NODE_PIDS[@]}"; do awk '/VmHWM/ {print int($2/1024)}' "/proc/$p/status"; done | paste -sd+ -)

echo
echo "| scenario | req/s | p50 ms | p99 ms | errors |"
echo "|---|---:|---:|---:|---:|"
for r in "${RESULTS[@]}"; do
  jq -r '"| \(.scenario) | \(.rps|floor) | \(.p50_ms) | \(.p99_ms) | \(.errors + .non_2xx_3xx) |"' <<<"$r"
done
CC_RS=$(printf '%s\n' "${RESULTS[@]}" | jq -s '.[] | select(.scenario=="token client_credentials RS256") | .rps')
CC_ES=$(printf '%s\n' "${RESULTS[@]}" | jq -s '.[] | select(.scenario=="token client_credentials ES256") | .rps')
echo
echo "raw RS256 sign rate: $RAW/s; client_credentials RS256 = $(jq -n "$CC_RS / $RAW * 100 | floor")% of it; ES256 = $(jq -n "$CC_ES / $CC_RS * 10 | floor | . / 10")× RS256"
echo "peak server RSS: $((RSS_RS / 1024)) MB (RS256 run), $((RSS_ES / 1024)) MB (ES256 run); $CONNS connections, wrk -t2, ${DUR}s per scenario"
echo
echo "| scenario | 1 node, SQLite + in-process: req/s (p99 ms) | 2 nodes, PostgreSQL + Redis: req/s (p99 ms) | errors (2 nodes) |"
echo "|---|---:|---:|---:|"
for c in "${CLUSTER[@]}"; do
  label=$(jq -r .scenario <<<"$c")
  single=$(printf '%s\n' "${RESULTS[@]}" | jq -r --arg s "$label" 'select(.scenario==$s) | "\(.rps|floor) (\(.p99_ms))"')
  jq -r --arg single "$single" '"| \(.scenario) | \($single) | \(.rps|floor) (\(.p99_ms)) | \(.errors) |"' <<<"$c"
done
echo "peak RSS of the two nodes: $RSS_NODES MB"
