package attribution

import (
	"math"
	"math/rand/v2"
	"testing"
)

func randMat(r *rand.Rand, rows, cols int) [][]float64 {
	m := make([][]float64, rows)
	for i := range m {
		m[i] = make([]float64, cols)
		for j := range m[i] {
			m[i][j] = r.NormFloat64()
		}
	}
	return m
}

func randVec(r *rand.Rand, n int) []float64 { return randMat(r, 1, n)[0] }

func heads() []Head {
	r := rand.New(rand.NewPCG(1, 2))
	return []Head{
		&Linear{W: [2][][]float64{randMat(r, 3, 4), randMat(r, 5, 4)}, B: randVec(r, 4)},
		&Sum{W: [2][][]float64{randMat(r, 3, 4), randMat(r, 5, 4)}, B: [2][]float64{randVec(r, 4), randVec(r, 4)}},
		&MLP{W1: [2][][]float64{randMat(r, 3, 6), randMat(r, 5, 6)}, B1: randVec(r, 6), W2: randMat(r, 6, 4), B2: randVec(r, 4)},
	}
}

// TestClassGradFiniteDifferences checks every head's ∂f_c/∂e_m.
func TestClassGradFiniteDifferences(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, h := range heads() {
		e := [2][]float64{randVec(r, 3), randVec(r, 5)}
		g := [2][]float64{make([]float64, 3), make([]float64, 5)}
		h.ClassGrad(g, e, 2)
		for m := range e {
			for i := range e[m] {
				const d = 1e-6
				x := e[m][i]
				e[m][i] = x + d
				up := h.Logits(nil, e)[2]
				e[m][i] = x - d
				down := h.Logits(nil, e)[2]
				e[m][i] = x
				if fd := (up - down) / (2 * d); math.Abs(fd-g[m][i]) > 1e-6 {
					t.Errorf("%T m=%d i=%d: grad %g, finite difference %g", h, m, i, g[m][i], fd)
				}
			}
		}
	}
}

// TestIGCompleteness: Σ IG = f_c(e) − f_c(baseline), exactly for linear
// heads and up to quadrature error for the MLP.
func TestIGCompleteness(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, h := range heads() {
		e := [2][]float64{randVec(r, 3), randVec(r, 5)}
		base := [2][]float64{randVec(r, 3), randVec(r, 5)}
		ig, err := HeadIG(h, e, base, Logit, 1, 256)
		if err != nil {
			t.Fatal(err)
		}
		sum := 0.0
		for m := range ig {
			for _, v := range ig[m] {
				sum += v
			}
		}
		want := h.Logits(nil, e)[1] - h.Logits(nil, base)[1]
		if math.Abs(sum-want) > 1e-3*math.Max(1, math.Abs(want)) {
			t.Errorf("%T: Σ IG %g, f(x)−f(b) %g", h, sum, want)
		}
	}
}

func TestSharesAndPenalty(t *testing.T) {
	a := Pool([2][]float64{{3, 4}, {-1, 1}}, L2)
	if math.Abs(a[0]-5) > 1e-12 || math.Abs(a[1]-math.Sqrt2) > 1e-12 {
		t.Fatalf("pool %v", a)
	}
	if a := Pool([2][]float64{{3, -4}, {-1, 1}}, L1); a != [2]float64{7, 2} {
		t.Fatalf("L1 pool %v", a)
	}
	s := Shares([2]float64{3, 1})
	if s != [2]float64{0.75, 0.25} {
		t.Fatalf("shares %v", s)
	}
	if p := Penalty(s, [2]float64{0.5, 0.5}); math.Abs(p-0.5) > 1e-12 {
		t.Fatalf("penalty %g", p)
	}
	if s := Shares([2]float64{}); s != [2]float64{0.5, 0.5} {
		t.Fatalf("zero shares %v", s)
	}
}
