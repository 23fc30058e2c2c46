#!/usr/bin/python3
"""Runs the training benchmarks of bench/train_bench.sh and writes bench/RESULTS-train.md.

Every comparison is paired: avbalance and its PyTorch peer run in turns, the ratio is taken within
each repetition, and the tables give medians over the repetitions, with the 1-minute load average
before and after each block. CPU is user+system time of the process and its threads (getrusage of
the child), wall the elapsed time, peak RSS the child's ru_maxrss.

- `avbalance train` end to end (item 1 of issue 17): per-step CPU and wall time of the command a
  user runs, from the difference of a long and a short run (EPOCHS) over the same 192 train rows
  (6 steps an epoch), against bench/train_peer.py run the same way on the same rows, each with 1
  and 2 threads (GOMAXPROCS / torch.set_num_threads).
- the step alone: train.BenchmarkStep* (the trainer's step on one batch) against
  bench/train_step.py, 1 thread; and ResNet-18 against torchvision's.
- attr-reg's step with Integrated Gradients in the penalty against Grad×Input.
- peak RSS of one epoch from 100 to 1,000 rows.
- ResNet-18 trained on a generated set, epoch by epoch.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
STEPS_PER_EPOCH = 6  # 192 rows at batch 32
# EPOCHS are the short and the long run whose difference gives the per-step figures: 36 steps apart
# for cremad and 180 for tiny, whose steps are short next to the noise of process start-up (12 steps
# apart, the peer's cremad figure swung from 0.32 to 0.57 s between repetitions on an idle machine).
EPOCHS = {"cremad": (1, 7), "tiny": (1, 31)}


def log(*a):
    print("train_measure:", *a, file=sys.stderr, flush=True)


def load():
    return os.getloadavg()[0]


def cpu_ticks():
    """(stolen, wanted) clock ticks of all CPUs so far, from /proc/stat ((0, 0) where it is absent):
    wanted is the time this machine ran or wanted to run (all but idle and I/O wait), stolen the
    part of it the hypervisor gave to other machines. On a shared VM steal is what makes wall time,
    the 2-thread figures most of all, unreliable; the load average does not show it."""
    try:
        with open("/proc/stat") as f:
            t = [int(x) for x in f.readline().split()[1:9]]
    except (OSError, ValueError):
        return 0, 0
    t += [0] * (8 - len(t))
    return t[7], sum(t) - t[3] - t[4]


def steal_share(t0, t1):
    """The share of the wanted CPU time between two cpu_ticks() readings that was stolen."""
    wanted = t1[1] - t0[1]
    return (t1[0] - t0[0]) / wanted if wanted > 0 else 0.0


def run(cmd, env=None):
    """Runs cmd with env added to the environment; returns (wall_s, stdout)."""
    e = dict(os.environ)
    e.update(env or {})
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, env=e, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stdout, stderr = p.communicate()
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({p.returncode}): {stderr[-2000:]}")
    return wall, stdout


class Child:
    """CPU and peak RSS of one child through os.wait4."""

    def __init__(self, cmd, env=None):
        e = dict(os.environ)
        e.update(env or {})
        self.cmd = cmd
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, env=e, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        err = p.stderr.read()
        _, status, ru = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        self.wall = time.perf_counter() - t0
        if p.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed ({p.returncode}): {err[-2000:].decode(errors='replace')}")
        self.cpu = ru.ru_utime + ru.ru_stime
        self.rss_mb = ru.ru_maxrss / 1024


def median(v):
    v = sorted(v)
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


def clean(path):
    subprocess.run(["rm", "-rf", path], check=True)


# PIN runs a process on the first core alone: with one thread, a process may still use a second
# core for what runs beside its compute thread (Go's loader and garbage collector while a cgo call
# holds the compute thread; PyTorch's own helpers), so "1 thread" and "1 core" differ.
PIN = ["taskset", "-c", "0"]


def avb_train(a, shards, mode, epochs, threads, out, pin=False):
    clean(out)
    c = Child((PIN if pin else []) + [a.avbalance, "train", "--shards", shards, "--mode", mode, "--epochs",
                                      str(epochs), "--out", out, "--quiet"], {"GOMAXPROCS": str(threads)})
    clean(out)
    return c


def peer_train(a, npy, mode, epochs, threads, out, pin=False):
    clean(out)
    c = Child((PIN if pin else []) + ["/usr/bin/python3", os.path.join(HERE, "train_peer.py"), "--data", npy,
                                      "--out", out, "--epochs", str(epochs), "--mode", mode, "--threads", str(threads)])
    clean(out)
    return c


def cli(a):
    """Per-step CPU and wall of `avbalance train` and of the peer: 1 thread, 1 thread on 1 core, 2 threads."""
    rows = []
    for shape in ("cremad", "tiny"):
        shards, npy = os.path.join(a.work, f"shards-{shape}-192"), os.path.join(a.work, f"npy-{shape}-192")
        for mode in ("concat", "attr-reg"):
            l0, t0 = load(), cpu_ticks()
            res = {}  # (who, setting) -> list of (cpu, wall, rss) per step; setting 1, "1c" (pinned) or 2
            for rep in range(a.reps):
                for setting in (1, "1c", 2):
                    threads, pin = (1, True) if setting == "1c" else (setting, False)
                    runs = {}
                    short, long = EPOCHS[shape]
                    for epochs in (short, long):
                        runs["go", epochs] = avb_train(a, shards, mode, epochs, threads, os.path.join(a.work, "run-go"), pin)
                        runs["py", epochs] = peer_train(a, npy, mode, epochs, threads, os.path.join(a.work, "run-py"), pin)
                    for who in ("go", "py"):
                        s, l = runs[who, short], runs[who, long]
                        steps = (long - short) * STEPS_PER_EPOCH
                        res.setdefault((who, setting), []).append(
                            ((l.cpu - s.cpu) / steps, (l.wall - s.wall) / steps, l.rss_mb))
                log(shape, mode, "rep", rep, {k: v[-1] for k, v in res.items()})
            rows.append({"shape": shape, "mode": mode, "res": res, "load": (l0, load()),
                         "steal": steal_share(t0, cpu_ticks())})
    return rows


def go_bench(a, shape, mode, threads, steps, model="small", batch=32):
    bench = "BenchmarkStepConcat" if mode == "concat" else "BenchmarkStepAttrReg"
    _, out = run([a.train_test, "-test.run", "^$", "-test.bench", f"^{bench}$", "-test.benchtime", f"{steps}x"],
                 {"GOMAXPROCS": str(threads), "AVB_BENCH_SHAPE": shape, "AVB_BENCH_MODEL": model,
                  "AVB_BENCH_BATCH": str(batch)})
    m = re.search(r"\s(\d+)\s+ns/op\s+([\d.]+)\s+cpu-s/op", out)
    if not m:
        raise SystemExit(f"no benchmark line in: {out}")
    return int(m.group(1)) / 1e9, float(m.group(2))


def py_step(shape, mode, threads, steps, model="small", batch=32):
    extra = ["--model", model, "--batch", str(batch)]
    if model == "resnet18":
        extra += ["--embed", "512"]
    _, out = run(["/usr/bin/python3", os.path.join(HERE, "train_step.py"), "--shape", shape, "--steps", str(steps),
                  "--mode", mode, "--threads", str(threads), *extra])
    m = re.search(r"wall_s=([\d.]+) cpu_s=([\d.]+)", out)
    return float(m.group(1)), float(m.group(2))


def steps(a):
    """The step alone, 1 thread: the trainer's step and the peer's, small model and ResNet-18."""
    cases = [("cremad", "concat", "small", 32, 5), ("cremad", "attr-reg", "small", 32, 5),
             ("tiny", "concat", "small", 32, 20), ("tiny", "attr-reg", "small", 32, 20),
             ("cremad", "concat", "resnet18", 8, 3), ("tiny", "concat", "resnet18", 32, 5)]
    rows = []
    for shape, mode, model, batch, n in cases:
        l0 = load()
        go, py = [], []
        for _ in range(a.reps):
            go.append(go_bench(a, shape, mode, 1, n, model, batch))
            py.append(py_step(shape, mode, 1, n, model, batch))
        rows.append({"shape": shape, "mode": mode, "model": model, "batch": batch, "go": go, "py": py,
                     "load": (l0, load())})
        log("step", shape, mode, model, go[-1], py[-1])
    return rows


def penalty(a):
    """attr-reg's step with each attribution in its penalty (train.BenchmarkStepAttrRegPenalty), 1 thread."""
    rows = []
    for shape, n in (("tiny", 20), ("cremad", 3)):
        l0 = load()
        reps = []
        for _ in range(a.reps):
            _, out = run([a.train_test, "-test.run", "^$", "-test.bench", "^BenchmarkStepAttrRegPenalty$",
                          "-test.benchtime", f"{n}x"], {"GOMAXPROCS": "1", "AVB_BENCH_SHAPE": shape})
            reps.append({m.group(1): float(m.group(2)) for m in
                         re.finditer(r"BenchmarkStepAttrRegPenalty/(\S+?)(?:-\d+)?\s+\d+\s+\d+\s+ns/op\s+([\d.]+)\s+cpu-s/op", out)})
            if not reps[-1]:
                raise SystemExit(f"no benchmark lines in: {out}")
        rows.append({"shape": shape, "reps": reps, "load": (l0, load())})
        log("penalty", shape, reps[-1])
    return rows


