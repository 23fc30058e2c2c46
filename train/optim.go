package train

import (
	"math"
)

// optimizer is SGD with momentum or Adam over float32 parameters, with
// L2 weight decay added to the gradient (PyTorch's convention for both).
type optimizer struct {
	kind         Optimizer
	lr, mom, wd  float64
	steps        int
	first, secnd [][]float32 // momentum buffer / Adam moments, per parameter
}

func newOptimizer(c *Config, params []*param) *optimizer {
	o := &optimizer{kind: c.Optimizer, lr: c.LR, mom: c.Momentum, wd: c.WeightDecay}
	for _, p := range params {
		o.first = append(o.first, make([]float32, p.t.Len()))
		o.secnd = append(o.secnd, make([]float32, p.t.Len()))
	}
	return o
}

func (o *optimizer) step(params []*param, grads [][]float32) {
	o.steps++
	const b1, b2, eps = 0.9, 0.999, 1e-8
	c1 := 1 - math.Pow(b1, float64(o.steps))
	c2 := 1 - math.Pow(b2, float64(o.steps))
	for i, p := range params {
		w := p.t.Data().([]float32)
		g := grads[i]
		m, v := o.first[i], o.secnd[i]
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
}
