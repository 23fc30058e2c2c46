package train

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/avbalance/avbalance/ingest"
)

// imageExamples is a small data set with 32×32 spectrograms and one 32×32
// frame per clip, big enough for ResNet-18's five stride-2 stages.
func imageExamples(n int, seed uint64) *MemExamples {
	r := rand.New(rand.NewPCG(seed, 11))
	src := &MemExamples{Audio: []int{32, 32}, Frame: []int{1, 32, 32, 3}, Names: []string{"a", "b"}}
	for i := 0; i < n; i++ {
		split := []string{"train", "train", "train", "train", "val", "test"}[i%6]
		ex := Example{ClipID: fmt.Sprintf("clip%02d", i), Label: i % 2, Split: split,
			Audio: make([]float32, 32*32), Frames: make([]byte, 32*32*3)}
		for j := range ex.Audio {
			ex.Audio[j] = float32(r.NormFloat64()) + float32(ex.Label)
		}
		for j := range ex.Frames {
			ex.Frames[j] = byte(r.IntN(256))
		}
		src.Clips = append(src.Clips, ex)
	}
	return src
}

// TestResNet18StepEvalCheckpoint trains ResNet-18 encoders for one step at
// batch 2, evaluates, and checks that a checkpoint written and read back
// restores the parameters and the batch norms' running statistics exactly:
// a second model loaded from it gives the same logits.
func TestResNet18StepEvalCheckpoint(t *testing.T) {
	if testing.Short() {
		t.Skip("resnet18 takes a few seconds")
	}
	ctx := context.Background()
	src := imageExamples(12, 1)
	cfg := DefaultConfig()
	cfg.Shards, cfg.Out = "(test)", t.TempDir()
	cfg.Mode, cfg.Model, cfg.Embed, cfg.Batch, cfg.Epochs, cfg.MaxSteps = ModeAttrReg, ModelResNet18, 512, 2, 1, 1
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := saveConfig(cfg.Out, cfg); err != nil {
		t.Fatal(err)
	}
	tr, err := newTrainer(&cfg, src, true)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(tr.m.bn); got != 40 {
		t.Fatalf("%d batch norms, want 40 (2 encoders × (stem + 16 block + 3 downsample))", got)
	}
	if err := tr.epoch(ctx, 0); err != nil { // one step, then validation and checkpoints
		t.Fatal(err)
	}
	ms := readMetrics(t, cfg.Out)
	if len(ms) != 2 || ms[0].Split != ingest.SplitTrain || ms[1].Split != ingest.SplitVal {
		t.Fatalf("metrics: %+v", ms)
	}
	logitsOf := func(tr *trainer) map[string][]float64 {
		out := map[string][]float64{}
		if _, err := tr.forEach(ctx, tr.splits[ingest.SplitTest], &accum{s: &tr.m.spec}, func(id string, _ int, logits []float64, _ [2][]float64) {
			out[id] = append([]float64(nil), logits...)
		}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	want := logitsOf(tr)
	wantM, err := tr.forEach(ctx, tr.splits[ingest.SplitTest], &accum{s: &tr.m.spec}, nil)
	if err != nil {
		t.Fatal(err)
	}

	path := filepath.Join(cfg.Out, CheckpointFile)
	ck, err := loadCheckpoint(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(ck.BN) != 40 {
		t.Fatalf("checkpoint has %d batch norms, want 40", len(ck.BN))
	}
	moved := 0
	for _, s := range ck.BN {
		mean, vr := tr.m.bn[s.Name].Stats()
		if !reflect.DeepEqual(s.Mean, mean.Data()) || !reflect.DeepEqual(s.Var, vr.Data()) {
			t.Fatalf("checkpoint's %s statistics differ from the model's", s.Name)
		}
		for k := range s.Mean {
			if s.Mean[k] != 0 || s.Var[k] != 1 {
				moved++
				break
			}
		}
	}
	if moved != len(ck.BN) {
		t.Errorf("only %d of %d batch norms have running statistics updated by the step", moved, len(ck.BN))
	}

	// A fresh model restored from the file computes the same logits.
	tr2, err := newTrainer(&cfg, src, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := tr2.m.restoreWeights(ck, path); err != nil {
		t.Fatal(err)
	}
	if got := logitsOf(tr2); !reflect.DeepEqual(got, want) {
		t.Errorf("restored model's logits differ:\n%v\n%v", got, want)
	}
	// With the initial running statistics (mean 0, variance 1) they differ:
	// the round trip above really carries the statistics.
	for _, op := range tr2.m.bn {
		mean, vr := op.Stats()
		for k, d := 0, mean.Data().([]float32); k < len(d); k++ {
			d[k], vr.Data().([]float32)[k] = 0, 1
		}
	}
	if got := logitsOf(tr2); reflect.DeepEqual(got, want) {
		t.Error("logits do not depend on the batch norms' running statistics")
	}
	// And Eval over the run directory (best.bin, the same epoch) agrees.
	m, err := EvalExamples(ctx, cfg.Out, src, ingest.SplitTest)
	if err != nil {
		t.Fatal(err)
	}
	if m.Loss != wantM.Loss || m.Accuracy != wantM.Accuracy {
		t.Errorf("Eval: loss %g acc %g, want %g %g", m.Loss, m.Accuracy, wantM.Loss, wantM.Accuracy)
	}
}
