#!/usr/bin/env bash
# The generated inputs of the scale benchmarks: 1,000 clips of 2 s (320x240 H.264 + mono AAC, one
# ffmpeg call, segmented) in GEN/scale, and manifests of the first 100 and of all 1,000 in
# MANIFESTS/gen100.csv and gen1000.csv. Clips already there are reused.
#
#   bench/scale-clips.sh GEN MANIFESTS
set -euo pipefail
gen=$1 manifests=$2
mkdir -p "$gen/scale" "$manifests"
if [[ ! -s $gen/scale/clip-0999.mp4 ]]; then
  echo "bench: generating 1,000 clips of 2 s (one ffmpeg call, segmented)" >&2
  ffmpeg -nostdin -hide_banner -loglevel error -y -f lavfi -i testsrc2=size=320x240:rate=25:duration=2000 \
    -f lavfi -i "anoisesrc=color=pink:sample_rate=44100:duration=2000:seed=1" \
    -c:v libx264 -preset ultrafast -g 50 -keyint_min 50 -sc_threshold 0 -pix_fmt yuv420p \
    -c:a aac -b:a 64k -ac 1 -f segment -segment_time 2 -reset_timestamps 1 -segment_format mp4 \
    "$gen/scale/clip-%04d.mp4"
fi
for n in 100 1000; do
  {
    echo id,path,label,split
    for ((i = 0; i < n; i++)); do
      printf 'g%04d,%s/scale/clip-%04d.mp4,c%d,train\n' "$i" "$gen" "$i" $((i % 6))
    done
  } >"$manifests/gen$n.csv"
done
