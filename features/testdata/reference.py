#!/usr/bin/python3
"""Reference outputs for the features package's agreement tests (reference_test.go).

Run from anywhere with Debian's python (torch 1.13, torchaudio 0.13, numpy, scipy):

    /usr/bin/python3 features/testdata/reference.py

It writes, next to this script:
  fixture.f32     the input signal, float32 little-endian (formula below);
  ref_<preset>.f32 for each preset, the reference feature at the frames listed in
                  reference.json, float32 little-endian, time-major [len(time_index)][bins];
  reference.json  shapes, time indices, the vggsound crop start, plus small windows and
                  mel filterbanks for the unit tests.

Each preset is computed with the library its recipe names: torchaudio MelSpectrogram
(default, tiny), torchaudio.compliance.kaldi.fbank (fbank128), scipy.signal.spectrogram
(pmr-cremad). librosa is not installed: librosa.stft is replicated with numpy below,
following librosa 0.9 (hann window from get_window(fftbins=True), center=True,
pad_mode="reflect", rfft in float64, result stored as complex64 like librosa does for
float32 input).
"""
import json
import math
import os

import numpy as np
import scipy.signal
import torch
import torchaudio

HERE = os.path.dirname(os.path.abspath(__file__))
SR = 16000


def fixture():
    """1.3 s at 16 kHz: a 100 Hz → 6 kHz linear chirp (0.5), a 440 Hz tone (0.2),
    Gaussian noise (0.05, numpy default_rng(1234)), a 0.01 DC offset, and a 5 ms burst
    at 1.2 from 0.50 s (exercises PMR's clipping)."""
    n = int(1.3 * SR)
    t = np.arange(n) / SR
    f0, f1, dur = 100.0, 6000.0, n / SR
    chirp = np.sin(2 * np.pi * (f0 * t + 0.5 * (f1 - f0) / dur * t * t))
    rng = np.random.default_rng(1234)
    x = 0.5 * chirp + 0.2 * np.sin(2 * np.pi * 440 * t) + 0.05 * rng.standard_normal(n) + 0.01
    b = int(0.5 * SR)
    x[b:b + 80] = 1.2
    return x.astype(np.float32)


def tile_to(x, n):
    return np.tile(x, -(-n // len(x)))[:n]


def librosa_stft_abs(y, n_fft, hop):
    """|librosa.stft(y, n_fft, hop_length)| (librosa 0.9: center=True, pad_mode='reflect')."""
    win = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)
    yp = np.pad(y, n_fft // 2, mode="reflect")
    frames = 1 + (len(yp) - n_fft) // hop
    idx = np.arange(n_fft)[:, None] + hop * np.arange(frames)[None, :]
    s = np.fft.rfft(win[:, None] * yp[idx], axis=0).astype(np.complex64)
    return np.abs(s)


def logmel(x, n_mels, seconds):
    n = int(seconds * SR)
    y = tile_to(x, n) if len(x) < n else x[(len(x) - n) // 2:(len(x) - n) // 2 + n]
    mel = torchaudio.transforms.MelSpectrogram(
        sample_rate=SR, n_fft=400, win_length=400, hop_length=160, n_mels=n_mels,
        power=2.0, center=True, pad_mode="reflect", norm=None, mel_scale="htk")
    m = torch.log(mel(torch.from_numpy(y)) + 1e-6).numpy()
    return m[:, : m.shape[1] - 1]  # drop the extra centred frame


def ogmge_cremad(x):
    y = tile_to(x, 66150)
    return np.log(librosa_stft_abs(y, 512, 353) + 1e-7)


def ogmge_vggsound(x, start):
    y = tile_to(x, 80000 + start)[start:start + 80000]
    return np.log(librosa_stft_abs(y, 256, 128) + 1e-7)


def pmr_cremad(x):
    y = np.tile(x, 10)[:160000].copy()
    y[y > 1.0] = 1.0
    y[y < -1.0] = -1.0
    _, _, s = scipy.signal.spectrogram(y, SR, nperseg=512, noverlap=353)
    s = np.log(s + 1e-7)
    return (s - np.mean(s)) / (np.std(s) + 1e-9)


def fbank128(x):
    w = torch.from_numpy(x)[None, :]
    w = w - w.mean()
    f = torchaudio.compliance.kaldi.fbank(
        w, htk_compat=True, sample_frequency=SR, use_energy=False, window_type="hanning",
        num_mel_bins=128, dither=0.0, frame_shift=10)
    p = 1024 - f.shape[0]
    f = torch.nn.ZeroPad2d((0, 0, 0, p))(f) if p > 0 else f[:1024]
    return ((f - (-4.503877)) / (5.141276 * 2)).numpy()  # [time, mel]


def spaced(n, k):
    return sorted(set(int(round(v)) for v in np.linspace(0, n - 1, k)))


def main():
    x = fixture()
    x.astype("<f4").tofile(os.path.join(HERE, "fixture.f32"))
    vgg_start = 12345
    outs = {
        "default": logmel(x, 128, 3),
        "tiny": logmel(x, 40, 1),
        "ogmge-cremad": ogmge_cremad(x),
        "ogmge-vggsound": ogmge_vggsound(x, vgg_start),
        "pmr-cremad": pmr_cremad(x),
    }
    meta = {"fixture": {"file": "fixture.f32", "samples": len(x)}, "vggsound_start": vgg_start, "presets": {}}
    for name, v in outs.items():  # [freq, time]
        ti = spaced(v.shape[1], 24)
        sub = np.ascontiguousarray(v[:, ti].T, dtype="<f4")
        meta["presets"][name] = {"shape": list(v.shape), "time_index": ti, "file": f"ref_{name}.f32"}
        sub.tofile(os.path.join(HERE, f"ref_{name}.f32"))
    fb = fbank128(x)  # [time, mel]
    ti = spaced(128, 20) + [128, 500, 1023]
    np.ascontiguousarray(fb[ti], dtype="<f4").tofile(os.path.join(HERE, "ref_fbank128.f32"))
    meta["presets"]["fbank128"] = {"shape": list(fb.shape), "time_index": ti, "file": "ref_fbank128.f32"}

    meta["windows"] = {
        "hann": torch.hann_window(64, periodic=True, dtype=torch.float64).tolist(),
        "hann-symmetric": torch.hann_window(64, periodic=False, dtype=torch.float64).tolist(),
        "hamming": torch.hamming_window(64, periodic=True, dtype=torch.float64).tolist(),
        "hamming-symmetric": torch.hamming_window(64, periodic=False, dtype=torch.float64).tolist(),
        "povey": torch.hann_window(64, periodic=False, dtype=torch.float64).pow(0.85).tolist(),
        "tukey": scipy.signal.get_window(("tukey", 0.25), 64).tolist(),
        "tukey63-0.5": scipy.signal.get_window(("tukey", 0.5), 63).tolist(),
    }
    F = torchaudio.functional.melscale_fbanks
    meta["mel"] = {  # [n_freqs][n_mels] as torchaudio returns them
        "params": {"n_freqs": 65, "f_min": 50.0, "f_max": 7000.0, "n_mels": 16, "sample_rate": 16000},
        "htk": F(65, 50.0, 7000.0, 16, 16000, None, "htk").double().tolist(),
        "slaney_slaney": F(65, 50.0, 7000.0, 16, 16000, "slaney", "slaney").double().tolist(),
    }
    with open(os.path.join(HERE, "reference.json"), "w") as f:
        json.dump(meta, f)
    for name, m in meta["presets"].items():
        print(name, m["shape"])


if __name__ == "__main__":
    torch.set_num_threads(1)
    main()
