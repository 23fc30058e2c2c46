package train

import (
	"math"
	"testing"

	"github.com/avbalance/avbalance/ingest"
	"github.com/avbalance/avbalance/train/op"
)

// TestStepEmbeddings: the embeddings a training step hands to the metrics
// and the methods (Step.Emb) are the ones its forward pass computed: the
// forward-only graph gives the same on the same weights and batch.
func TestStepEmbeddings(t *testing.T) {
	for _, mode := range []Mode{ModeConcat, ModeOGMGE, ModeAttrReg} {
		cfg := tinyConfig(t.TempDir(), mode)
		cfg.Shards = "(test)"
		tr, bt := stepTrainer(t, cfg)
		if err := tr.en.feed(inputs{audio: bt.audio, frames: bt.frames, labels: bt.labels, n: bt.n}); err != nil {
			t.Fatal(err)
		}
		if err := tr.en.run(); err != nil {
			t.Fatal(err)
		}
		want := [2][]float64{values64(tr.en.emb[0]), values64(tr.en.emb[1])}
		s := &Step{Params: tr.tn.paramInfo(), n: tr.tn}
		if err := tr.step(s, bt, &accum{s: &tr.m.spec, batchBaseline: true}); err != nil {
			t.Fatal(err)
		}
		for m := range want {
			for i, w := range want[m] {
				if math.Abs(s.Emb[m][i]-w) > 1e-5*(1+math.Abs(w)) {
					t.Errorf("%s: modality %d element %d: step %g, forward-only graph %g", mode, m, i, s.Emb[m][i], w)
					break
				}
			}
		}
	}
}

// TestPenaltySharesAreTheMetricShares: in a training step, the per-sample
// video shares attr-reg's penalty pulls (and its λ controller reads) are
// the shares the train line of metrics.jsonl reports.
func TestPenaltySharesAreTheMetricShares(t *testing.T) {
	for _, c := range []struct {
		name string
		set  func(*Config)
	}{
		{"defaults", func(*Config) {}},
		{"head only", func(c *Config) { c.Method.(*AttrRegConfig).PenaltyToEncoders = false }},
		{"gradinput l2", func(c *Config) { c.AttrMethod, c.AttrBaseline, c.AttrNorm = AttrGradInput, BaselineZero, 0 }},
	} {
		cfg := tinyConfig(t.TempDir(), ModeAttrReg)
		cfg.Shards = "(test)"
		c.set(&cfg)
		tr, bt := stepTrainer(t, cfg)
		s := &Step{Params: tr.tn.paramInfo(), n: tr.tn}
		for step := 0; step < 3; step++ {
			acc := &accum{s: &tr.m.spec, batchBaseline: true}
			if err := tr.step(s, bt, acc); err != nil {
				t.Fatal(err)
			}
			pen := op.Float64s(tr.method.(*attrReg).shares)
			for i, want := range acc.shares[1] {
				if math.Abs(pen[i]-want) > 1e-5 {
					t.Errorf("%s step %d row %d: penalty's video share %g, the metrics' %g", c.name, step, i, pen[i], want)
				}
			}
		}
	}
}

// stepTrainer is a trainer for cfg on generated clips (2 frames) with its
// first batch of train rows loaded.
func stepTrainer(t *testing.T, cfg Config) (*trainer, *batch) {
	t.Helper()
	tr, err := newTrainer(&cfg, synthExamples(40, 3), true)
	if err != nil {
		t.Fatal(err)
	}
	bt := <-tr.ld.free
	if err := tr.ld.fill(bt, tr.splits[ingest.SplitTrain][:cfg.Batch]); err != nil {
		t.Fatal(err)
	}
	return tr, bt
}
