#!/usr/bin/python3
"""Reference of AGM's coefficients and modulated gradient (Li et al., ICCV 2023) from PyTorch.

The model, weights and batch are penalty_reference.py's (float64). As in Lingy12/AGM_ICCV2023
(model/CREMAD_net.py GradMod, run/CREMAD_main.py train): the logits with the audio or the video input
replaced by zeros (pad_audio_out, pad_visual_out; with gradient) give m_a = (total - pad_audio +
pad_visual)/2 and m_v = (total - pad_visual + pad_audio)/2; the scores are the batch means of
-log softmax(m)[y] (clamped at -log 1e-8); coeff_a = exp(alpha * min(exp(S_v - S_a) - exp(s_v - s_a), 10))
with the running scores S given per case, coeff_v likewise; backward hooks on m_a and m_v scale their
gradients by the coefficients (the reference's register_full_backward_hook, here Tensor.register_hook);
when any gradient of the head's weights leaves [-1, 1], clip_grad_norm_(all parameters, 1.0). Writes
agm_ref.json next to this script.

Run: /usr/bin/python3 train/testdata/agm_reference.py
"""
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fixture_util import grads_json, write  # noqa: E402
from penalty_reference import B, E, FRAMES, encoder, fixed, head_fn, inputs, param_shapes  # noqa: E402

ALPHA = 1.0
# head, labels, running scores S_a, S_v
CASES = [("concat", [0, 2, 1], 1.3, 0.7), ("concat", [1, 1, 0], 0.2, 2.9), ("sum", [0, 2, 1], 1.0, 1.1),
         ("mlp", [2, 0, 1], 3.5, 0.4)]


def case(head, labels, run_a, run_v):
    shapes = param_shapes(head)
    P = {name: fixed(p, shape) for p, (name, shape) in enumerate(shapes)}
    a, f = inputs()
    enc_v = lambda x: encoder(P, "video", x).reshape(B, FRAMES[0], E).mean(dim=1)  # noqa: E731
    ea, ev = encoder(P, "audio", a), enc_v(f)
    total = head_fn(P, head, ea, ev)
    pad_visual = head_fn(P, head, ea, enc_v(torch.zeros_like(f)))
    pad_audio = head_fn(P, head, encoder(P, "audio", torch.zeros_like(a)), ev)
    m_a = 0.5 * (total - pad_audio + pad_visual)
    m_v = 0.5 * (total - pad_visual + pad_audio)
    y = torch.tensor(labels)

    def score(m):
        s = 0.0
        for k in range(B):
            p = torch.softmax(m.detach(), dim=1)[k][y[k]]
            s += -math.log(1e-8) if p < 1e-8 else -torch.log(p).item()
        return s / B

    s_a, s_v = score(m_a), score(m_v)
    coeff_a = math.exp(ALPHA * min(math.exp(run_v - run_a) - math.exp(s_v - s_a), 10))
    coeff_v = math.exp(ALPHA * min(math.exp(run_a - run_v) - math.exp(s_a - s_v), 10))
    m_a.register_hook(lambda g: g * coeff_a)
    m_v.register_hook(lambda g: g * coeff_v)
    loss = torch.nn.functional.cross_entropy(m_a + m_v, y)
    names = [n for n, _ in shapes]
    params = [P[n] for n in names]
    loss.backward()
    head_w = torch.cat([P[n].grad.reshape(-1) for n, s in shapes if n.startswith("head.") and len(s) == 2])
    clipped = bool(head_w.max() > 1 or head_w.min() < -1)
    if clipped:
        torch.nn.utils.clip_grad_norm_(params, max_norm=1.0)
    out = {"head": head, "labels": labels, "running": [run_a, run_v], "score": [s_a, s_v],
           "coef": [coeff_a, coeff_v], "clipped": clipped, "loss": loss.item(),
           "grads": grads_json(names, [P[n].grad for n in names])}
    return out


def main():
    ref = {"torch": torch.__version__, "alpha": ALPHA, "cases": [case(*c) for c in CASES]}
    write("agm_ref.json", ref)
    for c in ref["cases"]:
        print(c["head"], c["labels"], "score", [round(s, 4) for s in c["score"]],
              "coef", [round(x, 4) for x in c["coef"]], "clipped", c["clipped"])


if __name__ == "__main__":
    main()
