#!/usr/bin/env bash
# End-to-end ingest benchmark (`make bench`): simulates LINES requests in each
# benchmarked format, then times `breachctl ingest` from process start to
# finish with /usr/bin/time (wall clock and peak RSS), and GoAccess on the same
# plain nginx files for comparison. Prints one table; nothing is asserted.
#
#   LINES=20000000 USERS=1000000 BENCH_DIR=/tmp/breachctl-bench scripts/bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."

LINES=${LINES:-20000000}
USERS=${USERS:-1000000}
DIR=${BENCH_DIR:-/tmp/breachctl-bench}
BIN=${BIN:-bin/breachctl}
PG=postgres://postgres@127.0.0.1:5432
export BREACHCTL_DATABASE_URL=${BREACHCTL_DATABASE_URL:-$PG/breachctl_bench?sslmode=disable}
USERS_DB=${USERS_DB:-$PG/breachctl_bench_users?sslmode=disable}

command -v /usr/bin/time >/dev/null || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }
command -v goaccess >/dev/null || { apt-get update -qq && apt-get install -y -qq goaccess >/dev/null || true; }
command -v igzip >/dev/null || { apt-get update -qq && apt-get install -y -qq isal >/dev/null || true; }
# The case database starts empty: every ingest adds a run of ~2.25 M events,
# and a database grown by earlier benchmarks (and its autovacuum) slows the
# store phase by a second or more.
psql -h 127.0.0.1 -U postgres -d postgres -qc 'DROP DATABASE IF EXISTS breachctl_bench' >/dev/null
scripts/ensure-db.sh breachctl_bench breachctl_bench_users

results="$DIR/results.txt"
if [ -z "${REUSE:-}" ]; then
  rm -rf "$DIR" && mkdir -p "$DIR"
fi
: > "$results"

# run NAME CASEFILE [--dry-run]: ingest once to warm the page cache, then
# time a second run. --dry-run parses, hashes and accounts only (issue 3's
# figures); without it, the full ingest with correlation and storage.
run() {
  local name=$1 casefile=$2 mode=${3:-}
  "$BIN" ingest $mode -f "$casefile" >/dev/null
  local out="$DIR/$name${mode}.out"
  /usr/bin/time -f '%e %M' -o "$DIR/time.txt" "$BIN" ingest $mode -v -f "$casefile" > "$out" 2>/dev/null
  read -r secs kb < "$DIR/time.txt"
  local lines
  lines=$(grep -oE '[0-9]+ lines in' "$out" | head -1 | cut -d' ' -f1)
  local bytes
  bytes=$(du -sbL "$(dirname "$casefile")/logs" | cut -f1)
  printf '%-28s %12s lines %8.2f s %8.2f M lines/s %6d MB RSS %8.1f MB input\n' "$name" "$lines" "$secs" \
    "$(echo "$lines / $secs / 1000000" | bc -l)" $((kb / 1024)) "$(echo "$bytes / 1048576" | bc -l)" | tee -a "$results"
  grep 'timings:' "$out" | sed 's/^ */    /' | tee -a "$results"
  echo "$secs" > "$out.wall"
}

# seconds NAME FILE: a phase's duration from a "timings:" line, in seconds.
seconds() {
  grep 'timings:' "$2" | tr ',' '\n' | awk -v k="$1" '$1 == k || ($1 == "timings:" && $2 == k) {
    v = $NF; if (v ~ /ms$/) { sub(/ms$/, "", v); v /= 1000 } else if (v ~ /µs$/) { sub(/µs$/, "", v); v /= 1000000 } else { sub(/s$/, "", v) }
    print v }'
}

# budget NAME: issue 4's measure. Correlation and resolution cost the
# per-line collection during the read (full read minus --dry-run read) plus
# group, lineage, resolve and evaluate, as a share of the full ingest's wall.
budget() {
  local dry="$DIR/$1--dry-run.out" full="$DIR/$1.out"
  [ -f "$dry" ] && [ -f "$full" ] || return 0
  local rd rf g l r e wall
  rd=$(seconds read "$dry"); rf=$(seconds read "$full"); g=$(seconds group "$full"); l=$(seconds lineage "$full")
  r=$(seconds resolve "$full"); e=$(seconds evaluate "$full"); wall=$(cat "$full.wall")
  awk -v n="$1" -v rd="$rd" -v rf="$rf" -v g="$g" -v l="$l" -v r="$r" -v e="$e" -v w="$wall" 'BEGIN {
    c = rf - rd; if (c < 0) c = 0; post = g + l + r + e
    printf "%-28s collection %.2f s + group..evaluate %.2f s = %.2f s of %.2f s: %.1f%% (after the read alone: %.1f%%)\n", n, c, post, c + post, w, 100 * (c + post) / w, 100 * post / w }' | tee -a "$results"
}

