#!/usr/bin/env bash
# What an organisation's user costs beside a citizen (issue 11, item 10): an administrator who
# uses services, granted twenty of them — ten directly, ten through five groups they belong to,
# the benchmark service both directly and through a group with roles of each — logs in to one
# service, and its token carries the roles computed from all of that. In one run, on SQLite +
# in-process state and on PostgreSQL + Redis (one node), with wrk: the code exchange (authorize +
# token) and userinfo, for the citizen and for the organisation's user of the same service. On
# PostgreSQL it also counts the statements per request (`pg_stat_database.xact_commit`: every
# statement outside a transaction is one commit, a transaction one).
#   bench/org_user.sh [seconds per scenario (default 8)]      CONNS=64 by default
set -euo pipefail
cd "$(dirname "$0")/.."
DUR="${1:-8}"
CONNS="${CONNS:-64}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/servicekonto/target}"
export SK_BENCH_DIR="$PWD/bench"
for tool in wrk jq; do command -v "$tool" >/dev/null || { apt-get update -qq && apt-get install -y -qq "$tool"; }; done
cargo build --release --locked -q
BIN="$CARGO_TARGET_DIR/release/servicekonto"
WORK="$(mktemp -d)"
PIDS=()
PG_ADMIN="${SERVICEKONTO_TEST_PG:-postgres://postgres@127.0.0.1:5432/test}"
REDIS="${SERVICEKONTO_TEST_REDIS:-redis://127.0.0.1:6379}"
BENCH_DB="sk_orgbench_$$"
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  psql "$PG_ADMIN" -qc "drop database if exists $BENCH_DB with (force)" >/dev/null 2>&1 || true
  redis-cli -u "$REDIS" --scan --pattern "$BENCH_DB:*" | xargs -r redis-cli -u "$REDIS" del >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
trap "exit 1" INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
basic_of() { printf '%s:%s' "$(jq -r .client_id <<<"$1")" "$(jq -r .client_secret <<<"$1")" | base64 -w0; }
RP="http://127.0.0.1:9/cb"
PASSWORD='Bench1234!'

