#!/bin/sh
# Proves the layer rules of DESIGN.md on the sources (TAP output):
#   core/       never includes GTK, libadwaita, Cairo or Pango;
#   ui/render/  never includes GTK or libadwaita.
# and that the attn-core library's dependencies name none of them.
root=${1:?usage: check-layers.sh SOURCE_ROOT}
cd "$root" || exit 1
echo "1..3"
bad=$(grep -rnE '#[[:space:]]*include[[:space:]]*[<"](gtk|gdk|adwaita|cairo|pango)' core/ 2>/dev/null)
if [ -z "$bad" ]; then echo "ok 1 core/ includes no GTK, Cairo or Pango"
else echo "not ok 1 core/ includes a forbidden header"; echo "$bad" | sed 's/^/# /'; fi
bad=$(grep -rnE '#[[:space:]]*include[[:space:]]*[<"](gtk|gdk|adwaita)' ui/render/ 2>/dev/null)
if [ -z "$bad" ]; then echo "ok 2 ui/render/ includes no GTK"
else echo "not ok 2 ui/render/ includes GTK"; echo "$bad" | sed 's/^/# /'; fi
bad=$(grep -nE "dependency\('(gtk4|libadwaita-1|cairo|pango|pangocairo)" core/meson.build)
if [ -z "$bad" ]; then echo "ok 3 core/meson.build depends on no GUI library"
else echo "not ok 3 core/meson.build names a GUI library"; echo "$bad" | sed 's/^/# /'; fi