# REUSE=1 times the incidents of an earlier run again (the user database
# then holds the users of the last format simulated, so the nginx runs
# resolve against those: fine for timing, not for counts).
if [ -z "${REUSE:-}" ]; then
  echo "simulating $LINES requests per format, $USERS users, in $DIR" >&2
  for f in nginx cloudfront cloudflare; do
    "$BIN" simulate --out "$DIR/$f" --format "$f" --requests "$LINES" --users "$USERS" --users-db "$USERS_DB" --case-id "bench-$f" >/dev/null
  done
  # Plain nginx: the same lines, decompressed.
  mkdir -p "$DIR/nginx-plain/logs"
  for f in "$DIR"/nginx/logs/*/*; do
    edge=$(basename "$(dirname "$f")")
    zcat -f "$f" > "$DIR/nginx-plain/logs/$edge-$(basename "${f%.gz}")"
  done
  sed -e 's#^  - paths: .*#  - paths: ["logs/*"]#' -e 's#^id: .*#id: bench-nginx-plain#' "$DIR/nginx/incident.yaml" > "$DIR/nginx-plain/incident.yaml"
fi

echo "parse + hash + account (ingest --dry-run):" | tee -a "$results"
run "nginx (plain)" "$DIR/nginx-plain/incident.yaml" --dry-run
run "nginx (gzip)" "$DIR/nginx/incident.yaml" --dry-run
run "cloudfront (gzip)" "$DIR/cloudfront/incident.yaml" --dry-run
BREACHCTL_GUNZIP=builtin run "cloudfront (gzip, built-in)" "$DIR/cloudfront/incident.yaml" --dry-run
run "cloudflare (gzip)" "$DIR/cloudflare/incident.yaml" --dry-run
if [ -z "${SKIP_FULL:-}" ]; then
  echo "full ingest (parse, correlate, resolve, store):" | tee -a "$results"
  run "nginx (plain)" "$DIR/nginx-plain/incident.yaml"
  run "nginx (gzip)" "$DIR/nginx/incident.yaml"
  run "cloudfront (gzip)" "$DIR/cloudfront/incident.yaml"
  run "cloudflare (gzip)" "$DIR/cloudflare/incident.yaml"
  echo "correlation + resolution as a share of the full ingest (budget: 20%):" | tee -a "$results"
  for n in "nginx (plain)" "nginx (gzip)" "cloudfront (gzip)" "cloudflare (gzip)"; do budget "$n"; done
fi

if command -v goaccess >/dev/null && [ -z "${SKIP_GOACCESS:-}" ]; then
  # GoAccess and breachctl on the same plain nginx files. GoAccess takes
  # minutes per million lines here, so GOACCESS_FILES limits it to the first
  # files (default 4: about 2 million lines); breachctl --dry-run reads the
  # same subset for the ratio.
  n=${GOACCESS_FILES:-4}
  mkdir -p "$DIR/ga/logs"
  rm -f "$DIR"/ga/logs/*
  for f in $(ls "$DIR"/nginx-plain/logs/* | head -n "$n"); do ln -sf "$f" "$DIR/ga/logs/"; done
  sed -e 's#^id: .*#id: bench-goaccess#' "$DIR/nginx-plain/incident.yaml" > "$DIR/ga/incident.yaml"
  lines=$(cat "$DIR"/ga/logs/* | wc -l)
  /usr/bin/time -f '%e %M' -o "$DIR/time.txt" goaccess "$DIR"/ga/logs/* --no-global-config \
    --log-format='%h %^[%d:%t %^] "%r" %s %b "%R" "%u" %^' --date-format=%d/%b/%Y --time-format=%T \
    -o "$DIR/goaccess.json" >/dev/null 2>&1 || true
  read -r secs kb < "$DIR/time.txt"
  printf '%-28s %12s lines %8.2f s %8.2f M lines/s %6d MB RSS\n' "goaccess 1.7 (plain nginx)" "$lines" "$secs" \
    "$(echo "$lines / $secs / 1000000" | bc -l)" $((kb / 1024)) | tee -a "$results"
  run "breachctl, same files" "$DIR/ga/incident.yaml" --dry-run
fi
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)" | tee -a "$results"
