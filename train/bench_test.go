package train

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/avbalance/avbalance/ingest"
	"github.com/avbalance/avbalance/internal/testmedia"
)

// benchShapes are the `tiny` preset's shapes, or CREMA-D's OGM-GE shapes
// with AVB_BENCH_SHAPE=cremad (bench/train_measure.py uses the same switch).
func benchShapes() (audio, frames []int) {
	if os.Getenv("AVB_BENCH_SHAPE") == "cremad" {
		return []int{257, 188}, []int{1, 224, 224, 3}
	}
	return []int{40, 100}, []int{3, 32, 32, 3}
}

// benchExamples is one batch of random clips with the bench shapes, all in
// the train split.
func benchExamples(batch, classes int) *MemExamples {
	as, fs := benchShapes()
	r := rand.New(rand.NewPCG(1, 2))
	src := &MemExamples{Audio: as, Frame: fs}
	for k := 0; k < classes; k++ {
		src.Names = append(src.Names, fmt.Sprint("class", k))
	}
	for i := 0; i < batch; i++ {
		ex := Example{ClipID: fmt.Sprint("clip", i), Label: i % classes, Split: ingest.SplitTrain,
			Audio: make([]float32, prod(as)), Frames: make([]byte, prod(fs))}
		for j := range ex.Audio {
			ex.Audio[j] = float32(r.NormFloat64())
		}
		for j := range ex.Frames {
			ex.Frames[j] = byte(r.Uint32())
		}
		src.Clips = append(src.Clips, ex)
	}
	return src
}

// benchStep times the trainer's optimizer step (the method's hooks, the
// forward and backward pass, the per-batch metrics and shares, the update)
// on one batch of random clips: everything `avbalance train` does per step
// but the loading, which runs beside it. The model, batch size (default 32)
// and shapes come from AVB_BENCH_MODEL, AVB_BENCH_BATCH and AVB_BENCH_SHAPE;
// the rest is the mode's default configuration with flags (as `avbalance
// train`'s, e.g. "-attr-method=ig") set.
func benchStep(b *testing.B, mode Mode, flags ...string) {
	const classes = 6
	c, err := NewConfig(mode)
	if err != nil {
		b.Fatal(err)
	}
	c.Shards, c.Out = "(bench)", b.TempDir()
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	finish := c.BindFlags(fs)
	if err := fs.Parse(flags); err != nil {
		b.Fatal(err)
	}
	if err := finish(); err != nil {
		b.Fatal(err)
	}
	if v := os.Getenv("AVB_BENCH_MODEL"); v != "" {
		c.Model = Model(v)
		if c.Model == ModelResNet18 {
			c.Embed = 512
		}
	}
	if v := os.Getenv("AVB_BENCH_BATCH"); v != "" {
		if c.Batch, err = strconv.Atoi(v); err != nil {
			b.Fatal(err)
		}
	}
	t, err := newTrainer(&c, benchExamples(c.Batch, classes), true)
	if err != nil {
		b.Fatal(err)
	}
	rows := t.splits[ingest.SplitTrain]
	bt := <-t.ld.free
	if err := t.ld.fill(bt, rows); err != nil {
		b.Fatal(err)
	}
	s := &Step{Params: t.tn.paramInfo(), n: t.tn}
	acc := &accum{s: &t.m.spec, sumOn: true}
	// One untimed warm-up step (as bench/train_step.py does): it allocates
	// the ops' buffers.
	if err := t.step(s, bt, acc); err != nil {
		b.Fatal(err)
	}
	cpu0 := testmedia.CPUTime()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := t.step(s, bt, acc); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric((testmedia.CPUTime()-cpu0).Seconds()/float64(b.N), "cpu-s/op")
}

func BenchmarkStepConcat(b *testing.B)  { benchStep(b, ModeConcat) }
func BenchmarkStepAttrReg(b *testing.B) { benchStep(b, ModeAttrReg) }

// BenchmarkStepAttrRegPenalty times attr-reg's step with each attribution in
// the penalty: Grad×Input, and Integrated Gradients from the mean embedding
// (the default), which on the concat head is exact at one step and on the
// mlp head takes 8 or 32; with the penalty reaching the encoders (the
// default) and on the head only.
func BenchmarkStepAttrRegPenalty(b *testing.B) {
	for _, enc := range []string{"true", "false"} {
		for _, attr := range []string{"concat/gradinput", "concat/ig", "mlp/gradinput", "mlp/ig/8", "mlp/ig/32"} {
			parts := strings.Split(attr, "/")
			flags := []string{"-head=" + parts[0], "-attr-method=" + parts[1], "-penalty-to-encoders=" + enc}
			if parts[1] == "gradinput" {
				flags = append(flags, "-attr-baseline=zero")
			}
			if len(parts) == 3 {
				flags = append(flags, "-attr-steps="+parts[2])
			}
			b.Run("encoders="+enc+"/"+attr, func(b *testing.B) { benchStep(b, ModeAttrReg, flags...) })
		}
	}
}
