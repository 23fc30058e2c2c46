#!/usr/bin/python3
"""Reference of PMR's prototypes, coefficients and loss gradient (Fan et al., CVPR 2023) from PyTorch.

The model, weights and training batch are penalty_reference.py's (float64). As in
fanyunfeng-bit/Modal-Imbalance-PMR main_Prototype_grad.py: the prototypes are each class's mean
embedding over a sample of train rows (here two fixed 6-row samples, the second mixed with the first
by the momentum, as from the third computation on); a row's prototype logits are its negative
Euclidean distances to them (EU_dist); a modality's score is sum_i softmax(-dist)[i, y_i]; the
modality with the lower score gets alpha * CE(-dist, y) (ratio_a_p > 1: the visual one); the
gradient of CE + that term comes from autograd, the prototypes being constants. Writes pmr_ref.json
next to this script.

Run: /usr/bin/python3 train/testdata/pmr_reference.py
"""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fixture_util import grads_json, write  # noqa: E402
from penalty_reference import AUDIO, B, E, FRAMES, K, encoder, fixed, head_fn, inputs, param_shapes  # noqa: E402

ALPHA, MOMENTUM = 2.0, 0.3
ROWS = 6
SAMPLE_LABELS = [0, 1, 2, 2, 1, 0]
CASES = [("concat", [0, 2, 1]), ("sum", [1, 1, 0]), ("mlp", [0, 2, 1]), ("concat", [2, 2, 0])]


def sample_inputs(phase):
    """A fixed 6-row sample (train/method_pmr_test.go's sampleInputs)."""
    ja = torch.arange(ROWS * AUDIO[0] * AUDIO[1], dtype=torch.float64)
    a = torch.sin(0.9 * ja + 0.7 + phase) + 0.4 * torch.cos(0.017 * ((ja * ja) % 83))
    jf = torch.arange(ROWS * FRAMES[0] * 3 * FRAMES[1] * FRAMES[2], dtype=torch.float64)
    f = torch.cos(1.3 * jf + 0.2 + phase) + 0.25 * torch.sin(0.019 * ((jf * jf) % 79))
    return a.reshape(ROWS, 1, *AUDIO), f.reshape(ROWS * FRAMES[0], 3, FRAMES[1], FRAMES[2])


def embed(P, a, f, rows):
    return encoder(P, "audio", a), encoder(P, "video", f).reshape(rows, FRAMES[0], E).mean(dim=1)


def class_means(emb, labels):
    proto = torch.zeros(K, E, dtype=torch.float64)
    count = [0] * K
    for i, l in enumerate(labels):
        proto[l] += emb[i]
        count[l] += 1
    for c in range(K):
        proto[c] /= count[c]
    return proto


def eu_dist(x, p):
    d = torch.zeros(x.shape[0], p.shape[0], dtype=torch.float64)
    for i in range(x.shape[0]):
        for j in range(p.shape[0]):
            d[i, j] = torch.sqrt(torch.dot(x[i] - p[j], x[i] - p[j]))
    return d


def case(head, labels):
    shapes = param_shapes(head)
    P = {name: fixed(p, shape) for p, (name, shape) in enumerate(shapes)}
    with torch.no_grad():
        first = [class_means(e, SAMPLE_LABELS) for e in embed(P, *sample_inputs(0.0), ROWS)]
        fresh = [class_means(e, SAMPLE_LABELS) for e in embed(P, *sample_inputs(2.0), ROWS)]
        proto = [(1 - MOMENTUM) * n + MOMENTUM * o for n, o in zip(fresh, first)]
    a, f = inputs()
    ea, ev = embed(P, a, f, B)
    y = torch.tensor(labels)
    ce = torch.nn.functional.cross_entropy
    sim = [-eu_dist(ea, proto[0]), -eu_dist(ev, proto[1])]
    score = [sum(torch.softmax(s, dim=1)[i][y[i]] for i in range(B)).item() for s in sim]
    ratio_a_p = score[0] / score[1]
    beta, lam = (0, ALPHA) if ratio_a_p > 1 else ((ALPHA, 0) if ratio_a_p < 1 else (0, 0))
    loss = ce(head_fn(P, head, ea, ev), y) + beta * ce(sim[0], y) + lam * ce(sim[1], y)
    names = [n for n, _ in shapes]
    grads = torch.autograd.grad(loss, [P[n] for n in names])
    out = {"head": head, "labels": labels, "proto": [p.reshape(-1).tolist() for p in proto],
           "first": [p.reshape(-1).tolist() for p in first], "score": score, "coef": [beta, lam],
           "loss": loss.item(), "grads": grads_json(names, grads)}
    return out


def main():
    ref = {"torch": torch.__version__, "alpha": ALPHA, "momentum": MOMENTUM, "sample_labels": SAMPLE_LABELS,
           "cases": [case(*c) for c in CASES]}
    write("pmr_ref.json", ref)
    for c in ref["cases"]:
        print(c["head"], c["labels"], "score", [round(s, 4) for s in c["score"]], "coef", c["coef"])


if __name__ == "__main__":
    main()
