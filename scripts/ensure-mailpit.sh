#!/usr/bin/env bash
# Makes sure Mailpit (a real SMTP server with a web UI and an HTTP API) is
# installed; with --start, also that one answers on MAILPIT_SMTP / MAILPIT_HTTP
# (default 127.0.0.1:1025 and 127.0.0.1:8025), started in the background with
# its data under MAILPIT_DIR. With --clear-own, empties the mailbox of the
# Mailpit that --start started (never one somebody else runs). The tests start
# their own private instances and only need it installed. Idempotent.
set -euo pipefail

version=v1.27.11
smtp=${MAILPIT_SMTP:-127.0.0.1:1025}
http=${MAILPIT_HTTP:-127.0.0.1:8025}
dir=${MAILPIT_DIR:-${TMPDIR:-/tmp}/breachctl-mailpit}

gobin=$(go env GOBIN)
[ -n "$gobin" ] || gobin="$(go env GOPATH)/bin"
bin=$(command -v mailpit || true)
[ -n "$bin" ] || { [ -x "$gobin/mailpit" ] && bin="$gobin/mailpit"; } || true
if [ -z "$bin" ]; then
  echo "ensure-mailpit: installing Mailpit $version (go install; about a minute)" >&2
  go install "github.com/axllent/mailpit@$version"
  bin="$gobin/mailpit"
fi

pidfile="$dir/mailpit.pid"
if [ "${1:-}" = "--clear-own" ]; then
  if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null && command -v curl >/dev/null; then
    curl -fsS -X DELETE "http://$http/api/v1/messages" >/dev/null 2>&1 || true
  fi
  exit 0
fi
[ "${1:-}" = "--start" ] || exit 0

answers() { curl -fsS --max-time 2 "http://$http/api/v1/info" >/dev/null 2>&1 \
  || (exec 3<>"/dev/tcp/${smtp%:*}/${smtp##*:}") 2>/dev/null; }
if answers; then
  exit 0
fi
mkdir -p "$dir"
rm -f "$dir"/mailpit.db*  # our own instance starts with an empty mailbox
echo "ensure-mailpit: starting Mailpit (SMTP $smtp, web http://$http/)" >&2
nohup "$bin" --smtp "$smtp" --listen "$http" --max 200000 --smtp-auth-accept-any --smtp-auth-allow-insecure \
  --database "$dir/mailpit.db" --disable-version-check --quiet >"$dir/mailpit.log" 2>&1 &
echo $! > "$pidfile"
for _ in $(seq 1 50); do
  answers && exit 0
  sleep 0.2
done
echo "ensure-mailpit: Mailpit did not come up; see $dir/mailpit.log" >&2
exit 1
