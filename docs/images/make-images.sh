#!/bin/sh
# docs/images/make-images.sh: the pictures of README.md's "Views" section,
# drawn by attnscope-cli from dates-trace.json. Run from the source root
# after building (CLI defaults to build/app/attnscope-cli):
#
#   docs/images/make-images.sh [CLI]
#
# dates-trace.json is a real run of the app's bundled default model,
# dates-transformer (assets/models/; 2 + 2 layers x 4 heads, d_model 64,
# trained by Attnscope's own trainer, 100 % exact match on its test dates),
# made afresh by this script from the sentence "23 Nov 2026".
#
# Each picture is laid out at 800 px wide (1/96 in units) and drawn at
# 144 dpi, i.e. 1.5 pixels per unit, so it stays sharp on a HiDPI screen.
set -eu

cli=${1:-build/app/attnscope-cli}
dir=docs/images
trace=$dir/dates-trace.json
hi="--dpi 144"

"$cli" export --model dates-transformer "23 Nov 2026" -o "$trace"

"$cli" export --trace "$trace" --kind cross --layer 1 --head mean \
  --width 1200 --height 900 $hi -o "$dir/heatmap.png"
"$cli" export --trace "$trace" --kind cross --layer 1 --head mean \
  --view alignment --threshold 0.03 --width 1200 --height 780 $hi \
  -o "$dir/alignment.png"
"$cli" export --trace "$trace" --kind encoder-self --layer 1 --view head \
  --threshold 0.1 --width 900 --height 720 $hi -o "$dir/head.png"
"$cli" export --trace "$trace" --kind cross --view model \
  --width 1200 --height 660 $hi -o "$dir/model.png"
"$cli" export --trace "$trace" --view step --step 5 \
  --width 1200 --height 420 $hi -o "$dir/step.png"
"$cli" export --trace "$trace" --kind cross --layer 1 --head 3 \
  --theme dark --colormap magma --values \
  --width 1200 --height 900 $hi -o "$dir/heatmap-dark.png"
