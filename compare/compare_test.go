package compare

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/avbalance/avbalance/features"
	"github.com/avbalance/avbalance/ingest"
	"github.com/avbalance/avbalance/pipeline"
	"github.com/avbalance/avbalance/synth"
	"github.com/avbalance/avbalance/train"
)

var (
	shardsOnce sync.Once
	shardsDirs [2]string // with a val split, without one
	shardsErr  error
)

// testShards generates 36 short clips once per test binary and extracts them
// with the tiny preset twice: as generated (train/val/test) and with val
// merged into train (no val split).
func testShards(t *testing.T) (withVal, noVal string) {
	t.Helper()
	if testing.Short() {
		t.Skip("generates clips and trains; skipped with -short")
	}
	shardsOnce.Do(func() {
		dir, err := os.MkdirTemp("", "avbalance-compare-")
		if err != nil {
			shardsErr = err
			return
		}
		ctx := context.Background()
		res, err := synth.Generate(ctx, synth.Config{Out: filepath.Join(dir, "synth"), Clips: 36, Seconds: 1,
			Width: 32, Height: 32, FPS: 8, VideoCodec: "mpeg4", Seed: 3})
		if err != nil {
			shardsErr = err
			return
		}
		preset, err := features.Lookup("tiny")
		if err != nil {
			shardsErr = err
			return
		}
		for i, name := range []string{"shards", "shards-noval"} {
			ds, err := ingest.ReadManifest(res.Manifest, ingest.ManifestOptions{Name: "synth", Labels: res.Labels})
			if err != nil {
				shardsErr = err
				return
			}
			if i == 1 {
				for k := range ds.Clips {
					if ds.Clips[k].Split == ingest.SplitVal {
						ds.Clips[k].Split = ingest.SplitTrain
					}
				}
			}
			shardsDirs[i] = filepath.Join(dir, name)
			if _, err := pipeline.Extract(ctx, pipeline.Config{Dataset: ds, Preset: preset, Out: shardsDirs[i], Workers: 1}); err != nil {
				shardsErr = err
				return
			}
		}
	})
	if shardsErr != nil {
		t.Fatal(shardsErr)
	}
	return shardsDirs[0], shardsDirs[1]
}

// quickConfig is a small comparison: audio, concat and attr-reg, 2 seeds, 2 epochs.
func quickConfig(t *testing.T, shards string) Config {
	c := DefaultConfig()
	c.Shards, c.Out = shards, t.TempDir()
	c.Methods = []train.Mode{train.ModeAudio, train.ModeConcat, train.ModeAttrReg}
	c.Seeds, c.Train.Epochs, c.Train.Embed, c.Train.Batch, c.Train.LR = 2, 2, 8, 16, 0.01
	c.Params = []Param{{Method: train.ModeAttrReg, Name: "lambda", Value: "3"}, {Method: train.ModeAudio, Name: "epochs", Value: "3"}}
	c.Parallel = min(2, runtime.NumCPU())
	return c
}

