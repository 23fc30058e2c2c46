#!/usr/bin/python3
"""The in-process Python peer: PyAV decode + torchaudio, per clip, in one process.

One demux pass over the file: every audio packet is decoded and resampled to mono float at the
preset's rate (av.AudioResampler = libswresample); video packets are decoded only until the frame
after the last sampled time (the same deterministic sampler as avbalance), and the sampled frames
are converted to 224×224 RGB24 (frame.reformat = libswscale). Audio: tile/crop as the preset, then
torchaudio.transforms.Spectrogram (log|STFT| presets) or MelSpectrogram (log-mel presets), log.
Decoder and torch threads are set to 1; nothing is written to disk (that favours this peer).
With MODE "all" every video frame is decoded (only the sampled ones are converted), as loops over
container.decode(video=0) or torchvision.io.read_video do when they do not stop early.

CPU = process CPU time (all threads), per clip, median over passes.

Usage: peer_pyav_torchaudio.py MANIFEST PRESET PASSES [MODE]   (MODE: early (default) or all)
"""
import sys

import av
import numpy as np
import torch
import torchaudio

from common import fit, run_peer, sampler_times

torch.set_num_threads(1)
_transforms = {}


def transform(p):
    key = id(p)
    if key not in _transforms:
        if p["feature"] == "logmel":
            t = torchaudio.transforms.MelSpectrogram(
                sample_rate=p["rate"], n_fft=p["n_fft"], hop_length=p["hop"], n_mels=p["n_mels"],
                mel_scale="htk", power=2.0, center=True, pad_mode="reflect")
        else:
            t = torchaudio.transforms.Spectrogram(n_fft=p["n_fft"], hop_length=p["hop"],
                                                  power=p["power"], center=True, pad_mode="reflect")
        _transforms[key] = t
    return _transforms[key]


def one_clip(path, p, decode_all=False):
    s = p["size"]
    with av.open(path) as c:
        a, v = c.streams.audio[0], c.streams.video[0]
        a.codec_context.thread_count = 1
        v.codec_context.thread_count = 1
        v.thread_type = "SLICE"
        dur = float(v.duration * v.time_base) if v.duration else c.duration / 1e6
        start = float(v.start_time * v.time_base) if v.start_time is not None else 0.0
        targets = sampler_times(p, dur)
        res = av.AudioResampler(format="flt", layout="mono", rate=p["rate"])
        chunks, frames, prev, j = [], [None] * len(targets), None, 0
        for pkt in c.demux(a, v):
            if pkt.stream is a:
                for fr in pkt.decode():
                    for r in res.resample(fr):
                        chunks.append(r.to_ndarray()[0])
            elif j < len(targets) or decode_all:
                for fr in pkt.decode():
                    if j == len(targets):
                        continue
                    t = (fr.time or 0.0) - start
                    while j < len(targets) and t > targets[j]:
                        src = prev if prev is not None else fr
                        frames[j] = src.reformat(width=s, height=s, format="rgb24").to_ndarray()
                        j += 1
                    prev = fr
        for r in res.resample(None):
            chunks.append(r.to_ndarray()[0])
        while j < len(targets):  # past the last frame: repeat it
            frames[j] = prev.reformat(width=s, height=s, format="rgb24").to_ndarray()
            j += 1
    x = fit(np.concatenate(chunks), p, np)
    spec = transform(p)(torch.from_numpy(np.ascontiguousarray(x)))
    feat = torch.log(spec[:, : p["time_frames"]] + p["log_offset"])
    return feat, np.stack(frames)


def main():
    manifest, preset, passes = sys.argv[1], sys.argv[2], int(sys.argv[3])
    decode_all = len(sys.argv) > 4 and sys.argv[4] == "all"
    run_peer("pyav+torchaudio" + (" (all frames)" if decode_all else ""), manifest, preset, passes,
             lambda path, p: one_clip(path, p, decode_all))


if __name__ == "__main__":
    main()
