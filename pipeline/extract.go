package pipeline

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/avbalance/avbalance/features"
	"github.com/avbalance/avbalance/features/shard"
	"github.com/avbalance/avbalance/ingest"
	_ "github.com/avbalance/avbalance/internal/mallocarena" // flat peak RSS over long runs
)

// Config describes one extraction run.
type Config struct {
	Dataset   *ingest.Dataset // clips to extract, label names and rows rejected up front
	Preset    features.Preset // feature parameters, stored whole in index.json
	Out       string          // output folder for shards, index.json and failures.jsonl
	Workers   int             // decode+features workers; 0 means runtime.NumCPU()
	ShardRows int             // rows per shard; 0 means a size that keeps shards near 256 MB
	Resume    bool            // keep complete shards and logged failures in Out, extract the rest
	Seed      ingest.Seed     // seeds the random crops of presets that crop (with the clip id)
	Progress  io.Writer       // progress bar or log lines; nil for none
	// ClipTimeout bounds the time one clip may take (decode and features). A clip that
	// exceeds it fails at the stage it was in with "deadline exceeded after …"; a decoder
	// that does not even stop then is abandoned and its worker replaced, so one bad file
	// never hangs the run. 0 means DefaultClipTimeout; negative means no limit.
	ClipTimeout time.Duration
}

// DefaultClipTimeout is the per-clip deadline when Config.ClipTimeout is 0.
const DefaultClipTimeout = 60 * time.Second

