#!/usr/bin/env bash
# Makes sure a PostgreSQL server answers on 127.0.0.1:5432 with trust auth for
# user postgres on loopback, as the tests and `make demo` expect. Starts an
# installed cluster, or installs Debian's package first. Idempotent.
set -euo pipefail

host=127.0.0.1
port=${PGPORT:-5432}

ready() { pg_isready -q -h "$host" -p "$port" 2>/dev/null; }

if command -v pg_isready >/dev/null 2>&1 && ready; then
  exit 0
fi

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  echo "ensure-postgres: installing PostgreSQL from Debian's packages" >&2
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi

ver=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
if [ ! -d "/etc/postgresql/$ver/main" ]; then
  as_root pg_createcluster "$ver" main >/dev/null
fi
hba="/etc/postgresql/$ver/main/pg_hba.conf"
# Loopback connections as any user without a password: a local test server.
if ! grep -q '^host all all 127.0.0.1/32 trust' "$hba"; then
  as_root sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\nlocal all all trust' "$hba"
fi
echo "ensure-postgres: starting PostgreSQL $ver" >&2
as_root pg_ctlcluster --skip-systemctl-redirect "$ver" main start || as_root pg_ctlcluster --skip-systemctl-redirect "$ver" main reload
for _ in $(seq 1 30); do
  ready && exit 0
  sleep 1
done
echo "ensure-postgres: PostgreSQL did not come up on $host:$port; see /var/log/postgresql/" >&2
exit 1
