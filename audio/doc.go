// Package audio decodes the audio of media files to mono float32 samples at a chosen rate.
//
// A Decoder handles any container and codec FFmpeg can read (FLV/MP3, MP4/AAC, M4A, MP3, WebM,
// …) through go-astiav; their samples go through libswresample, which down-mixes to mono by
// averaging the channels (as librosa and torchaudio do), resamples and converts to float32 in
// one pass. PCM and float .wav files are read with github.com/go-audio/wav (raw data-chunk
// access, not FullPCMBuffer), down-mixed to mono by averaging the channels in Go, and then
// resampled by libswresample. Output samples lie in [-1, 1].
//
// Encoder delay is removed: the MP4 edit list / AAC priming and MP3 gapless (LAME) padding are
// honoured through FFmpeg's skip-samples side data, and the output is cut to the stream's
// declared duration when the decoder returns more.
//
// A Decoder owns its packets, frames, resampler and scratch buffers; make one per worker
// goroutine (NewDecoder) and reuse it for every clip.
//
// libswresample is reached through a small cgo shim (go-astiav v0.16.0 has no resampler);
// pkg-config finds the Debian FFmpeg 5.1 libraries, no extra cgo flags are needed.
package audio
