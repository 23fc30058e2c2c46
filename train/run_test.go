package train

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/avbalance/avbalance/attribution"
)

// synthExamples makes a learnable data set: the audio carries the label in
// one frequency band, the frames in one colour channel, both with noise.
func synthExamples(n int, seed uint64) *MemExamples {
	r := rand.New(rand.NewPCG(seed, 7))
	src := &MemExamples{Audio: []int{8, 12}, Frame: []int{2, 8, 8, 3}, Names: []string{"a", "b", "c"}}
	for i := 0; i < n; i++ {
		y := i % 3
		split := "train"
		switch i % 10 {
		case 7, 8:
			split = "val"
		case 9:
			split = "test"
		}
		ex := Example{ClipID: fmt.Sprintf("clip%03d", i), Label: y, Split: split,
			Audio: make([]float32, 8*12), Frames: make([]byte, 2*8*8*3)}
		for j := range ex.Audio {
			ex.Audio[j] = float32(r.NormFloat64() * 0.5)
			if (j/12)%3 == y {
				ex.Audio[j] += 1
			}
		}
		for j := range ex.Frames {
			v := 60 + r.IntN(60)
			if j%3 == y {
				v += 100
			}
			ex.Frames[j] = byte(v)
		}
		src.Clips = append(src.Clips, ex)
	}
	return src
}

func tinyConfig(dir string, mode Mode) Config {
	c, err := NewConfig(mode)
	if err != nil {
		panic(err)
	}
	c.Out, c.Embed, c.Batch, c.Epochs, c.LR, c.Optimizer = dir, 8, 8, 2, 3e-3, OptAdam
	return c
}

// sameResult checks that got equals want but for timings and the folder.
func sameResult(t *testing.T, want, got *Result, what string) {
	t.Helper()
	a, b := *want, *got
	b.RunDir = a.RunDir
	for _, p := range []**Metrics{&a.Val, &a.Test, &b.Val, &b.Test} {
		if *p != nil {
			m := **p
			m.Seconds = 0
			*p = &m
		}
	}
	if !reflect.DeepEqual(a, b) {
		t.Errorf("%s: result differs from the uninterrupted run's:\n%+v\n%+v", what, *a.Test, *b.Test)
	}
}

// readMetrics is ReadMetrics without the timings.
func readMetrics(t *testing.T, runDir string) []Metrics {
	t.Helper()
	ms, err := ReadMetrics(runDir)
	if err != nil {
		t.Fatal(err)
	}
	for i := range ms {
		ms[i].Seconds = 0
	}
	return ms
}

func TestRunAllModes(t *testing.T) {
	src := synthExamples(60, 1)
	for _, mode := range []Mode{ModeAudio, ModeVideo, ModeConcat, ModeOGMGE, ModeAttrReg, ModeMMPareto, ModePMR, ModeAGM, ModeUMT} {
		t.Run(string(mode), func(t *testing.T) {
			dir := t.TempDir()
			cfg := tinyConfig(dir, mode)
			res, err := RunExamples(context.Background(), cfg, src)
			if err != nil {
				t.Fatal(err)
			}
			if res.Test == nil || res.Val == nil {
				t.Fatalf("result without val/test: %+v", res)
			}
			ms := readMetrics(t, dir)
			if len(ms) != 4 {
				t.Fatalf("%d metric lines, want 4 (train+val × 2 epochs)", len(ms))
			}
			for _, f := range []string{CheckpointFile, BestFile, ResultFile, ConfigFile} {
				if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
					t.Error(err)
				}
			}
			m, err := EvalExamples(context.Background(), dir, src, "test")
			if err != nil {
				t.Fatal(err)
			}
			m.Seconds, res.Test.Seconds = 0, 0
			if !reflect.DeepEqual(*m, *res.Test) {
				t.Errorf("Eval differs from result.json:\n%+v\n%+v", *m, *res.Test)
			}
			if info, _ := LookupMethod(mode); info.Uses == Both {
				ac := AttributeConfig{RunDir: dir, Split: "test", Out: filepath.Join(dir, "attr")}
				if s, err := AttributeExamples(context.Background(), ac, src); err != nil || s.Clips != res.Test.Clips {
					t.Errorf("attribute: %v (summary %+v)", err, s)
				}
			}
			t.Logf("%s: train acc %.2f → %.2f, test acc %.2f, audio share %.2f", mode, ms[0].Accuracy, ms[2].Accuracy, res.Test.Accuracy, res.Test.AudioShare)
		})
	}
}

func TestResumeMatchesUninterrupted(t *testing.T) {
	src := synthExamples(40, 2)
	for _, mode := range []Mode{ModeAttrReg, ModeOGMGE, ModeMMPareto, ModePMR, ModeAGM, ModeUMT} {
		full, part := t.TempDir(), t.TempDir()
		cfg := tinyConfig(full, mode)
		cfg.Epochs = 3
		if mode == ModeUMT {
			cfg.Method.(*UMTConfig).TeacherEpochs = 2 // the same teachers for both runs
		}
		want, err := RunExamples(context.Background(), cfg, src)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Out, cfg.Epochs = part, 2
		if _, err := RunExamples(context.Background(), cfg, src); err != nil {
			t.Fatal(err)
		}
		cfg.Epochs, cfg.Resume = 3, true
		got, err := RunExamples(context.Background(), cfg, src)
		if err != nil {
			t.Fatal(err)
		}
		sameResult(t, want, got, string(mode)+": resumed")
		if a, b := readMetrics(t, full), readMetrics(t, part); !reflect.DeepEqual(a, b) {
			t.Errorf("%s: metrics.jsonl differs after resume", mode)
		}
	}
}

