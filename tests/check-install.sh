#!/bin/sh
# Installs the build into a scratch DESTDIR and checks that every file a
# desktop and a user need landed where they look for it (TAP output).
#   usage: check-install.sh MESON BUILDDIR BINDIR DATADIR APP_ID [MODEL...]
# BINDIR and DATADIR are absolute (prefix included), as meson installs them.
# Each MODEL is the name of a bundled model (assets/models/meson.build's
# shipped_model_names) that must be installed and load.
meson=${1:?usage: check-install.sh MESON BUILDDIR BINDIR DATADIR APP_ID [MODEL...]}
builddir=${2:?} bindir=${3:?} datadir=${4:?} app_id=${5:?}
shift 5

dest=$(mktemp -d "${TMPDIR:-/tmp}/attnscope-install.XXXXXX") || exit 1
trap 'rm -rf "$dest"' EXIT
n=0
ok () { n=$((n + 1)); echo "ok $n $1"; }
not_ok () { n=$((n + 1)); echo "not ok $n $1"; }
check () # check DESCRIPTION TEST-ARGS...
{
  what=$1; shift
  if test "$@"; then ok "$what"; else not_ok "$what"; fi
}

echo "1..$((10 + 2 * $#))"
if out=$("$meson" install -C "$builddir" --destdir "$dest" --no-rebuild 2>&1)
then
  ok "meson install --destdir"
else
  not_ok "meson install --destdir"
  printf '%s\n' "$out" | sed 's/^/# /'
fi

bin=$dest$bindir
share=$dest$datadir
cli=$bin/attnscope-cli
desktop=$share/applications/$app_id.desktop
metainfo=$share/metainfo/$app_id.metainfo.xml
icon=$share/icons/hicolor/scalable/apps/$app_id.svg
symbolic=$share/icons/hicolor/symbolic/apps/$app_id-symbolic.svg

check "bin/attnscope-cli installed and executable" -f "$cli" -a -x "$cli"
# The installed copy must run on its own: no path back into the build tree.
if [ -x "$cli" ] && "$cli" --help >/dev/null 2>&1; then
  ok "installed attnscope-cli --help runs"
else
  not_ok "installed attnscope-cli --help runs"
fi
check "share/applications/$app_id.desktop" -f "$desktop"
check "share/metainfo/$app_id.metainfo.xml" -f "$metainfo"
check "share/icons/hicolor/scalable/apps/$app_id.svg" -s "$icon"
check "share/icons/hicolor/symbolic/apps/$app_id-symbolic.svg" -s "$symbolic"
check "share/attnscope/models/ is a directory" -d "$share/attnscope/models"

# The desktop file's Icon= must name the installed icon, and the
# metainfo's launchable the installed desktop file, or menus and software
# centres show a blank.
icon_key=$(sed -n 's/^Icon=//p' "$desktop" 2>/dev/null)
check "desktop Icon=$icon_key names the installed icon" \
  -f "$share/icons/hicolor/scalable/apps/$icon_key.svg"
launchable=$(sed -n 's:.*<launchable type="desktop-id">\(.*\)</launchable>.*:\1:p' \
  "$metainfo" 2>/dev/null)
check "metainfo launchable $launchable is installed" \
  -n "$launchable" -a -f "$share/applications/$launchable"

# Every shipped model is installed, and the installed program loads it
# (info reads the whole file: config, vocabulary, card, every tensor).
for name in "$@"; do
  model=$share/attnscope/models/$name.safetensors
  check "share/attnscope/models/$name.safetensors" -s "$model"
  if [ -x "$cli" ] && "$cli" info --model "$model" >/dev/null 2>&1; then
    ok "installed attnscope-cli info --model $name.safetensors loads it"
  else
    not_ok "installed attnscope-cli info --model $name.safetensors loads it"
  fi
done
