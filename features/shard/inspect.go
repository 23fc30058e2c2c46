package shard

import (
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"
)

// Report summarises an extraction folder: what `avbalance inspect` prints.
type Report struct {
	Dir         string         `json:"dir"`
	Dataset     string         `json:"dataset"`
	Schema      []string       `json:"schema"` // one "name: type [shape]" line per column
	AudioShape  []int          `json:"audio_shape"`
	FrameShape  []int          `json:"frame_shape"`
	Shards      int            `json:"shards"`
	Rows        int            `json:"rows"`
	ClipsTotal  int            `json:"clips_total"`
	ClipsOK     int            `json:"clips_ok"`
	ClipsFailed int            `json:"clips_failed"`
	Pending     int            `json:"clips_pending"` // not extracted yet: the run was interrupted and can be resumed
	Splits      map[string]int `json:"splits"`        // rows per split
	Labels      []LabelCount   `json:"labels"`        // rows per label, in label-id order
	Failures    map[string]int `json:"failures"`      // failure lines per stage
	Notes       map[string]int `json:"notes"`         // rows with a note, by kind (the note's text before ":": display, duration)
	Verified    bool           `json:"verified"`      // Verify ran
	Problems    []string       `json:"problems"`      // what Verify found; empty when all is well
	Preset      string         `json:"preset"`        // the preset's name
	Config      map[string]any `json:"preset_config"` // the full preset as stored in index.json
}

// LabelCount is one row of the label histogram.
type LabelCount struct {
	ID    int    `json:"id"`
	Name  string `json:"name"`
	Count int    `json:"count"`
}

// Inspect reads dir's index.json, shards and failure log and, when verify is
// set, checks every checksum and invariant with Verify.
func Inspect(dir string, verify bool) (*Report, error) {
	ix, err := ReadIndex(dir)
	if err != nil {
		return nil, err
	}
	rep := &Report{
		Dir: dir, Dataset: ix.Dataset, Shards: len(ix.Shards),
		ClipsTotal: ix.ClipsTotal, ClipsOK: ix.ClipsOK, ClipsFailed: ix.ClipsFailed,
		Pending: max(0, ix.ClipsTotal-ix.ClipsOK-ix.ClipsFailed),
		Splits:  map[string]int{}, Failures: map[string]int{}, Notes: map[string]int{}, Problems: []string{},
	}
	if err := ix.DecodePreset(&rep.Config); err == nil {
		rep.Preset, _ = rep.Config["name"].(string)
	}
	counts := make([]int, len(ix.Labels))
	for _, s := range ix.Shards {
		r, err := Open(filepath.Join(dir, s.File))
		if err != nil {
			rep.Problems = append(rep.Problems, err.Error())
			continue
		}
		if rep.Schema == nil {
			rep.AudioShape, rep.FrameShape = r.AudioShape(), r.FrameShape()
			for _, f := range r.Record(0).Schema().Fields() {
				line := f.Name + ": " + f.Type.String()
				if sh, ok := f.Metadata.GetValue(metaShape); ok {
					line += " shape=" + sh
				}
				rep.Schema = append(rep.Schema, line)
			}
		}
		rep.Rows += r.NumRows()
		for _, sp := range r.Splits() {
			rep.Splits[sp]++
		}
		for _, n := range r.Notes() {
			for _, note := range strings.Split(n, "; ") {
				if kind, _, ok := strings.Cut(note, ":"); ok && note != "" {
					rep.Notes[kind]++
				}
			}
		}
		for _, l := range r.Labels() {
			if l >= 0 && int(l) < len(counts) {
				counts[l]++
			}
		}
		r.Close()
	}
	for i, n := range ix.Labels {
		rep.Labels = append(rep.Labels, LabelCount{ID: i, Name: n, Count: counts[i]})
	}
	fails, err := ReadFailures(dir)
	if err != nil {
		return nil, err
	}
	for _, f := range fails {
		rep.Failures[f.Stage]++
	}
	if verify {
		rep.Verified = true
		bad, err := Verify(dir)
		if err != nil {
			return nil, err
		}
		for _, m := range bad {
			rep.Problems = append(rep.Problems, m.String())
		}
	}
	return rep, nil
}

// Print writes the report as text.
func (r *Report) Print(w io.Writer) {
	fmt.Fprintf(w, "%s  dataset %s  preset %s\n", r.Dir, r.Dataset, r.Preset)
	fmt.Fprintf(w, "clips: total %d  ok %d  failed %d  (rows in %d shards: %d)\n", r.ClipsTotal, r.ClipsOK, r.ClipsFailed, r.Shards, r.Rows)
	fmt.Fprintf(w, "audio shape %v  frames shape %v\n", r.AudioShape, r.FrameShape)
	fmt.Fprintln(w, "schema:")
	for _, l := range r.Schema {
		fmt.Fprintln(w, "  "+l)
	}
	fmt.Fprintln(w, "splits:")
	for _, k := range sortedKeys(r.Splits) {
		name := k
		if name == "" {
			name = "(none)"
		}
		fmt.Fprintf(w, "  %-8s %d\n", name, r.Splits[k])
	}
	present := 0
	for _, l := range r.Labels {
		if l.Count > 0 {
			present++
		}
	}
	fmt.Fprintf(w, "labels (%d of %d present; id, name, rows):\n", present, len(r.Labels))
	for _, l := range r.Labels {
		if l.Count > 0 {
			fmt.Fprintf(w, "  %3d %-32s %d\n", l.ID, l.Name, l.Count)
		}
	}
	if len(r.Failures) > 0 {
		fmt.Fprintln(w, "failures by stage:")
		for _, k := range sortedKeys(r.Failures) {
			fmt.Fprintf(w, "  %-13s %d\n", k, r.Failures[k])
		}
	}
	if len(r.Notes) > 0 {
		fmt.Fprintln(w, "notes (rows; the notes column says what was done to each clip):")
		for _, k := range sortedKeys(r.Notes) {
			fmt.Fprintf(w, "  %-13s %d\n", k, r.Notes[k])
		}
	}
	if r.Pending > 0 {
		fmt.Fprintf(w, "incomplete: %d clips not extracted yet (the run was interrupted): run the same extract command with --resume\n", r.Pending)
	}
	switch {
	case len(r.Problems) > 0:
		fmt.Fprintf(w, "PROBLEMS (%d):\n  %s\n", len(r.Problems), strings.Join(r.Problems, "\n  "))
	case r.Verified:
		fmt.Fprintln(w, "verify: every checksum, row count and clip id checks out")
	}
}

func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