// clipTimeout resolves Config.ClipTimeout: 0 → default, negative → none (0).
func (c *Config) clipTimeout() time.Duration {
	switch {
	case c.ClipTimeout == 0:
		return DefaultClipTimeout
	case c.ClipTimeout < 0:
		return 0
	}
	return c.ClipTimeout
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

// ConfigError is a problem with the run's configuration or its output folder that the user
// must fix before anything is extracted: a bad setting, an output path that is a file, a
// folder holding another run, a resume with another preset or clip list. Commands exit with
// the usage code (2) for it; every other error of Extract aborts the run (an unwritable folder,
// a full disk).
type ConfigError struct{ Err error }

func (e *ConfigError) Error() string { return e.Err.Error() }

// Unwrap returns the cause.
func (e *ConfigError) Unwrap() error { return e.Err }

// configErrorf returns a *ConfigError with a formatted message.
func configErrorf(format string, a ...any) error {
	return &ConfigError{Err: fmt.Errorf(format, a...)}
}

// Validate checks the configuration and says what to change; its errors are *ConfigError.
func (c *Config) Validate() error {
	switch {
	case c.Dataset == nil:
		return configErrorf("no dataset given")
	case c.Out == "":
		return configErrorf("no output folder given: set --out")
	case c.Workers < 0:
		return configErrorf("workers must be ≥ 0 (0 = one per CPU), got %d", c.Workers)
	case c.ShardRows < 0:
		return configErrorf("shard rows must be ≥ 0 (0 = automatic), got %d", c.ShardRows)
	}
	if err := c.Preset.Validate(); err != nil {
		return &ConfigError{Err: err}
	}
	return nil
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
		shardRows = AutoShardRows(cfg.Preset)
	}
	ds := EscapeIDs(cfg.Dataset)
	out, err := openOutput(cfg, ds)
	if err != nil {
		return nil, err
	}
	defer out.close()

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
	// Clips in flight finish even when ctx is cancelled (SIGINT): only their own deadline stops them.
	results := process(context.WithoutCancel(ctx), jobs, workers, cfg)
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
func process(ctx context.Context, jobs <-chan job, workers int, cfg Config) <-chan result {
	results := make(chan result, workers)
	done := make(chan struct{})
	timeout := cfg.clipTimeout()
	for i := 0; i < workers; i++ {
		go func() {
			defer func() { done <- struct{}{} }()
			w := NewWorker(cfg.Preset, cfg.Seed)
			w.ClipTimeout = timeout
			defer func() { w.Close() }()
			for j := range jobs {
				var row *shard.Row
				var f *shard.Failure
				row, f, w = watch(ctx, w, j.clip, cfg)
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

// watch runs w.ProcessContext under a watchdog. The worker's own deadline normally stops a slow
// clip; if the worker is still busy well after it (stuck in a blocking call no deadline can
// interrupt, such as opening a FIFO), the clip fails, the busy worker is abandoned (it closes
// itself if it ever returns) and a fresh one takes its place.
func watch(ctx context.Context, w *Worker, c ingest.Clip, cfg Config) (*shard.Row, *shard.Failure, *Worker) {
	if w.ClipTimeout <= 0 {
		row, f := w.ProcessContext(ctx, c)
		return row, f, w
	}
	type outcome struct {
		row *shard.Row
		f   *shard.Failure
	}
	ch := make(chan outcome, 1)
	go func() {
		row, f := w.ProcessContext(ctx, c)
		ch <- outcome{row, f}
	}()
	timer := time.NewTimer(w.ClipTimeout + watchdogGrace(w.ClipTimeout))
	defer timer.Stop()
	select {
	case o := <-ch:
		return o.row, o.f, w
	case <-timer.C:
	}
	stage, path := w.current()
	old := w
	go func() {
		<-ch
		old.Close()
	}()
	nw := NewWorker(cfg.Preset, cfg.Seed)
	nw.ClipTimeout = w.ClipTimeout
	return nil, &shard.Failure{ClipID: c.ID, Path: path, Stage: stage,
		Error: fmt.Sprintf("%s: %v; the decoder did not stop and was abandoned", path, deadlineError{w.ClipTimeout})}, nw
}

// watchdogGrace is how long after its deadline a clip's worker may take to return before the
// watchdog gives up on it: enough for a decoder that checks its context to notice, little
// enough that a stuck clip costs about the timeout the user asked for.
func watchdogGrace(timeout time.Duration) time.Duration {
	return min(max(timeout/10, 50*time.Millisecond), time.Second)
}

// deadlineError is the cause of a clip's context when ClipTimeout runs out.
type deadlineError struct{ d time.Duration }

func (e deadlineError) Error() string {
	return "deadline exceeded after " + strconv.FormatFloat(e.d.Seconds(), 'f', -1, 64) + "s"
}

// Is makes errors.Is(err, context.DeadlineExceeded) hold.
func (e deadlineError) Is(target error) bool { return target == context.DeadlineExceeded }

// AutoShardRows is the default rows per shard: a shard near 256 MB of feature
// data, between 16 and 4096 rows. Other runners (Apache Beam) size shards with it too.
func AutoShardRows(p features.Preset) int {
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

// EscapeIDs returns ds with every clip id that is not valid UTF-8 escaped (each invalid byte
// written as \xHH), as Extract stores them; other runners (Apache Beam) call it to store the
// same ids. failures.jsonl (JSON) and the shards' utf8 clip_id column cannot keep such an id
// exactly, and an id that reads back differently would be extracted again on resume.
// An escaped id that collides with another id gets "~" appended until it is unique. ds itself
// is not modified; it is returned as is when every id is valid.
func EscapeIDs(ds *ingest.Dataset) *ingest.Dataset {
	valid := true
	for _, c := range ds.Clips {
		valid = valid && utf8.ValidString(c.ID)
	}
	for _, r := range ds.Rejected {
		valid = valid && utf8.ValidString(r.ClipID)
	}
	if valid {
		return ds
	}
	taken := make(map[string]bool, len(ds.Clips)+len(ds.Rejected))
	for _, c := range ds.Clips {
		taken[c.ID] = true
	}
	for _, r := range ds.Rejected {
		taken[r.ClipID] = true
	}
	fix := func(id string) string {
		if utf8.ValidString(id) {
			return id
		}
		var b strings.Builder
		for i := 0; i < len(id); {
			r, n := utf8.DecodeRuneInString(id[i:])
			if r == utf8.RuneError && n <= 1 {
				fmt.Fprintf(&b, `\x%02x`, id[i])
				i++
				continue
			}
			b.WriteString(id[i : i+n])
			i += n
		}
		s := b.String()
		for taken[s] {
			s += "~"
		}
		taken[s] = true
		return s
	}
	c := *ds
	c.Clips = slices.Clone(ds.Clips)
	c.Rejected = slices.Clone(ds.Rejected)
	for i := range c.Clips {
		c.Clips[i].ID = fix(c.Clips[i].ID)
	}
	for i := range c.Rejected {
		c.Rejected[i].ClipID = fix(c.Rejected[i].ClipID)
	}
	return &c
}
