package pipeline

import (
	"context"
	"fmt"
	"hash/fnv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/asticode/go-astiav"
	"github.com/avbalance/avbalance/audio"
	"github.com/avbalance/avbalance/features"
	"github.com/avbalance/avbalance/features/shard"
	"github.com/avbalance/avbalance/ingest"
	"github.com/avbalance/avbalance/video"
)

// Worker turns one clip at a time into a shard row or a failure. It owns one
// audio decoder, video decoder and feature extractor, reused across clips; use
// one per goroutine. Extract runs a pool of them; other runners (Apache Beam)
// call them directly.
type Worker struct {
	// ClipTimeout bounds each clip Process or ProcessContext handles (0: no limit). NewWorker
	// leaves it 0; Extract sets it from Config.ClipTimeout.
	ClipTimeout time.Duration

	seed  ingest.Seed
	audio *audio.Decoder
	video *video.Decoder
	feat  *features.Extractor
	// what the current clip is doing, for the watchdog (written by Process, read by watch)
	stage, path atomic.Pointer[string]
}

// current returns the stage and file of the clip being processed.
func (w *Worker) current() (stage, path string) {
	if p := w.stage.Load(); p != nil {
		stage = *p
	}
	if p := w.path.Load(); p != nil {
		path = *p
	}
	return stage, path
}

// NewWorker makes a worker for preset p; seed seeds the random crops (with the clip id).
func NewWorker(p features.Preset, seed ingest.Seed) *Worker {
	return &Worker{
		seed:  seed,
		audio: audio.NewDecoder(p.SampleRate),
		video: video.NewDecoder(video.Sampler{Count: p.Frames, FPS: p.FrameFPS}, p.Width, p.Height),
		feat:  features.NewExtractor(p),
	}
}

// Close frees the decoders.
func (w *Worker) Close() {
	w.audio.Close()
	w.video.Close()
}

// Process decodes clip c and computes its features. Exactly one of the results
// is non-nil. It never panics: a panic while handling a clip becomes that
// clip's failure, naming the stage.
func (w *Worker) Process(c ingest.Clip) (row *shard.Row, failure *shard.Failure) {
	return w.ProcessContext(context.Background(), c)
}

// ProcessContext is Process with cancellation: once ctx is done, or w.ClipTimeout
// has passed, decoding stops and the clip fails at the stage it was in (with
// "deadline exceeded after …" for the timeout).
func (w *Worker) ProcessContext(ctx context.Context, c ingest.Clip) (row *shard.Row, failure *shard.Failure) {
	if w.ClipTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, w.ClipTimeout, deadlineError{w.ClipTimeout})
		defer cancel()
	}
	stage := ingest.StageDecodeAudio
	path := c.Path
	if c.AudioPath != "" {
		path = c.AudioPath
	}
	setStage := func() {
		s, p := stage, path
		w.stage.Store(&s)
		w.path.Store(&p)
	}
	setStage()
	defer func() {
		if p := recover(); p != nil {
			row, failure = nil, &shard.Failure{ClipID: c.ID, Path: path, Stage: stage, Error: fmt.Sprintf("internal error: %v", p)}
		}
	}()
	fail := func(err error) (*shard.Row, *shard.Failure) {
		return nil, &shard.Failure{ClipID: c.ID, Path: path, Stage: stage, Error: err.Error()}
	}
	var samples []float32
	var frames []byte
	var dur float64
	var err error
	if c.AudioPath == "" {
		// One file: open, probe and read it once for both decoders when that costs the video
		// nothing (video.Decoder.FramesShared). Failures keep the stages of separate decodes.
		sink := &audioSink{dec: w.audio, path: c.Path}
		var shared bool
		frames, dur, shared, err = w.video.FramesShared(ctx, c.Path, sink)
		switch {
		case err != nil && sink.err != nil:
			return fail(sink.err)
		case err != nil && ctx.Err() != nil && sink.opened:
			stage = ingest.StageDecodeVideo // the file opened and the audio stream was fine
			return fail(err)
		case err != nil && ctx.Err() == nil:
			// An audio failure comes first, as when the audio is decoded on its own.
			if _, aerr := w.audio.DecodeContext(ctx, path); aerr != nil {
				return fail(aerr)
			}
			stage = ingest.StageDecodeVideo
			return fail(err)
		case err != nil:
			return fail(err) // the deadline hit while opening: decode-audio, as before
		case shared:
			samples, err = w.audio.End()
		default:
			samples, err = w.audio.DecodeContext(ctx, path)
		}
		if err != nil {
			return fail(err)
		}
	} else {
		samples, err = w.audio.DecodeContext(ctx, path)
		if err != nil {
			return fail(err)
		}
		stage, path = ingest.StageDecodeVideo, c.Path
		setStage()
		frames, dur, err = w.video.FramesContext(ctx, c.Path)
		if err != nil {
			return fail(err)
		}
	}
	stage = ingest.StageFeatures
	setStage()
	if ctx.Err() != nil {
		return fail(context.Cause(ctx))
	}
	feat, err := w.feat.Audio(samples, clipSeed(w.seed, c.ID))
	if err != nil {
		return fail(err)
	}
	return &shard.Row{
		ClipID:    c.ID,
		Label:     int32(c.Label),
		Split:     c.Split,
		Audio:     feat,
		Frames:    frames,
		DurationS: float32(dur),
		Source:    c.Source,
		Notes:     strings.Join(w.video.Notes(), "; "),
	}, nil
}

// audioSink hands the audio packets of video.Decoder.FramesShared's demux pass to the worker's
// audio decoder. err keeps the audio's own error, so the clip fails at decode-audio for it.
type audioSink struct {
	dec    *audio.Decoder
	path   string
	opened bool // Open was called: the file opened and was probed
	err    error
}

func (s *audioSink) Open(fc *astiav.FormatContext, shared bool) (int, error) {
	s.opened = true
	if !shared {
		return -1, nil
	}
	st := audio.FindStream(fc)
	if st == nil && !fc.CtxFlags().Has(astiav.FormatContextCtxFlagNoHeader) {
		// As audio.Decoder does: a container with a header may list its streams only once probed.
		if err := fc.FindStreamInfo(nil); err != nil {
			s.err = fmt.Errorf("audio: %s: reading stream info: %w", s.path, err)
			return -1, s.err
		}
		st = audio.FindStream(fc)
	}
	if st == nil {
		s.err = fmt.Errorf("audio: %s: no audio stream", s.path)
		return -1, s.err
	}
	if s.err = s.dec.Begin(s.path, st); s.err != nil {
		return -1, s.err
	}
	return st.Index(), nil
}

func (s *audioSink) Packet(pkt *astiav.Packet) error {
	s.err = s.dec.Packet(pkt)
	return s.err
}

// clipSeed derives a per-clip seed from the run seed and the clip id, so random
// crops do not depend on worker scheduling.
func clipSeed(seed ingest.Seed, id string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(id))
	return h.Sum64() ^ uint64(seed)
}