def rss(a):
    """Peak RSS of one epoch of concat, 100 to 1,000 rows of CREMA-D shards, 2 threads."""
    rows = []
    for n in (100, 300, 1000):
        shards, npy = os.path.join(a.work, f"shards-cremad-{n}"), os.path.join(a.work, f"npy-cremad-{n}")
        go = avb_train(a, shards, "concat", 1, 2, os.path.join(a.work, "run-go"))
        py = peer_train(a, npy, "concat", 1, 2, os.path.join(a.work, "run-py")) if os.path.isdir(npy) else None
        rows.append({"rows": n, "go": go.rss_mb, "py": py.rss_mb if py else None})
        log("rss", rows[-1])
    return rows


def resnet(a):
    """ResNet-18 (and the small model beside it) trained on the generated set."""
    out = {}
    for model in ("resnet18", "small"):
        run_dir = os.path.join(a.work, f"conv-{model}")
        clean(run_dir)
        extra = ["--model", model] + (["--embed", "512"] if model == "resnet18" else [])
        t0 = time.perf_counter()
        run([a.avbalance, "train", "--shards", os.path.join(a.work, "shards-synth"), "--mode", "concat",
             "--epochs", str(a.resnet_epochs), "--out", run_dir, "--quiet", *extra])
        lines = [json.loads(l) for l in open(os.path.join(run_dir, "metrics.jsonl"))]
        result = json.load(open(os.path.join(run_dir, "result.json")))
        out[model] = {"lines": lines, "result": result, "seconds": time.perf_counter() - t0}
        log("resnet", model, result.get("test", {}).get("accuracy"))
    return out