// TestCompare runs a quick comparison and checks its files and columns, that
// a second run trains nothing and changes nothing, that a changed setting is
// refused (and retrained with Retrain), and the runs' recorded commands.
func TestCompare(t *testing.T) {
	shards, _ := testShards(t)
	cfg := quickConfig(t, shards)
	var progress bytes.Buffer
	cfg.Progress = &progress
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, progress.String())
	}
	if rep.Trained != 6 || rep.Reused != 0 || len(rep.Runs) != 6 {
		t.Errorf("trained %d, reused %d, %d runs; want 6, 0, 6", rep.Trained, rep.Reused, len(rep.Runs))
	}
	for _, w := range []string{"[6/6] done", "ETA", "start attr-reg seed 2"} {
		if !strings.Contains(progress.String(), w) {
			t.Errorf("progress lacks %q:\n%s", w, progress.String())
		}
	}

	// table.csv: one row per method in order, every column that applies filled.
	rows := readCSV(t, filepath.Join(cfg.Out, CSVFile))
	wantHead := []string{"method", "seeds"}
	for _, c := range Columns {
		wantHead = append(wantHead, c.Key+"_mean", c.Key+"_std")
	}
	if !slices.Equal(rows[0], wantHead) {
		t.Fatalf("CSV header %v, want %v", rows[0], wantHead)
	}
	if len(rows) != 1+len(cfg.Methods) {
		t.Fatalf("CSV has %d rows", len(rows))
	}
	for i, m := range cfg.Methods {
		row := rows[1+i]
		if row[0] != string(m) || row[1] != "2" {
			t.Errorf("CSV row %d: %v, want %s over 2 seeds", i, row[:2], m)
		}
		for j, v := range row[2:] {
			key := wantHead[2+j]
			if v == "" && !(m == train.ModeAudio && strings.HasPrefix(key, "linprobe_video")) {
				t.Errorf("%s: %s is empty", m, key)
			}
		}
	}
	if s := rep.Stat(train.ModeAudio, "audio_share"); s.Mean != 1 || s.N != 2 {
		t.Errorf("audio-only audio share %+v, want 1 over 2 seeds", s)
	}
	if got := len(rep.Run(train.ModeAudio, 1).History); got != 2*3 {
		t.Errorf("audio seed 1: %d metrics lines, want train+val of audio.epochs=3", got)
	}

	// table.md: the protocol, every header, a line per method.
	md := readFile(t, filepath.Join(cfg.Out, TableFile))
	for _, w := range append(Header(), "split: as given", "model selection: best val accuracy", "seeds: 1, 2", "attr-reg lambda=3", "audio epochs=3") {
		if !strings.Contains(md, w) {
			t.Errorf("table.md lacks %q:\n%s", w, md)
		}
	}
	for _, m := range cfg.Methods {
		if !strings.Contains(md, "| "+string(m)+" ") {
			t.Errorf("table.md has no row for %s", m)
		}
	}

	// report.html shows every plot, each a PNG.
	html := readFile(t, filepath.Join(cfg.Out, ReportFile))
	want := []string{"accuracy.png", "video-share.png", "audio-probe.png", "video-probe.png", "test-accuracy.png",
		"hist-concat.png", "hist-attr-reg.png", "mode-audio.png", "mode-concat.png", "mode-attr-reg.png"}
	if len(rep.Plots) != len(want) {
		t.Errorf("plots %v, want %d", rep.Plots, len(want))
	}
	for _, name := range want {
		rel := PlotsDir + "/" + name
		if !strings.Contains(html, `src="`+rel+`"`) {
			t.Errorf("report.html does not show %s", rel)
		}
		f, err := os.Open(filepath.Join(cfg.Out, rel))
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

	// results.json: every run with its exact config; its train args give that config back.
	var saved struct {
		Runs []struct {
			Method    train.Mode
			Seed      uint64
			Config    json.RawMessage
			TrainArgs []string `json:"train_args"`
			Test      *train.Metrics
		}
	}
	if err := json.Unmarshal([]byte(readFile(t, filepath.Join(cfg.Out, ResultsFile))), &saved); err != nil {
		t.Fatal(err)
	}
	if len(saved.Runs) != 6 {
		t.Fatalf("results.json has %d runs", len(saved.Runs))
	}
	for _, r := range saved.Runs {
		var tc train.Config
		if err := json.Unmarshal(r.Config, &tc); err != nil || r.Test == nil {
			t.Fatalf("%s seed %d: config %v, test %v", r.Method, r.Seed, err, r.Test)
		}
		back := train.DefaultConfig()
		fs := flag.NewFlagSet("", flag.ContinueOnError)
		finish := back.BindFlags(fs)
		if err := fs.Parse(r.TrainArgs); err != nil {
			t.Fatalf("train args %v: %v", r.TrainArgs, err)
		}
		if err := finish(); err != nil {
			t.Fatal(err)
		}
		if d, _ := configDiff(back, tc); d != "" || back.Out != tc.Out || back.Shards != tc.Shards {
			t.Errorf("%s seed %d: train args %v give another config: %s", r.Method, r.Seed, r.TrainArgs, d)
		}
	}
	if a := rep.Run(train.ModeAttrReg, 2); a.Config.Method.(*train.AttrRegConfig).Lambda != 3 || a.Config.Seed != 2 {
		t.Errorf("attr-reg seed 2 trained with %+v", a.Config)
	}

	// A second run trains nothing, touches no run and writes the same table.
	csv1 := readFile(t, filepath.Join(cfg.Out, CSVFile))
	ck := filepath.Join(cfg.RunDir(train.ModeConcat, 1), train.CheckpointFile)
	st1, _ := os.Stat(ck)
	start := time.Now()
	again, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if again.Trained != 0 || again.Reused != 6 {
		t.Errorf("rerun trained %d, reused %d", again.Trained, again.Reused)
	}
	t.Logf("rerun of a finished comparison: %v", time.Since(start))
	if st2, _ := os.Stat(ck); !st2.ModTime().Equal(st1.ModTime()) {
		t.Error("rerun rewrote a checkpoint")
	}
	if csv2 := readFile(t, filepath.Join(cfg.Out, CSVFile)); csv2 != csv1 {
		t.Errorf("rerun changed table.csv:\n%s\n---\n%s", csv1, csv2)
	}

	// Another λ: the attr-reg folders are refused, naming the setting; Retrain trains those two only.
	cfg.Params[0].Value = "5"
	_, err = Run(context.Background(), cfg)
	var ce *ConfigError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "lambda 3 (folder) ≠ 5") ||
		!strings.Contains(err.Error(), cfg.RunDir(train.ModeAttrReg, 2)) || !strings.Contains(err.Error(), "--retrain") {
		t.Errorf("changed λ: %v, want a ConfigError naming the attr-reg folders, lambda and --retrain", err)
	}
	cfg.Retrain = true
	rep, err = Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Trained != 2 || rep.Run(train.ModeAttrReg, 1).Config.Method.(*train.AttrRegConfig).Lambda != 5 {
		t.Errorf("retrain: trained %d, want the 2 attr-reg runs with λ 5", rep.Trained)
	}
}

