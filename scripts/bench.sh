#!/usr/bin/env bash
# End-to-end ingest benchmark (`make bench`): simulates LINES requests in each
# benchmarked format, then times `breachctl ingest` from process start to
# finish with /usr/bin/time (wall clock and peak RSS), and GoAccess on the same
# plain nginx files for comparison. Each input is timed RUNS times (default
# 3), --dry-run and full ingest alternating; the table shows medians.
# Prints one table; nothing is asserted.
#
#   LINES=20000000 USERS=1000000 RUNS=3 BENCH_DIR=/tmp/breachctl-bench scripts/bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."

LINES=${LINES:-20000000}
RUNS=${RUNS:-3}
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

# timed NAME CASEFILE MODE R: time one ingest (MODE --dry-run: parse, hash
# and account only, issue 3's figures; empty: the full ingest with
# correlation and storage) into $DIR/NAME MODE.R.out, with its wall clock
# (s) and peak RSS (KB) in .wall and .rss. The case database's pending
# writes are flushed first (CHECKPOINT), so that a run does not pay for the
# previous run's store.
timed() {
  local name=$1 casefile=$2 mode=$3 r=$4
  local out="$DIR/$name$mode.$r.out"
  psql -h 127.0.0.1 -U postgres -d postgres -qc CHECKPOINT >/dev/null
  /usr/bin/time -f '%e %M' -o "$DIR/time.txt" "$BIN" ingest $mode -v -f "$casefile" > "$out" 2>/dev/null
  read -r secs kb < "$DIR/time.txt"
  echo "$secs" > "$out.wall"
  echo "$kb" > "$out.rss"
}

# median: the median of the numbers on stdin (the lower middle one).
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# seconds NAME FILE: a phase's duration from a "timings:" line, in seconds.
seconds() {
  grep 'timings:' "$2" | tr ',' '\n' | awk -v k="$1" '$1 == k || ($1 == "timings:" && $2 == k) {
    v = $NF; if (v ~ /ms$/) { sub(/ms$/, "", v); v /= 1000 } else if (v ~ /µs$/) { sub(/µs$/, "", v); v /= 1000000 } else { sub(/s$/, "", v) }
    print v }'
}

# report NAME CASEFILE MODE: one line with the median run's figures (wall
# and RSS are each the median of the runs), then that run's timings.
report() {
  local name=$1 casefile=$2 mode=$3
  local walls rss lines bytes wall mid
  wall=$(cat "$DIR/$name$mode".*.out.wall | median)
  rss=$(cat "$DIR/$name$mode".*.out.rss | median)
  mid=$(grep -lx "$wall" "$DIR/$name$mode".*.out.wall | head -1)
  mid=${mid%.wall}
  lines=$(grep -oE '[0-9]+ lines in' "$mid" | head -1 | cut -d' ' -f1)
  bytes=$(du -sbL "$(dirname "$casefile")/logs" | cut -f1)
  walls=$(cat "$DIR/$name$mode".*.out.wall | sort -g | tr '\n' ' ')
  printf '%-28s %12s lines %8.2f s %8.2f M lines/s %6d MB RSS %8.1f MB input  (runs: %s)\n' "$name" "$lines" "$wall" \
    "$(echo "$lines / $wall / 1000000" | bc -l)" $((rss / 1024)) "$(echo "$bytes / 1048576" | bc -l)" "$walls" | tee -a "$results"
  grep 'timings:' "$mid" | sed 's/^ */    /' | tee -a "$results"
}

# budget NAME: issue 4's measure from the medians of RUNS alternating runs.
# Correlation and resolution cost the per-line collection during the read
# (the full ingest's read minus the --dry-run read) plus group, lineage,
# resolve and evaluate, as a share of the full ingest's wall.
budget() {
  local name=$1 rd rf post wall f
  rd=$(for f in "$DIR/$name--dry-run".*.out; do seconds read "$f"; done | median)
  rf=$(for f in "$DIR/$name".[0-9]*.out; do seconds read "$f"; done | median)
  post=$(for f in "$DIR/$name".[0-9]*.out; do
    echo "$(seconds group "$f") $(seconds lineage "$f") $(seconds resolve "$f") $(seconds evaluate "$f")" | awk '{ print $1 + $2 + $3 + $4 }'
  done | median)
  wall=$(cat "$DIR/$name".[0-9]*.out.wall | median)
  awk -v n="$name" -v rd="$rd" -v rf="$rf" -v post="$post" -v w="$wall" 'BEGIN {
    c = rf - rd; if (c < 0) c = 0
    printf "%-28s collection %.2f s (read %.2f s - %.2f s) + group..evaluate %.2f s = %.2f s of %.2f s: %.1f%% (after the read alone: %.1f%%)\n", n, c, rf, rd, post, c + post, w, 100 * (c + post) / w, 100 * post / w }' | tee -a "$results"
}

# bench NAME CASEFILE [full]: a warm-up, then RUNS runs of --dry-run and, with
# "full", each followed by a full ingest (alternating, so that both see the
# same state of a shared machine), then the medians.
bench() {
  local name=$1 casefile=$2 full=${3:-}
  rm -f "$DIR/$name"*.out "$DIR/$name"*.out.wall "$DIR/$name"*.out.rss
  "$BIN" ingest --dry-run -f "$casefile" >/dev/null
  for r in $(seq "$RUNS"); do
    timed "$name" "$casefile" --dry-run "$r"
    [ -n "$full" ] && timed "$name" "$casefile" "" "$r"
  done
  return 0
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

formats=("nginx (plain)|$DIR/nginx-plain/incident.yaml" "nginx (gzip)|$DIR/nginx/incident.yaml"
  "cloudfront (gzip)|$DIR/cloudfront/incident.yaml" "cloudflare (gzip)|$DIR/cloudflare/incident.yaml")
full=full
[ -n "${SKIP_FULL:-}" ] && full=
for f in "${formats[@]}"; do bench "${f%%|*}" "${f#*|}" $full; done
BREACHCTL_GUNZIP=builtin bench "cloudfront (gzip, built-in)" "$DIR/cloudfront/incident.yaml"
echo "parse + hash + account (ingest --dry-run), median of $RUNS runs:" | tee -a "$results"
for f in "${formats[@]}"; do report "${f%%|*}" "${f#*|}" --dry-run; done
report "cloudfront (gzip, built-in)" "$DIR/cloudfront/incident.yaml" --dry-run
if [ -n "$full" ]; then
  echo "full ingest (parse, correlate, resolve, store), median of $RUNS runs:" | tee -a "$results"
  for f in "${formats[@]}"; do report "${f%%|*}" "${f#*|}" ""; done
  echo "correlation + resolution as a share of the full ingest (budget: 20%), medians of $RUNS alternating runs:" | tee -a "$results"
  for f in "${formats[@]}"; do budget "${f%%|*}"; done
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
  bench "breachctl, same files" "$DIR/ga/incident.yaml"
  report "breachctl, same files" "$DIR/ga/incident.yaml" --dry-run
fi
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)" | tee -a "$results"
