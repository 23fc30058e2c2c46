package attribution

import (
	"math"
	"math/rand/v2"
	"testing"
)

var quantities = []Quantity{Logit, LogProb, Centered, Margin}

// TestQuantityGradFiniteDifferences checks ∂q/∂e_m of every quantity and
// head against central differences of Value.
func TestQuantityGradFiniteDifferences(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, h := range heads() {
		for _, q := range quantities {
			e := [2][]float64{randVec(r, 3), randVec(r, 5)}
			g := [2][]float64{make([]float64, 3), make([]float64, 5)}
			const c = 1
			QuantityGrad(h, g, e, q, c)
			for m := range e {
				for i := range e[m] {
					const d = 1e-6
					x := e[m][i]
					e[m][i] = x + d
					up := q.Value(h.Logits(nil, e), c)
					e[m][i] = x - d
					down := q.Value(h.Logits(nil, e), c)
					e[m][i] = x
					if fd := (up - down) / (2 * d); math.Abs(fd-g[m][i]) > 1e-6 {
						t.Errorf("%T %v m=%d i=%d: grad %g, finite difference %g", h, q, m, i, g[m][i], fd)
					}
				}
			}
		}
	}
}

// TestQuantityShiftInvariance: adding the same amount to every logit moves
// the raw logit and none of the other quantities.
func TestQuantityShiftInvariance(t *testing.T) {
	f := []float64{0.3, -1.2, 2.0, 0.7}
	g := []float64{5.3, 3.8, 7.0, 5.7}
	for _, q := range quantities {
		moved := math.Abs(q.Value(f, 0)-q.Value(g, 0)) > 1e-12
		if moved != (q == Logit) {
			t.Errorf("%v: value %g at f, %g at f+5", q, q.Value(f, 0), q.Value(g, 0))
		}
	}
	if RunnerUp(f, 2) != 3 || RunnerUp(f, 0) != 2 {
		t.Errorf("runner-up of %v: %d for 2, %d for 0", f, RunnerUp(f, 2), RunnerUp(f, 0))
	}
}

// TestNetPoolIsTheContribution: for a linear head, the signed sum of a
// modality's Grad×Input is its part of the logit (completeness), and Net and
// NetAbs clip and fold it.
func TestNetPoolIsTheContribution(t *testing.T) {
	h := &Linear{W: [2][][]float64{{{1, 2}, {3, -4}}, {{-1, 0}, {0, 1}}}, B: []float64{0.5, 0.5}}
	e := [2][]float64{{1, 1}, {2, 1}}
	a := GradInput(h, e, 1) // audio: 2 − 4 = −2, video: 0 + 1 = 1
	if p := Pool(a, Net); p != [2]float64{0, 1} {
		t.Errorf("net %v, want [0 1]", p)
	}
	if p := Pool(a, NetAbs); p != [2]float64{2, 1} {
		t.Errorf("net-abs %v, want [2 1]", p)
	}
	for _, s := range []string{"l2", "l1", "net", "net-abs"} {
		n, err := ParseNorm(s)
		if err != nil || n.String() != s {
			t.Errorf("ParseNorm(%q) = %v, %v", s, n, err)
		}
	}
}
