#!/usr/bin/python3
"""Reference gradients of the attr-reg penalty from PyTorch autograd.

Builds the same setup as train/grad_test.go in float64: the `small` encoders
(4 × conv3x3/2 + bias + ReLU, global mean; video frames folded into the batch,
mean over frames), embed 4, 3 classes, batch 3, fixed weights
w[j] = s·sin(12.9898·j + 78.233·p + 0.5) (p = parameter index, s = 1/sqrt(fan-in)
for weights; biases 0.05 + 0.1·sin(…)) and fixed inputs. Every variant of the
penalty: the attributed quantity (raw logit, log-probability, centred logit,
margin), the pooling (l2, l1, net = relu of the sum, net-abs) and Grad×Input or
Integrated Gradients from the zero or the batch-mean embedding, and the batch mean
uniform or weighted by each sample's total attribution (a constant). ∂q/∂e_m comes from
torch.autograd.grad(create_graph=True) (double backward), not from the explicit
formula the Go graph uses. Writes penalty_grad_ref.json next to this script.

Run: /usr/bin/python3 train/testdata/penalty_reference.py
"""
import json
import math
import os

import torch

torch.set_default_dtype(torch.float64)
B, K, E = 3, 3, 4
AUDIO = (8, 8)
FRAMES = (2, 8, 8)  # N, H, W
TARGET = (0.3, 0.7)
EPS = 1e-12
LABELS = [0, 2, 1]
# (head, to_encoders, predicted, quantity, norm, ig_steps, ig_mean, weighted), in the order of
# gradCases in grad_test.go.
CASES = [("concat", True, False), ("concat", False, False), ("concat", True, True),
         ("sum", True, False), ("sum", False, True),
         ("mlp", True, False), ("mlp", False, False), ("mlp", True, True),
         ("concat", True, False, "logprob"),
         ("mlp", True, False, "logprob", "net-abs"),
         ("concat", True, False, "centered", "net-abs"),
         ("mlp", False, False, "centered"),
         ("concat", True, False, "margin", "net"),
         ("mlp", True, True, "margin"),
         ("sum", True, False, "centered", "l1"),
         ("mlp", True, False, "logprob", "net"),
         ("mlp", True, False, "logit", "l2", 4),
         ("mlp", True, False, "logprob", "l2", 3),
         ("mlp", True, False, "centered", "net-abs", 3, True),
         ("concat", True, True, "margin", "l2", 2, True),
         ("mlp", False, False, "logprob", "l2", 2, True),
         ("concat", True, False, "centered", "net", 1, True, True),
         ("mlp", True, False, "centered", "net", 3, True, True),
         ("concat", False, False, "centered", "l2", 0, False, True)]


def param_shapes(head):
    shapes = []
    for mod, cin in (("audio", 1), ("video", 3)):
        for i, c in enumerate([16, 32, 64, E]):
            shapes += [(f"{mod}.conv{i}.w", (c, cin, 3, 3)), (f"{mod}.conv{i}.b", (c,))]
            cin = c
    if head == "concat":
        shapes += [("head.audio.w", (E, K)), ("head.video.w", (E, K)), ("head.b", (K,))]
    elif head == "sum":
        shapes += [("head.audio.w", (E, K)), ("head.audio.b", (K,)), ("head.video.w", (E, K)), ("head.video.b", (K,))]
    else:
        shapes += [("head.audio.fc1.w", (E, E)), ("head.video.fc1.w", (E, E)), ("head.fc1.b", (E,)),
                   ("head.fc2.w", (E, K)), ("head.fc2.b", (K,))]
    return shapes


def fixed(p, shape):
    n = math.prod(shape)
    if len(shape) == 4:
        s = 1 / math.sqrt(shape[1] * shape[2] * shape[3])
    elif len(shape) == 2:
        s = 1 / math.sqrt(shape[0])
    else:
        s = 0.1
    j = torch.arange(n, dtype=torch.float64)
    w = s * torch.sin(12.9898 * j + 78.233 * p + 0.5)
    if len(shape) == 1:
        w = w + 0.05
    return w.reshape(shape).requires_grad_()


def inputs():
    ja = torch.arange(B * AUDIO[0] * AUDIO[1], dtype=torch.float64)
    a = torch.sin(1.7 * ja + 0.3) + 0.5 * torch.cos(0.013 * ((ja * ja) % 97))
    jf = torch.arange(B * FRAMES[0] * 3 * FRAMES[1] * FRAMES[2], dtype=torch.float64)
    f = torch.cos(2.3 * jf + 0.1) + 0.3 * torch.sin(0.021 * ((jf * jf) % 89))
    return a.reshape(B, 1, *AUDIO), f.reshape(B * FRAMES[0], 3, FRAMES[1], FRAMES[2])


def encoder(P, mod, x):
    for i in range(4):
        x = torch.relu(torch.nn.functional.conv2d(x, P[f"{mod}.conv{i}.w"], P[f"{mod}.conv{i}.b"], stride=2, padding=1))
    return x.mean(dim=(2, 3))


