#!/usr/bin/env bash
# Every training mode side by side on two generated sets of different imbalance, 3 training seeds
# each: avbalance synth → extract (tiny preset) → avbalance compare → bench/RESULTS-methods.md.
#
# Usage: bench/methods.sh [OUT]        (from anywhere; OUT defaults to /tmp/avb-methods)
#   SETS="demo faint"  SEEDS=3  PARALLEL=2  — narrow a run
#
# The sets (480 clips, 64×64 at 8 fps, mpeg4, generated with seed 1, as the demo's):
#   demo   the demo's design: grating contrast 0.25, period 0.2, pairs 30° apart
#   faint  the same with a fainter grating (contrast 0.15): video slower still, a stronger imbalance
# Training is the demo's recipe (SGD lr 0.01 momentum 0.9 weight decay 1e-4, embedding 64, batch 32):
# 16 epochs per fusion mode, 32 for the unimodal runs and for umt's teachers; attr-reg at its defaults and
# ogm-ge α 0.5 as in the demo; mmpareto, pmr, agm and umt at their authors' defaults. compare
# reuses finished runs, so an interrupted benchmark continues where it stopped. Not part of
# `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-/tmp/avb-methods}
SETS=${SETS:-demo faint}
SEEDS=${SEEDS:-3}
PARALLEL=${PARALLEL:-2}
BIN=bin/avbalance
export PATH=$PATH:/usr/local/go/bin
go build -o "$BIN" ./cmd/avbalance

set_flags() { # set → synth flags
	case $1 in
	demo) echo "--stripe-period 0.2 --pair-spread 1" ;;
	faint) echo "--stripe-period 0.2 --pair-spread 1 --cue-contrast 0.15" ;;
	*) echo "unknown set $1" >&2; exit 2 ;;
	esac
}

begin=$(date +%s)
for set in $SETS; do
	dir=$OUT/$set
	if [[ ! -f $dir/shards/index.json ]]; then
		echo "$set: synth + extract" >&2
		rm -rf "$dir/synth" "$dir/shards"
		# shellcheck disable=SC2046
		$BIN synth --out "$dir/synth" --clips 480 --seed 1 --size 64 --fps 8 --codec mpeg4 $(set_flags "$set") --quiet >/dev/null
		$BIN extract --dataset manifest --manifest "$dir/synth/manifest.csv" --preset tiny --frames 3 --size 32 \
			--seconds 1 --workers 1 --out "$dir/shards" --quiet >/dev/null
	fi
	$BIN compare --shards "$dir/shards" --out "$dir/compare" --seeds "$SEEDS" --parallel "$PARALLEL" \
		--epochs 16 --lr 0.01 --embed 64 --workers 1 \
		ogm-ge.alpha=0.5 audio.epochs=32 video.epochs=32 umt.teacher-epochs=32 >/dev/null
done
wall=$(($(date +%s) - begin))
/usr/bin/python3 bench/methods_table.py "$OUT" "$SETS" "$wall" "$(uptime)" bench/RESULTS-methods.md
echo "wrote bench/RESULTS-methods.md ($wall s)" >&2
