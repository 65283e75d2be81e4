#!/bin/sh
# po/check-po.sh SOURCE_ROOT: extracts the marked strings of po/POTFILES as
# meson's glib preset does, then checks that each language of po/LINGUAS
# translates every one of them (msgcmp: a missing, untranslated or fuzzy
# entry fails) and keeps no obsolete entry. Exit status 0 when all do.
set -eu
root=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$root"
grep -v '^#' po/POTFILES | grep -v '^$' > "$tmp/files"
xgettext --from-code=UTF-8 --keyword=_ --keyword=N_ --keyword=C_:1c,2 \
  --keyword=NC_:1c,2 --keyword=g_dcgettext:2 --keyword=g_dngettext:2,3 \
  --keyword=g_dpgettext2:2c,3 --files-from="$tmp/files" \
  --output="$tmp/attnscope.pot"
status=0
for lang in $(cat po/LINGUAS); do
  if ! msgcmp "po/$lang.po" "$tmp/attnscope.pot"; then
    echo "po/$lang.po: strings above are missing, untranslated or fuzzy" >&2
    status=1
  fi
  # msgcmp ignores entries the sources no longer have: count them.
  extra=$(msgcomm --less-than=2 --unique "po/$lang.po" "$tmp/attnscope.pot" \
            --no-location 2>/dev/null | grep -c '^msgid ' || true)
  # msgcomm's own header entry is not a left-over.
  if [ "$extra" -gt 1 ]; then
    echo "po/$lang.po: $((extra - 1)) strings the sources no longer mark" >&2
    status=1
  fi
done
exit $status
