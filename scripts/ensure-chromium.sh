#!/usr/bin/env bash
# Installs Debian's Chromium for the browser tests of breachctl serve
# (cmd/breachctl/browser_test.go, driven through chromedp) when it is missing.
# Without it those tests skip and say why; CI runs `make test`, which runs
# this first, so CI drives a real browser.
set -u
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
echo "ensure-chromium: installing Chromium (Debian package chromium) for the browser tests" >&2
if ! { as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } >/tmp/ensure-chromium.log 2>&1; then
  echo "ensure-chromium: could not install chromium (see /tmp/ensure-chromium.log); the browser tests will skip" >&2
fi
exit 0
