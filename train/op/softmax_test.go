package op

import (
	"math"
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// softmaxLoss builds Σ r ⊙ f(x) for f = SoftMax or LogSoftMax and returns
// f(x), the loss and ∂loss/∂x.
func softmaxLoss(t *testing.T, log bool, x, r []float64, rows, k int) (y []float64, loss float64, dx []float64) {
	t.Helper()
	g := G.NewGraph()
	xn := G.NewMatrix(g, tensor.Float64, G.WithShape(rows, k), G.WithName("x"),
		G.WithValue(tensor.New(tensor.WithShape(rows, k), tensor.WithBacking(append([]float64(nil), x...)))))
	rn := G.NewMatrix(g, tensor.Float64, G.WithShape(rows, k), G.WithName("r"),
		G.WithValue(tensor.New(tensor.WithShape(rows, k), tensor.WithBacking(r))))
	f := SoftMax
	if log {
		f = LogSoftMax
	}
	return weightedGrad(t, g, xn, must(f(xn)), rn)
}

// TestSoftmaxValuesAndGradients checks both ops against the formula and
// central differences, on rows whose first logit is far the largest (where
// gorgonia's own SoftMax overflows).
func TestSoftmaxValuesAndGradients(t *testing.T) {
	const rows, k = 4, 5
	rng := rand.New(rand.NewPCG(2, 3))
	x, r := make([]float64, rows*k), make([]float64, rows*k)
	for i := range x {
		x[i], r[i] = rng.NormFloat64(), rng.NormFloat64()
	}
	x[k] += 120 // row 1: its first logit is its largest, by far more than exp's float32 range
	for _, log := range []bool{false, true} {
		y, _, dx := softmaxLoss(t, log, x, r, rows, k)
		for row := 0; row < rows; row++ {
			v := x[row*k : (row+1)*k]
			mx := math.Inf(-1)
			for _, a := range v {
				mx = math.Max(mx, a)
			}
			sum := 0.0
			for _, a := range v {
				sum += math.Exp(a - mx)
			}
			for j, a := range v {
				want := math.Exp(a-mx) / sum
				if log {
					want = a - mx - math.Log(sum)
				}
				if got := y[row*k+j]; math.Abs(got-want) > 1e-12*math.Max(1, math.Abs(want)) {
					t.Fatalf("log=%v [%d,%d] = %g, want %g", log, row, j, got, want)
				}
			}
		}
		const h = 1e-6
		for i := range x {
			old := x[i]
			x[i] = old + h
			_, up, _ := softmaxLoss(t, log, x, r, rows, k)
			x[i] = old - h
			_, down, _ := softmaxLoss(t, log, x, r, rows, k)
			x[i] = old
			if fd := (up - down) / (2 * h); math.Abs(fd-dx[i]) > 1e-6*math.Max(1, math.Abs(fd)) {
				t.Errorf("log=%v dx[%d] = %g, central difference %g", log, i, dx[i], fd)
			}
		}
	}
}

// TestGorgoniaSoftmaxOverflows documents why these ops exist: in float32,
// gorgonia's SoftMax of a row whose first logit is its largest by 100
// (after a row with small logits) is not finite, ours is.
func TestGorgoniaSoftmaxOverflows(t *testing.T) {
	x := []float32{0, 0, 0, 100, 0, 0}
	run := func(f func(*G.Node) (*G.Node, error)) []float64 {
		g := G.NewGraph()
		xn := G.NewMatrix(g, tensor.Float32, G.WithShape(2, 3), G.WithName("x"),
			G.WithValue(tensor.New(tensor.WithShape(2, 3), tensor.WithBacking(append([]float32(nil), x...)))))
		y := must(f(xn))
		vm := G.NewTapeMachine(g)
		defer vm.Close()
		if err := vm.RunAll(); err != nil {
			t.Fatal(err)
		}
		return Float64s(y.Value())
	}
	finite := func(v []float64) bool {
		for _, a := range v {
			if math.IsNaN(a) || math.IsInf(a, 0) {
				return false
			}
		}
		return true
	}
	theirs := run(func(n *G.Node) (*G.Node, error) { return G.SoftMax(n) })
	ours := run(SoftMax)
	if finite(theirs) {
		t.Logf("gorgonia's SoftMax is finite here now (%v): its bug may be fixed", theirs)
	}
	if !finite(ours) || math.Abs(ours[3]-1) > 1e-6 {
		t.Errorf("SoftMax = %v, want row 2 ≈ [1 0 0]", ours)
	}
}
