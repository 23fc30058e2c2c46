#!/usr/bin/env bash
# avbalance-beam (Apache Beam, prism in-process) against `avbalance extract` on the same generated
# clips: 100 and 1,000 clips of 2 s (bench/scale-clips.sh, as bench/run.sh's scale rows), preset
# `default`, 2 decoders each, runs taken in turns. Wall time, CPU and peak RSS of each whole process;
# rewrites the "Scale-out on Apache Beam" section of bench/RESULTS.md and leaves the rest alone.
#
#   bench/beam.sh            (from anywhere; the first build of the Beam module takes minutes)
#
# Environment: AVB_BENCH_WORK keeps the generated clips in that folder (reused when present);
# AVB_BENCH_PASSES (default 5) rounds of each pair.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PATH:/usr/local/go/bin
passes=${AVB_BENCH_PASSES:-5}
if [[ -n ${AVB_BENCH_WORK:-} ]]; then
  work=$AVB_BENCH_WORK
  mkdir -p "$work"
else
  work=$(mktemp -d /tmp/avbalance-bench-beam.XXXXXX)
  trap 'rm -rf "$work"' EXIT
fi
echo "bench: work folder $work" >&2
scripts/setup.sh
mkdir -p "$work/bin"
go build -o "$work/bin/avbalance" ./cmd/avbalance
(cd beam && go build -o "$work/bin/avbalance-beam" ./cmd/avbalance-beam)
bench/scale-clips.sh "$work/gen" "$work/in"
/usr/bin/python3 bench/measure_beam.py "$work" bench/RESULTS.md "$passes"
echo "bench: wrote the Beam section of bench/RESULTS.md" >&2