# setup NAME: the citizen, the organisation with its twenty grants, the service; starts the server.
setup() {
  local name=$1 port
  port=$(free_port)
  export SERVICEKONTO_ISSUER="http://127.0.0.1:$port" SERVICEKONTO_BIND="127.0.0.1:$port" RUST_LOG=warn
  "$BIN" migrate --json >/dev/null
  SVC=$("$BIN" client add --json --name bench-service --redirect-uri "$RP" --account-kind any \
    --role lesen --role schreiben --role pruefen --role freigeben)
  TOOL=$("$BIN" client add --json --name bench-tool --redirect-uri "$RP" --account-kind organisation)
  "$BIN" account add --json --email buerger@bench.example --password "$PASSWORD" --given-name Bea --family-name Buerger >/dev/null
  ORG=$("$BIN" org add --json --name "Bench GmbH" --admin-email chefin@bench.example --admin-password "$PASSWORD" \
    --admin-given-name Cora --admin-family-name Chefin --admin-phone "+49 221 1")
  ORG_ID=$(jq -r .org_id <<<"$ORG"); USER_ID=$(jq -r .user_id <<<"$ORG")
  "$BIN" org admins-use-services --org "$ORG_ID" true >/dev/null
  SERVICES=("$(jq -r .client_id <<<"$SVC")")
  for i in $(seq 2 20); do
    SERVICES+=("$("$BIN" client add --json --name "bench-other-$i" --redirect-uri "$RP" --account-kind organisation --role a --role b | jq -r .client_id)")
  done
  for s in "${SERVICES[@]}" "$(jq -r .client_id <<<"$TOOL")"; do "$BIN" org subscribe --org "$ORG_ID" --client-id "$s" >/dev/null; done
  "$BIN" org grant --org "$ORG_ID" --user "$USER_ID" --client-id "$(jq -r .client_id <<<"$TOOL")" >/dev/null
  # Ten direct grants (the benchmark service with `lesen`), ten through five groups.
  "$BIN" org grant --org "$ORG_ID" --user "$USER_ID" --client-id "${SERVICES[0]}" --role lesen >/dev/null
  for i in $(seq 1 9); do "$BIN" org grant --org "$ORG_ID" --user "$USER_ID" --client-id "${SERVICES[$i]}" --role a >/dev/null; done
  "$BIN" serve >"$WORK/$name.log" 2>&1 &
  PID=$!; PIDS+=("$PID")
  URL="http://127.0.0.1:$port"
  for _ in $(seq 100); do curl -fs "$URL/readyz" >/dev/null && break; sleep 0.1; done
  local admin
  admin=$(node bench/prepare.mjs "$URL" "$(jq -r .client_id <<<"$TOOL")" "$(jq -r .client_secret <<<"$TOOL")" "$RP" chefin@bench.example "$PASSWORD" 'openid org:admin' | jq -r .access_token)
  for g in 1 2 3 4 5; do
    local gid
    gid=$(curl -fs -X POST -H "authorization: Bearer $admin" -H 'content-type: application/json' \
      -d "{\"name\": \"Gruppe $g\"}" "$URL/api/v1/orgs/$ORG_ID/groups" | jq -r .id)
    curl -fs -X PUT -H "authorization: Bearer $admin" "$URL/api/v1/orgs/$ORG_ID/groups/$gid/members/$USER_ID" >/dev/null
    for i in $((8 + 2 * g)) $((9 + 2 * g)); do
      curl -fs -X PUT -H "authorization: Bearer $admin" -H 'content-type: application/json' -d '{"roles": ["b"]}' \
        "$URL/api/v1/orgs/$ORG_ID/groups/$gid/services/${SERVICES[$((i % 20))]}" >/dev/null
    done
  done
  curl -fs -X PUT -H "authorization: Bearer $admin" -H 'content-type: application/json' -d '{"roles": ["schreiben", "freigeben"]}' \
    "$URL/api/v1/orgs/$ORG_ID/groups/$gid/services/${SERVICES[0]}" >/dev/null
  local sid ssecret
  sid=$(jq -r .client_id <<<"$SVC"); ssecret=$(jq -r .client_secret <<<"$SVC")
  CITIZEN=$(node bench/prepare.mjs "$URL" "$sid" "$ssecret" "$RP" buerger@bench.example "$PASSWORD")
  MEMBER=$(node bench/prepare.mjs "$URL" "$sid" "$ssecret" "$RP" chefin@bench.example "$PASSWORD")
  local roles
  roles=$(curl -fs -H "authorization: Bearer $(jq -r .access_token <<<"$MEMBER")" "$URL/userinfo" | jq -c .service_roles)
  echo "$name: the organisation's user has the roles $roles for the service (lesen directly, schreiben and freigeben through a group)"
  [[ "$roles" == '["lesen","schreiben","freigeben"]' ]] || { echo "wrong roles"; exit 1; }
  export SK_BASIC SK_COOKIE SK_AUTHORIZE_PATH SK_BEARER SK_REDIRECT_ENC
  SK_BASIC=$(basic_of "$SVC")
  SK_REDIRECT_ENC=$(python3 -c 'import urllib.parse,sys; print(urllib.parse.quote(sys.argv[1], safe=""))' "$RP")
}

