#!/bin/sh
# Step time of the `small` model, batch 32, 2 threads: PyTorch 1.13 CPU vs
# Go/gorgonia (train.BenchmarkStepConcat/AttrReg), and their ratios.
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
gc=$(echo "$go_out" | awk '/^BenchmarkStepConcat/ {print $3/1e9}')
ga=$(echo "$go_out" | awk '/^BenchmarkStepAttrReg/ {print $3/1e9}')
pc=$(echo "$py" | sed 's/.*concat_s=\([0-9.]*\).*/\1/')
pa=$(echo "$py" | sed 's/.*attrreg_s=\([0-9.]*\).*/\1/')
awk -v gc="$gc" -v ga="$ga" -v pc="$pc" -v pa="$pa" 'BEGIN {
	printf "go concat %.3fs  attr-reg %.3fs | pytorch concat %.3fs  attr-reg %.3fs\n", gc, ga, pc, pa
	printf "go/pytorch concat %.2fx (target <= 2)  attr-reg %.2fx\n", gc/pc, ga/pa
	printf "go attr-reg/concat %.2fx (target <= 1.5)\n", ga/gc
}'