// TestProtocolGuards: shards without val are refused unless SelectLast, which
// the table states; SelectLast with a val split and shards other than the
// run folders' are refused.
func TestProtocolGuards(t *testing.T) {
	withVal, noVal := testShards(t)
	cfg := quickConfig(t, noVal)
	cfg.Methods, cfg.Seeds, cfg.Params = []train.Mode{train.ModeConcat}, 1, nil
	var ce *ConfigError
	if _, err := Run(context.Background(), cfg); !errors.As(err, &ce) || !strings.Contains(err.Error(), "--select last") {
		t.Errorf("no val split: %v, want a ConfigError pointing to --select last", err)
	}
	cfg.Select = SelectLast
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if r := rep.Run(train.ModeConcat, 1); r.BestEpoch != cfg.Train.Epochs-1 || !strings.Contains(rep.Table(), "last epoch (--select last") {
		t.Errorf("select last: epoch %d of %d; table:\n%s", r.BestEpoch, cfg.Train.Epochs, rep.Table())
	}
	cfg.Shards = withVal
	if _, err := Run(context.Background(), cfg); !errors.As(err, &ce) || !strings.Contains(err.Error(), "val rows") {
		t.Errorf("select last with val rows: %v", err)
	}
	cfg.Select = SelectVal
	if _, err := Run(context.Background(), cfg); !errors.As(err, &ce) || !strings.Contains(err.Error(), "other shards") {
		t.Errorf("same folder, other shards: %v, want a ConfigError saying so", err)
	}
}

func TestParse(t *testing.T) {
	c := DefaultConfig()
	fs := flag.NewFlagSet("compare", flag.ContinueOnError)
	c.BindFlags(fs)
	args := []string{"--shards", "s", "attr-reg.lambda=3", "--seeds", "2", "--ogm-ge.alpha=0.5", "--out", "o",
		"--audio.epochs", "32", "--methods", "audio,attr-reg,ogm-ge", "--epochs=4", "--lr", "0.01"}
	if err := c.Parse(fs, args); err != nil {
		t.Fatal(err)
	}
	want := []Param{{"attr-reg", "lambda", "3"}, {"ogm-ge", "alpha", "0.5"}, {"audio", "epochs", "32"}}
	if !slices.Equal(c.Params, want) || c.Shards != "s" || c.Out != "o" || c.Seeds != 2 || c.Train.Epochs != 4 || c.Train.LR != 0.01 ||
		!slices.Equal(c.Methods, []train.Mode{"audio", "attr-reg", "ogm-ge"}) {
		t.Fatalf("parsed %+v", c)
	}
	tc, err := c.RunConfig(train.ModeAudio, 7)
	if err != nil || tc.Epochs != 32 || tc.Seed != 7 || tc.LR != 0.01 || tc.Out != filepath.Join("o", "runs", "audio", "seed-7") {
		t.Errorf("audio run config %+v, %v", tc, err)
	}
	if tc, err := c.RunConfig(train.ModeAttrReg, 1); err != nil || tc.Epochs != 4 || tc.Method.(*train.AttrRegConfig).Lambda != 3 {
		t.Errorf("attr-reg run config %+v, %v", tc, err)
	}
	for _, bad := range []struct{ args, want string }{
		{"--lambda 3", "not defined"},    // a method's hyperparameter needs its method
		{"stray", "unexpected argument"}, // not METHOD.FLAG=VALUE
		{"fancy.x=1", "mode \"fancy\""},
		{"--mode concat", "not defined"}, // compare sets the mode itself
	} {
		c := DefaultConfig()
		fs := flag.NewFlagSet("compare", flag.ContinueOnError)
		fs.SetOutput(new(bytes.Buffer))
		c.BindFlags(fs)
		if err := c.Parse(fs, strings.Fields(bad.args)); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%q: %v, want %q", bad.args, err, bad.want)
		}
	}
}