ROWS=()
# run BACKEND WHO PREP: the code exchange and userinfo for one person; on PostgreSQL the commits.
run() {
  local backend=$1 who=$2 prep=$3 ex ui before after
  SK_COOKIE=$(jq -r .cookie <<<"$prep") SK_AUTHORIZE_PATH="$(jq -r .authorize <<<"$prep")&prompt=none" SK_BEARER=""
  [[ $backend == postgres ]] && before=$(commits)
  ex=$(wrk -t2 -c"$CONNS" -d"${DUR}s" --latency -s "$SK_BENCH_DIR/lua/code_exchange.lua" "$URL/authorize" | tail -n 1)
  [[ $backend == postgres ]] && after=$(commits) && ex=$(jq -c --argjson c "$((after - before))" '. + {commits: $c}' <<<"$ex")
  SK_BEARER=$(jq -r .access_token <<<"$prep")
  [[ $backend == postgres ]] && before=$(commits)
  ui=$(wrk -t2 -c"$CONNS" -d"${DUR}s" --latency -s "$SK_BENCH_DIR/lua/get.lua" "$URL/userinfo" | tail -n 1)
  [[ $backend == postgres ]] && after=$(commits) && ui=$(jq -c --argjson c "$((after - before))" '. + {commits: $c}' <<<"$ui")
  ROWS+=("$(jq -nc --arg b "$backend" --arg w "$who" --argjson ex "$ex" --argjson ui "$ui" '{backend: $b, who: $w, ex: $ex, ui: $ui}')")
  echo "$backend $who: exchange $ex; userinfo $ui"
}
commits() { psql "${PG_ADMIN%/*}/$BENCH_DB" -Atc "select xact_commit from pg_stat_database where datname = current_database()"; }

mkdir -p "$WORK/sqlite"
export SERVICEKONTO_DATABASE_URL="sqlite://$WORK/sqlite/db.sqlite" SERVICEKONTO_KEYS_DIR="$WORK/sqlite/keys" \
  SERVICEKONTO_SECRETS_FILE="$WORK/sqlite/secrets.toml" SERVICEKONTO_OUTBOX_DIR="$WORK/sqlite/outbox"
setup sqlite
run sqlite citizen "$CITIZEN"
run sqlite organisation "$MEMBER"
RSS_SQLITE=$(awk '/VmHWM/ {print int($2/1024)}' "/proc/$PID/status")
kill "$PID"

psql "$PG_ADMIN" -qc "create database $BENCH_DB"
mkdir -p "$WORK/pg"
unset SERVICEKONTO_KEYS_DIR
export SERVICEKONTO_DATABASE_URL="${PG_ADMIN%/*}/$BENCH_DB" SERVICEKONTO_REDIS_URL="$REDIS" SERVICEKONTO_REDIS_PREFIX="$BENCH_DB:" \
  SERVICEKONTO_SECRETS_FILE="$WORK/pg/secrets.toml" SERVICEKONTO_OUTBOX_DIR="$WORK/pg/outbox" \
  SERVICEKONTO_KEY_ENCRYPTION_KEY="$(head -c 32 /dev/urandom | base64 -w0 | tr '+/' '-_' | tr -d '=')"
setup postgres
run postgres citizen "$CITIZEN"
run postgres organisation "$MEMBER"
RSS_PG=$(awk '/VmHWM/ {print int($2/1024)}' "/proc/$PID/status")

echo
echo "| backend | user | exchanges/s | exchange p99 ms | userinfo req/s | userinfo p99 ms | statements per exchange | statements per userinfo | errors |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|"
for r in "${ROWS[@]}"; do
  jq -r '"| \(.backend) | \(.who) | \(.ex.rps / 2 | floor) | \(.ex.p99_ms) | \(.ui.rps | floor) | \(.ui.p99_ms) | \(if .ex.commits then (.ex.commits / (.ex.requests / 2) * 100 | round / 100) else "" end) | \(if .ui.commits then (.ui.commits / .ui.requests * 100 | round / 100) else "" end) | \(.ex.errors + .ex.non_2xx_3xx + .ui.errors + .ui.non_2xx_3xx) |"' <<<"$r"
done
for b in sqlite postgres; do
  printf '%s\n' "${ROWS[@]}" | jq -rs --arg b "$b" 'map(select(.backend == $b)) | "\($b), organisation user against citizen: exchanges \(.[1].ex.rps / .[0].ex.rps * 100 | round)%, userinfo \(.[1].ui.rps / .[0].ui.rps * 100 | round)%"'
done
echo "peak RSS: $RSS_SQLITE MB (SQLite), $RSS_PG MB (PostgreSQL + Redis); $CONNS connections, wrk -t2, ${DUR}s per scenario"
