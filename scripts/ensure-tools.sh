#!/usr/bin/env bash
# Installs optional accelerators from Debian's packages when missing:
# igzip (package isal) decompresses gzip logs about 2.5x faster than Go.
# breachctl works without it; a failed install is reported, not fatal.
set -u
if ! command -v igzip >/dev/null 2>&1; then
  as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
  echo "ensure-tools: installing igzip (Debian package isal)" >&2
  { as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq isal; } >/dev/null 2>&1 \
    || echo "ensure-tools: could not install isal; gzip files will be read by the built-in decompressor" >&2
fi
exit 0
