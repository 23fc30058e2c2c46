package op

import (
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// poolGraph returns y = pool(x) and ∂(Σ r ⊙ y)/∂x, with our op or with
// gorgonia's Reshape + Mean.
func poolGraph(t *testing.T, dt tensor.Dtype, ours bool, xs []int, x, r any) (y, dx []float64) {
	t.Helper()
	g := G.NewGraph()
	xn := G.NewTensor(g, dt, 4, G.WithShape(xs...), G.WithName("x"), G.WithValue(tensor.New(tensor.WithShape(xs...), tensor.WithBacking(x))))
	var yn *G.Node
	if ours {
		yn = must(GlobalAvgPool(xn))
	} else {
		yn = must(G.Mean(must(G.Reshape(xn, tensor.Shape{xs[0], xs[1], xs[2] * xs[3]})), 2))
	}
	rn := G.NewMatrix(g, dt, G.WithShape(xs[0], xs[1]), G.WithName("r"), G.WithValue(tensor.New(tensor.WithShape(xs[0], xs[1]), tensor.WithBacking(r))))
	y, _, dx = weightedGrad(t, g, xn, yn, rn)
	return y, dx
}

// TestGlobalAvgPoolMatchesGorgonia checks values and gradients bit for bit
// against Reshape + Mean, in float32 and float64, on one and two cores.
func TestGlobalAvgPoolMatchesGorgonia(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	xs := []int{3, 5, 7, 6}
	rg := rand.New(rand.NewPCG(4, 4))
	x64, r64 := randVals(rg, prod(xs)), randVals(rg, xs[0]*xs[1])
	x32, r32 := make([]float32, len(x64)), make([]float32, len(r64))
	for i, v := range x64 {
		x32[i] = float32(v)
	}
	for i, v := range r64 {
		r32[i] = float32(v)
	}
	for _, procs := range []int{1, 2} {
		runtime.GOMAXPROCS(procs)
		for _, c := range []struct {
			dt   tensor.Dtype
			x, r func() any
		}{
			{tensor.Float64, func() any { return slices.Clone(x64) }, func() any { return slices.Clone(r64) }},
			{tensor.Float32, func() any { return slices.Clone(x32) }, func() any { return slices.Clone(r32) }},
		} {
			y, dx := poolGraph(t, c.dt, true, xs, c.x(), c.r())
			wy, wdx := poolGraph(t, c.dt, false, xs, c.x(), c.r())
			if !slices.Equal(y, wy) || !slices.Equal(dx, wdx) {
				t.Errorf("%v, %d cores: pool or its gradient differs from Reshape+Mean", c.dt, procs)
			}
		}
	}
	// And the gradient is what it should be: r/(H·W) at every position.
	_, dx := poolGraph(t, tensor.Float64, true, xs, slices.Clone(x64), slices.Clone(r64))
	hw := xs[2] * xs[3]
	for i, v := range dx {
		if want := r64[i/hw] / float64(hw); v != want {
			t.Fatalf("dx[%d] = %g, want %g", i, v, want)
		}
	}
}

// groupMeanGraph returns y = mean over groups of n rows of x [G·n,E] as the
// node's value after forward and backward ran (what the trainer reads), and
// ∂(Σ r ⊙ y)/∂x; with our op or with gorgonia's Reshape + Mean.
func groupMeanGraph(t *testing.T, ours bool, n int, xs []int, x, r []float64) (y, dx []float64) {
	t.Helper()
	g := G.NewGraph()
	xn := G.NewMatrix(g, tensor.Float64, G.WithShape(xs...), G.WithName("x"), G.WithValue(tensor.New(tensor.WithShape(xs...), tensor.WithBacking(x))))
	var yn *G.Node
	if ours {
		yn = must(GroupMean(xn, n))
	} else {
		yn = must(G.Mean(must(G.Reshape(xn, tensor.Shape{xs[0] / n, n, xs[1]})), 1))
	}
	rn := G.NewMatrix(g, tensor.Float64, G.WithShape(xs[0]/n, xs[1]), G.WithName("r"), G.WithValue(tensor.New(tensor.WithShape(xs[0]/n, xs[1]), tensor.WithBacking(r))))
	_, _, dx = weightedGrad(t, g, xn, yn, rn)
	return Float64s(yn.Value()), dx
}

// TestGroupMean checks the op's value after a backward pass and its
// gradient against the definition, and shows why it exists: after the
// backward pass, gorgonia's Mean node holds its value divided by n again.
func TestGroupMean(t *testing.T) {
	const n = 3
	xs := []int{4 * n, 5}
	rg := rand.New(rand.NewPCG(5, 5))
	x, r := randVals(rg, prod(xs)), randVals(rg, xs[0]/n*xs[1])
	want := make([]float64, len(r))
	for gi := 0; gi < xs[0]/n; gi++ {
		for f := 0; f < n; f++ {
			for i := 0; i < xs[1]; i++ {
				want[gi*xs[1]+i] += x[(gi*n+f)*xs[1]+i] / n
			}
		}
	}
	y, dx := groupMeanGraph(t, true, n, xs, slices.Clone(x), slices.Clone(r))
	for i := range want {
		if math.Abs(y[i]-want[i]) > 1e-12 {
			t.Fatalf("y[%d] = %g, want %g", i, y[i], want[i])
		}
	}
	for i, v := range dx {
		row, col := i/xs[1], i%xs[1]
		if w := r[row/n*xs[1]+col] / n; math.Abs(v-w) > 1e-15 {
			t.Fatalf("dx[%d] = %g, want %g", i, v, w)
		}
	}
	gy, _ := groupMeanGraph(t, false, n, xs, slices.Clone(x), slices.Clone(r))
	if math.Abs(gy[0]-want[0]/n) > 1e-12 {
		t.Logf("gorgonia's Mean now keeps its value after backward (%g, mean %g): GroupMean may no longer be needed", gy[0], want[0])
	}
}
