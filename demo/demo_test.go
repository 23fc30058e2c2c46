package demo

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/avbalance/avbalance/compare"
	"github.com/avbalance/avbalance/features/shard"
	"github.com/avbalance/avbalance/train"
)

// TestQuickDemo runs the quick demo end to end and checks the table's structure, the checks,
// the report files and the clip accounting — not the accuracies, which a run this short
// cannot settle — and that a second run reuses the set and every run.
func TestQuickDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("runs synth, extract and five trainings")
	}
	cfg := QuickConfig()
	cfg.Out = t.TempDir()
	var progress bytes.Buffer
	cfg.Progress = &progress
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Run: %v\nprogress:\n%s", err, progress.String())
	}

	// The table: one row per mode in order, every cell filled, the real-use columns included.
	cells := rep.Cells()
	if len(cells) != len(Modes) {
		t.Fatalf("%d rows, want %d", len(cells), len(Modes))
	}
	header := compare.Header()
	for _, h := range []string{"acc w/o video", "Shapley video", "lin. probe video", "macro-F1"} {
		if !strings.Contains(strings.Join(header, "|"), h) {
			t.Errorf("header %v lacks %q", header, h)
		}
	}
	for i, row := range cells {
		if row[0] != string(Modes[i]) || len(row) != len(header) {
			t.Errorf("row %d is %v, want %s and %d cells", i, row, Modes[i], len(header))
		}
		for j, c := range row {
			if c == "" {
				t.Errorf("row %s: %s is empty", row[0], header[j])
			}
		}
	}
	table := rep.Table()
	for _, m := range Modes {
		if !strings.Contains(table, "| "+string(m)+" ") {
			t.Errorf("table has no line for %s:\n%s", m, table)
		}
	}
	for _, r := range rep.Rows {
		for _, key := range []string{"test_acc", "macro_f1", "map", "audio_share", "video_share", "video_probe", "acc_without_video"} {
			if s := r.Stats[key]; s.N != 1 || s.Mean < 0 || s.Mean > 1 {
				t.Errorf("%s %s: %+v out of [0,1] or not from one seed", r.Method, key, s)
			}
		}
		if sum := r.Stats["audio_share"].Mean + r.Stats["video_share"].Mean; sum < 0.999 || sum > 1.001 {
			t.Errorf("%s: shares sum to %g", r.Method, sum)
		}
	}
	if a := rep.Stat(train.ModeAudio, "audio_share"); a.Mean != 1 || rep.Stat(train.ModeAudio, "video_probe").Mean != 0 {
		t.Errorf("audio-only row: audio share %+v, want 1 and video probe 0", a)
	}

	// The checks: the four of the imbalance and real use seed by seed, each with its numbers.
	if len(rep.Checks) != 5 {
		t.Fatalf("%d checks, want 5: %+v", len(rep.Checks), rep.Checks)
	}
	last := rep.Checks[4]
	if last.Name != "attr-reg's video probe is above concat's on every seed" || !strings.Contains(last.Detail, "seed 1 ") {
		t.Errorf("real-use check %+v", last)
	}
	a, c := rep.Run(train.ModeAttrReg, 1), rep.Run(train.ModeConcat, 1)
	if last.Pass != (a.Test.ProbeVideo > c.Test.ProbeVideo) {
		t.Errorf("real-use check says %v for attr-reg %.3f vs concat %.3f", last.Pass, a.Test.ProbeVideo, c.Test.ProbeVideo)
	}
	for _, ch := range rep.Checks {
		if !strings.Contains(table, ch.Name) {
			t.Errorf("table lacks the check %q", ch.Name)
		}
	}

	// The comparison's files and the set's.
	for _, f := range []string{compare.TableFile, compare.CSVFile, compare.ResultsFile, compare.ReportFile, SetFile} {
		if _, err := os.Stat(filepath.Join(cfg.Out, f)); err != nil {
			t.Error(err)
		}
	}
	html, err := os.ReadFile(filepath.Join(cfg.Out, compare.ReportFile))
	if err != nil || !strings.Contains(string(html), "generator (seed 1)") || len(rep.Plots) < len(Modes) {
		t.Errorf("report.html: %v, %d plots, or no generator notes", err, len(rep.Plots))
	}

	// Clip accounting: every generated clip is a shard row or a failure line, the splits add
	// up, every test clip of a fusion run has shares, every epoch is in metrics.jsonl.
	s := rep.Set
	if s.Clips != cfg.Synth.Clips {
		t.Errorf("generated %d clips, want %d", s.Clips, cfg.Synth.Clips)
	}
	if s.Splits["train"]+s.Splits["val"]+s.Splits["test"] != s.Clips || s.Splits["val"] == 0 || s.Splits["test"] == 0 {
		t.Errorf("splits %v do not cover %d clips", s.Splits, s.Clips)
	}
	e := s.Extract
	if e.Total != s.Clips || e.OK+e.Failed != e.Total || e.ShardRows != e.OK || e.Failures != e.Failed {
		t.Errorf("extract accounting %+v for %d clips", e, s.Clips)
	}
	if ix, err := shard.ReadIndex(filepath.Join(cfg.Out, ShardsDir)); err != nil || ix.ClipsTotal != s.Clips {
		t.Errorf("index.json: %v", err)
	}
	for _, m := range rep.Runs {
		if m.Test.Clips != rep.Protocol.Splits["test"] {
			t.Errorf("%s: %d test clips, the shards have %d", m.Method, m.Test.Clips, rep.Protocol.Splits["test"])
		}
		if got := len(m.History); got != 2*cfg.Train.Epochs {
			t.Errorf("%s: metrics.jsonl has %d lines, want train+val for %d epochs", m.Method, got, cfg.Train.Epochs)
		}
		fusion := m.Method != train.ModeAudio && m.Method != train.ModeVideo
		if fusion != (len(m.ClipShares) > 0) || fusion && len(m.ClipShares) != m.Test.Clips {
			t.Errorf("%s: %d per-clip shares for %d test clips", m.Method, len(m.ClipShares), m.Test.Clips)
		}
	}

	// Progress names every stage and every mode.
	words := []string{"synth:", "extract:", "compare:"}
	for _, m := range Modes {
		words = append(words, string(m))
	}
	for _, w := range words {
		if !strings.Contains(progress.String(), w) {
			t.Errorf("progress lacks %q:\n%s", w, progress.String())
		}
	}

	// Again: the set and every run are reused, the table is the same.
	again, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !again.Set.Reused || again.Trained != 0 || again.Table() != table {
		t.Errorf("rerun: set reused %v, %d runs trained, table same %v", again.Set.Reused, again.Trained, again.Table() == table)
	}
}

func TestConfigValidate(t *testing.T) {
	c := DefaultConfig()
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "out") {
		t.Errorf("no Out: %v", err)
	}
	c.Out = "x"
	if err := c.Validate(); err != nil {
		t.Errorf("DefaultConfig: %v", err)
	}
	q := QuickConfig()
	q.Out = "x"
	if err := q.Validate(); err != nil {
		t.Errorf("QuickConfig: %v", err)
	}
	c.Modes = []train.Mode{"audio", "fancy", "audio"}
	c.Seeds = 0
	c.Size = -3
	err := c.Validate()
	for _, want := range []string{"fancy", "twice", "seeds"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
}
