// Package synth generates an audio-visual dataset with a real, controllable modality imbalance:
// short MP4 clips (H.264 video, AAC mono audio) encoded in-process through FFmpeg (go-astiav),
// a manifest.csv readable by ingest.ReadManifest and a synth.json describing the generator.
//
// # Class design
//
// There are Classes = 2·P classes, grouped in P pairs; class k belongs to pair k/2 and is member
// k%2 ("a" or "b") of it, named "p<pair>-<member>" (e.g. p0-a, p0-b, p1-a, …).
//
//   - Audio carries the pair only: a pure tone at a pair-specific frequency (log-spaced from
//     Cues.ToneLowHz to Cues.ToneHighHz, 300–2400 Hz by default) with random detune (±3%),
//     amplitude, phase and 10 ms fades, in white Gaussian noise at Cues.AudioSNRdB (0 dB).
//     Nothing in the audio depends on the member, unless Cues.MemberTone is set: then member b
//     plays its pair's tone times MemberTone and the audio tells the whole class too. A narrow
//     spectral peak in a log-mel or STFT feature is found by a small model within a few batches.
//   - Video carries the whole class, through a subtle cue: a faint circular grating patch
//     (Cues.CueContrast = 0.25 of full range, period 12% and diameter 50% of the frame) whose
//     orientation is the class: members of a pair are 90° apart, and pair p turns both by
//     p·Cues.PairSpread·90°/P (0.6 → 18° steps for P = 3), with ±3° jitter. The patch sits at a
//     random place, drifts slowly, and is drawn over a random grey-ish background,
//     Cues.Distractors (3) opaque coloured discs and squares (also drifting), and per-pixel
//     luminance noise (Cues.VideoNoise = 0.08). Orientation must be found as a local texture
//     among noise and clutter, so it is learned more slowly than the tone; the pair part of it
//     (18° apart) is harder still than the member part (90° apart).
//
// Measured with the defaults (480 clips, 336 for training; small PyTorch models, Adam 1e-3,
// batch 32): audio-only (1-D conv over a log-STFT) reaches 0.50–0.6 test accuracy after 1–2
// epochs and stays there; video-only (3-layer CNN on one 56×56 frame) is at chance for ~5
// epochs, knows the member (100%) after ~15 and the class at 0.85–0.9 after 25–30.
//
// Consequences: an audio-only model saturates at about 1/2 accuracy (the pair is certain, the
// member a coin flip); a video-only model can approach 100% but takes longer; a fusion model can
// approach 100% by taking the pair from audio and the member from video, yet a naive
// concatenation model tends to fit the quick audio cue first and then under-trains the video
// branch (the imbalance the attribution regularizer is meant to correct). Set PairSpread to 0 to
// make video carry the member only (video-only then saturates at 1/P), or raise CueContrast and
// lower VideoNoise and Distractors to make video easier.
//
// # Determinism
//
// Labels (balanced, shuffled), splits (stratified per class; 70/15/15 by default) and every
// clip's raw audio and pixels depend only on Config.Seed and the clip index, never on the
// number of workers. With mpeg4 video the encoded files are byte-identical across runs; libx264
// (this Debian build) reads uninitialised heap memory in its SIMD code — the ffmpeg CLI's output
// changes with MALLOC_PERTURB_ too — so its bytes, and the decoded pictures in tiny ways, can
// differ between runs while the raw signals stay identical.
//
// # Encoding notes
//
// Audio is sent to the AAC encoder in frames of exactly 1024 samples (only the last may be
// shorter), with pts = sample index in time base 1/SampleRate. The MP4 edit list hides the AAC
// priming, so decoders return the clip from its first sample; FFmpeg decodes the last, short AAC
// frame whole, so up to 1023 near-silent samples may follow the clip's last sample. Video packets
// get a duration of one frame and all timestamps are rescaled to the stream time bases chosen by
// the muxer in WriteHeader. Pixels and samples reach AVFrame planes through a small cgo shim
// (go-astiav v0.16.0 exposes them read-only). Encoder log lines are demoted one level per
// codec context (log_level_offset), so a run prints nothing at FFmpeg's default log level.
//
// Example:
//
//	res, err := synth.Generate(ctx, synth.Config{Out: "data/synth", Clips: 480, Seed: 1})
//	// res.Manifest → ingest.ReadManifest(res.Manifest, ingest.ManifestOptions{Name: "synth", Labels: res.Labels})
package synth
