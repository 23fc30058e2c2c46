"""PyTorch peer of avbalance's trainer, for bench/train_step.py (one step)
and bench/train_peer.py (a whole training run): the same models, heads,
losses and optimizer as train/ builds, configuration by configuration.

What is matched (train/model.go, train/method_attrreg.go, train/optim.go):
- small encoder: 4 × conv3x3/2 pad 1 with bias + ReLU (16, 32, 64, embed
  channels), global mean; resnet18: torchvision's ResNet-18 trunk
  (torchvision.models.resnet18, its stem taking 1 channel for audio) without
  the fc, global mean (512). Video frames are folded into the batch and
  their embeddings averaged.
- heads: concat (per-modality linear parts summed, plus one bias, which is
  Linear(2E, K)), sum (per-modality linear with a bias each), mlp (per-
  modality fc1 parts summed + bias, ReLU, fc2 + bias; hidden = embed).
- loss: cross-entropy averaged over the batch; attr-reg adds λ·Σ_b w_b
  Σ_m |s_m − r_m| (w_b = t_b/Σ t, t_b = a_a + a_v of sample b, detached;
  --penalty-weights uniform: w_b = 1/B), s_m = (a_m + 0.5e-12) / (a_a + a_v + 1e-12), with the trainer's
  default share definition: A_m Integrated Gradients from the batch's mean
  embedding b_m (differentiated as a function of the batch),
  A_m = (e_m − b_m) ⊙ mean_j ∂q/∂e_m(b + α_j(e − b)) over the midpoints
  α_j (one for the concat and sum heads, where ∂q/∂e is constant and one
  is exact; --attr-steps for mlp), q the centred logit f_c − mean_k f_k of
  the true (or predicted) class (or the raw logit), a_m = max(Σ A_m, 0)
  (net; or sqrt(Σ A_m² + 1e-12) for l2); --attr-method gradinput is
  A_m = ∂q/∂e_m ⊙ e_m. ∂q/∂e_m is built explicitly from the head's weights
  (W_m times the weights; MLP: W1_mᵀ(relu′(z) ⊙ W2ᵀ w)), as the trainer
  builds it. The penalty's gradient reaches the encoders (the trainer's
  default) unless --penalty-to-encoders false, which detaches the
  embeddings. λ is fixed or adaptive (log λ += rate·clip((e − tol/2)/(tol/2), ±1)
  after each step, e the 0.9-average of |mean video share − target|,
  within [1e-3, λ_max]).
- optimizer: SGD with momentum (PyTorch's convention, which the trainer
  follows) or Adam, weight decay added to the gradient.
Initialisations differ (they do not change the cost of a step).
"""
import math

import torch
import torch.nn.functional as F


def add_arguments(p):
    """Adds the trainer's flags that change a step's work to parser p."""
    p.add_argument("--mode", default="concat", choices=["concat", "attr-reg", "audio", "video"])
    p.add_argument("--model", default="small", choices=["small", "resnet18"])
    p.add_argument("--head", default="concat", choices=["concat", "sum", "mlp"])
    p.add_argument("--embed", type=int, default=128)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--optimizer", default="sgd", choices=["sgd", "adam"])
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--weight-decay", type=float, default=1e-4)
    p.add_argument("--lambda", dest="lam", type=float, default=1.0)
    p.add_argument("--lambda-mode", default="adaptive", choices=["adaptive", "fixed"])
    p.add_argument("--lambda-rate", type=float, default=0.05)
    p.add_argument("--lambda-max", type=float, default=10.0)
    p.add_argument("--tolerance", type=float, default=0.05)
    p.add_argument("--attr-class", default="true", choices=["true", "predicted"])
    p.add_argument("--attr-quantity", default="centered", choices=["centered", "logit"])
    p.add_argument("--attr-method", default="ig", choices=["ig", "gradinput"])
    p.add_argument("--attr-baseline", default="mean", choices=["mean", "zero"])
    p.add_argument("--attr-steps", type=int, default=8)
    p.add_argument("--attr-norm", default="net", choices=["net", "l2"])
    p.add_argument("--penalty-to-encoders", default="true", choices=["true", "false"])
    p.add_argument("--penalty-weights", default="attribution", choices=["attribution", "uniform"])
    p.add_argument("--threads", type=int, default=1, help="torch.set_num_threads")


def small_encoder(cin, embed):
    layers, c0 = [], cin
    for c in (16, 32, 64, embed):
        layers += [torch.nn.Conv2d(c0, c, 3, stride=2, padding=1), torch.nn.ReLU()]
        c0 = c
    return torch.nn.Sequential(*layers)


def resnet18_trunk(cin):
    import torchvision

    net = torchvision.models.resnet18(weights=None)
    if cin != 3:
        net.conv1 = torch.nn.Conv2d(cin, 64, 7, stride=2, padding=3, bias=False)
    return torch.nn.Sequential(*list(net.children())[:-2])  # without avgpool and fc


