#!/bin/sh
# docs/images/make-teach-images.sh: the pictures of docs/teaching.md, drawn
# by attnscope-cli from runs of the bundled models (assets/models/) on the
# sentences the lesson asks students to type. Run from the source root after
# building (CLI defaults to build/app/attnscope-cli):
#
#   docs/images/make-teach-images.sh [CLI]
#
# Every picture is what the GUI shows for the same model, text, block,
# layer and head: the GUI and the CLI draw with the same ui/render code.
set -eu

cli=${1:-build/app/attnscope-cli}
dir=docs/images
hi="--dpi 120"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$cli" export --model dates-transformer "23 November 2026" -o "$tmp/dt.json"
"$cli" export --model dates-bahdanau "23 November 2026" -o "$tmp/db.json"
"$cli" export --model reverse-transformer "attention" -o "$tmp/rv.json"

# 1. Month word to digits: the Transformer's last cross-attention layer.
"$cli" export --trace "$tmp/dt.json" --kind cross --layer 1 --head 1 \
  --width 1000 --height 750 $hi -o "$dir/teach-month-transformer.png"
# 2. The same date through the RNN with additive (Bahdanau) attention.
"$cli" export --trace "$tmp/db.json" --kind cross --layer 0 --head 0 \
  --width 1000 --height 750 $hi -o "$dir/teach-month-bahdanau.png"
"$cli" export --trace "$tmp/db.json" --kind cross --layer 0 --head 0 \
  --view alignment --threshold 0.05 --width 1000 --height 560 $hi \
  -o "$dir/teach-alignment-bahdanau.png"
# 3. Reversal: the anti-diagonal.
"$cli" export --trace "$tmp/rv.json" --kind cross --layer 1 --head 0 \
  --width 900 --height 750 $hi -o "$dir/teach-reverse.png"
# 4. The decoder looking back at its own output.
"$cli" export --trace "$tmp/dt.json" --kind decoder-self --layer 0 --head 2 \
  --values --width 1000 --height 750 $hi -o "$dir/teach-decoder-self.png"
# 5. Every head of the Transformer's cross-attention at once.
"$cli" export --trace "$tmp/dt.json" --kind cross --view model \
  --width 1000 --height 400 $hi -o "$dir/teach-model-grid.png"
