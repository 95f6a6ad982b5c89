#!/usr/bin/env bash
# ensure-db.sh NAME...: creates each database on the local server if missing.
set -euo pipefail
for name in "$@"; do
  if ! psql -h 127.0.0.1 -U postgres -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$name'" | grep -q 1; then
    psql -h 127.0.0.1 -U postgres -d postgres -qc "CREATE DATABASE \"$name\"" >/dev/null
    echo "created database $name" >&2
  fi
done