func TestAttributeReport(t *testing.T) {
	src := synthExamples(40, 3)
	dir := t.TempDir()
	res, err := RunExamples(context.Background(), tinyConfig(dir, ModeConcat), src)
	if err != nil {
		t.Fatal(err)
	}
	for _, method := range []AttrMethod{AttrGradInput, AttrIG} {
		out := filepath.Join(dir, "attr-"+string(method))
		s, err := AttributeExamples(context.Background(), AttributeConfig{RunDir: dir, Split: "test", Out: out, Method: method, Baseline: "mean"}, src)
		if err != nil {
			t.Fatal(err)
		}
		if s.Clips != 4 || s.MeanAudio+s.MeanVideo < 0.999 || s.MeanAudio+s.MeanVideo > 1.001 {
			t.Errorf("%s: summary %+v", method, s)
		}
		for _, f := range []string{attribution.SharesFile, attribution.SummaryFile} {
			if _, err := os.Stat(filepath.Join(out, f)); err != nil {
				t.Error(err)
			}
		}
	}
	// The share definition defaults to the run's (IG from the mean
	// embedding of the centred logit, net pooling, true class), so the
	// report reads the test shares of result.json; an explicit one
	// overrides it.
	run, err := AttributeExamples(context.Background(), AttributeConfig{RunDir: dir, Split: "test", Out: filepath.Join(dir, "attr-run")}, src)
	if err != nil {
		t.Fatal(err)
	}
	x := run.Extra.(map[string]any)
	if x["quantity"] != attribution.Centered || x["class"] != ClassTrue || run.Norm != attribution.Net.String() ||
		run.Method != string(AttrIG) || x["baseline"] != BaselineMean {
		t.Errorf("default share definition: method %v, baseline %v, quantity %v, class %v, norm %v; want the run's ig, mean, centered, true, net",
			run.Method, x["baseline"], x["quantity"], x["class"], run.Norm)
	}
	if math.Abs(run.MeanVideo-res.Test.VideoShare) > 1e-9 {
		t.Errorf("default report's video share %g, the run's test share %g", run.MeanVideo, res.Test.VideoShare)
	}
	logit, l1 := attribution.Logit, attribution.L1
	raw, err := AttributeExamples(context.Background(), AttributeConfig{RunDir: dir, Split: "test", Out: filepath.Join(dir, "attr-raw"),
		Quantity: &logit, Norm: &l1, Class: ClassPredicted}, src)
	if err != nil {
		t.Fatal(err)
	}
	if q, c := raw.Extra.(map[string]any)["quantity"], raw.Extra.(map[string]any)["class"]; q != logit || c != ClassPredicted || raw.Norm != l1.String() || raw.MeanAudio == run.MeanAudio {
		t.Errorf("explicit share definition: quantity %v, class %v, norm %v, audio share %g (the run's %g)", q, c, raw.Norm, raw.MeanAudio, run.MeanAudio)
	}
}

// cancelExamples cancels a context on its `after`-th row read (counting
// every Example call), as a Ctrl-C arriving while the loader fills a batch
// would. It waits a little first, so the trainer has finished the batch
// before and is waiting for this one.
type cancelExamples struct {
	Examples
	after  int64
	calls  atomic.Int64
	cancel context.CancelFunc
}

func (s *cancelExamples) Example(i int) (Example, error) {
	if s.calls.Add(1) == s.after {
		time.Sleep(50 * time.Millisecond)
		s.cancel()
	}
	return s.Examples.Example(i)
}

// TestInterruptMidBatch stops a run without a val split while the loader
// fills a batch of its second epoch: the run must report the interruption
// and checkpoint nothing of that epoch, and --resume must end with the
// result of an uninterrupted run. Whether the loader hands over the batch
// it was filling is up to the scheduler, so the interruption is tried
// several times.
func TestInterruptMidBatch(t *testing.T) {
	src := synthExamples(40, 4)
	train := 0
	for i := range src.Clips {
		if src.Clips[i].Split == "val" {
			src.Clips[i].Split = "train"
		}
		if src.Clips[i].Split == "train" {
			train++
		}
	}
	cfg := tinyConfig(t.TempDir(), ModeConcat)
	want, err := RunExamples(context.Background(), cfg, src)
	if err != nil {
		t.Fatal(err)
	}
	var part string
	for try := 0; try < 8; try++ {
		ctx, cancel := context.WithCancel(context.Background())
		// splitIndex reads every row once, epoch 1 every train row; then
		// stop 4 rows into epoch 2's second batch of 8.
		cs := &cancelExamples{Examples: src, after: int64(src.Len() + train + 8 + 4), cancel: cancel}
		part = t.TempDir()
		cfg.Out = part
		_, err := RunExamples(ctx, cfg, cs)
		cancel()
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("try %d: interrupted run returned %v, want context.Canceled", try, err)
		}
		ck, err := loadCheckpoint(filepath.Join(part, CheckpointFile))
		if err != nil {
			t.Fatal(err)
		}
		if ck.Epoch != 1 {
			t.Fatalf("try %d: the checkpoint after the interruption says %d epochs done, want 1", try, ck.Epoch)
		}
	}
	cfg.Resume = true
	got, err := RunExamples(context.Background(), cfg, src)
	if err != nil {
		t.Fatal(err)
	}
	sameResult(t, want, got, "resumed after the interruption")
}

