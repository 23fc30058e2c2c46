#!/bin/sh
# The training step alone against the PyTorch peer's (bench/train_step.py), 1 thread, the small model
# (concat and attr-reg, CREMA-D and tiny shapes) and ResNet-18: the `steps` section of
# bench/train_bench.sh, written to bench/RESULTS-train.md (AVB_BENCH_OUT for elsewhere).
exec "$(dirname "$0")/train_bench.sh" steps