func TestValidate(t *testing.T) {
	c := DefaultConfig()
	c.Shards, c.Out = "s", "o"
	if err := c.Validate(); err != nil {
		t.Fatalf("default config: %v", err)
	}
	c.Methods = []train.Mode{"audio", "fancy", "audio"}
	c.Seeds, c.Parallel = 0, runtime.NumCPU()+1
	err := c.Validate()
	for _, w := range []string{"fancy", "twice", "seeds", "parallel"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("error %v lacks %q", err, w)
		}
	}
	for _, p := range []struct {
		param Param
		want  string
	}{
		{Param{"concat", "lambda", "3"}, `concat has no setting "lambda"`},
		{Param{"attr-reg", "lamda", "3"}, "hyperparameters lambda, lambda-max"},
		{Param{"attr-reg", "lambda", "x"}, "attr-reg: lambda=x: parse error"},
		{Param{"ogm-ge", "alpha", "1"}, "not among the methods"},
		{Param{"audio", "seed", "3"}, `no setting "seed"`}, // compare sets seeds itself
	} {
		c := DefaultConfig()
		c.Shards, c.Out = "s", "o"
		c.Methods = []train.Mode{"audio", "concat", "attr-reg"}
		c.Params = []Param{p.param}
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), p.want) {
			t.Errorf("%s: %v, want %q", p.param, err, p.want)
		}
	}
}

func TestStat(t *testing.T) {
	s := NewStat([]float64{0.5, 0.7, 0.9})
	if s.N != 3 || s.Mean < 0.6999 || s.Mean > 0.7001 || s.Std < 0.1999 || s.Std > 0.2001 {
		t.Errorf("newStat: %+v, want mean 0.7 std 0.2", s)
	}
	if got := s.Format(2); got != "0.70 ± 0.20" {
		t.Errorf("Format %q", got)
	}
	if got := NewStat([]float64{0.25}).Format(3); got != "0.250" {
		t.Errorf("one seed: %q", got)
	}
	if got := NewStat(nil).Format(3); got != "–" {
		t.Errorf("no value: %q", got)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	rows, err := csv.NewReader(strings.NewReader(readFile(t, path))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// TestSplitPolicy: for CREMA-D the policy is read from which actors are in which splits.
func TestSplitPolicy(t *testing.T) {
	in := func(splits ...string) map[string]bool {
		m := map[string]bool{}
		for _, s := range splits {
			m[s] = true
		}
		return m
	}
	independent := map[string]map[string]bool{"1001": in("train"), "1002": in("val"), "1003": in("test")}
	if p := splitPolicy(ingest.CremaDName, independent); !strings.HasPrefix(p, "speaker-independent: none of the 3 actors") {
		t.Errorf("by actor: %q", p)
	}
	shared := map[string]map[string]bool{"1001": in("train", "test"), "1002": in("train", "val", "test"), "1003": in("train")}
	if p := splitPolicy(ingest.CremaDName, shared); !strings.HasPrefix(p, "speakers shared: 2 of 3 actors") {
		t.Errorf("lists: %q", p)
	}
	if p := splitPolicy(ingest.VGGSoundName, nil); !strings.Contains(p, "vggsound.csv") {
		t.Errorf("vggsound: %q", p)
	}
}

// TestOlderTrainerIsNotReused: a run folder made by an older revision of
// the trainer's numerics differs from what this comparison would train.
func TestOlderTrainerIsNotReused(t *testing.T) {
	want, err := train.NewConfig(train.ModeOGMGE)
	if err != nil {
		t.Fatal(err)
	}
	have := want.Clone()
	have.Trainer = 1
	d, err := configDiff(have, want)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(d, fmt.Sprintf("trainer 1 (folder) ≠ %d (this comparison)", train.TrainerRevision)) {
		t.Errorf("diff %q, want it to name the trainer revision", d)
	}
}
