package train

import (
	"math"
	"math/rand/v2"

	"github.com/avbalance/avbalance/attribution"
)

// optimizer is SGD with momentum or Adam over float32 parameters, with
// L2 weight decay added to the gradient (PyTorch's convention for both).
type optimizer struct {
	kind         string
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

// ogmCoefficients returns OGM-GE's per-modality gradient coefficients for a
// batch: score_m = Σ_b softmax(part_m(e_m,b))[y_b] over the head's
// per-modality parts; the dominant modality (ratio > 1) gets
// 1 − tanh(α·relu(ratio − 1)), the other 1.
func ogmCoefficients(h attribution.Head, emb [2][]float64, dims [2]int, labels []int, n int, alpha float64) [2]float64 {
	var score [2]float64
	buf := make([]float64, h.Classes())
	for m := 0; m < 2; m++ {
		for i := 0; i < n; i++ {
			part := h.Part(buf, m, emb[m][i*dims[m]:(i+1)*dims[m]])
			score[m] += softmax(part)[labels[i]]
		}
	}
	coeff := [2]float64{1, 1}
	if score[0] == 0 || score[1] == 0 {
		return coeff
	}
	ratio := score[0] / score[1]
	if ratio > 1 {
		coeff[0] = 1 - math.Tanh(alpha*math.Max(ratio-1, 0))
	} else {
		coeff[1] = 1 - math.Tanh(alpha*math.Max(1/ratio-1, 0))
	}
	return coeff
}

// modulate scales an encoder gradient by coeff and, with noise, adds
// Gaussian noise N(0, std(g)+1e-8) (the GE part, std of the unscaled
// gradient, as in the reference code).
func modulate(g []float32, coeff float64, noise bool, rng *rand.Rand) {
	std := 0.0
	if noise {
		mean := 0.0
		for _, x := range g {
			mean += float64(x)
		}
		mean /= float64(len(g))
		for _, x := range g {
			std += (float64(x) - mean) * (float64(x) - mean)
		}
		if len(g) > 1 {
			std = math.Sqrt(std / float64(len(g)-1))
		}
		std += 1e-8
	}
	for j := range g {
		x := float64(g[j]) * coeff
		if noise {
			x += rng.NormFloat64() * std
		}
		g[j] = float32(x)
	}
}

// softmax overwrites x with softmax(x) and returns it.
func softmax(x []float64) []float64 {
	mx := math.Inf(-1)
	for _, v := range x {
		mx = math.Max(mx, v)
	}
	s := 0.0
	for i, v := range x {
		x[i] = math.Exp(v - mx)
		s += x[i]
	}
	for i := range x {
		x[i] /= s
	}
	return x
}