def fmt(x, nd=3):
    return "–" if x is None else f"{x:.{nd}f}"


def write(a, sections, started):
    w = []
    p = w.append
    p("# Training: avbalance against PyTorch on the CPU\n")
    p(f"Regenerated by `bench/train_bench.sh` ({started} UTC, {a.reps} repetitions, this machine: "
      f"{a.machine}). Same-run ratios: avbalance and the PyTorch peer (PyTorch {a.torch}) run in turns "
      "and every ratio is taken within a repetition; tables give medians over the repetitions and the "
      "1-minute load average before → after each block (the 2 cores are shared with other sessions). "
      "Steal is the share of the CPU time this machine wanted during a block that the hypervisor gave "
      "to other machines (/proc/stat): the host's contention, which the load average does not show. "
      "CPU = user+system time of the process, all threads.\n")
    p("The PyTorch peer (bench/torch_peer.py) is the trainer's model configuration by configuration: "
      "small encoders (4 × conv3×3/2 + bias + ReLU, 16/32/64/embed channels, global mean), the concat "
      "head, cross-entropy, SGD momentum 0.9, weight decay 1e-4, lr 1e-3, batch 32, embedding 128; for "
      "attr-reg the trainer's default penalty: Integrated Gradients from the batch's mean embedding of "
      "the true class's centred logit on the embeddings (one exact midpoint on the concat head), "
      "∂q/∂e built from the head's weights, net pooling (the signed sum clipped at 0), the penalty's "
      "gradient reaching the encoders, λ adaptive from 1 (tolerance 0.05, rate 0.05 with the step "
      "clipped, at most 10).\n")
    if "cli" in sections:
        p("## `avbalance train` end to end (issue 17, item 1)\n")
        p("Per optimizer step, from the difference of a long and a short run over 192 train rows "
          f"(6 steps an epoch; {EPOCHS['cremad'][1]} and {EPOCHS['cremad'][0]} epochs for `cremad`, "
          f"{EPOCHS['tiny'][1]} and {EPOCHS['tiny'][0]} for `tiny`; start-up, graph "
          "building and the final evaluation cancel): "
          "`avbalance train --shards DIR --mode MODE` against `bench/train_peer.py` on the same rows "
          "(exported by bench/shardnpy). `cremad`: ogmge-cremad shards of the CREMA-D clips "
          "(audio 257×188, 1 frame 224²); `tiny`: tiny-preset shards of generated clips (40×100, "
          "3 frames 32²).\n")
        p("Wall time on this shared machine depends on how much of the 2 cores the process got, so "
          "the 2/1-thread wall ratio is given as the median of the per-repetition ratios and as the "
          "ratio of the fastest repetitions (the closest this machine comes to quiet). With one thread "
          "a process still runs some work beside its compute thread on the other core (Go: the loader "
          "and the garbage collector while a cgo call holds the compute thread), so the 1-thread run "
          "is also measured pinned to one core (`taskset -c 0`): 2 threads against 1 core is how much "
          "the second core adds.\n")
        p("| shape | mode | load, steal | avbalance CPU/step, 1 thread | PyTorch CPU/step, 1 thread | "
          "**avbalance/PyTorch CPU** (target ≤ 1.0) | avbalance CPU/step, 2 threads | "
          "avbalance wall/step, 1 → 2 threads (fastest) | **2/1 thread wall**, median / fastest "
          "(target ≤ 0.6 when quiet) | PyTorch wall/step, 1 → 2 threads (fastest) | "
          "avbalance wall/step, 1 core | **2 threads / 1 core wall**, median / fastest | "
          "PyTorch 2 threads / 1 core wall, fastest | peak RSS avbalance / PyTorch |")
        p("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        for r in sections["cli"]:
            res = r["res"]
            g1, p1, g2, p2 = res["go", 1], res["py", 1], res["go", 2], res["py", 2]
            gc, pc = res["go", "1c"], res["py", "1c"]
            ratio = median([g[0] / q[0] for g, q in zip(g1, p1)])
            scale = median([b[1] / c[1] for b, c in zip(g2, g1)])
            fast = min(x[1] for x in g2) / min(x[1] for x in g1)
            core = median([b[1] / c[1] for b, c in zip(g2, gc)])
            core_fast = min(x[1] for x in g2) / min(x[1] for x in gc)
            peer_core = min(x[1] for x in p2) / min(x[1] for x in pc)
            p(f"| {r['shape']} | {r['mode']} | {r['load'][0]:.1f} → {r['load'][1]:.1f}, {100 * r['steal']:.0f}% | "
              f"{median([x[0] for x in g1]):.3f} s | {median([x[0] for x in p1]):.3f} s | **{ratio:.2f}×** | "
              f"{median([x[0] for x in g2]):.3f} s | "
              f"{min(x[1] for x in g1):.3f} → {min(x[1] for x in g2):.3f} s | **{scale:.2f} / {fast:.2f}** | "
              f"{min(x[1] for x in p1):.3f} → {min(x[1] for x in p2):.3f} s | "
              f"{min(x[1] for x in gc):.3f} s | **{core:.2f} / {core_fast:.2f}** | {peer_core:.2f} | "
              f"{median([x[2] for x in g1]):.0f} / {median([x[2] for x in p1]):.0f} MB |")
        p("")
    if "steps" in sections:
        p("## The step alone, 1 thread\n")
        p("`train.BenchmarkStepConcat/AttrReg` (the trainer's step on one batch: the method's hooks, "
          "forward, backward, per-batch metrics and shares, update; `AVB_BENCH_SHAPE`, "
          "`AVB_BENCH_MODEL`, `AVB_BENCH_BATCH`) against `bench/train_step.py` (the peer's step), one "
          "warm-up step each. ResNet-18: ours (train/model.go) against torchvision's "
          "`resnet18` trunk (stem taking 1 channel for audio, no fc), the same layer shapes, batch-norm "
          "in training mode.\n")
        p("| model | shape | mode | batch | load | avbalance CPU | PyTorch CPU | **ratio** |")
        p("|---|---|---|---|---|---|---|---|")
        for r in sections["steps"]:
            ratio = median([g[1] / q[1] for g, q in zip(r["go"], r["py"])])
            p(f"| {r['model']} | {r['shape']} | {r['mode']} | {r['batch']} | {r['load'][0]:.1f} → {r['load'][1]:.1f} | "
              f"{median([g[1] for g in r['go']]):.3f} s | {median([q[1] for q in r['py']]):.3f} s | **{ratio:.2f}×** |")
        p("")
    if "penalty" in sections:
        p("## attr-reg's penalty: Integrated Gradients against Grad×Input (issue 13, item 3)\n")
        p("`train.BenchmarkStepAttrRegPenalty`, GOMAXPROCS=1: attr-reg's whole step with the penalty's "
          "attribution Grad×Input or Integrated Gradients from the batch's mean embedding (the default; "
          "exact at one midpoint on the concat head, 8 or 32 on the mlp head), the penalty reaching the "
          "encoders (the default) or the head only (`--penalty-to-encoders=false`); the ratio is to "
          "Grad×Input with the same head and encoders setting, within each repetition.\n")
        p("| shape | load | head | penalty | encoders | CPU/step | **/ Grad×Input** |")
        p("|---|---|---|---|---|---|---|")
        for r in sections["penalty"]:
            names = list(r["reps"][0])
            for name in names:
                enc, head, attr = name.split("/", 2)
                base = f"{enc}/{head}/gradinput"
                ratio = median([x[name] / x[base] for x in r["reps"]])
                p(f"| {r['shape']} | {r['load'][0]:.1f} → {r['load'][1]:.1f} | {head} | {attr} | {enc.split('=')[1]} | "
                  f"{median([x[name] for x in r['reps']]):.4f} s | **{ratio:.2f}×** |")
        p("")
    if "rss" in sections:
        p("## Peak RSS against the number of rows\n")
        p("One epoch of `avbalance train --mode concat` (2 threads) on ogmge-cremad shards of 100, 300 "
          "and 1,000 rows (33, 99 and 328 MB of shards), and the peer on the same rows. The shards are "
          "memory-mapped: the loader evicts each row's pages once it is copied (shard.Reader.Evict), so "
          "the resident set holds the batch in flight, the model and its activations, not the data set.\n")
        p("| rows | avbalance peak RSS | PyTorch peer peak RSS |")
        p("|---|---|---|")
        for r in sections["rss"]:
            p(f"| {r['rows']} | {r['go']:.0f} MB | {fmt(r['py'], 0)} MB |")
        p("")
    if "resnet" in sections:
        p("## ResNet-18 trained on a generated set\n")
        p(f"`avbalance synth --clips {a.synth_clips} --seed 1`, extracted with `--preset tiny`, then "
          f"`avbalance train --mode concat --model resnet18 --embed 512 --epochs {a.resnet_epochs}` "
          "(and the small model beside it), 2 threads.\n")
        p("| epoch | resnet18 train loss | train acc | val acc | small train loss | train acc | val acc |")
        p("|---|---|---|---|---|---|---|")
        rs, sm = sections["resnet"]["resnet18"], sections["resnet"]["small"]

        def by_epoch(lines):
            d = {}
            for l in lines:
                d.setdefault(l["epoch"], {})[l["split"]] = l
            return d

        re_, se = by_epoch(rs["lines"]), by_epoch(sm["lines"])
        for e in sorted(re_):
            r, s = re_[e], se.get(e, {})
            p(f"| {e + 1} | {r['train']['loss']:.3f} | {r['train']['accuracy']:.3f} | "
              f"{fmt(r.get('val', {}).get('accuracy'))} | {fmt(s.get('train', {}).get('loss'))} | "
              f"{fmt(s.get('train', {}).get('accuracy'))} | {fmt(s.get('val', {}).get('accuracy'))} |")
        for name, d in (("resnet18", rs), ("small", sm)):
            t = d["result"].get("test") or {}
            p(f"\n{name}: best epoch {d['result'].get('best_epoch', -1) + 1}, test accuracy {fmt(t.get('accuracy'))}, "
              f"mAP {fmt(t.get('map'))}, {d['seconds']:.0f} s.")
        p("")
    p("Reproduce: `bench/train_bench.sh` (`AVB_BENCH_REPS`, `AVB_BENCH_WORK`, `AVB_MEDIA`; "
      "`bench/train_bench.sh steps` etc. for one section).")
    with open(a.out, "w") as f:
        f.write("\n".join(w) + "\n")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--work", required=True)
    p.add_argument("--avbalance", required=True)
    p.add_argument("--train-test", required=True, dest="train_test")
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--resnet-epochs", type=int, default=12, dest="resnet_epochs")
    p.add_argument("--synth-clips", type=int, default=480, dest="synth_clips")
    p.add_argument("--out", required=True)
    p.add_argument("--machine", default="")
    p.add_argument("sections", nargs="*", default=["cli", "steps", "penalty", "rss", "resnet"])
    a = p.parse_args()
    import torch

    a.torch = torch.__version__
    started = time.strftime("%Y-%m-%d %H:%M", time.gmtime())
    done = {}
    for name in a.sections:
        done[name] = globals()[name](a)
    write(a, done, started)


if __name__ == "__main__":
    main()
