package pipeline

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/avbalance/avbalance/features"
	"github.com/avbalance/avbalance/features/shard"
	"github.com/avbalance/avbalance/ingest"
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

// openOutput prepares the output folder for the clips of ds (cfg.Dataset with safe ids).
// Without Resume it must be empty of earlier results; with Resume the done set is rebuilt
// from the shard files and the failure log on disk, and leftover temporary files are removed.
func openOutput(cfg Config, ds *ingest.Dataset) (*output, error) {
	dir := cfg.Out
	if st, err := os.Stat(dir); err == nil && !st.IsDir() {
		return nil, configErrorf("output folder %s is a file, not a folder: choose another --out", dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		if errors.Is(err, syscall.ENOTDIR) {
			return nil, configErrorf("output folder %s: a part of its path is a file, not a folder: choose another --out", dir)
		}
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
		return nil, configErrorf("%s already holds results of an earlier run: use --resume to continue it, or choose an empty --out", dir)
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
			ClipList:      &shard.ClipList{Fingerprint: ds.Fingerprint(), Clips: len(ds.Clips), Rejected: len(ds.Rejected)},
			ClipsTotal:    len(ds.Clips) + len(ds.Rejected),
			Created:       time.Now().UTC(),
		},
	}
	if err := o.index.SetPreset(cfg.Preset); err != nil {
		return nil, err
	}
	if cfg.Resume {
		if err := o.recover(files, prior, ds); err != nil {
			return nil, err
		}
	}
	if o.failures, err = shard.OpenFailureLog(dir); err != nil {
		return nil, err
	}
	if !cfg.Resume {
		// From the start, so that even a run stopped before its first shard keeps its preset
		// and clip list for the checks of a resume.
		if err := o.writeIndex(); err != nil {
			o.close()
			return nil, err
		}
	}
	return o, nil
}

