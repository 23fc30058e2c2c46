#!/usr/bin/python3
"""Writes bench/RESULTS-methods.md from the runs bench/methods.sh trained.

Usage: methods_table.py OUT "SETS" "SEEDS" "MODES" WALL_SECONDS UPTIME RESULTS.md

Per set: mean ± sample std over seeds of the test metrics of each run's best epoch (result.json),
the per-seed test accuracies, and for every method how it compares with concat and attr-reg on test
accuracy (on every seed, on most seeds and in the mean, or no clear difference). The hand-written part of RESULTS.md after the NOTES marker
is kept.
"""
import json
import os
import statistics
import sys

NOTES = "<!-- notes below are written by hand and kept when the tables are regenerated -->"
COLUMNS = [("test acc", "accuracy", 3), ("mAP", "map", 3), ("audio share", "audio_share", 2),
           ("video share", "video_share", 2), ("audio probe", "probe_audio_acc", 3),
           ("video probe", "probe_video_acc", 3)]
SET_TEXT = {
    "demo": "the demo's design (grating contrast 0.25, period 0.2, pairs 30° apart)",
    "faint": "a fainter grating (contrast 0.15, otherwise as demo): the video cue is slower to learn",
}


def mean_std(xs):
    if not xs:
        return float("nan"), float("nan")
    return statistics.mean(xs), (statistics.stdev(xs) if len(xs) > 1 else 0.0)


def load(out, sets, seeds, modes):
    runs = {}
    for s in sets:
        for seed in seeds:
            for m in modes:
                d = os.path.join(out, s, f"seed-{seed}", "runs", m)
                try:
                    with open(os.path.join(d, "result.json")) as fh:
                        res = json.load(fh)
                    secs = 0.0
                    with open(os.path.join(d, "metrics.jsonl")) as fh:
                        for line in fh:
                            secs += json.loads(line).get("seconds", 0.0)
                except FileNotFoundError:
                    continue
                runs[(s, seed, m)] = (res["test"], secs)
    return runs


def verdict(runs, s, seeds, m, ref):
    a = [runs[(s, x, m)][0]["accuracy"] for x in seeds if (s, x, m) in runs and (s, x, ref) in runs]
    b = [runs[(s, x, ref)][0]["accuracy"] for x in seeds if (s, x, m) in runs and (s, x, ref) in runs]
    if not a:
        return "—"
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


def main():
    out, sets, seeds, modes, wall, load_avg, path = sys.argv[1:8]
    sets, seeds, modes = sets.split(), seeds.split(), modes.split()
    runs = load(out, sets, seeds, modes)
    lines = ["# Balancing methods side by side on generated sets", "",
             "Regenerate with `bench/methods.sh` (it writes everything above the notes). "
             f"Last run: {len(runs)} runs, {int(wall)} s wall; machine: `{load_avg.strip()}`.", "",
             "Per set and seed: 480 generated clips (336 train / 72 val / 72 test, 6 classes in 3 pairs: audio "
             "tells the pair, video the class), preset `tiny` (3 frames of 32×32), small encoders (embedding 64), "
             "SGD lr 0.01 momentum 0.9 weight decay 1e-4, batch 32, 16 epochs per fusion mode and 32 for the "
             "unimodal runs (umt's teachers); attr-reg λ 3, ogm-ge α 0.5, the new methods at their authors' "
             "defaults. Test split at the best validation epoch; mean ± sample std over seeds "
             f"{', '.join(seeds)}. Shares are Grad×Input shares of the true class; a probe is the fusion "
             "head's accuracy with the other modality's embedding set to zero.", ""]
    for s in sets:
        lines += [f"## Set `{s}`: {SET_TEXT.get(s, s)}", "",
                  "| mode | " + " | ".join(c[0] for c in COLUMNS) + " | train s |",
                  "|---|" + "---|" * (len(COLUMNS) + 1)]
        for m in modes:
            got = [runs[(s, x, m)] for x in seeds if (s, x, m) in runs]
            if not got:
                continue
            cells = []
            for _, key, prec in COLUMNS:
                mu, sd = mean_std([t[key] for t, _ in got])
                cells.append(f"{mu:.{prec}f} ± {sd:.{prec}f}")
            mu, sd = mean_std([sec for _, sec in got])
            n = f" ({len(got)} seeds)" if len(got) != len(seeds) else ""
            lines.append(f"| `{m}`{n} | " + " | ".join(cells) + f" | {mu:.0f} ± {sd:.0f} |")
        lines += ["", "Test accuracy per seed:", "",
                  "| mode | " + " | ".join(f"seed {x}" for x in seeds) + " |",
                  "|---|" + "---|" * len(seeds)]
        for m in modes:
            cells = [f"{runs[(s, x, m)][0]['accuracy']:.3f}" if (s, x, m) in runs else "—" for x in seeds]
            lines.append(f"| `{m}` | " + " | ".join(cells) + " |")
        lines += ["", "Against concat and attr-reg (test accuracy):", ""]
        for m in modes:
            if m in ("audio", "video", "concat"):
                continue
            against = [f"concat: {verdict(runs, s, seeds, m, 'concat')}"]
            if m != "attr-reg":
                against.append(f"attr-reg: {verdict(runs, s, seeds, m, 'attr-reg')}")
            lines.append(f"- `{m}` vs " + "; vs ".join(against))
        lines.append("")
    notes = ""
    if os.path.exists(path):
        with open(path) as fh:
            old = fh.read()
        if NOTES in old:
            notes = old[old.index(NOTES) + len(NOTES):]
    with open(path, "w") as fh:
        fh.write("\n".join(lines) + "\n" + NOTES + (notes if notes else "\n"))


if __name__ == "__main__":
    main()
