// Package features turns decoded mono audio into the fixed-shape audio feature stored in a
// shard, by named presets that reproduce the recipes of published audio-visual code.
//
// # Presets
//
// A Preset holds every parameter as a JSON field, so index.json records exactly how a shard
// was made. Lookup returns one of:
//
//	default         16 kHz, 3 s (tile / centre-crop), log-mel 128 HTK, n_fft 400 hop 160 → [128 300]; 3 frames 224²
//	tiny            16 kHz, 1 s, log-mel 40 → [40 100]; 3 frames 32² (demo and CI)
//	ogmge-cremad    22.05 kHz, np.tile to 3 s, log|librosa.stft| n_fft 512 hop 353 → [257 188]; 1 frame at 1 fps 224²
//	ogmge-vggsound  16 kHz, 5 s at a seeded random start, log|STFT| n_fft 256 hop 128 → [129 626]; 3 frames 224²
//	pmr-cremad      16 kHz, np.tile to 10 s, clip, scipy.signal.spectrogram 512/353, log, z-score → [257 1004]; 3 frames
//	fbank128        16 kHz, whole clip, AST's Kaldi fbank 128 mel, 1024 frames, (x+4.503877)/(2·5.141276) → [1024 128]; 3 frames
//
// Callers may override Frames, FrameFPS, Width, Height and the duration (WithSeconds keeps
// TimeFrames consistent); Validate says which field to change when they disagree.
//
// # Conventions
//
// Input is mono float32 at Preset.SampleRate, nominally in [-1,1]. Output is float32,
// row-major: [frequency][time] (LayoutFreqTime) for every preset except fbank128, which is
// [time][mel] (LayoutTimeFreq) as AST feeds it. Frequency rows run from low to high.
// Centre padding: torchaudio and librosa<0.10 reflect (librosa ≥0.10 defaults to "constant";
// set PadMode to match). Tiling repeats the clip whole until it is long enough, as np.tile.
// FitTileRandom's crop start is uniform over the tiled clip, drawn with splitmix64(seed).
//
// # Numerics
//
// FFTs are our own (fft.go), planned once per Extractor: a self-sorting (Stockham)
// mixed-radix complex FFT in radices 4, 2, 3 and 5, with a paired-sum butterfly for any other
// prime, twiddles computed once by math.Sincos and scratch owned by the plan (no allocation
// per frame). A real frame of even n_fft is packed into n/2 complex samples, transformed, and
// split into the n/2+1 bins; the window multiply happens in the packing, the zero padding
// (Kaldi's 400 samples in 512) in the same pass; odd n_fft runs the complex plan of n.
// gonum's dsp/fourier is the reference our FFT is tested against (fft_test.go: n = 1…4096,
// odd, prime and mixed sizes, every pass kernel first and later in the pass order, to 1e-9 of
// the largest bin), and BenchmarkRealFFT keeps it as the yardstick (measured figures:
// bench/NOTES.md). Everything runs in float64 — converting the clip once costs under 1% — and
// the result is rounded to float32. Mel filterbanks are stored sparsely (each band touches a
// contiguous run of bins), so a band costs its width, not NFFT/2+1 multiply-adds. Logs use
// logTo (log.go), a table-driven ln without division or call, within 1e-15·max(1,|ln x|) of
// math.Log.
//
// Agreement with the reference libraries is tested (reference_test.go) on the fixture in
// testdata, whose outputs testdata/reference.py computes with torchaudio 0.13 (MelSpectrogram,
// kaldi.fbank, melscale_fbanks), scipy (spectrogram, tukey window) and a numpy replica of
// librosa.stft (librosa itself is not installed). Tolerances: every preset's output within
// 1e-3 absolute (all outputs are logs or normalised logs, so linear values agree to about
// 0.1%), windows within 1e-12, mel filterbanks within 1e-5 of their peak.
//
// # Performance
//
// An Extractor is built once per worker; Audio allocates only the slice it returns.
// BenchmarkLogMel10s and bench_torchaudio.py measure the same 10 s log-mel in Go and torch
// (both also report CPU time, steadier than wall time on a shared machine); bench/NOTES.md has
// the figures.
package features
