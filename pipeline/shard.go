package pipeline

import (
	"context"
	"fmt"
	"runtime"
	"time"

	"github.com/avbalance/avbalance/features"
	"github.com/avbalance/avbalance/features/shard"
	"github.com/avbalance/avbalance/ingest"
)

// ShardConfig describes how ExtractShard extracts one shard's clips.
type ShardConfig struct {
	Preset  features.Preset // feature parameters
	Seed    ingest.Seed     // seeds the random crops, as Config.Seed
	Workers int             // clips decoded at once, each worker with its own decoders; 0 means runtime.NumCPU()
	// ClipTimeout bounds each clip, with the same watchdog as Extract: 0 means
	// DefaultClipTimeout, negative means no limit (as Config.ClipTimeout).
	ClipTimeout time.Duration
}

// ShardResult is what ExtractShard made of one shard's clips: the committed file
// and the clips that failed. Info is zero (File "") when no clip was extracted:
// then no file is written.
type ShardResult struct {
	Info     shard.ShardInfo `json:"shard"`
	Failures []shard.Failure `json:"failures"` // in the order of the clips
}

// ExtractShard extracts clips into one shard file, dir/name, and returns the
// file's ShardInfo and the clips that failed. It is the building block of
// runners that assign clips to shards themselves (Apache Beam): rows are
// written in the order of clips whatever order the workers finish them in, so
// the same clips always give the same bytes. Clip ids must be unique.
//
// cfg.Workers clips are decoded at once, under the same per-clip deadline and
// watchdog as Extract; at most 4×cfg.Workers rows wait for an earlier, slower
// clip, so memory does not grow with the number of clips. The file appears
// under its name only once complete (shard.Writer); on an error or a cancelled
// ctx nothing is left behind and the error is returned.
func ExtractShard(ctx context.Context, cfg ShardConfig, clips []ingest.Clip, dir, name string) (*ShardResult, error) {
	if err := cfg.Preset.Validate(); err != nil {
		return nil, err
	}
	pos := make(map[string]int, len(clips))
	for i, c := range clips {
		if _, dup := pos[c.ID]; dup {
			return nil, fmt.Errorf("shard %s: clip %q listed twice", name, c.ID)
		}
		pos[c.ID] = i
	}
	workers := cfg.Workers
	if workers <= 0 {
		workers = runtime.NumCPU()
	}
	workers = max(1, min(workers, len(clips)))

	// A slot is taken when a clip is handed to the workers and given back when its result has
	// been written in order: at most len(slots) clips are in flight or waiting.
	slots := make(chan struct{}, 4*workers)
	feedCtx, stopFeed := context.WithCancel(ctx)
	defer stopFeed()
	jobs := make(chan job)
	go func() {
		defer close(jobs)
		for _, c := range clips {
			select {
			case slots <- struct{}{}:
			case <-feedCtx.Done():
				return
			}
			select {
			case jobs <- job{clip: c}:
			case <-feedCtx.Done():
				return
			}
		}
	}()
	results := process(ctx, jobs, workers, Config{Preset: cfg.Preset, Seed: cfg.Seed, ClipTimeout: cfg.ClipTimeout})

	res := &ShardResult{}
	var w *shard.Writer
	fail := func(err error) (*ShardResult, error) {
		stopFeed()
		for range results { // let the workers stop
		}
		abort(w)
		return nil, err
	}
	waiting := make(map[int]result, cap(slots))
	next := 0
	for r := range results {
		waiting[pos[r.clip.ID]] = r
		for {
			r, ok := waiting[next]
			if !ok {
				break
			}
			delete(waiting, next)
			next++
			<-slots
			if r.failure != nil {
				res.Failures = append(res.Failures, *r.failure)
				continue
			}
			if w == nil {
				var err error
				if w, err = shard.NewWriter(dir, name, cfg.Preset.AudioShape(), cfg.Preset.FrameShape()); err != nil {
					return fail(fmt.Errorf("write shard: %w", err))
				}
			}
			if err := w.Append(*r.row); err != nil {
				return fail(fmt.Errorf("write shard (clip %s): %w", r.clip.ID, err))
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return fail(fmt.Errorf("shard %s: %w", name, context.Cause(ctx)))
	}
	if next != len(clips) {
		return fail(fmt.Errorf("shard %s: %d of %d clips came back from the workers", name, next, len(clips)))
	}
	if w != nil {
		info, err := w.Commit()
		if err != nil {
			return nil, fmt.Errorf("write shard: %w", err)
		}
		res.Info = info
	}
	return res, nil
}