// recover rebuilds the done set and the shard list from what is on disk, after checking that
// the folder was started with the same preset and the same clip list as ds.
func (o *output) recover(files []string, prior []shard.Failure, ds *ingest.Dataset) error {
	known := map[string]shard.ShardInfo{}
	old, err := shard.ReadIndex(o.dir)
	if err == nil {
		if old.SchemaVersion != shard.SchemaVersion {
			return configErrorf("%s was written by an older avbalance (shard schema %d, this one writes %d): a resume would mix the two; extract into another --out",
				o.dir, old.SchemaVersion, shard.SchemaVersion)
		}
		var was features.Preset
		if err := old.DecodePreset(&was); err != nil || !reflect.DeepEqual(was, o.cfg.Preset) {
			return configErrorf("%s was extracted with a different preset configuration (%s): resume with the same preset and flags, or choose another --out",
				o.dir, strings.Join(differences(was, o.cfg.Preset), ", "))
		}
		for _, s := range old.Shards {
			known[s.File] = s
		}
	}
	rows := map[string]doneRow{} // clip id → label and split in the folder, for a mismatch's examples
	sort.Strings(files)
	for _, f := range files {
		r, err := shard.Open(filepath.Join(o.dir, f))
		if err != nil {
			return fmt.Errorf("resume: %s is not a readable shard (%v): move it away and resume again", f, err)
		}
		ids, labels, splits := r.ClipIDs(), r.Labels(), r.Splits()
		r.Close()
		for i, id := range ids {
			if o.done[id] {
				return fmt.Errorf("resume: clip %s appears twice in %s", id, o.dir)
			}
			o.done[id] = true
			rows[id] = doneRow{label: int(labels[i]), split: splits[i]}
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
	if old != nil {
		return o.sameClipList(old, ds, rows)
	}
	return nil
}

// doneRow is what a shard row of the folder says about its clip.
type doneRow struct {
	label int
	split string
}

// sameClipList refuses to resume with a clip list other than the one the folder was started
// with: its rows would keep the old labels and splits under the new label list, and the
// clip counts would no longer add up. The error says what differs (the sizes, the label lists,
// a few clips of the folder the list now disagrees with) and what to do. A folder whose
// index.json has no fingerprint (written before it existed) is checked on its labels and clip
// count only.
func (o *output) sameClipList(old *shard.Index, ds *ingest.Dataset, rows map[string]doneRow) error {
	now := o.index.ClipList
	if old.ClipList != nil && old.ClipList.Fingerprint == now.Fingerprint {
		return nil
	}
	if old.ClipList == nil && slices.Equal(old.Labels, ds.Labels) && old.ClipsTotal == o.index.ClipsTotal {
		return nil
	}
	var what []string
	if old.ClipList != nil {
		if old.ClipList.Clips != now.Clips || old.ClipList.Rejected != now.Rejected {
			what = append(what, fmt.Sprintf("it lists %d clips and %d rejected rows, the folder was started with %d and %d",
				now.Clips, now.Rejected, old.ClipList.Clips, old.ClipList.Rejected))
		}
	} else if old.ClipsTotal != o.index.ClipsTotal {
		what = append(what, fmt.Sprintf("it has %d entries, the folder was started with %d", o.index.ClipsTotal, old.ClipsTotal))
	}
	if !slices.Equal(old.Labels, ds.Labels) {
		what = append(what, fmt.Sprintf("its labels are [%s], the folder's are [%s]", strings.Join(ds.Labels, " "), strings.Join(old.Labels, " ")))
	}
	what = append(what, clipDifferences(old.Labels, ds, rows, o.done, 3)...)
	if len(what) == 0 {
		what = append(what, "same size and labels, but other clip ids, labels or splits among the clips not extracted yet")
	}
	return configErrorf("%s was started with another clip list (fingerprint %.12s, this one %.12s): %s. Resume with the same dataset flags, clip list and split settings (and --seed), or extract into another --out",
		o.dir, fingerprintOf(old), now.Fingerprint, strings.Join(what, "; "))
}

func fingerprintOf(ix *shard.Index) string {
	if ix.ClipList == nil {
		return "none"
	}
	return ix.ClipList.Fingerprint
}

// clipDifferences describes up to max clips done in the folder that ds lists differently or not
// at all, in clip id order.
func clipDifferences(oldLabels []string, ds *ingest.Dataset, rows map[string]doneRow, done map[string]bool, max int) []string {
	listed := make(map[string]*ingest.Clip, len(ds.Clips))
	for i := range ds.Clips {
		listed[ds.Clips[i].ID] = &ds.Clips[i]
	}
	rejected := make(map[string]bool, len(ds.Rejected))
	for _, r := range ds.Rejected {
		rejected[r.ClipID] = true
	}
	name := func(labels []string, i int) string {
		if i >= 0 && i < len(labels) {
			return labels[i]
		}
		return fmt.Sprintf("#%d", i)
	}
	ids := slices.Sorted(maps.Keys(done))
	var out []string
	for _, id := range ids {
		if len(out) == max {
			break
		}
		c, inList := listed[id]
		r, isRow := rows[id]
		switch {
		case !inList && !rejected[id]:
			out = append(out, fmt.Sprintf("clip %s is in the folder but not in the list", id))
		case isRow && inList && (name(oldLabels, r.label) != name(ds.Labels, c.Label) || r.split != c.Split):
			out = append(out, fmt.Sprintf("clip %s has label %s, split %q in the folder, label %s, split %q in the list",
				id, name(oldLabels, r.label), r.split, name(ds.Labels, c.Label), c.Split))
		}
	}
	return out
}

// differences lists the JSON fields in which now differs from was, as "name now (was …)".
func differences(was, now any) []string {
	var a, b map[string]any
	for _, x := range []struct {
		v any
		m *map[string]any
	}{{was, &a}, {now, &b}} {
		if j, err := json.Marshal(x.v); err == nil {
			json.Unmarshal(j, x.m)
		}
	}
	var out []string
	for _, k := range slices.Sorted(maps.Keys(b)) {
		if !reflect.DeepEqual(a[k], b[k]) {
			out = append(out, fmt.Sprintf("%s %v (was %v)", k, b[k], a[k]))
		}
	}
	return out
}

// fail records one failed clip durably.
func (o *output) fail(f shard.Failure) error {
	if err := o.failures.Append(f); err != nil {
		return err // names failures.jsonl and the clip
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
			return err // names the shard and the cause
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
				return err // names the shard and the cause
			}
			o.next++
		}
		if err := w.Append(*r.row); err != nil {
			abort(w)
			return fmt.Errorf("clip %s: %w", r.clip.ID, err)
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
	return shard.WriteIndex(o.dir, o.index) // its error names the file and the cause
}

func (o *output) close() {
	if o.failures != nil {
		o.failures.Close()
	}
}
