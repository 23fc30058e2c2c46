"""Shared pieces of the bench/ peers: the avbalance presets they reproduce, the frame sampler,
the duration fit, and CPU-time helpers. Kept dependency-free (stdlib + numpy) so both peers
import it without pulling the other's libraries.
"""
import csv
import json
import os
import resource
import time

# The avbalance presets the benchmark uses (features/preset.go), reduced to what a peer needs.
PRESETS = {
    # OGM-GE CREMA-D: 22.05 kHz, np.tile to 3 s, log|librosa.stft(512, 353)|, 1 frame at 1 fps.
    "ogmge-cremad": dict(rate=22050, feature="logstft", seconds=3, fit="tile-head", n_fft=512,
                         hop=353, power=1, log_offset=1e-7, time_frames=188,
                         frames=1, fps=1.0, size=224),
    # OGM-GE VGGSound: 16 kHz, 5 s crop, log|STFT(256, 128)|, 3 frames uniform.
    "ogmge-vggsound": dict(rate=16000, feature="logstft", seconds=5, fit="tile-random", n_fft=256,
                           hop=128, power=1, log_offset=1e-7, time_frames=626,
                           frames=3, fps=0.0, size=224),
    # avbalance default: 16 kHz, 3 s centre crop, log-mel 128 HTK (400, 160), 3 frames uniform.
    "default": dict(rate=16000, feature="logmel", seconds=3, fit="tile-center", n_fft=400,
                    hop=160, power=2, log_offset=1e-6, time_frames=300, n_mels=128,
                    frames=3, fps=0.0, size=224),
}


def read_manifest(path):
    """Rows of an avbalance manifest CSV (id,path,label[,split]); paths resolved against its folder."""
    base = os.path.dirname(os.path.abspath(path))
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        r["path"] = os.path.join(base, r["path"])
    return rows


def sampler_times(p, duration):
    """video.Sampler.times: uniform (i+0.5)*dur/n, or (i+0.5)/fps."""
    n = p["frames"]
    if p["fps"] > 0:
        return [(i + 0.5) / p["fps"] for i in range(n)]
    return [(i + 0.5) * duration / n for i in range(n)]


def fit(x, p, np):
    """features.Extractor.fit for the tile fits (random crops start at 0: same cost)."""
    n = int(round(p["seconds"] * p["rate"]))
    src = len(x)
    if src < n:
        x = np.tile(x, (n + src - 1) // src)
    if p["fit"] == "tile-center" and src > n:
        s = (src - n) // 2
        return x[s:s + n]
    return x[:n]


def cpu_self():
    """User+system CPU seconds of this process (all its threads)."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def cpu_children():
    """User+system CPU seconds of waited-for child processes."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_peer(name, manifest, preset, passes, one_clip):
    """Runs one_clip(path, p) on every clip `passes` times and prints one JSON line per clip:
    the median CPU (self + children) and wall seconds over the passes. The first pass is a warm-up
    when passes > 1 (imports, FFT plans, page cache) and is dropped."""
    p = PRESETS[preset]
    rows = read_manifest(manifest)
    cpu = {r["id"]: [] for r in rows}
    wall = {r["id"]: [] for r in rows}
    for k in range(passes + (1 if passes > 1 else 0)):
        for r in rows:
            c0, w0 = cpu_self() + cpu_children(), time.perf_counter()
            one_clip(r["path"], p)
            c1, w1 = cpu_self() + cpu_children(), time.perf_counter()
            if passes > 1 and k == 0:
                continue
            cpu[r["id"]].append(c1 - c0)
            wall[r["id"]].append(w1 - w0)
    for r in rows:
        print(json.dumps({"peer": name, "id": r["id"], "cpu_s": median(cpu[r["id"]]),
                          "wall_s": median(wall[r["id"]])}))


def median(v):
    v = sorted(v)
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


# Headings of bench/RESULTS.md that two scripts share: bench/beam.sh writes the Beam section,
# bench/run.sh keeps it (in front of the loader section) when it rewrites the rest.
BEAM_SECTION = "## Scale-out on Apache Beam: avbalance-beam vs avbalance extract"
LOADER_SECTION = "## Shard loader into training batches vs the training step"


def section(text, heading):
    """The Markdown section of text that starts at the line `heading` and runs to the next "## "
    heading (or the end), or "" when there is none."""
    start = text.find("\n" + heading + "\n")
    if start < 0:
        return ""
    end = text.find("\n## ", start + 1 + len(heading))
    return text[start + 1:] if end < 0 else text[start + 1:end + 1]


def put_section(text, heading, new, before):
    """text with its section `heading` replaced by new; when it has none, new goes in front of the
    section `before` (or at the end)."""
    new = new.rstrip("\n") + "\n\n"
    old = section(text, heading)
    if old:
        return text.replace(old, new, 1)
    at = text.find("\n" + before + "\n")
    if at < 0:
        return text.rstrip("\n") + "\n\n" + new
    return text[:at + 1] + new + text[at + 1:]
