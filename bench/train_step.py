#!/usr/bin/python3
"""Time per optimizer step of the PyTorch peer (bench/torch_peer.py) on one
batch of random inputs, after one warm-up step: the counterpart of
train.BenchmarkStep* (bench_test.go). The flags are the trainer's (see
torch_peer.add_arguments) plus the shapes.

Usage: /usr/bin/python3 bench/train_step.py --shape tiny|cremad --steps N [trainer flags]
Prints: wall_s=<seconds/step> cpu_s=<process CPU seconds/step, all threads>
"""
import argparse
import time

import torch

import torch_peer

SHAPES = {"tiny": ((40, 100), (3, 32, 32)), "cremad": ((257, 188), (1, 224, 224))}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--shape", default="tiny", choices=sorted(SHAPES))
    p.add_argument("--steps", type=int, default=10)
    torch_peer.add_arguments(p)
    a = p.parse_args()
    (f, t), (n, h, w) = SHAPES[a.shape]
    torch.manual_seed(1)
    classes = 6
    tr = torch_peer.Trainer(a, classes, n)
    audio, frames = torch.randn(a.batch, 1, f, t), torch.randn(a.batch * n, 3, h, w)
    labels = torch.arange(a.batch) % classes
    tr.step(audio, frames, labels)  # warm-up
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(a.steps):
        tr.step(audio, frames, labels)
    print(f"wall_s={(time.perf_counter() - t0) / a.steps:.4f} cpu_s={(time.process_time() - c0) / a.steps:.4f}")


if __name__ == "__main__":
    main()
