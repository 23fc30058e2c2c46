#!/usr/bin/python3
"""Reference of UMT's distillation loss and gradient (Du et al., ICML 2023) from PyTorch autograd.

The model, weights and batch are penalty_reference.py's (float64). As in GeWu-Lab/BalanceBenchmark
balancemm/trainer/UMT_trainer.py: loss = CE(fusion logits, y) + scaling * sum_m MSE(teacher_m, e_m),
nn.MSELoss's mean over the batch and the embedding, scaling 10; the teachers' embeddings are fixed
values here (train/method_umt_test.go's teacherEmbeddings). Writes umt_ref.json next to this script.

Run: /usr/bin/python3 train/testdata/umt_reference.py
"""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fixture_util import grads_json, write  # noqa: E402
from penalty_reference import B, E, FRAMES, encoder, fixed, head_fn, inputs, param_shapes  # noqa: E402

SCALE = 10.0
CASES = [("concat", [0, 2, 1]), ("mlp", [1, 0, 0])]


def teacher(m):
    j = torch.arange(B * E, dtype=torch.float64)
    return (0.3 * torch.sin(0.7 * j + 1.1 * m + 0.2)).reshape(B, E)


def case(head, labels):
    shapes = param_shapes(head)
    P = {name: fixed(p, shape) for p, (name, shape) in enumerate(shapes)}
    a, f = inputs()
    ea = encoder(P, "audio", a)
    ev = encoder(P, "video", f).reshape(B, FRAMES[0], E).mean(dim=1)
    y = torch.tensor(labels)
    mse = torch.nn.MSELoss()
    loss = torch.nn.functional.cross_entropy(head_fn(P, head, ea, ev), y) + \
        SCALE * (mse(teacher(0), ea) + mse(teacher(1), ev))
    names = [n for n, _ in shapes]
    grads = torch.autograd.grad(loss, [P[n] for n in names])
    return {"head": head, "labels": labels, "loss": loss.item(), "grads": grads_json(names, grads)}


def main():
    ref = {"torch": torch.__version__, "scale": SCALE, "cases": [case(*c) for c in CASES]}
    write("umt_ref.json", ref)


if __name__ == "__main__":
    main()