class Peer(torch.nn.Module):
    def __init__(self, a, classes, frames):
        super().__init__()
        self.a, self.frames = a, frames
        e = 512 if a.model == "resnet18" else a.embed
        self.e = e
        enc = (lambda cin: resnet18_trunk(cin)) if a.model == "resnet18" else (lambda cin: small_encoder(cin, e))
        self.use = [a.mode != "video", a.mode != "audio"]
        self.enc = torch.nn.ModuleList([enc(1) if self.use[0] else torch.nn.Identity(),
                                        enc(3) if self.use[1] else torch.nn.Identity()])
        fusion = all(self.use)
        hidden = a.embed if a.head == "mlp" else classes
        self.w = torch.nn.ParameterList([torch.nn.Parameter(torch.randn(e, hidden) / math.sqrt(e)) for _ in range(2)])
        if fusion and a.head == "sum":
            self.b = torch.nn.ParameterList([torch.nn.Parameter(torch.zeros(classes)) for _ in range(2)])
        else:
            self.b = torch.nn.ParameterList([torch.nn.Parameter(torch.zeros(hidden))])
        if a.head == "mlp":
            self.w2 = torch.nn.Parameter(torch.randn(hidden, classes) / math.sqrt(hidden))
            self.b2 = torch.nn.Parameter(torch.zeros(classes))

    def embeddings(self, audio, frames):
        emb = [None, None]
        if self.use[0]:
            emb[0] = self.enc[0](audio).mean(dim=(2, 3))
        if self.use[1]:
            b = frames.shape[0] // self.frames
            emb[1] = self.enc[1](frames).mean(dim=(2, 3)).reshape(b, self.frames, self.e).mean(dim=1)
        return emb

    def head(self, emb):
        parts = [e @ w for e, w in zip(emb, self.w) if e is not None]
        if self.a.head == "sum" and len(parts) == 2:
            return parts[0] + self.b[0] + parts[1] + self.b[1], None
        z = sum(parts) + self.b[0]
        if self.a.head == "mlp":
            return F.relu(z) @ self.w2 + self.b2, z
        return z, None

    def class_grads(self, cls, z):
        """∂q/∂e_m for the quantity q whose weights over the logits are cls."""
        if self.a.head == "mlp":
            u = (z > 0).to(cls.dtype).detach() * (cls @ self.w2.t())
            return [u @ w.t() for w in self.w]
        return [cls @ w.t() for w in self.w]


class Trainer:
    """One optimizer step at a time, as train.trainer.step does."""

    def __init__(self, a, classes, frames):
        torch.set_num_threads(a.threads)
        self.a, self.classes = a, classes
        self.net = Peer(a, classes, frames)
        self.net.train()
        params = list(self.net.parameters())
        if a.optimizer == "adam":
            self.opt = torch.optim.Adam(params, lr=a.lr, weight_decay=a.weight_decay)
        else:
            self.opt = torch.optim.SGD(params, lr=a.lr, momentum=a.momentum, weight_decay=a.weight_decay)
        self.lam, self.err_ema, self.steps = a.lam, 0.0, 0
        self.attr = a.mode == "attr-reg" and not (a.lambda_mode == "fixed" and a.lam == 0)

    def attributions(self, cls, e, z):
        """A_m of the penalty for the class weights cls at embeddings e."""
        net = self.net
        if self.a.attr_method == "gradinput":
            return [g * x for g, x in zip(net.class_grads(cls, z), e)]
        base = [x.mean(dim=0, keepdim=True).expand_as(x) if self.a.attr_baseline == "mean" else torch.zeros_like(x) for x in e]
        diff = [x - b for x, b in zip(e, base)]
        linear = self.a.head != "mlp" and self.a.attr_quantity in ("centered", "logit")
        steps = 1 if linear else self.a.attr_steps
        total = None
        for j in range(steps):
            alpha = (j + 0.5) / steps
            _, zj = net.head([b + alpha * d for b, d in zip(base, diff)])
            cg = net.class_grads(cls, zj)
            total = cg if total is None else [t + g for t, g in zip(total, cg)]
        return [d * t / steps for d, t in zip(diff, total)]

    def step(self, audio, frames, labels):
        """Forward, backward and update on one batch; returns the logits,
        the embeddings and the per-sample video shares (None for concat)."""
        net = self.net
        emb = net.embeddings(audio, frames)
        logits, z = net.head(emb)
        loss = F.cross_entropy(logits, labels)
        shares = None
        if self.attr:
            cls = F.one_hot(logits.argmax(dim=1) if self.a.attr_class == "predicted" else labels, self.classes).to(logits.dtype)
            if self.a.attr_quantity == "centered":
                cls = cls - 1.0 / self.classes
            e = emb if self.a.penalty_to_encoders == "true" else [x.detach() for x in emb]
            attr = self.attributions(cls, e, z)
            if self.a.attr_norm == "net":
                pooled = [F.relu(x.sum(dim=1)) for x in attr]
            else:
                pooled = [torch.sqrt((x ** 2).sum(dim=1) + 1e-12) for x in attr]
            tot = pooled[0] + pooled[1] + 1e-12
            shares = [(p + 0.5e-12) / tot for p in pooled]
            r = (shares[0] - 0.5).abs() + (shares[1] - 0.5).abs()
            if self.a.penalty_weights == "attribution":
                w = tot.detach()
                pen = (w / w.sum() * r).sum()
            else:
                pen = r.mean()
            loss = loss + self.lam * pen
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        if self.attr and self.a.lambda_mode == "adaptive":
            err = abs(shares[1].detach().mean().item() - 0.5)
            self.err_ema = err if self.steps == 0 else 0.9 * self.err_ema + 0.1 * err
            self.steps += 1
            half = self.a.tolerance / 2
            s = self.a.lambda_rate * max(-1.0, min(1.0, (self.err_ema - half) / half))
            self.lam = min(self.a.lambda_max, max(1e-3, self.lam * math.exp(s)))
        return logits.detach(), [x.detach() if x is not None else None for x in emb], shares
