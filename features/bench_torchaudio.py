#!/usr/bin/python3
"""Times torchaudio's MelSpectrogram + log on the clip BenchmarkLogMel10s uses, for comparison.

    /usr/bin/python3 features/bench_torchaudio.py          # prints single-thread and default-thread ms/clip

Same signal (0.5·sin(2π(100t+150t²)) + 0.2·sin(2π·440t), 10 s at 16 kHz), same transform
(n_fft 400, hop 160, 128 HTK mels, power 2, center/reflect, log(x+1e-6)); the transform is
built once, like an Extractor, and only the call is timed: 15 runs of 10 calls, reporting the fastest run and the median
(the machine is shared; the minimum is the least disturbed estimate), and the median CPU time
per call (time.process_time; BenchmarkLogMel10s reports the same as cpu-ns/op).
"""
import os
import statistics
import time

import numpy as np
import torch
import torchaudio
import warnings

warnings.filterwarnings("ignore", message="At least one mel filterbank")


def signal():
    t = np.arange(160000) / 16000.0
    x = 0.5 * np.sin(2 * np.pi * (100 * t + 150 * t * t)) + 0.2 * np.sin(2 * np.pi * 440 * t)
    return torch.from_numpy(x.astype(np.float32))


def measure(threads):
    torch.set_num_threads(threads)
    mel = torchaudio.transforms.MelSpectrogram(
        sample_rate=16000, n_fft=400, win_length=400, hop_length=160, n_mels=128,
        power=2.0, center=True, pad_mode="reflect", mel_scale="htk")
    x = signal()
    with torch.inference_mode():
        for _ in range(20):
            torch.log(mel(x) + 1e-6)
        runs, cpu = [], []
        for _ in range(15):
            t0, c0 = time.perf_counter(), time.process_time()
            for _ in range(10):
                torch.log(mel(x) + 1e-6)
            runs.append((time.perf_counter() - t0) / 10 * 1e3)
            cpu.append((time.process_time() - c0) / 10 * 1e3)
    return min(runs), statistics.median(runs), statistics.median(cpu)


if __name__ == "__main__":
    default = torch.get_num_threads()  # 1 on this machine: OpenMP's default here is 1 thread
    cores = os.cpu_count()
    for label, n in (("1 thread", 1), (f"default ({default} threads)", default), (f"{cores} threads", cores)):
        best, med, cpu = measure(n)
        print(f"torchaudio MelSpectrogram+log 10 s @16 kHz, {label}: wall min {best:.3f} median {med:.3f}, cpu {cpu:.3f} ms/clip")
