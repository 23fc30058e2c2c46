#!/usr/bin/python3
"""Reference of MMPareto's gradient integration (Wei & Hu, ICML 2024) from PyTorch autograd.

The model, weights and batch are penalty_reference.py's (the `small` encoders, embed 4, 3 classes,
batch 3, float64). As in GeWu-Lab/MMPareto_ICML2024 code/MMPareto.py, the multimodal and the two
unimodal cross-entropies are differentiated one by one (torch.autograd.grad), each encoder's two
gradients are integrated (cosine > 0: weights 1/2 each; else the two-vector min-norm weights), per
tensor rescaled to the norm of the summed losses' gradient when shorter, and scaled by gamma 1.5; the
heads keep the summed losses' gradient. The unimodal logits are the fusion head's modality parts as in
BalanceBenchmark (concat: e_m W_m + b/2; sum: e_m W_m + b_m; mlp: the head with the other embedding
zero). Writes mmpareto_ref.json next to this script.

Run: /usr/bin/python3 train/testdata/mmpareto_reference.py
"""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fixture_util import grads_json, write  # noqa: E402
from penalty_reference import B, E, encoder, fixed, head_fn, inputs, param_shapes  # noqa: E402

GAMMA = 1.5
# head, labels, gain of the head's video weights (30 makes the fusion loss video-bound, so the
# audio encoder's two gradients conflict)
CASES = [("concat", [0, 2, 1], 1), ("sum", [1, 1, 0], 1), ("mlp", [0, 2, 1], 1), ("mlp", [0, 2, 1], 30),
         ("mlp", [2, 2, 2], 30), ("mlp", [0, 2, 2], 30)]


def part(P, head, m, e):
    if head == "concat":
        return e @ P[f"head.{m}.w"] + P["head.b"] / 2
    if head == "sum":
        return e @ P[f"head.{m}.w"] + P[f"head.{m}.b"]
    z = torch.zeros_like(e)
    return head_fn(P, head, e, z) if m == "audio" else head_fn(P, head, z, e)


def min_norm_weight(v11, v12, v22):
    """argmin_c |c x1 + (1-c) x2|^2 with the reference's clamps."""
    if v12 >= v11:
        return 0.999
    if v12 >= v22:
        return 0.001
    return -1.0 * ((v12 - v22) / (v11 + v22 - 2 * v12))


def fixed_weights(head, gain):
    """penalty_reference's weights, the head's video weights times gain."""
    shapes = param_shapes(head)
    P = {name: fixed(p, shape) for p, (name, shape) in enumerate(shapes)}
    with torch.no_grad():
        for name, w in P.items():
            if name.startswith("head.video."):
                w.mul_(gain)
    return shapes, P


def case(head, labels, gain):
    shapes, P = fixed_weights(head, gain)
    a, f = inputs()
    ea = encoder(P, "audio", a)
    ev = encoder(P, "video", f).reshape(B, 2, E).mean(dim=1)
    y = torch.tensor(labels)
    ce = torch.nn.functional.cross_entropy
    loss_mm = ce(head_fn(P, head, ea, ev), y)
    loss_uni = {"audio": ce(part(P, head, "audio", ea), y), "video": ce(part(P, head, "video", ev), y)}
    names = [n for n, _ in shapes]
    total = dict(zip(names, torch.autograd.grad(loss_mm + loss_uni["audio"] + loss_uni["video"],
                                                [P[n] for n in names], retain_graph=True)))
    out = {"head": head, "labels": labels, "video_gain": gain, "modalities": {}}
    final = dict(total)
    for m in ("audio", "video"):
        enc = [n for n in names if n.startswith(m + ".")]
        g_mm = torch.autograd.grad(loss_mm, [P[n] for n in enc], retain_graph=True)
        g_u = torch.autograd.grad(loss_uni[m], [P[n] for n in enc], retain_graph=True)
        flat_mm = torch.cat([g.flatten() for g in g_mm])
        flat_u = torch.cat([g.flatten() for g in g_u])
        cos = torch.nn.functional.cosine_similarity(flat_mm, flat_u, dim=0).item()
        if cos > 0:
            c = 0.5
        else:
            c = min_norm_weight(flat_mm.dot(flat_mm).item(), flat_mm.dot(flat_u).item(), flat_u.dot(flat_u).item())
        for n, gm, gu in zip(enc, g_mm, g_u):
            new = 2 * c * gm + 2 * (1 - c) * gu
            diff = total[n].norm() / new.norm()
            final[n] = diff * new * GAMMA if diff > 1 else new * GAMMA
        out["modalities"][m] = {"cos": cos, "c": c, "norm_mm": flat_mm.norm().item(), "norm_uni": flat_u.norm().item()}
    out["grads"] = grads_json(names, [final[n] for n in names])
    return out


def main():
    ref = {"torch": torch.__version__, "gamma": GAMMA, "cases": [case(*c) for c in CASES]}
    write("mmpareto_ref.json", ref)
    for c in ref["cases"]:
        print(c["head"], c["labels"], c["video_gain"], {m: (round(v["cos"], 3), round(v["c"], 4)) for m, v in c["modalities"].items()})


if __name__ == "__main__":
    main()
