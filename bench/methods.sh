#!/usr/bin/env bash
# Every training mode side by side on two generated sets of different imbalance, 3 seeds each:
# avbalance synth → extract (tiny preset) → train every mode → bench/RESULTS-methods.md.
#
# Usage: bench/methods.sh [OUT]        (from anywhere; OUT defaults to /tmp/avb-methods)
#   SEEDS="1 2 3"  SETS="demo faint"  MODES="audio video concat …"  PARALLEL=2  — narrow a run
#
# The sets (480 clips each, 64×64 at 8 fps, mpeg4, as the demo's):
#   demo   the demo's design: grating contrast 0.25, period 0.2, pairs 30° apart
#   faint  the same with a fainter grating (contrast 0.15): video slower still, a stronger imbalance
# Training is the demo's recipe (SGD lr 0.01 momentum 0.9, embedding 64, batch 32): 16 epochs per
# fusion mode, 32 for the unimodal runs, which are also umt's teachers (--teacher-audio/-video).
# attr-reg λ 3 and ogm-ge α 0.5 as in the demo; mmpareto, pmr, agm and umt at their authors'
# defaults. Each seed generates its own set and seeds training. Runs that finished are kept, so an
# interrupted benchmark continues where it stopped. Not part of `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-/tmp/avb-methods}
SEEDS=${SEEDS:-1 2 3}
SETS=${SETS:-demo faint}
MODES=${MODES:-audio video concat ogm-ge attr-reg mmpareto pmr agm umt}
PARALLEL=${PARALLEL:-2}
BIN=bin/avbalance
export PATH=$PATH:/usr/local/go/bin
go build -tags openblas -o "$BIN" ./cmd/avbalance

set_flags() { # set → synth flags
	case $1 in
	demo) echo "--stripe-period 0.2 --pair-spread 1" ;;
	faint) echo "--stripe-period 0.2 --pair-spread 1 --cue-contrast 0.15" ;;
	*) echo "unknown set $1" >&2; exit 2 ;;
	esac
}

mode_flags() { # mode seed-dir → train flags of the mode
	case $1 in
	audio | video) echo "--epochs 32" ;;
	attr-reg) echo "--lambda 3" ;;
	ogm-ge) echo "--alpha 0.5" ;;
	umt) echo "--teacher-audio $2/runs/audio --teacher-video $2/runs/video" ;;
	esac
}

begin=$(date +%s)
jobs=()
for set in $SETS; do
	for seed in $SEEDS; do
		dir=$OUT/$set/seed-$seed
		if [[ ! -f $dir/shards/index.json ]]; then
			echo "$set seed $seed: synth + extract" >&2
			rm -rf "$dir/synth" "$dir/shards"
			# shellcheck disable=SC2046
			$BIN synth --out "$dir/synth" --clips 480 --seed "$seed" --size 64 --fps 8 --codec mpeg4 \
				$(set_flags "$set") --quiet >/dev/null
			$BIN extract --dataset manifest --manifest "$dir/synth/manifest.csv" --preset tiny --frames 3 --size 32 \
				--seconds 1 --workers 1 --out "$dir/shards" --quiet
		fi
		for mode in $MODES; do
			jobs+=("$dir $mode $seed")
		done
	done
done

train_one() { # dir mode seed
	local dir=$1 mode=$2 seed=$3 run=$1/runs/$2
	[[ -f $run/result.json ]] && return 0
	if [[ $mode == umt ]]; then # its teachers first
		while [[ ! -f $dir/runs/audio/result.json || ! -f $dir/runs/video/result.json ]]; do sleep 5; done
	fi
	rm -rf "$run"
	local t0
	t0=$(date +%s)
	# shellcheck disable=SC2046
	$BIN train --shards "$dir/shards" --out "$run" --mode "$mode" --seed "$seed" --optimizer sgd --lr 0.01 \
		--momentum 0.9 --weight-decay 1e-4 --embed 64 --epochs 16 --workers 1 --quiet $(mode_flags "$mode" "$dir") >/dev/null
	echo "$dir $mode: $(($(date +%s) - t0)) s" >&2
}
export -f train_one mode_flags
export BIN
# unimodal runs first (umt waits for them), then the rest, PARALLEL at a time
printf '%s\n' "${jobs[@]}" | awk '{print ($2 == "audio" || $2 == "video" ? 0 : 1), $0}' | sort -s -k1,1n | cut -d' ' -f2- |
	xargs -P "$PARALLEL" -L 1 bash -c 'train_one "$@"' _
wall=$(($(date +%s) - begin))
/usr/bin/python3 bench/methods_table.py "$OUT" "$SETS" "$SEEDS" "$MODES" "$wall" "$(uptime)" bench/RESULTS-methods.md
echo "wrote bench/RESULTS-methods.md ($wall s)" >&2
