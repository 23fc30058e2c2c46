package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/avbalance/avbalance/features/shard"
	"github.com/avbalance/avbalance/train"
)

// TestQuickDemo runs the quick demo end to end and checks the table's structure, the report
// files and the clip accounting — not the accuracies, which a run this short cannot settle.
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

	// The table: a header, one row per mode in order, every cell filled.
	if len(rep.Rows) != len(Modes) {
		t.Fatalf("%d rows, want %d", len(rep.Rows), len(Modes))
	}
	cells := rep.TableRows()
	for i, row := range cells {
		if row[0] != string(Modes[i]) {
			t.Errorf("row %d is %q, want %q", i, row[0], Modes[i])
		}
		if len(row) != len(TableHeader) {
			t.Errorf("row %s has %d cells, want %d", row[0], len(row), len(TableHeader))
		}
		for j, c := range row {
			if c == "" {
				t.Errorf("row %s: %s is empty", row[0], TableHeader[j])
			}
		}
	}
	table := rep.Table()
	lines := strings.Split(strings.TrimRight(table, "\n"), "\n")
	if len(lines) < 3+len(Modes) {
		t.Fatalf("table has %d lines:\n%s", len(lines), table)
	}
	for _, h := range TableHeader {
		if !strings.Contains(lines[1], h) {
			t.Errorf("table header %q lacks %q", lines[1], h)
		}
	}
	for i, m := range Modes {
		if f := strings.Fields(lines[3+i]); len(f) != len(TableHeader) || f[0] != string(m) {
			t.Errorf("table line %q: want %d fields starting with %s", lines[3+i], len(TableHeader), m)
		}
	}
	if len(rep.Checks) != 4 {
		t.Errorf("%d checks, want 4", len(rep.Checks))
	}
	for _, r := range rep.Rows {
		for name, s := range map[string]Stat{"acc": r.Accuracy, "mAP": r.MAP, "audio": r.AudioShare, "video": r.VideoShare} {
			if s.N != 1 || s.Mean < 0 || s.Mean > 1 {
				t.Errorf("%s %s: %+v out of [0,1] or not from one seed", r.Mode, name, s)
			}
		}
		if sum := r.AudioShare.Mean + r.VideoShare.Mean; sum < 0.999 || sum > 1.001 {
			t.Errorf("%s: shares sum to %g", r.Mode, sum)
		}
	}
	if a := rep.Row(train.ModeAudio); a.AudioShare.Mean != 1 || a.ProbeVideo.Mean != 0 {
		t.Errorf("audio-only row %+v: want audio share 1, video probe 0", a)
	}

	// The report: HTML naming every plot, every plot a PNG, results.json.
	html, err := os.ReadFile(filepath.Join(cfg.Out, ReportFile))
	if err != nil {
		t.Fatal(err)
	}
	if rep.HTML != filepath.Join(cfg.Out, ReportFile) {
		t.Errorf("Report.HTML %q", rep.HTML)
	}
	want := []string{"accuracy.png", "video-share.png", "video-probe.png", "hist-concat.png", "hist-ogm-ge.png", "hist-attr-reg.png"}
	for _, m := range Modes {
		want = append(want, "mode-"+string(m)+".png")
	}
	for _, name := range want {
		rel := PlotsDir + "/" + name
		if !strings.Contains(string(html), `src="`+rel+`"`) {
			t.Errorf("report.html does not show %s", rel)
		}
		f, err := os.Open(filepath.Join(cfg.Out, PlotsDir, name))
		if err != nil {
			t.Error(err)
			continue
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil || img.Bounds().Dx() < 100 {
			t.Errorf("%s: not a PNG plot (%v)", name, err)
		}
	}
	if len(rep.Plots) != len(want) {
		t.Errorf("Report.Plots has %d files, want %d: %v", len(rep.Plots), len(want), rep.Plots)
	}
	var saved Report
	if b, err := os.ReadFile(filepath.Join(cfg.Out, ResultsFile)); err != nil {
		t.Error(err)
	} else if err := json.Unmarshal(b, &saved); err != nil || len(saved.Rows) != len(Modes) || len(saved.Seeds) != 1 {
		t.Errorf("results.json: %v, %d rows, %d seeds", err, len(saved.Rows), len(saved.Seeds))
	}

	// Clip accounting: every generated clip is a shard row or a failure line, the splits add
	// up, every test clip of a fusion run has shares, every epoch is in metrics.jsonl.
	s := rep.Seeds[0]
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
	ix, err := shard.ReadIndex(filepath.Join(s.Dir, "shards"))
	if err != nil || ix.ClipsTotal != s.Clips {
		t.Errorf("index.json: %v, clips_total %d", err, ix.ClipsTotal)
	}
	for _, m := range s.Runs {
		if m.Test.Clips != s.Splits["test"]-e.Failed && m.Test.Clips != s.Splits["test"] {
			t.Errorf("%s: %d test clips, split has %d", m.Mode, m.Test.Clips, s.Splits["test"])
		}
		if got := len(m.History); got != 2*cfg.Train.Epochs {
			t.Errorf("%s: metrics.jsonl has %d lines, want train+val for %d epochs", m.Mode, got, cfg.Train.Epochs)
		}
		fusion := m.Mode != train.ModeAudio && m.Mode != train.ModeVideo
		if fusion != (len(m.ClipShares) > 0) || fusion && len(m.ClipShares) != m.Test.Clips {
			t.Errorf("%s: %d per-clip shares for %d test clips", m.Mode, len(m.ClipShares), m.Test.Clips)
		}
	}

	// Progress names every stage and every mode.
	words := []string{"synth:", "extract:", "report:"}
	for _, m := range Modes {
		words = append(words, string(m))
	}
	for _, w := range words {
		if !strings.Contains(progress.String(), w) {
			t.Errorf("progress lacks %q:\n%s", w, progress.String())
		}
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

func TestStat(t *testing.T) {
	s := newStat([]float64{0.5, 0.7, 0.9})
	if s.N != 3 || s.Mean < 0.6999 || s.Mean > 0.7001 || s.Std < 0.1999 || s.Std > 0.2001 {
		t.Errorf("newStat: %+v, want mean 0.7 std 0.2", s)
	}
	if got := s.fmt(2); got != "0.70 ± 0.20" {
		t.Errorf("fmt %q", got)
	}
	if got := newStat([]float64{0.25}).fmt(3); got != "0.250" {
		t.Errorf("one seed: %q", got)
	}
}
