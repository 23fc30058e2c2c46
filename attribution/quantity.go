package attribution

import (
	"fmt"
	"math"
)

// Quantity is what a share attributes: a function q(f, c) of the head's
// logits f for the class c. The raw logit counts a part common to all
// logits, which softmax ignores, so a model can make a modality's share of
// it large without that modality moving the decision; the other quantities
// are invariant to such a shift.
type Quantity int

const (
	// Logit is f_c, the raw class logit (the paper's reading, the default).
	Logit Quantity = iota
	// LogProb is log softmax(f)_c = f_c − logsumexp(f).
	LogProb
	// Centered is f_c − mean_k f_k, the logit centred over classes.
	Centered
	// Margin is f_c − max_{k≠c} f_k, the margin to the runner-up class.
	Margin
)

var quantityNames = [...]string{"logit", "logprob", "centered", "margin"}

// ParseQuantity maps "logit", "logprob", "centered" or "margin" to a Quantity.
func ParseQuantity(s string) (Quantity, error) {
	for i, n := range quantityNames {
		if s == n {
			return Quantity(i), nil
		}
	}
	return Logit, fmt.Errorf("attribution: quantity %q: use logit, logprob, centered or margin", s)
}

func (q Quantity) String() string {
	if q >= 0 && int(q) < len(quantityNames) {
		return quantityNames[q]
	}
	return fmt.Sprintf("Quantity(%d)", int(q))
}

// Set implements flag.Value.
func (q *Quantity) Set(s string) error {
	v, err := ParseQuantity(s)
	if err == nil {
		*q = v
	}
	return err
}

// MarshalText writes the quantity's name.
func (q Quantity) MarshalText() ([]byte, error) { return []byte(q.String()), nil }

// UnmarshalText reads a quantity's name.
func (q *Quantity) UnmarshalText(b []byte) error { return q.Set(string(b)) }

// Weights writes into dst (len(logits)) the w with ∂q/∂f_k = w_k at the
// logits f for class c, so that ∂q/∂e = Σ_k w_k ∂f_k/∂e, and returns it.
func (q Quantity) Weights(dst, logits []float64, c int) []float64 {
	dst = resize(dst, len(logits))
	switch q {
	case LogProb:
		copy(dst, logits)
		Softmax(dst)
		for k := range dst {
			dst[k] = -dst[k]
		}
	case Centered:
		for k := range dst {
			dst[k] = -1 / float64(len(dst))
		}
	case Margin:
		clear(dst)
		dst[RunnerUp(logits, c)] = -1
	default:
		clear(dst)
	}
	dst[c]++
	return dst
}

// Value is q(f, c).
func (q Quantity) Value(logits []float64, c int) float64 {
	switch q {
	case LogProb:
		mx := math.Inf(-1)
		for _, v := range logits {
			mx = math.Max(mx, v)
		}
		s := 0.0
		for _, v := range logits {
			s += math.Exp(v - mx)
		}
		return logits[c] - mx - math.Log(s)
	case Centered:
		mean := 0.0
		for _, v := range logits {
			mean += v
		}
		return logits[c] - mean/float64(len(logits))
	case Margin:
		return logits[c] - logits[RunnerUp(logits, c)]
	}
	return logits[c]
}

// RunnerUp is the class other than c with the largest logit (the first on
// ties).
func RunnerUp(logits []float64, c int) int {
	r := -1
	for k, v := range logits {
		if k != c && (r < 0 || v > logits[r]) {
			r = k
		}
	}
	return max(r, 0)
}

// Softmax overwrites x with softmax(x) (the maximum subtracted first) and
// returns it.
func Softmax(x []float64) []float64 {
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

// QuantityGrad writes ∂q/∂e_m for every modality into dst (len Dims()[m]
// each): for the raw logit the head's ClassGrad, otherwise Σ_k w_k ∂f_k/∂e_m
// with the weights of Quantity.Weights.
func QuantityGrad(h Head, dst [Modalities][]float64, e [Modalities][]float64, q Quantity, c int) {
	if q == Logit {
		h.ClassGrad(dst, e, c)
		return
	}
	logits := h.Logits(nil, e)
	h.WeightedGrad(dst, e, q.Weights(nil, logits, c))
}

// GradInputOf is the Grad×Input attribution ∂q/∂e_m ⊙ e_m of quantity q
// for class c; GradInputOf(h, e, Logit, c) is GradInput(h, e, c).
func GradInputOf(h Head, e [Modalities][]float64, q Quantity, c int) [Modalities][]float64 {
	var g [Modalities][]float64
	for m := range g {
		g[m] = make([]float64, len(e[m]))
	}
	QuantityGrad(h, g, e, q, c)
	for m := range g {
		for i := range g[m] {
			g[m][i] *= e[m][i]
		}
	}
	return g
}
