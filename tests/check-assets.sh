#!/bin/sh
# Validates the desktop integration files with the tools a distribution
# uses (TAP output). Hints are allowed; errors and warnings are not.
#   usage: check-assets.sh DESKTOP_FILE METAINFO_FILE
desktop=${1:?usage: check-assets.sh DESKTOP_FILE METAINFO_FILE}
metainfo=${2:?usage: check-assets.sh DESKTOP_FILE METAINFO_FILE}
echo "1..2"

if ! command -v desktop-file-validate >/dev/null 2>&1; then
  echo "ok 1 # SKIP desktop-file-validate not installed (desktop-file-utils)"
elif out=$(desktop-file-validate "$desktop" 2>&1) &&
     ! printf '%s\n' "$out" | grep -qE ': (error|warning): '; then
  echo "ok 1 desktop-file-validate $(basename "$desktop")"
  [ -n "$out" ] && printf '%s\n' "$out" | sed 's/^/# /'
else
  echo "not ok 1 desktop-file-validate $(basename "$desktop")"
  printf '%s\n' "$out" | sed 's/^/# /'
fi

if ! command -v appstreamcli >/dev/null 2>&1; then
  echo "ok 2 # SKIP appstreamcli not installed (appstream)"
elif out=$(appstreamcli validate --no-net "$metainfo" 2>&1); then
  echo "ok 2 appstreamcli validate --no-net $(basename "$metainfo")"
else
  echo "not ok 2 appstreamcli validate --no-net $(basename "$metainfo")"
  printf '%s\n' "$out" | sed 's/^/# /'
fi
