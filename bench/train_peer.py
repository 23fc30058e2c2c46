#!/usr/bin/python3
"""The PyTorch peer of `avbalance train`, for bench/train_cli.sh: a whole
training run on the rows that bench/shardnpy exported from the same shards
(memory-mapped .npy, as the trainer memory-maps the shards), with the
trainer's per-step and per-epoch work: batches of shuffled train rows
(audio copied, frames converted to ImageNet-normalised float32 [B·N,3,H,W]),
one optimizer step each (bench/torch_peer.py), per batch the accuracy,
cross-entropy, Grad×Input shares and the probe of each modality, and per
epoch a metrics line and the checkpoint written twice (checkpoint and best,
as the trainer does without val rows).

Usage: /usr/bin/python3 bench/train_peer.py --data NPYDIR --out RUNDIR --epochs N [trainer flags]
"""
import argparse
import json
import os
import time

import numpy as np
import torch

import torch_peer

MEAN = torch.tensor([0.485, 0.456, 0.406]).reshape(1, 1, 3)
STD = torch.tensor([0.229, 0.224, 0.225]).reshape(1, 1, 3)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--seed", type=int, default=1)
    torch_peer.add_arguments(p)
    a = p.parse_args()
    audio = np.load(os.path.join(a.data, "audio.npy"), mmap_mode="r")
    frames = np.load(os.path.join(a.data, "frames.npy"), mmap_mode="r")
    labels = np.load(os.path.join(a.data, "labels.npy"))
    meta = json.load(open(os.path.join(a.data, "split.json")))
    rows = np.array(meta["splits"]["train"])
    classes = len(meta["labels"])
    nf, h, w = frames.shape[1:4]
    torch.manual_seed(a.seed)
    tr = torch_peer.Trainer(a, classes, nf)
    os.makedirs(a.out, exist_ok=True)
    rng = np.random.default_rng(a.seed)
    for epoch in range(a.epochs):
        begin = time.perf_counter()
        order = rng.permutation(rows)
        correct, ce, shares = 0, 0.0, []
        probe = [0, 0]
        for s in range(0, len(order), a.batch):
            idx = np.sort(order[s : s + a.batch])
            x_a = torch.from_numpy(audio[idx]).unsqueeze(1)
            f = torch.from_numpy(frames[idx]).reshape(len(idx) * nf, h, w, 3).float() / 255
            x_v = ((f - MEAN) / STD).permute(0, 3, 1, 2).contiguous()
            y = torch.from_numpy(labels[idx])
            logits, emb, _ = tr.step(x_a, x_v, y)
            with torch.no_grad():
                pred = logits.argmax(dim=1)
                correct += int((pred == y).sum())
                ce += float(torch.nn.functional.cross_entropy(logits, y, reduction="sum"))
                if emb[0] is not None and emb[1] is not None:
                    cls = torch.nn.functional.one_hot(y, classes).to(logits.dtype)
                    if a.attr_quantity == "centered":
                        cls = cls - 1.0 / classes
                    _, z = tr.net.head(emb)
                    cg = tr.net.class_grads(cls, z)
                    a_m = [((g * e) ** 2).sum(dim=1).sqrt() for g, e in zip(cg, emb)]
                    shares.append((a_m[1] / (a_m[0] + a_m[1] + 1e-12)).numpy())
                    for m in range(2):
                        part = [e if k == m else torch.zeros_like(e) for k, e in enumerate(emb)]
                        probe[m] += int((tr.net.head(part)[0].argmax(dim=1) == y).sum())
        n = len(order)
        line = {"epoch": epoch, "split": "train", "clips": n, "ce": ce / n, "accuracy": correct / n,
                "video_share": float(np.concatenate(shares).mean()) if shares else 0.0,
                "probe_audio_acc": probe[0] / n, "probe_video_acc": probe[1] / n,
                "seconds": time.perf_counter() - begin}
        with open(os.path.join(a.out, "metrics.jsonl"), "a") as fh:
            fh.write(json.dumps(line) + "\n")
        state = {"model": tr.net.state_dict(), "opt": tr.opt.state_dict(), "epoch": epoch + 1, "lambda": tr.lam}
        for name in ("best.pt", "checkpoint.pt"):
            torch.save(state, os.path.join(a.out, name))


if __name__ == "__main__":
    main()
