// Package video demuxes and decodes the video stream of a media file with FFmpeg (go-astiav),
// picks frames deterministically and returns them scaled to a fixed size as packed RGB24.
//
// Frame selection (Sampler): Count target times, either uniform over the clip's duration
// (time (i+0.5)·duration/Count) or at a fixed rate ((i+0.5)/FPS). For each target the decoder
// returns the frame on screen at that time: the last frame whose presentation time (best-effort
// timestamp × stream time base, relative to the stream start) is at or before the target, or
// the first frame when the target precedes it. Targets past the last frame get the last frame,
// so a clip with fewer decodable frames than requested repeats its nearest frame instead of
// failing. Results are deterministic: the same file gives the same bytes.
//
// Only what is needed is decoded: decoding stops at the frame after the last target, and when
// the container's index shows a keyframe between the current position and the next target
// (long-GOP MP4), the decoder seeks to it instead of decoding the frames in between.
//
// The duration the uniform targets span is the video stream's own, checked against the
// container's and, when they disagree or the stream declares none, against the end of the last
// video packet: a header that says an hour for two seconds of packets does not make every
// frame the last one. Decoder.Notes says when a header disagreed.
//
// Pictures are turned as players show them: a display matrix on the stream (the MP4 track
// matrix phones write for portrait video) or on the frames is applied with ffmpeg's own
// transpose/hflip/vflip filters before scaling, exactly as ffmpeg's autorotate does (the
// frames are byte for byte those of the ffmpeg CLI); Decoder.Orientation and Notes say so.
//
// Frames are converted and scaled with libswscale (bilinear, which averages when shrinking) to
// exactly Width×Height, ignoring the aspect ratio, like torchvision's Resize((H, W)). Layout is
// [Count][Height][Width][3] bytes, row-major, top row first.
//
//	d := video.NewDecoder(video.Sampler{Count: 3}, 224, 224)
//	defer d.Close()
//	frames, durationS, err := d.Frames("clip.mp4") // len(frames) == 3*224*224*3
//
// A Decoder owns its packets, frames and scaler; make one per worker goroutine and reuse it.
// It decodes with Threads threads per clip (1 by default: the pipeline parallelises across
// clips). A few FFmpeg fields go-astiav v0.16.0 does not expose (best-effort timestamps, the
// seek index, stream discard, decoder flush) are reached through a small cgo shim.
package video
