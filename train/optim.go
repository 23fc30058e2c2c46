package train

import (
	"math"

	"github.com/avbalance/avbalance/train/op"
)

// optimizer is SGD with momentum or Adam over float32 parameters, with
// L2 weight decay added to the gradient (PyTorch's convention for both).
type optimizer struct {
	kind         Optimizer
	lr, mom, wd  float64
	steps        int
	first, secnd [][]float32 // momentum buffer / Adam moments, per parameter
	offsets      []int       // parameter i's elements are [offsets[i], offsets[i+1]) of all
}

func newOptimizer(c *Config, params []*param) *optimizer {
	o := &optimizer{kind: c.Optimizer, lr: c.LR, mom: c.Momentum, wd: c.WeightDecay, offsets: []int{0}}
	for i, p := range params {
		o.first = append(o.first, make([]float32, p.t.Len()))
		o.secnd = append(o.secnd, make([]float32, p.t.Len()))
		o.offsets = append(o.offsets, o.offsets[i]+p.t.Len())
	}
	return o
}

// optimizerGrain is the smallest block of parameter elements the update
// gives a core of its own: below it a goroutine costs more than it saves.
const optimizerGrain = 1 << 15

// step updates params (the ones the optimizer was made for) from their
// gradients. The update is element by element, so it is split over the
// cores (op.Blocks) with the same result.
func (o *optimizer) step(params []*param, grads [][]float32) {
	o.steps++
	op.Blocks(o.offsets[len(params)], optimizerGrain, func(_, lo, hi int) {
		for i, p := range params {
			first, end := max(lo, o.offsets[i]), min(hi, o.offsets[i+1])
			if first >= end {
				continue
			}
			a, b := first-o.offsets[i], end-o.offsets[i]
			o.update(p.t.Data().([]float32)[a:b], grads[i][a:b], o.first[i][a:b], o.secnd[i][a:b])
		}
	})
}

// update applies one step to the weights w from their gradient g, with the
// moments m and v of the same elements.
func (o *optimizer) update(w, g, m, v []float32) {
	const b1, b2, eps = 0.9, 0.999, 1e-8
	c1 := 1 - math.Pow(b1, float64(o.steps))
	c2 := 1 - math.Pow(b2, float64(o.steps))
	for j := range w {
		gj := float64(g[j]) + o.wd*float64(w[j])
		switch o.kind {
		case OptAdam:
			mj := b1*float64(m[j]) + (1-b1)*gj
			vj := b2*float64(v[j]) + (1-b2)*gj*gj
			m[j], v[j] = float32(mj), float32(vj)
			w[j] -= float32(o.lr * (mj / c1) / (math.Sqrt(vj/c2) + eps))
		default:
			bj := gj
			if o.steps > 1 {
				bj = o.mom*float64(m[j]) + gj
			}
			m[j] = float32(bj)
			w[j] -= float32(o.lr * bj)
		}
	}
}
