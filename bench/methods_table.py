#!/usr/bin/python3
"""Writes bench/RESULTS-methods.md from the comparisons bench/methods.sh ran.

Usage: methods_table.py OUT "SETS" WALL_SECONDS UPTIME RESULTS.md

Per set: compare's table (OUT/SET/compare/table.md), the test accuracy of every run by seed
(results.json), and how every method compares with concat and attr-reg on test accuracy, seed by
seed. The hand-written part of RESULTS.md after the NOTES marker is kept.
"""
import json
import os
import statistics
import sys

NOTES = "<!-- notes below are written by hand and kept when the tables are regenerated -->"
SET_TEXT = {
    "demo": "the demo's design (grating contrast 0.25, period 0.2, pairs 30° apart)",
    "faint": "a fainter grating (contrast 0.15, otherwise as `demo`): the video cue is slower to learn",
}


def verdict(acc, m, ref):
    seeds = sorted(set(acc[m]) & set(acc[ref]))
    if not seeds:
        return "—"
    a, b = [acc[m][s] for s in seeds], [acc[ref][s] for s in seeds]
    wins = sum(x > y for x, y in zip(a, b))
    losses = sum(x < y for x, y in zip(a, b))
    diff = statistics.mean(a) - statistics.mean(b)
    if wins == len(a):
        word = "**beats it on every seed**"
    elif losses == len(a):
        word = "**behind it on every seed**"
    elif diff > 0 and wins > len(a) / 2:
        word = "ahead in the mean and on most seeds, not all"
    elif diff < 0 and losses > len(a) / 2:
        word = "behind in the mean and on most seeds, not all"
    else:
        word = "no clear difference"
    return f"{word} ({diff:+.3f}; higher on {wins}/{len(a)} seeds, lower on {losses})"


def section(out, s):
    d = os.path.join(out, s, "compare")
    with open(os.path.join(d, "results.json")) as fh:
        res = json.load(fh)
    with open(os.path.join(d, "table.md")) as fh:
        table = [line.rstrip("\n") for line in fh if line.startswith("|")]
    methods = [r["method"] for r in res["rows"]]
    acc = {m: {} for m in methods}
    for run in res["runs"]:
        acc[run["method"]][run["seed"]] = run["test"]["accuracy"]
    seeds = sorted({s for m in acc.values() for s in m})
    lines = [f"## Set `{s}`: {SET_TEXT.get(s, s)}", "",
             f"`avbalance compare` on `{s}` (its `table.md`; mean ± sample std over training seeds "
             f"{', '.join(map(str, seeds))}):", ""] + table
    lines += ["", "Test accuracy per seed:", "",
              "| method | " + " | ".join(f"seed {x}" for x in seeds) + " |",
              "|---|" + "---|" * len(seeds)]
    for m in methods:
        lines.append(f"| `{m}` | " + " | ".join(f"{acc[m][x]:.3f}" if x in acc[m] else "—" for x in seeds) + " |")
    lines += ["", "Against concat and attr-reg (test accuracy, seed by seed):", ""]
    for m in methods:
        if m in ("audio", "video", "concat"):
            continue
        against = [f"concat: {verdict(acc, m, 'concat')}"]
        if m != "attr-reg":
            against.append(f"attr-reg: {verdict(acc, m, 'attr-reg')}")
        lines.append(f"- `{m}` vs " + "; vs ".join(against))
    return lines + [""], len(res["runs"]), res.get("cpu_s", 0)


def main():
    out, sets, wall, load_avg, path = sys.argv[1:6]
    body, runs, cpu = [], 0, 0.0
    for s in sets.split():
        lines, n, c = section(out, s)
        body += lines
        runs, cpu = runs + n, cpu + c
    head = ["# Balancing methods side by side on generated sets", "",
            "Regenerate with `bench/methods.sh` (it writes everything above the notes). "
            f"Last run: {runs} runs in {int(wall)} s wall, {cpu / 60:.0f} CPU-min (compare's accounting); "
            f"machine: `{load_avg.strip()}`.", "",
            "Per set: 480 generated clips (336 train / 72 val / 72 test, 6 classes in 3 pairs: audio tells "
            "the pair, video the class), one set per design (synth seed 1), 3 training seeds; preset `tiny` "
            "(3 frames of 32×32), small encoders (embedding 64), SGD lr 0.01 momentum 0.9 weight decay 1e-4, "
            "batch 32, 16 epochs per fusion mode and 32 for the unimodal runs and umt's teachers; attr-reg "
            "at its defaults, ogm-ge α 0.5, the other methods at their authors' defaults. Epoch chosen on val, test "
            "metrics of that epoch.", ""]
    notes = ""
    if os.path.exists(path):
        with open(path) as fh:
            old = fh.read()
        if NOTES in old:
            notes = old[old.index(NOTES) + len(NOTES):]
    with open(path, "w") as fh:
        fh.write("\n".join(head + body) + "\n" + NOTES + (notes if notes else "\n"))


if __name__ == "__main__":
    main()
