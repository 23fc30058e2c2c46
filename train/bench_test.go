package train

import (
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"gorgonia.org/tensor"

	"github.com/avbalance/avbalance/internal/testmedia"
)

// benchShapes are the `tiny` preset's shapes, or CREMA-D's OGM-GE shapes
// with AVB_BENCH_SHAPE=cremad (bench/train_step.sh uses the same switch).
func benchShapes() (audio, frames []int) {
	if os.Getenv("AVB_BENCH_SHAPE") == "cremad" {
		return []int{257, 188}, []int{1, 224, 224, 3}
	}
	return []int{40, 100}, []int{3, 32, 32, 3}
}

// benchStep times one training step (forward, backward, SGD) of the small
// model at batch 32.
func benchStep(b *testing.B, mode Mode) {
	as, fs := benchShapes()
	const batch, classes = 32, 6
	c, err := NewConfig(mode)
	if err != nil {
		b.Fatal(err)
	}
	info, _ := LookupMethod(mode)
	meth, err := info.New(&c)
	if err != nil {
		b.Fatal(err)
	}
	s := specFromConfig(&c, info.Uses, classes, as, fs)
	s.dt = tensor.Float32
	m := newModel(s, 1)
	n, err := buildNet(m, batch, meth, netOptions{})
	if err != nil {
		b.Fatal(err)
	}
	opt := newOptimizer(&c, n.used)
	r := rand.New(rand.NewPCG(1, 2))
	audio := make([]float32, batch*prod(as))
	frames := make([]float32, batch*fs[0]*3*fs[1]*fs[2])
	for i := range audio {
		audio[i] = float32(r.NormFloat64())
	}
	for i := range frames {
		frames[i] = float32(r.NormFloat64())
	}
	labels := make([]int, batch)
	for i := range labels {
		labels[i] = i % classes
	}
	grads := make([][]float32, len(n.grads))
	var cpu0 time.Duration
	// One untimed warm-up step (as bench/train_step.py does): it allocates
	// the convolutions' buffers.
	for i := -1; i < b.N; i++ {
		if i == 0 {
			cpu0 = testmedia.CPUTime()
			b.ResetTimer()
		}
		if err := n.feed(inputs{audio: audio, frames: frames, labels: labels, n: batch}); err != nil {
			b.Fatal(err)
		}
		if err := n.run(); err != nil {
			b.Fatal(err)
		}
		for k, g := range n.grads {
			grads[k] = g.Value().Data().([]float32)
		}
		opt.step(n.used, grads)
	}
	b.StopTimer()
	b.ReportMetric((testmedia.CPUTime()-cpu0).Seconds()/float64(b.N), "cpu-s/op")
}

func BenchmarkStepConcat(b *testing.B)  { benchStep(b, ModeConcat) }
func BenchmarkStepAttrReg(b *testing.B) { benchStep(b, ModeAttrReg) }
