#!/usr/bin/python3
"""Step time of the `small` model in PyTorch 1.13 CPU (batch 32), plain
(concat fusion, CE) and attr-reg (CE + λ·Σ|s_m − r_m| with ∂f_c/∂e_m from
autograd.grad(create_graph=True)). Same architecture as train/model.go:
per modality 4 × conv3x3/2 (16, 32, 64, 128 channels) + bias + ReLU, global
mean, video frames folded into the batch and averaged; concat+linear head;
SGD momentum 0.9, weight decay 1e-4.

Usage: /usr/bin/python3 bench/train_step.py [tiny|cremad] [steps]
Prints: concat_s=<seconds/step> attrreg_s=<seconds/step> concat_cpu=<CPU
seconds/step> attrreg_cpu=<CPU seconds/step> (process CPU time, all threads)
"""
import sys
import time

import torch

torch.set_num_threads(2)
SHAPES = {"tiny": ((40, 100), (3, 32, 32)), "cremad": ((257, 188), (1, 224, 224))}
B, K, E = 32, 6, 128


def encoder(cin):
    layers, c0 = [], cin
    for c in (16, 32, 64, E):
        layers += [torch.nn.Conv2d(c0, c, 3, stride=2, padding=1), torch.nn.ReLU()]
        c0 = c
    return torch.nn.Sequential(*layers)


def main():
    shape = sys.argv[1] if len(sys.argv) > 1 else "tiny"
    steps = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    (f, t), (n, h, w) = SHAPES[shape]
    torch.manual_seed(1)
    ea_net, ev_net, head = encoder(1), encoder(3), torch.nn.Linear(2 * E, K)
    params = list(ea_net.parameters()) + list(ev_net.parameters()) + list(head.parameters())
    opt = torch.optim.SGD(params, lr=1e-3, momentum=0.9, weight_decay=1e-4)
    audio, frames = torch.randn(B, 1, f, t), torch.randn(B * n, 3, h, w)
    labels = torch.arange(B) % K
    onehot = torch.nn.functional.one_hot(labels, K).float()

    def step(attr):
        ea = ea_net(audio).mean(dim=(2, 3))
        ev = ev_net(frames).mean(dim=(2, 3)).reshape(B, n, E).mean(dim=1)
        logits = head(torch.cat([ea, ev], dim=1))
        loss = torch.nn.functional.cross_entropy(logits, labels)
        if attr:
            ga, gv = torch.autograd.grad((logits * onehot).sum(), (ea, ev), create_graph=True)
            a = [torch.sqrt(((g * e) ** 2).sum(dim=1) + 1e-12) for g, e in ((ga, ea), (gv, ev))]
            tot = a[0] + a[1] + 1e-12
            loss = loss + ((a[0] / tot - 0.5).abs() + (a[1] / tot - 0.5).abs()).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()

    out, cpu = [], []
    for attr in (False, True):
        step(attr)  # warm-up
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(steps):
            step(attr)
        out.append((time.perf_counter() - t0) / steps)
        cpu.append((time.process_time() - c0) / steps)
    print(f"concat_s={out[0]:.4f} attrreg_s={out[1]:.4f} concat_cpu={cpu[0]:.4f} attrreg_cpu={cpu[1]:.4f}")


if __name__ == "__main__":
    main()
