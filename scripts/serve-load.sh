#!/usr/bin/env bash
# The load check of breachctl serve (`make bench`): on the demo case (make
# demo's size: 50,000 users, 2 million requests, its notices delivered to
# Mailpit), 50 concurrent clients for 10 s each:
#   1. staff lookups: a support account's person pages (/person?user=ID),
#      each audited in the case database before it is answered;
#   2. self-checks: GET /api/v1/self-check with a fresh signed token each
#      (each token recorded against replay, with its audit row).
# Target (issue 17): ≥ 2,000 lookups/s, p99 < 50 ms, no errors. Prints each
# result with PASS or MISS; exits non-zero only on errors.
#
#   CLIENTS=50 DURATION=10s USERS=50000 REQUESTS=2000000 scripts/serve-load.sh
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${BIN:-bin/breachctl}
CLIENTS=${CLIENTS:-50}
DURATION=${DURATION:-10s}
USERS=${SERVE_USERS:-50000}
REQUESTS=${SERVE_REQUESTS:-2000000}
PORT=${SERVE_PORT:-18081}
DIR=${BENCH_DIR:-/tmp/breachctl-bench}/serve
PG=postgres://postgres@127.0.0.1:5432
export BREACHCTL_DATABASE_URL=$PG/breachctl_bench_serve?sslmode=disable
USERS_DB=$PG/breachctl_bench_serve_users?sslmode=disable
export BREACHCTL_SELFCHECK_SECRET=${BREACHCTL_SELFCHECK_SECRET:-$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')}
export BREACHCTL_LOAD_PASSWORD=${BREACHCTL_LOAD_PASSWORD:-$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')}

scripts/ensure-db.sh breachctl_bench_serve breachctl_bench_serve_users
scripts/ensure-mailpit.sh --start >/dev/null
mkdir -p "$DIR"
go build -o bin/loadcheck ./internal/loadcheck

echo "serve load check: the demo case ($USERS users, $REQUESTS requests) ..."
"$BIN" demo --out "$DIR/demo" --users "$USERS" --requests "$REQUESTS" --users-db "$USERS_DB" >"$DIR/demo.log" 2>&1
casefile="$DIR/demo/incident/incident.yaml"
"$BIN" affected -f "$casefile" --format csv | tail -n +2 | cut -d, -f1 > "$DIR/ids.txt"
echo "  $(wc -l < "$DIR/ids.txt") affected people to look up"

# The freshly ingested tables analysed and flushed, as autovacuum and the
# checkpointer would have them a minute later: the check measures serve,
# not the ingest's aftermath.
psql -h 127.0.0.1 -U postgres -d breachctl_bench_serve -qc 'VACUUM ANALYZE' -c 'CHECKPOINT' >/dev/null

if ! printf '%s\n' "$BREACHCTL_LOAD_PASSWORD" | "$BIN" serve users add load-support --role support --password-stdin 2>/dev/null; then
  printf '%s\n' "$BREACHCTL_LOAD_PASSWORD" | "$BIN" serve users set load-support --role support --enable --password-stdin
fi

# The self-check limit per client address is raised: the load comes from
# one address, as the company's backend would.
"$BIN" serve -f "$casefile" --listen "127.0.0.1:$PORT" --selfcheck-rate 1000000 2>"$DIR/serve.log" &
serve_pid=$!
trap 'kill -TERM $serve_pid 2>/dev/null || true; wait $serve_pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
  sleep 0.2
done

status=0
check() {
  local name=$1; shift
  echo
  echo "── $name: $CLIENTS clients, $DURATION ──"
  # 3 s of warm-up first (connections opened, statements prepared), not counted.
  bin/loadcheck -url "http://127.0.0.1:$PORT" -c "$CLIENTS" -d 3s -ids-file "$DIR/ids.txt" "$@" >/dev/null 2>&1 || true
  local rc=0
  bin/loadcheck -url "http://127.0.0.1:$PORT" -c "$CLIENTS" -d "$DURATION" -ids-file "$DIR/ids.txt" \
      -min-rps 2000 -max-p99 50ms "$@" | tee "$DIR/last.txt" || rc=$?
  if [ "$rc" = 0 ]; then
    echo "PASS (≥ 2,000/s, p99 < 50 ms, no errors)"
  elif [ "$rc" = 1 ] && grep -Eq '^errors +0$' "$DIR/last.txt"; then
    echo "MISS: no errors, but under the target (≥ 2,000/s, p99 < 50 ms)"
  else
    echo "ERRORS (or the check could not run)"
    status=1
  fi
}
check "staff lookups (person pages, audited)" -mode lookup -user load-support -person-path '/person?user={id}'
check "self-checks (fresh signed tokens)" -mode selfcheck
kill -TERM $serve_pid
wait $serve_pid || true
trap - EXIT
echo
echo "server log: $DIR/serve.log ($(wc -l < "$DIR/serve.log") lines)"
exit $status
