#!/usr/bin/env bash
# Installs what letters need from Debian's packages when missing: the fonts
# notify letters embeds (fonts-dejavu-core: DejaVuSans; fonts-droid-fallback:
# DroidSansFallbackFull, for Japanese and Chinese; fonts-nanum: NanumGothic,
# for Korean) and pdftotext
# (poppler-utils), which the tests use to read the letters back.
set -eu
need=()
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] && [ -f /usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf ] || need+=(fonts-dejavu-core)
[ -f /usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf ] || need+=(fonts-droid-fallback)
[ -f /usr/share/fonts/truetype/nanum/NanumGothic.ttf ] || need+=(fonts-nanum)
command -v pdftotext >/dev/null 2>&1 || need+=(poppler-utils)
[ ${#need[@]} -eq 0 ] && exit 0
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
echo "ensure-letters: installing ${need[*]}" >&2
if ! { as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"; } >/tmp/ensure-letters.log 2>&1; then
  echo "ensure-letters: could not install ${need[*]} (see /tmp/ensure-letters.log)" >&2
  exit 1
fi