def head_fn(P, head, ea, ev):
    if head == "concat":
        return ea @ P["head.audio.w"] + ev @ P["head.video.w"] + P["head.b"]
    if head == "sum":
        return (ea @ P["head.audio.w"] + P["head.audio.b"]) + (ev @ P["head.video.w"] + P["head.video.b"])
    z = ea @ P["head.audio.fc1.w"] + ev @ P["head.video.fc1.w"] + P["head.fc1.b"]
    return torch.relu(z) @ P["head.fc2.w"] + P["head.fc2.b"]


def probe(n):
    return list(range(n)) if n <= 6 else [0, 1, n // 3, n // 2, (2 * n) // 3, n - 1]


def quantity(q, logits, cls):
    """q(f, c) per row, for the one-hot classes cls (the runner-up of the margin is a selection)."""
    if q == "logprob":
        return (torch.log_softmax(logits, dim=1) * cls).sum(dim=1)
    if q == "centered":
        return ((logits - logits.mean(dim=1, keepdim=True)) * cls).sum(dim=1)
    if q == "margin":
        runner = torch.nn.functional.one_hot((logits - 1e9 * cls).argmax(dim=1), K).double()
        return (logits * (cls - runner.detach())).sum(dim=1)
    return (logits * cls).sum(dim=1)


def pool(a, norm):
    if norm == "l1":
        return a.abs().sum(dim=1)
    if norm == "net":
        return torch.relu(a.sum(dim=1))
    if norm == "net-abs":
        return a.sum(dim=1).abs()
    return torch.sqrt((a ** 2).sum(dim=1) + EPS)


def attributions(P, head, xa, xv, cls, q, steps, mean):
    """Grad×Input of q at (xa, xv), or IG over `steps` midpoints from zero or the batch mean;
    ∂q/∂x by autograd with create_graph (double backward), not the Go graph's formula."""
    if steps == 0:
        ga, gv = torch.autograd.grad(quantity(q, head_fn(P, head, xa, xv), cls).sum(), (xa, xv), create_graph=True)
        return ga * xa, gv * xv
    ba = xa.mean(dim=0, keepdim=True).expand_as(xa) if mean else torch.zeros_like(xa)
    bv = xv.mean(dim=0, keepdim=True).expand_as(xv) if mean else torch.zeros_like(xv)
    sa, sv = 0, 0
    for j in range(steps):
        t = (j + 0.5) / steps
        pa, pv = ba + t * (xa - ba), bv + t * (xv - bv)
        ga, gv = torch.autograd.grad(quantity(q, head_fn(P, head, pa, pv), cls).sum(), (pa, pv), create_graph=True)
        sa, sv = sa + ga, sv + gv
    return (xa - ba) * sa / steps, (xv - bv) * sv / steps


def case(head, to_enc, predicted, q="logit", norm="l2", ig_steps=0, ig_mean=False, weighted=False):
    shapes = param_shapes(head)
    P = {name: fixed(p, shape) for p, (name, shape) in enumerate(shapes)}
    a, f = inputs()
    ea = encoder(P, "audio", a)
    ev = encoder(P, "video", f).reshape(B, FRAMES[0], E).mean(dim=1)
    logits = head_fn(P, head, ea, ev)
    if predicted:
        cls = torch.nn.functional.one_hot(logits.argmax(dim=1), K).double()
    else:
        cls = torch.nn.functional.one_hot(torch.tensor(LABELS), K).double()
    if to_enc:
        xa, xv = ea, ev
    else:  # stop-gradient at e_m: the penalty reaches only the head
        xa, xv = ea.detach().requires_grad_(), ev.detach().requires_grad_()
    amt = [pool(a, norm) for a in attributions(P, head, xa, xv, cls, q, ig_steps, ig_mean)]
    tot = amt[0] + amt[1] + EPS
    r = ((amt[0] + EPS / 2) / tot - TARGET[0]).abs() + ((amt[1] + EPS / 2) / tot - TARGET[1]).abs()
    if weighted:  # each sample weighted by its total attribution, a constant
        w = tot.detach()
        pen = (w / w.sum() * r).sum()
    else:
        pen = r.mean()
    reached = [n for n, s in shapes if (n.startswith("head.") and (len(s) == 2 or q == "logprob"))
               or (not n.startswith("head.") and to_enc)]
    grads = torch.autograd.grad(pen, [P[n] for n in reached], allow_unused=True)
    out = {}
    for n, g in zip(reached, grads):
        g = torch.zeros_like(P[n]) if g is None else g.detach().reshape(-1)
        idx = probe(g.numel())
        out[n] = {"index": idx, "grad": [g[i].item() for i in idx], "norm": g.norm().item()}
    return {"head": head, "to_encoders": to_enc, "predicted": predicted, "quantity": q, "norm": norm,
            "ig_steps": ig_steps, "ig_mean": ig_mean, "weighted": weighted, "penalty": pen.item(), "grads": out}


def main():
    ref = {"torch": torch.__version__, "batch": B, "classes": K, "embed": E, "labels": LABELS, "target": TARGET,
           "cases": [case(*c) for c in CASES]}
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "penalty_grad_ref.json")
    with open(path, "w") as fh:
        json.dump(ref, fh, indent=1)
        fh.write("\n")
    print("wrote", path)


if __name__ == "__main__":
    main()
