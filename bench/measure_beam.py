#!/usr/bin/python3
"""Runs `avbalance extract` and `avbalance-beam` (prism in-process) in turns on the same clips and
rewrites the "Scale-out on Apache Beam" section of bench/RESULTS.md.

Called by bench/beam.sh after it has built both commands and generated the clips:
  measure_beam.py WORKDIR RESULTS_MD [PASSES]
WORKDIR holds bin/avbalance, bin/avbalance-beam and in/gen100.csv, in/gen1000.csv.
Each round runs both commands back to back (which goes first alternates), so a change in the
machine's load between rounds cannot decide their ratio; ratios are the median of the per-round
ratios. Peak RSS is the process's VmHWM from /usr/bin/time (%M): prism runs inside avbalance-beam,
so it is the whole run's.
"""
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from common import BEAM_SECTION, LOADER_SECTION, median, put_section  # noqa: E402

WORK, RESULTS = sys.argv[1], sys.argv[2]
PASSES = int(sys.argv[3]) if len(sys.argv) > 3 else 5


def log(*a):
    print("measure_beam:", *a, file=sys.stderr, flush=True)


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def run(cmd, out):
    """One whole-process run under /usr/bin/time: wall s, CPU s, peak RSS MB, and the index.json counts."""
    subprocess.run(["rm", "-rf", out], check=True)
    t = subprocess.run(["/usr/bin/time", "-f", "TIME %U %S %e %M"] + cmd, capture_output=True, text=True)
    if t.returncode not in (0, 3):
        raise SystemExit(f"{cmd[0]} failed ({t.returncode}): {t.stderr[-2000:]}")
    u, s, e, m = t.stderr.strip().splitlines()[-1].split()[1:]
    with open(os.path.join(out, "index.json")) as f:
        ix = json.load(f)
    subprocess.run(["rm", "-rf", out], check=True)
    return dict(wall=float(e), cpu=float(u) + float(s), rss=int(m) / 1024,
                counts=(ix["clips_total"], ix["clips_ok"], ix["clips_failed"]))


def main():
    t0, load0 = time.time(), loadavg()
    local_bin = os.path.join(WORK, "bin", "avbalance")
    beam_bin = os.path.join(WORK, "bin", "avbalance-beam")
    out = os.path.join(WORK, "out")
    rows = []
    for n in (100, 1000):
        man = os.path.join(WORK, "in", f"gen{n}.csv")
        args = ["--dataset", "manifest", "--manifest", man, "--preset", "default", "--out", out]
        local_cmd = [local_bin, "extract"] + args + ["--workers", "2", "--quiet"]
        beam_cmd = [beam_bin] + args + ["--workers", "2"]
        run(local_cmd, out)  # warm-up: page cache, binaries
        run(beam_cmd, out)
        pairs = []
        for k in range(PASSES):
            log(f"{n} clips: round {k + 1}/{PASSES}")
            if k % 2 == 0:
                a = run(local_cmd, out)
                b = run(beam_cmd, out)
            else:
                b = run(beam_cmd, out)
                a = run(local_cmd, out)
            if a["counts"] != b["counts"]:
                raise SystemExit(f"{n} clips: index.json counts differ: local {a['counts']}, beam {b['counts']}")
            pairs.append((a, b))
        rows.append((n, pairs))
    write(rows, load0, loadavg(), time.time() - t0)


def write(rows, load0, load1, elapsed):
    def med(pairs, side, key):
        return median([p[side][key] for p in pairs])

    def ratio(pairs, key):
        return median([p[1][key] / p[0][key] for p in pairs])

    L = [BEAM_SECTION + "\n"]
    L.append("Regenerate with `bench/beam.sh` (rewrites only this section). Generated 2 s clips (320x240 H.264 + AAC, "
             "as the scale rows above), preset `default`, 2 decoders: `avbalance extract --workers 2` against "
             "`avbalance-beam --workers 2` on prism in-process (launcher, job service and worker in one process, so "
             f"its peak RSS is the whole run's). {PASSES} rounds per size after a warm-up, the two commands back to "
             "back in each round (alternating which goes first); ratios are medians of the per-round ratios. Load "
             f"average {load0} at the start, {load1} at the end ({elapsed / 60:.1f} min): the machine is shared, "
             "so wall times move with the neighbours and the paired ratios are the figures to quote.\n")
    L.append("| clips | extract wall (s) | beam wall (s) | **beam ÷ extract, wall** | extract CPU (s) | beam CPU (s) "
             "| beam ÷ extract, CPU | extract peak RSS, median / highest (MB) | beam peak RSS, median / highest (MB) |")
    L.append("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n, pairs in rows:
        L.append(f"| {n} | {med(pairs, 0, 'wall'):.2f} | {med(pairs, 1, 'wall'):.2f} | **{ratio(pairs, 'wall'):.2f}×** | "
                 f"{med(pairs, 0, 'cpu'):.2f} | {med(pairs, 1, 'cpu'):.2f} | {ratio(pairs, 'cpu'):.2f}× | "
                 f"{med(pairs, 0, 'rss'):.0f} / {max(p[0]['rss'] for p in pairs):.0f} | "
                 f"{med(pairs, 1, 'rss'):.0f} / {max(p[1]['rss'] for p in pairs):.0f} |")
    if len(rows) == 2:
        (_, p100), (_, p1000) = rows
        L.append("")
        for side, name in ((1, "avbalance-beam"), (0, "avbalance extract")):
            m = med(p1000, side, "rss") / med(p100, side, "rss")
            h = max(p[side]["rss"] for p in p1000) / max(p[side]["rss"] for p in p100)
            L.append(f"Peak RSS 1,000 ÷ 100 clips, {name}: {m:.2f} on the medians, {h:.2f} on the highest runs"
                     + (" (target ≤ 1.2)." if side == 1 else "."))
            L.append("")
    L.append("Only clip descriptors go through the shuffle: one step per shard decodes, extracts and writes that "
             "shard and hands on its summary (file, rows, sha256, failures), and a worker process works on at most "
             "CPUs ÷ decoders shards at once, so memory does not grow with the clip count. What avbalance-beam "
             "adds to `avbalance extract` is mostly a fixed cost per run (a larger binary to start, prism and the "
             "Beam harness in the process), which weighs more on 100 clips than on 1,000.\n")
    with open(RESULTS) as f:
        text = f.read()
    with open(RESULTS, "w") as f:
        f.write(put_section(text, BEAM_SECTION, "\n".join(L), LOADER_SECTION))
    log("wrote", RESULTS)


if __name__ == "__main__":
    main()
