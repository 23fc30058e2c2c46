package pipeline

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"time"

	"github.com/avbalance/avbalance/features"
	"github.com/avbalance/avbalance/features/shard"
)

// output owns the extraction folder: the shards, index.json and failures.jsonl.
type output struct {
	cfg      Config
	dir      string
	done     map[string]bool // clip ids already in a complete shard or the failure log
	index    *shard.Index
	failures *shard.FailureLog
	next     int // number of the next shard file
}

// openOutput prepares the output folder. Without Resume it must be empty of
// earlier results; with Resume the done set is rebuilt from the shard files and
// the failure log on disk, and leftover temporary files are removed.
func openOutput(cfg Config) (*output, error) {
	dir := cfg.Out
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("output folder: %w", err)
	}
	files, err := shard.Scan(dir)
	if err != nil {
		return nil, err
	}
	prior, err := shard.ReadFailures(dir)
	if err != nil {
		return nil, err
	}
	if !cfg.Resume && (len(files) > 0 || len(prior) > 0) {
		return nil, fmt.Errorf("%s already holds results of an earlier run: use --resume to continue it, or choose an empty --out", dir)
	}
	if _, err := shard.CleanTemp(dir); err != nil {
		return nil, err
	}
	o := &output{
		cfg:  cfg,
		dir:  dir,
		done: map[string]bool{},
		index: &shard.Index{
			SchemaVersion: shard.SchemaVersion,
			Dataset:       cfg.Dataset.Name,
			Tool:          Tool,
			Labels:        cfg.Dataset.Labels,
			ClipsTotal:    len(cfg.Dataset.Clips) + len(cfg.Dataset.Rejected),
			Created:       time.Now().UTC(),
		},
	}
	if err := o.index.SetPreset(cfg.Preset); err != nil {
		return nil, err
	}
	if cfg.Resume {
		if err := o.recover(files, prior); err != nil {
			return nil, err
		}
	}
	if o.failures, err = shard.OpenFailureLog(dir); err != nil {
		return nil, err
	}
	return o, nil
}

// recover rebuilds the done set and the shard list from what is on disk.
func (o *output) recover(files []string, prior []shard.Failure) error {
	known := map[string]shard.ShardInfo{}
	if old, err := shard.ReadIndex(o.dir); err == nil {
		var was features.Preset
		if err := old.DecodePreset(&was); err != nil || !reflect.DeepEqual(was, o.cfg.Preset) {
			return fmt.Errorf("%s was extracted with a different preset configuration: resume with the same preset and flags, or choose another --out", o.dir)
		}
		for _, s := range old.Shards {
			known[s.File] = s
		}
	}
	sort.Strings(files)
	for _, f := range files {
		r, err := shard.Open(filepath.Join(o.dir, f))
		if err != nil {
			return fmt.Errorf("resume: %s is not a readable shard (%v): move it away and resume again", f, err)
		}
		ids := r.ClipIDs()
		r.Close()
		for _, id := range ids {
			if o.done[id] {
				return fmt.Errorf("resume: clip %s appears twice in %s", id, o.dir)
			}
			o.done[id] = true
		}
		info, ok := known[f]
		if !ok || info.Rows != len(ids) {
			if info, err = shard.Describe(filepath.Join(o.dir, f)); err != nil {
				return err
			}
		}
		o.index.Shards = append(o.index.Shards, info)
		o.index.ClipsOK += len(ids)
		var n int
		if _, err := fmt.Sscanf(f, "shard-%d"+shard.Ext, &n); err == nil && n >= o.next {
			o.next = n + 1
		}
	}
	for _, f := range prior {
		if o.done[f.ClipID] {
			continue
		}
		o.done[f.ClipID] = true
		o.index.ClipsFailed++
	}
	return nil
}

// fail records one failed clip durably.
func (o *output) fail(f shard.Failure) error {
	if err := o.failures.Append(f); err != nil {
		return fmt.Errorf("write failures.jsonl: %w", err)
	}
	o.done[f.ClipID] = true
	o.index.ClipsFailed++
	return nil
}

// write consumes results until the channel closes, cutting a shard every shardRows rows.
func (o *output) write(results <-chan result, shardRows int, prog *Progress) error {
	var w *shard.Writer
	rows := 0
	commit := func() error {
		if w == nil {
			return nil
		}
		info, err := w.Commit()
		w = nil
		if err != nil {
			return fmt.Errorf("write shard: %w", err)
		}
		o.index.Shards = append(o.index.Shards, info)
		o.index.ClipsOK += rows
		rows = 0
		return o.writeIndex()
	}
	for r := range results {
		if r.failure != nil {
			if err := o.fail(*r.failure); err != nil {
				abort(w)
				return err
			}
			prog.Done(false)
			continue
		}
		if w == nil {
			var err error
			name := shard.ShardName(o.next)
			if w, err = shard.NewWriter(o.dir, name, o.cfg.Preset.AudioShape(), o.cfg.Preset.FrameShape()); err != nil {
				return fmt.Errorf("write shard: %w", err)
			}
			o.next++
		}
		if err := w.Append(*r.row); err != nil {
			abort(w)
			return fmt.Errorf("write shard (clip %s): %w", r.clip.ID, err)
		}
		rows++
		prog.Done(true)
		if rows == shardRows {
			if err := commit(); err != nil {
				return err
			}
		}
	}
	return commit()
}

func abort(w *shard.Writer) {
	if w != nil {
		w.Abort()
	}
}

func (o *output) writeIndex() error {
	if err := shard.WriteIndex(o.dir, o.index); err != nil {
		return fmt.Errorf("write index.json: %w", err)
	}
	return nil
}

func (o *output) close() {
	if o.failures != nil {
		o.failures.Close()
	}
}
