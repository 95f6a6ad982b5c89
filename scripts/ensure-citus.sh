#!/usr/bin/env bash
# Installs Citus (distributed PostgreSQL) for the machine's PostgreSQL 15
# from the source release in ../shared/vendor/citus (its build.sh: about a
# minute or two on 2 cores, once; it does nothing when Citus is installed).
# The Citus tests (internal/citustest) start a coordinator and two workers
# of their own; without Citus they skip and say why. A failed build is
# reported, not fatal.
set -u
cd "$(dirname "$0")/.."
vendor=../shared/vendor/citus
pgconfig=$(command -v pg_config || echo /usr/lib/postgresql/15/bin/pg_config)
if [ -x "$pgconfig" ] && [ -f "$("$pgconfig" --pkglibdir)/citus.so" ]; then
  exit 0
fi
if [ ! -x "$vendor/build.sh" ] && [ ! -f "$vendor/build.sh" ]; then
  echo "ensure-citus: $vendor is absent: the Citus tests will skip" >&2
  exit 0
fi
echo "ensure-citus: building Citus from $vendor (once; a minute or two)" >&2
if ! bash "$vendor/build.sh" >/tmp/ensure-citus.log 2>&1; then
  echo "ensure-citus: the build failed (see /tmp/ensure-citus.log): the Citus tests will skip" >&2
fi
exit 0