// TestResumeBeforeFirstCheckpoint: a run stopped before its first checkpoint
// resumes from the start (not with "no checkpoint.bin") and ends as an
// uninterrupted run; a run folder is never trained into twice.
func TestResumeBeforeFirstCheckpoint(t *testing.T) {
	src := synthExamples(40, 5)
	cfg := tinyConfig(t.TempDir(), ModeOGMGE)
	want, err := RunExamples(context.Background(), cfg, src)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := RunExamples(context.Background(), cfg, src); !errors.As(err, new(*ConfigError)) {
		t.Errorf("a second run into %s: %v, want a ConfigError", cfg.Out, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cs := &cancelExamples{Examples: src, after: int64(src.Len() + 3), cancel: cancel}
	cfg.Out = t.TempDir()
	if _, err := RunExamples(ctx, cfg, cs); !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted in epoch 1: %v", err)
	}
	if hasCheckpoint(cfg.Out) || !hasRun(cfg.Out) {
		t.Fatalf("after the interruption: checkpoint %v, config %v; want only the config", hasCheckpoint(cfg.Out), hasRun(cfg.Out))
	}
	cfg.Resume = true
	got, err := RunExamples(context.Background(), cfg, src)
	if err != nil {
		t.Fatal(err)
	}
	sameResult(t, want, got, "resumed from the start")
	cfg.LR *= 2
	if _, err := RunExamples(context.Background(), cfg, src); !errors.As(err, new(*ConfigError)) || !strings.Contains(err.Error(), "lr") {
		t.Errorf("resume with another lr: %v, want a ConfigError naming lr", err)
	}
}

// TestResumeRejectsOptimizerStateOfOtherSizes: a checkpoint whose
// optimizer moments do not match the model's tensors stops the resume with
// an error naming the tensor, rather than an index panic mid-update.
func TestResumeRejectsOptimizerStateOfOtherSizes(t *testing.T) {
	src := synthExamples(40, 6)
	cfg := tinyConfig(t.TempDir(), ModeConcat)
	cfg.Epochs = 1
	if _, err := RunExamples(context.Background(), cfg, src); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(cfg.Out, CheckpointFile)
	ck, err := loadCheckpoint(path)
	if err != nil {
		t.Fatal(err)
	}
	ck.OptSecond[0] = ck.OptSecond[0][1:]
	if err := saveCheckpoint(ck, path); err != nil {
		t.Fatal(err)
	}
	cfg.Epochs, cfg.Resume = 2, true
	if _, err := RunExamples(context.Background(), cfg, src); err == nil || !strings.Contains(err.Error(), "optimizer state of tensor 0") {
		t.Errorf("resume from moments of another size: %v, want an error naming tensor 0", err)
	}
}

// TestValScoreBeats: model selection puts admitted epochs first, then the
// higher val accuracy with RankCredit val clips for each rank above 1, and
// on a tie the lower val cross-entropy, so a plateau does not go to its
// first epoch.
func TestValScoreBeats(t *testing.T) {
	best := valScore{accuracy: 0.9, ce: 0.2, rank: 1, clips: 100}
	for _, c := range []struct {
		s    valScore
		want bool
	}{
		{valScore{0.95, 0.3, 1, 100}, true},   // higher accuracy
		{valScore{0.9, 0.1, 1, 100}, true},    // same accuracy, better fit
		{valScore{0.9, 0.2, 1, 100}, false},   // an exact tie keeps the earlier
		{valScore{0.9, 0.3, 1, 100}, false},   // same accuracy, worse fit
		{valScore{0.85, 0.01, 1, 100}, false}, // lower accuracy
		{valScore{1, 0, 0, 100}, false},       // not admitted
		{valScore{0.87, 2, 2, 100}, true},     // a higher rank, 3 clips less accurate
		{valScore{0.86, 0, 2, 100}, false},    // a higher rank, 4 clips less accurate
	} {
		if got := c.s.beats(best); got != c.want {
			t.Errorf("%+v beats %+v = %v, want %v", c.s, best, got, c.want)
		}
	}
	if !(valScore{0.5, 2, 1, 100}).beats(valScore{1, 0, 0, 100}) {
		t.Error("an admitted epoch must beat any epoch the rule did not admit")
	}
}
