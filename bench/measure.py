#!/usr/bin/python3
"""Runs every peer back to back on the same clips and writes bench/RESULTS.md.

Called by bench/run.sh after it has built the binaries and generated the inputs:
  measure.py WORKDIR RESULTS_MD [PASSES]
WORKDIR holds bin/avbalance, bin/avbprof, the manifests (in/*.csv) and loader.txt (the Go loader
and training-step benchmark output written by run.sh).

Every CPU number is user+system time (getrusage of the process or its children, or the thread CPU
clock inside avbalance), the median over PASSES repeats; wall times are reported but the machine is
shared, so ratios are taken on CPU.
"""
import json
import os
import platform
import re
import resource
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from common import BEAM_SECTION, LOADER_SECTION, median, put_section, read_manifest, section  # noqa: E402

WORK, RESULTS = sys.argv[1], sys.argv[2]
PASSES = int(sys.argv[3]) if len(sys.argv) > 3 else 3
AVB = os.path.join(WORK, "bin", "avbalance")
PROF = os.path.join(WORK, "bin", "avbprof")
PY = "/usr/bin/python3"

# dataset → (manifest, preset, copies of each clip in the avbalance extract runs)
SETS = [
    ("CREMA-D (6 FLV, VP6F+MP3, 480x360, ~2 s)", "cremad", "ogmge-cremad", 40),
    ("VGGSound (9 MP4, H.264+AAC, 10 s)", "vggsound", "ogmge-vggsound", 5),
    ("generated 10 s 640x360 H.264+AAC", "gen10s", "default", 30),
]


def log(*a):
    print("measure:", *a, file=sys.stderr, flush=True)


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def jsonl(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=HERE).stdout
    return [json.loads(l) for l in out.splitlines() if l.startswith("{")]


def mean(v):
    return sum(v) / len(v)


def floor(manifest):
    """ffmpeg -benchmark -threads 1 -i CLIP -f null -: its own utime+stime (decode work, after
    probing) and the whole process's CPU (with start-up and probing), per clip."""
    bench, proc = [], []
    for r in read_manifest(manifest):
        b, p = [], []
        for _ in range(PASSES):
            c0 = children_cpu()
            out = subprocess.run(["ffmpeg", "-nostdin", "-hide_banner", "-benchmark", "-threads", "1",
                                  "-i", r["path"], "-f", "null", "-"], check=True,
                                 capture_output=True, text=True).stderr
            p.append(children_cpu() - c0)
            m = re.search(r"bench: utime=([\d.]+)s stime=([\d.]+)s", out)
            b.append(float(m.group(1)) + float(m.group(2)))
        bench.append(median(b))
        proc.append(median(p))
    return mean(bench), mean(proc)


def startup():
    """CPU seconds of starting avbalance (dynamic linking of FFmpeg and its ~200 libraries, Go
    runtime): `avbalance --help`, median over PASSES."""
    runs = []
    for _ in range(PASSES):
        c0 = children_cpu()
        subprocess.run([AVB, "--help"], capture_output=True)
        runs.append(children_cpu() - c0)
    return median(runs)


