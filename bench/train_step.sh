#!/bin/sh
# Step time of the `small` model, batch 32, 2 threads: PyTorch 1.13 CPU vs
# Go/gorgonia (train.BenchmarkStepConcat/AttrReg), and their ratios, in wall
# time and in process CPU time (user+system, all threads; steadier than wall
# time on a shared machine).
# Usage: bench/train_step.sh [tiny|cremad] [steps]   (from the module root)
# Set TAGS=openblas to link gorgonia against OpenBLAS (libopenblas-dev).
set -eu
shape=${1:-tiny}
steps=${2:-10}
cd "$(dirname "$0")/.."
py=$(/usr/bin/python3 bench/train_step.py "$shape" "$steps")
echo "pytorch: $py"
go_out=$(AVB_BENCH_SHAPE=$shape GOMAXPROCS=2 go test ${TAGS:+-tags "$TAGS"} ./train/ -run '^$' \
	-bench 'BenchmarkStep(Concat|AttrReg)$' -benchtime "${steps}x")
echo "$go_out" | grep '^Benchmark'
field() { echo "$py" | sed "s/.*$1=\([0-9.]*\).*/\1/"; }
gometric() { echo "$go_out" | awk -v b="$1" -v u="$2" '$1 ~ "^"b {for (i = 2; i < NF; i++) if ($(i+1) == u) print (u == "ns/op" ? $i/1e9 : $i)}'; }
gc=$(gometric BenchmarkStepConcat ns/op)
ga=$(gometric BenchmarkStepAttrReg ns/op)
gcc=$(gometric BenchmarkStepConcat cpu-s/op)
gac=$(gometric BenchmarkStepAttrReg cpu-s/op)
awk -v gc="$gc" -v ga="$ga" -v pc="$(field concat_s)" -v pa="$(field attrreg_s)" \
	-v gcc="$gcc" -v gac="$gac" -v pcc="$(field concat_cpu)" -v pac="$(field attrreg_cpu)" 'BEGIN {
	printf "wall: go concat %.3fs  attr-reg %.3fs | pytorch concat %.3fs  attr-reg %.3fs\n", gc, ga, pc, pa
	printf "cpu:  go concat %.3fs  attr-reg %.3fs | pytorch concat %.3fs  attr-reg %.3fs\n", gcc, gac, pcc, pac
	printf "go/pytorch concat wall %.2fx cpu %.2fx (target <= 2)  attr-reg wall %.2fx cpu %.2fx\n", gc/pc, gcc/pcc, ga/pa, gac/pac
	printf "go attr-reg/concat wall %.2fx cpu %.2fx (target <= 1.5)\n", ga/gc, gac/gcc
}'
