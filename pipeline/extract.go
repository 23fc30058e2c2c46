package pipeline

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"runtime"
	"time"

	"github.com/avbalance/avbalance/audio"
	"github.com/avbalance/avbalance/features"
	"github.com/avbalance/avbalance/features/shard"
	"github.com/avbalance/avbalance/ingest"
	"github.com/avbalance/avbalance/video"
)

// Config describes one extraction run.
type Config struct {
	Dataset   *ingest.Dataset // clips to extract, label names and rows rejected up front
	Preset    features.Preset // feature parameters, stored whole in index.json
	Out       string          // output folder for shards, index.json and failures.jsonl
	Workers   int             // decode+features workers; 0 means runtime.NumCPU()
	ShardRows int             // rows per shard; 0 means a size that keeps shards near 256 MB
	Resume    bool            // keep complete shards and logged failures in Out, extract the rest
	Seed      uint64          // seeds the random crops of presets that crop (with the clip id)
	Progress  io.Writer       // progress bar or log lines; nil for none
}

// Summary is what a run did. Total counts every clip of the input, including
// those already done by an earlier run when resuming.
type Summary struct {
	Total, OK, Failed int
	Skipped           int // done by an earlier run (resume)
	Shards            int
	Elapsed           time.Duration
	Canceled          bool // stopped early by the context; the rest can be resumed
}

// Validate checks the configuration and says what to change.
func (c *Config) Validate() error {
	switch {
	case c.Dataset == nil:
		return errors.New("no dataset given")
	case c.Out == "":
		return errors.New("no output folder given: set --out")
	case c.Workers < 0:
		return fmt.Errorf("workers must be ≥ 0 (0 = one per CPU), got %d", c.Workers)
	case c.ShardRows < 0:
		return fmt.Errorf("shard rows must be ≥ 0 (0 = automatic), got %d", c.ShardRows)
	}
	return c.Preset.Validate()
}

type job struct {
	clip ingest.Clip
}

type result struct {
	clip    ingest.Clip
	row     *shard.Row
	failure *shard.Failure
}

// Extract runs the whole extraction job and returns its summary. Per-clip
// problems are recorded in failures.jsonl and never stop the run; an error is
// returned only for configuration or output problems (unwritable folder, full
// disk), in which case no corrupt shard is left behind.
func Extract(ctx context.Context, cfg Config) (*Summary, error) {
	start := time.Now()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	workers := cfg.Workers
	if workers == 0 {
		workers = runtime.NumCPU()
	}
	shardRows := cfg.ShardRows
	if shardRows == 0 {
		shardRows = autoShardRows(cfg.Preset)
	}
	out, err := openOutput(cfg)
	if err != nil {
		return nil, err
	}
	defer out.close()

	ds := cfg.Dataset
	sum := &Summary{Total: len(ds.Clips) + len(ds.Rejected)}
	for _, r := range ds.Rejected {
		if out.done[r.ClipID] {
			sum.Skipped++
			continue
		}
		if err := out.fail(shard.Failure{ClipID: r.ClipID, Path: r.Path, Stage: ingest.StageIngest, Error: r.Reason}); err != nil {
			return nil, err
		}
	}
	var todo []ingest.Clip
	for _, c := range ds.Clips {
		if out.done[c.ID] {
			sum.Skipped++
			continue
		}
		todo = append(todo, c)
	}
	prog := NewProgress(cfg.Progress, len(todo), 10*time.Second)

	feedCtx, stopFeed := context.WithCancel(ctx)
	defer stopFeed()
	jobs := feed(feedCtx, todo, workers)
	results := process(jobs, workers, cfg)
	werr := out.write(results, shardRows, prog)
	prog.Finish()
	if werr != nil {
		// Stop feeding and drain so the workers can stop; the writer has already aborted its shard.
		stopFeed()
		for range results {
		}
		return nil, werr
	}
	if err := out.writeIndex(); err != nil {
		return nil, err
	}
	sum.OK, sum.Failed = out.index.ClipsOK, out.index.ClipsFailed
	sum.Shards = len(out.index.Shards)
	sum.Canceled = ctx.Err() != nil
	sum.Elapsed = time.Since(start)
	return sum, nil
}

// feed emits the clips to do, stopping early when ctx is cancelled.
func feed(ctx context.Context, clips []ingest.Clip, workers int) <-chan job {
	jobs := make(chan job, workers)
	go func() {
		defer close(jobs)
		for _, c := range clips {
			select {
			case jobs <- job{clip: c}:
			case <-ctx.Done():
				return
			}
		}
	}()
	return jobs
}

// process runs the worker pool; each worker owns one decoder set, reused for all its clips.
func process(jobs <-chan job, workers int, cfg Config) <-chan result {
	results := make(chan result, workers)
	done := make(chan struct{})
	for i := 0; i < workers; i++ {
		go func() {
			defer func() { done <- struct{}{} }()
			w := NewWorker(cfg.Preset, cfg.Seed)
			defer w.Close()
			for j := range jobs {
				row, f := w.Process(j.clip)
				results <- result{clip: j.clip, row: row, failure: f}
			}
		}()
	}
	go func() {
		for i := 0; i < workers; i++ {
			<-done
		}
		close(results)
	}()
	return results
}

// Worker turns one clip at a time into a shard row or a failure. It owns one
// audio decoder, video decoder and feature extractor, reused across clips; use
// one per goroutine. Extract runs a pool of them; other runners (Apache Beam)
// call them directly.
type Worker struct {
	seed  uint64
	audio *audio.Decoder
	video *video.Decoder
	feat  *features.Extractor
}

// NewWorker makes a worker for preset p; seed seeds the random crops (with the clip id).
func NewWorker(p features.Preset, seed uint64) *Worker {
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
	stage := ingest.StageDecodeAudio
	path := c.Path
	if c.AudioPath != "" {
		path = c.AudioPath
	}
	defer func() {
		if p := recover(); p != nil {
			row, failure = nil, &shard.Failure{ClipID: c.ID, Path: path, Stage: stage, Error: fmt.Sprintf("internal error: %v", p)}
		}
	}()
	fail := func(err error) (*shard.Row, *shard.Failure) {
		return nil, &shard.Failure{ClipID: c.ID, Path: path, Stage: stage, Error: err.Error()}
	}
	samples, err := w.audio.Decode(path)
	if err != nil {
		return fail(err)
	}
	stage, path = ingest.StageDecodeVideo, c.Path
	frames, dur, err := w.video.Frames(c.Path)
	if err != nil {
		return fail(err)
	}
	stage = ingest.StageFeatures
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
	}, nil
}

// clipSeed derives a per-clip seed from the run seed and the clip id, so random
// crops do not depend on worker scheduling.
func clipSeed(seed uint64, id string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(id))
	return h.Sum64() ^ seed
}

// autoShardRows keeps a shard near 256 MB of feature data, between 16 and 4096 rows.
func autoShardRows(p features.Preset) int {
	bytes := 4
	for _, d := range p.AudioShape() {
		bytes *= d
	}
	fb := 1
	for _, d := range p.FrameShape() {
		fb *= d
	}
	n := (256 << 20) / (bytes + fb)
	return max(16, min(4096, n))
}
