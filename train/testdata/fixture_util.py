"""Helpers shared by the method reference scripts (mmpareto, pmr, agm, umt _reference.py)."""
import json
import os

from penalty_reference import probe


def grads_json(names, grads):
    """{name: {index, grad, norm}}: each gradient's values at penalty_reference's probe indices and its norm."""
    out = {}
    for n, g in zip(names, grads):
        g = g.detach().reshape(-1)
        idx = probe(g.numel())
        out[n] = {"index": idx, "grad": [g[i].item() for i in idx], "norm": g.norm().item()}
    return out


def write(name, ref):
    """Writes ref as name next to the scripts."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), name)
    with open(path, "w") as fh:
        json.dump(ref, fh, indent=1)
        fh.write("\n")
    print("wrote", path)
