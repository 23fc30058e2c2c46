package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/avbalance/avbalance/internal/testmedia"
	"github.com/avbalance/avbalance/train"
)

// labelledManifest is manifest with the label names given by name(i) and,
// without splits, no split column.
func labelledManifest(t *testing.T, n int, name func(i int) string, splits bool) string {
	t.Helper()
	media := filepath.Dir(testmedia.Generated(t, "sine_h264_aac.mp4"))
	var b strings.Builder
	if splits {
		b.WriteString("id,path,label,split\n")
	} else {
		b.WriteString("id,path,label\n")
	}
	for i := 0; i < n; i++ {
		file := "sine_h264_aac.mp4"
		if i%3 == 0 {
			file = "flv_mp3.flv"
		}
		fmt.Fprintf(&b, "c%03d,%s,%s", i, filepath.Join(media, file), name(i))
		if splits {
			fmt.Fprintf(&b, ",%s", [...]string{"val", "test", "train", "train", "train"}[i%5])
		}
		b.WriteString("\n")
	}
	p := filepath.Join(t.TempDir(), "m.csv")
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// trainArgs are a quick training's arguments.
func trainArgs(shards, out string, extra ...string) []string {
	return append([]string{"train", "--shards", shards, "--mode", "attr-reg", "--epochs", "2", "--batch", "8",
		"--out", out, "--quiet"}, extra...)
}

func savedConfig(t *testing.T, run string) train.Config {
	t.Helper()
	c, err := train.LoadConfig(run)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestTrainRunFolderContract: a run folder is never mixed with another run,
// --resume keeps the run's configuration (flags not given are not taken at
// their defaults, flags given with other values are refused) and finds the
// shards in config.json.
func TestTrainRunFolderContract(t *testing.T) {
	bin := testmedia.CLI(t)
	shards := t.TempDir()
	if code, msg := extract(t, bin, manifest(t, 30), shards); code != 0 {
		t.Fatalf("extract: exit %d\n%s", code, msg)
	}
	out := filepath.Join(t.TempDir(), "run")
	if code, msg := run(t, bin, trainArgs(shards, out, "--lr", "0.003")...); code != 0 {
		t.Fatalf("train: exit %d\n%s", code, msg)
	}
	metrics, _ := os.ReadFile(filepath.Join(out, train.MetricsFile))

	// --out on an existing run: refused, nothing touched.
	code, msg := run(t, bin, trainArgs(shards, out)...)
	if code != exitUsage || !strings.Contains(msg, "already holds a run") || !strings.Contains(msg, "--resume") {
		t.Errorf("train into an existing run: exit %d\n%s", code, msg)
	}
	if after, _ := os.ReadFile(filepath.Join(out, train.MetricsFile)); string(after) != string(metrics) {
		t.Error("the refused run changed metrics.jsonl")
	}

	// --resume without --epochs or --shards: the run's 2 epochs, the run's shards.
	if code, msg := run(t, bin, "train", "--out", out, "--resume", "--quiet"); code != 0 {
		t.Fatalf("resume with --out only: exit %d\n%s", code, msg)
	}
	if c := savedConfig(t, out); c.Epochs != 2 || c.LR != 0.003 {
		t.Errorf("after a plain resume: epochs %d lr %g, want the run's 2 and 0.003", c.Epochs, c.LR)
	}
	if ms, _ := train.ReadMetrics(out); len(ms) != 4 {
		t.Errorf("after a plain resume: %d metric lines, want the run's 2 epochs × 2", len(ms))
	}

	// Conflicting flags: exit 2 naming both values.
	for _, flags := range [][]string{{"--lr", "0.01"}, {"--mode", "concat"}, {"--alpha", "0.3"}} {
		code, msg := run(t, bin, append([]string{"train", "--out", out, "--resume", "--quiet"}, flags...)...)
		if code != exitUsage || !strings.Contains(msg, flags[0]) {
			t.Errorf("resume %v: exit %d\n%s", flags, code, msg)
		}
	}
	// The same value as the run's is no conflict; --epochs extends the run.
	if code, msg := run(t, bin, "train", "--out", out, "--resume", "--lr", "0.003", "--epochs", "3", "--quiet"); code != 0 {
		t.Fatalf("resume to 3 epochs: exit %d\n%s", code, msg)
	}
	if ms, _ := train.ReadMetrics(out); len(ms) != 6 {
		t.Errorf("resumed to 3 epochs: %d metric lines, want 6", len(ms))
	}
	// Nothing to resume.
	if code, msg := run(t, bin, "train", "--out", filepath.Join(t.TempDir(), "none"), "--resume"); code != exitUsage || !strings.Contains(msg, "holds no run") {
		t.Errorf("resume of an empty folder: exit %d\n%s", code, msg)
	}
}

// TestEvalRefusesOtherData: eval, attribute and --resume name both sides when
// the shards have another preset, another label mapping or other classes.
func TestEvalRefusesOtherData(t *testing.T) {
	bin := testmedia.CLI(t)
	label := func(i int) string { return fmt.Sprintf("l%d", i%2) }
	man := labelledManifest(t, 30, label, true)
	shards := t.TempDir()
	if code, msg := extract(t, bin, man, shards); code != 0 {
		t.Fatalf("extract: exit %d\n%s", code, msg)
	}
	out := filepath.Join(t.TempDir(), "run")
	if code, msg := run(t, bin, trainArgs(shards, out, "--epochs", "1")...); code != 0 {
		t.Fatalf("train: exit %d\n%s", code, msg)
	}
	other := func(name string, m string, extra ...string) string {
		dir := filepath.Join(t.TempDir(), name)
		if code, msg := extract(t, bin, m, dir, extra...); code != 0 {
			t.Fatalf("extract %s: exit %d\n%s", name, code, msg)
		}
		return dir
	}
	cases := []struct {
		name, shards, want string
	}{
		{"frames", other("frames", man, "--frames", "2"), "frames [3 32 32 3]"},
		{"relabelled", other("relabelled", labelledManifest(t, 30, func(i int) string { return [...]string{"b", "a"}[i%2] }, true)), "label mapping differs"},
		{"classes", other("classes", labelledManifest(t, 30, func(i int) string { return fmt.Sprintf("k%d", i%3) }, true)), "the run has 2 classes"},
	}
	for _, c := range cases {
		for _, verb := range [][]string{{"eval", "--run", out, "--shards", c.shards}, {"attribute", "--run", out, "--shards", c.shards, "--out", t.TempDir()}} {
			code, msg := run(t, bin, verb...)
			if code != exitUsage || !strings.Contains(msg, c.want) {
				t.Errorf("%s on %s shards: exit %d, want 2 and %q\n%s", verb[0], c.name, code, c.want, msg)
			}
		}
	}
	// Same preset and classes, other clips: allowed, with a note.
	same := other("same", labelledManifest(t, 20, label, true))
	code, msg := run(t, bin, "eval", "--run", out, "--shards", same)
	if code != 0 || !strings.Contains(msg, "are not the shards") {
		t.Errorf("eval on other shards of the same kind: exit %d\n%s", code, msg)
	}
	// --resume on other shards: refused.
	code, msg = run(t, bin, "train", "--out", out, "--resume", "--shards", same, "--epochs", "2", "--quiet")
	if code != exitUsage || !strings.Contains(msg, "fingerprint") {
		t.Errorf("resume on other shards: exit %d\n%s", code, msg)
	}
}

// TestTrainSplitsAndBatch: shards without a train split are a precise exit 2;
// a batch larger than every split trains with the largest split's size.
func TestTrainSplitsAndBatch(t *testing.T) {
	bin := testmedia.CLI(t)
	nosplit := t.TempDir()
	code, msg := extract(t, bin, labelledManifest(t, 12, func(i int) string { return fmt.Sprintf("l%d", i%2) }, false), nosplit)
	if code != 0 {
		t.Fatalf("extract: exit %d\n%s", code, msg)
	}
	code, msg = run(t, bin, trainArgs(nosplit, filepath.Join(t.TempDir(), "run"))...)
	if code != exitUsage || !strings.Contains(msg, `no rows with split "train"`) || !strings.Contains(msg, `"" 12`) {
		t.Errorf("train on shards without splits: exit %d\n%s", code, msg)
	}
	shards := t.TempDir()
	if code, msg := extract(t, bin, manifest(t, 20), shards); code != 0 {
		t.Fatalf("extract: exit %d\n%s", code, msg)
	}
	out := filepath.Join(t.TempDir(), "big")
	args := []string{"train", "--shards", shards, "--mode", "concat", "--epochs", "1", "--batch", "100000", "--out", out}
	code, msg = run(t, bin, args...)
	if code != 0 || !strings.Contains(msg, "batches of 12") {
		t.Errorf("train --batch 100000: exit %d\n%s", code, msg)
	}
	var res train.Result
	if b, err := os.ReadFile(filepath.Join(out, train.ResultFile)); err != nil || json.Unmarshal(b, &res) != nil || res.Test == nil {
		t.Errorf("train --batch 100000: no test result (%v)", err)
	}
}