def lanes_wall(paths, lanes):
    """Wall seconds to run the decode floor (`ffmpeg -threads 1 -f null`) over paths, split
    round-robin over `lanes` concurrent lanes of one process at a time."""
    def lane(k):
        for p in paths[k::lanes]:
            subprocess.run(["ffmpeg", "-nostdin", "-hide_banner", "-threads", "1", "-i", p, "-f", "null", "-"],
                           check=True, capture_output=True)
    t0 = time.perf_counter()
    ts = [threading.Thread(target=lane, args=(k,)) for k in range(lanes)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return time.perf_counter() - t0


def control_speedup(manifest, copies):
    """The machine's own 1 → 2 lane wall speed-up on a perfectly parallel job of the same kind
    (independent single-threaded ffmpeg decodes of the same clips), median over PASSES: what 2
    workers can at best give on this machine at this moment."""
    paths = [r["path"] for r in read_manifest(manifest)] * copies
    return median([lanes_wall(paths, 1) / lanes_wall(paths, 2) for _ in range(PASSES)])


def repeat_manifest(src, dst, copies):
    with open(src) as f:
        lines = f.read().splitlines()
    with open(dst, "w") as f:
        f.write(lines[0] + "\n")
        for k in range(copies):
            for l in lines[1:]:
                i, rest = l.split(",", 1)
                f.write(f"{i}-{k},{rest}\n")
    return len(lines[1:]) * copies


def extract(manifest, preset, workers, n, tag):
    """One `avbalance extract` run under /usr/bin/time: CPU s/clip, wall s/clip, peak RSS MB."""
    out = os.path.join(WORK, "out", tag)
    subprocess.run(["rm", "-rf", out], check=True)
    t = subprocess.run(["/usr/bin/time", "-f", "TIME %U %S %e %M", AVB, "extract", "--dataset", "manifest",
                        "--manifest", manifest, "--preset", preset, "--out", out,
                        "--workers", str(workers), "--quiet"], capture_output=True, text=True)
    if t.returncode != 0:
        raise SystemExit(f"avbalance extract failed ({t.returncode}): {t.stderr}")
    u, s, e, m = t.stderr.strip().splitlines()[-1].split()[1:]
    subprocess.run(["rm", "-rf", out], check=True)
    return (float(u) + float(s)) / n, float(e) / n, int(m) / 1024


def extract_median(manifest, preset, workers, n, tag):
    runs = [extract(manifest, preset, workers, n, tag) for _ in range(PASSES)]
    return tuple(median([r[i] for r in runs]) for i in range(3))


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def main():
    t_start = time.time()
    load0 = loadavg()
    start_cpu = startup()
    rows, stages = [], []
    for title, key, preset, copies in SETS:
        man = os.path.join(WORK, "in", key + ".csv")
        nclips = len(read_manifest(man))
        log(f"{key}: floor")
        fl_bench, fl_proc = floor(man)
        log(f"{key}: cli+numpy")
        cli = jsonl([PY, "peer_cli_numpy.py", man, preset, str(PASSES), os.path.join(WORK, "scratch")])
        pyav_all = jsonl([PY, "peer_pyav_torchaudio.py", man, preset, str(PASSES), "all"])
        rep = os.path.join(WORK, "in", key + "-rep.csv")
        n = repeat_manifest(man, rep, copies)
        # The closest comparisons are taken in turns, so that a change in the machine's load
        # between them does not decide the ratio: each round runs the PyAV peer (stopping
        # early), avbalance extract with 1 worker and the in-process stages back to back.
        pyav, w1s, sts = [], [], []
        for k in range(PASSES):
            log(f"{key}: round {k + 1}/{PASSES}: pyav+torchaudio, avbalance extract ×{n} clips, stages")
            pyav.append(jsonl([PY, "peer_pyav_torchaudio.py", man, preset, str(PASSES)]))
            w1s.append(extract(rep, preset, 1, n, key))
            sts.append(jsonl([PROF, "-manifest", man, "-preset", preset, "-passes", str(PASSES)]))
        w1 = tuple(median([r[i] for r in w1s]) for i in range(3))
        st = [{f: median([run[i][f] for run in sts]) for f in sts[0][i] if f.endswith("_s")}
              for i in range(len(sts[0]))]
        log(f"{key}: avbalance extract ×{n} clips, 2 workers")
        w2 = extract_median(rep, preset, 2, n, key)
        log(f"{key}: control, ffmpeg decodes in 1 and 2 lanes")
        ctl = control_speedup(man, max(2, 24 // nclips))
        rows.append(dict(title=title, preset=preset, nclips=nclips, n=n, floor=fl_bench, floor_proc=fl_proc,
                         cli=mean([r["cpu_s"] for r in cli]), cli_wall=mean([r["wall_s"] for r in cli]),
                         pyav=median([mean([r["cpu_s"] for r in run]) for run in pyav]),
                         pyav_wall=median([mean([r["wall_s"] for r in run]) for run in pyav]),
                         pyav_all=mean([r["cpu_s"] for r in pyav_all]),
                         inproc=mean([r["worker_s"] for r in st]), w1=w1, w2=w2, control=ctl))
        stages.append((title, {k: mean([r[k] for r in st]) for k in
                               ("audio_s", "video_s", "av_s", "features_s", "shard_s", "probe_s", "cpu_s", "worker_s")}))
    scale = []
    for n in (100, 1000):
        man = os.path.join(WORK, "in", f"gen{n}.csv")
        log(f"scale: {n} clips, 2 workers")
        runs = [extract(man, "default", 2, n, f"gen{n}") for _ in range(PASSES)]
        scale.append((n, tuple(median([r[i] for r in runs]) for i in range(3)), max(r[2] for r in runs)))
    write(rows, stages, scale, start_cpu, load0, loadavg(), time.time() - t_start)


def versions():
    def first_line(cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True).stdout.splitlines()[0]
        except Exception as e:  # noqa: BLE001
            return f"? ({e})"
    py = subprocess.run([PY, "-c", "import av, numpy, scipy, torch, torchaudio; print('PyAV', av.__version__, "
                         "'numpy', numpy.__version__, 'scipy', scipy.__version__, 'torch', torch.__version__, "
                         "'torchaudio', torchaudio.__version__)"], capture_output=True, text=True).stdout.strip()
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for l in f:
            if l.startswith("model name"):
                cpu = l.split(":", 1)[1].strip()
                break
    return dict(ffmpeg=first_line(["ffmpeg", "-version"]), go=first_line(["go", "version"]), py=py, cpu=cpu,
                ncpu=os.cpu_count(), kernel=platform.release())


def ms(x):
    return f"{1000 * x:.1f}"


def write(rows, stages, scale, start_cpu, load0, load1, elapsed):
    v = versions()
    L = []
    L.append("# avbalance vs what users run today: extraction benchmarks\n")
    L.append("Regenerate with `bench/run.sh` (or `make bench`): it builds avbalance, generates the synthetic "
             "inputs in a temp dir, runs every peer back to back on the same clips and rewrites this file. "
             f"Every number below comes from one run ({elapsed / 60:.1f} min).\n")
    L.append(f"Machine: {v['cpu']}, {v['ncpu']} cores, Linux {v['kernel']}; load average {load0} at the start, "
             f"{load1} at the end (a shared machine: other people were compiling and testing during the run, so "
             "**ratios are taken on CPU time** — user+system, medians over "
             f"{PASSES} repeats after a warm-up — and wall times are indicative only). "
             f"{v['go']}; {v['ffmpeg']}; {v['py']} (Debian 12 packages).\n")
    L.append("## Per clip, same clips, same feature recipe\n")
    counts = ", ".join(f"{r['n']} clips" for r in rows)
    L.append("CPU ms per clip (mean over the clips of each set). avbalance `extract` is the whole CLI run — "
             "process start, probing, decode, features, Arrow shard writing with sha256 and fsync — divided by "
             "the number of clips (each clip listed several times in one manifest so start-up is amortised as "
             f"in a real run: {counts}; starting avbalance costs "
             f"{ms(start_cpu)} ms CPU per run). `avbalance in-process` is `pipeline.Worker.Process` on one clip "
             "(decode and features, giving the row; `bench/avbprof`), timed as the Python peers time a clip: "
             "process CPU (all threads) around the call, median over the passes, without process start-up or "
             f"writing files. These two and the PyAV peer that stops early are measured in {PASSES} rounds "
             "taken in turns (each number is the median of its rounds), so a change in the machine's load "
             "between them cannot decide their ratio.\n")
    L.append("| clips | preset | CLI + numpy | PyAV + torchaudio (stops early) | PyAV + torchaudio (every frame) "
             "| ffmpeg floor (-benchmark) | floor, whole process | **avbalance extract, 1 worker** "
             "| avbalance, 2 workers | avbalance in-process |")
    L.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        L.append(f"| {r['title']} | `{r['preset']}` | {ms(r['cli'])} | {ms(r['pyav'])} | {ms(r['pyav_all'])} | "
                 f"{ms(r['floor'])} | {ms(r['floor_proc'])} | **{ms(r['w1'][0])}** | {ms(r['w2'][0])} | "
                 f"{ms(r['inproc'])} |")
    L.append("\nPeers: `bench/peer_cli_numpy.py` (ffmpeg CLI → wav at the preset rate + ffmpeg CLI `fps=1,scale=224:224` "
             "JPEGs + numpy/scipy log spectrogram, both ffmpeg calls `-threads 1`, CPU includes the child processes); "
             "`bench/peer_pyav_torchaudio.py` (one demux pass, audio via av.AudioResampler, video decoded up to the "
             "last sampled frame — the best case for PyAV — or every frame, as `container.decode(video=0)` loops "
             "and `torchvision.io.read_video` do; torchaudio Spectrogram/MelSpectrogram, 1 thread); the floor is "
             "`ffmpeg -benchmark -threads 1 -i CLIP -f null -` (its own utime+stime, i.e. after process start and "
             "probing; 'whole process' adds those). The 22.05 kHz CREMA-D wav follows OGM-GE's "
             "`librosa.load(sr=22050)`; other sets use 16 kHz as the issue says.\n")
    L.append("\nRatios on CPU per clip (target for CREMA-D: ≥ 5× vs CLI + numpy, ≥ 1.5× vs PyAV + torchaudio, "
             "≤ 1.3× the decode floor):\n")
    L.append("| clips | CLI + numpy ÷ avbalance | PyAV (stops early) ÷ avbalance | PyAV (stops early) ÷ avbalance "
             "in-process | PyAV (every frame) ÷ avbalance | avbalance ÷ floor |")
    L.append("|---|---:|---:|---:|---:|---:|")
    for r in rows:
        a = r["w1"][0]
        L.append(f"| {r['title']} | {r['cli'] / a:.1f}× | {r['pyav'] / a:.2f}× | {r['pyav'] / r['inproc']:.2f}× | "
                 f"{r['pyav_all'] / a:.2f}× | {a / r['floor']:.2f}× |")
    L.append("\n1 → 2 workers, wall time of `avbalance extract` (target: near-linear). The control is this "
             "machine's own speed-up on a perfectly parallel job of the same kind measured in the same run: "
             "independent single-threaded `ffmpeg -f null` decodes of the same clips in 1 and 2 lanes.\n")
    L.append("| clips | wall s/clip 1 worker | wall s/clip 2 workers | speed-up 1→2 workers | control speed-up "
             "1→2 lanes | avbalance ÷ control | CPU/clip 2 w ÷ 1 w |")
    L.append("|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        sp = r["w1"][1] / r["w2"][1]
        L.append(f"| {r['title']} | {r['w1'][1]:.4f} | {r['w2'][1]:.4f} | {sp:.2f}× | {r['control']:.2f}× | "
                 f"{sp / r['control']:.2f} | {r['w2'][0] / r['w1'][0]:.2f} |")
    L.append("\nWall times of the Python peers (s/clip, indicative): " + "; ".join(
        f"{r['title'].split(' (')[0]}: CLI + numpy {r['cli_wall']:.3f}, PyAV + torchaudio {r['pyav_wall']:.3f}"
        for r in rows) + ".\n")
    L.append("### Where avbalance's CPU goes (in-process, one thread, ms per clip)\n")
    L.append("`bench/avbprof` runs the pipeline worker's stages one at a time on a locked thread "
             "(CLOCK_THREAD_CPUTIME_ID). `audio` and `video` are each decoder on its own (each opens and "
             "probes the file); `audio+video` is both as the worker decodes a clip from one file: one demux "
             "pass (`video.Decoder.FramesShared`) when seeking cannot skip video frames (the FLVs, short "
             "clips with one keyframe), else video then audio. `sum` is the worker's path: audio+video, "
             "features, shard. `probe` is one `avformat_open_input` and what `internal/demux` does to find "
             "the streams (FLV: read ahead to the first packet of each stream).\n")
    L.append("| clips | audio decode+resample (alone) | video decode+scale (alone) | **audio+video, as the worker** "
             "| features | shard append | sum | (one open+probe) |")
    L.append("|---|---:|---:|---:|---:|---:|---:|---:|")
    for title, s in stages:
        L.append(f"| {title} | {ms(s['audio_s'])} | {ms(s['video_s'])} | **{ms(s['av_s'])}** | "
                 f"{ms(s['features_s'])} | {ms(s['shard_s'])} | {ms(s['cpu_s'])} | {ms(s['probe_s'])} |")
    L.append("\n## Scale: generated 2 s clips (320x240 H.264 + AAC), preset `default`, 2 workers\n")
    L.append(f"{PASSES} runs of each; peak RSS is VmHWM from `/usr/bin/time` (`%M`), median and highest of the runs.\n")
    L.append("| clips | throughput (clips/s, wall) | CPU ms/clip | peak RSS, median (MB) | peak RSS, highest (MB) |")
    L.append("|---:|---:|---:|---:|---:|")
    for n, (cpu, wall, med), rss in scale:
        L.append(f"| {n} | {1 / wall:.1f} | {ms(cpu)} | {med:.0f} | {rss:.0f} |")
    if len(scale) == 2:
        L.append(f"\nPeak RSS 1,000 ÷ 100 clips: {scale[1][1][2] / scale[0][1][2]:.2f} on the medians, "
                 f"{scale[1][2] / scale[0][2]:.2f} on the highest runs (target ≤ 1.10).\n")
    loader = os.path.join(WORK, "loader.txt")
    if os.path.exists(loader):
        L.append(LOADER_SECTION + "\n")
        with open(loader) as f:
            L.append(f.read().strip() + "\n")
    notes = os.path.join(HERE, "NOTES.md")
    if os.path.exists(notes):
        with open(notes) as f:
            L.append(f.read().strip() + "\n")
    text = "\n".join(L)
    if os.path.exists(RESULTS):  # bench/beam.sh measures that section, this run does not
        with open(RESULTS) as f:
            beam = section(f.read(), BEAM_SECTION)
        if beam:
            text = put_section(text, BEAM_SECTION, beam, LOADER_SECTION)
    with open(RESULTS, "w") as f:
        f.write(text)
    log("wrote", RESULTS)


if __name__ == "__main__":
    main()
