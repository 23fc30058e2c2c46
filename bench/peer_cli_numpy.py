#!/usr/bin/python3
"""The reference-paper baseline (OGM-GE / PMR style preprocessing), per clip:

  1. ffmpeg CLI → mono wav at the preset's rate (16 kHz; 22.05 kHz for ogmge-cremad, the rate
     OGM-GE's librosa.load resamples to),
  2. ffmpeg CLI → 1 fps frames scaled to 224×224 as JPEGs (the papers' extract-frames scripts),
  3. numpy/scipy: read the wav, tile/crop, log|STFT| (a numpy replica of librosa.stft, reflect
     padding, periodic Hann) or log-mel (HTK filterbank, computed once), np.save.

CPU = this process + its ffmpeg children (getrusage), per clip, median over passes. Both ffmpeg
calls run with -threads 1 so thread overhead does not inflate the baseline.

Usage: peer_cli_numpy.py MANIFEST PRESET PASSES SCRATCH_DIR
"""
import os
import shutil
import subprocess
import sys

import numpy as np
import scipy.io.wavfile
import scipy.signal

from common import fit, run_peer

FFMPEG = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-threads", "1"]

_cache = {}


def window(n):
    if ("win", n) not in _cache:
        _cache[("win", n)] = scipy.signal.get_window("hann", n)  # periodic, as librosa/torch
    return _cache[("win", n)]


def htk_mel(p):
    key = ("mel", p["n_fft"], p["n_mels"], p["rate"])
    if key not in _cache:
        n_freqs = p["n_fft"] // 2 + 1
        freqs = np.linspace(0, p["rate"] / 2, n_freqs)
        hz2mel = lambda f: 2595.0 * np.log10(1.0 + f / 700.0)
        mel2hz = lambda m: 700.0 * (10 ** (m / 2595.0) - 1.0)
        f_pts = mel2hz(np.linspace(hz2mel(0.0), hz2mel(p["rate"] / 2), p["n_mels"] + 2))
        f_diff = f_pts[1:] - f_pts[:-1]
        slopes = f_pts[None, :] - freqs[:, None]
        down = -slopes[:, :-2] / f_diff[:-1]
        up = slopes[:, 2:] / f_diff[1:]
        _cache[key] = np.maximum(0, np.minimum(down, up)).T  # [n_mels, n_freqs]
    return _cache[key]


def log_spectrogram(x, p):
    n_fft, hop = p["n_fft"], p["hop"]
    x = np.pad(x, n_fft // 2, mode="reflect")
    n = 1 + (len(x) - n_fft) // hop
    frames = np.lib.stride_tricks.as_strided(x, (n, n_fft), (x.strides[0] * hop, x.strides[0]))
    spec = np.abs(np.fft.rfft(frames * window(n_fft), axis=1)).T  # [freq, time]
    if p["feature"] == "logmel":
        spec = htk_mel(p) @ (spec ** 2)
    else:
        spec = spec ** p["power"]
    return np.log(spec[:, : p["time_frames"]] + p["log_offset"]).astype(np.float32)


def one_clip(path, p, scratch):
    wav = os.path.join(scratch, "a.wav")
    fdir = os.path.join(scratch, "frames")
    shutil.rmtree(fdir, ignore_errors=True)
    os.makedirs(fdir)
    subprocess.run(FFMPEG + ["-i", path, "-vn", "-ac", "1", "-ar", str(p["rate"]), "-f", "wav", wav],
                   check=True)
    s = p["size"]
    subprocess.run(FFMPEG + ["-i", path, "-an", "-vf", f"fps=1,scale={s}:{s}", "-q:v", "2",
                             os.path.join(fdir, "%03d.jpg")], check=True)
    rate, x = scipy.io.wavfile.read(wav)
    x = x.astype(np.float32) / 32768.0
    spec = log_spectrogram(fit(x, p, np).astype(np.float64), p)
    np.save(os.path.join(scratch, "spec.npy"), spec)


def main():
    manifest, preset, passes, scratch = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    os.makedirs(scratch, exist_ok=True)
    run_peer("cli+numpy", manifest, preset, passes, lambda path, p: one_clip(path, p, scratch))


if __name__ == "__main__":
    main()
