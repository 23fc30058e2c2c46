package op

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// naiveConv is the textbook convolution in float64: the reference for
// Conv2D's forward pass and its finite differences.
func naiveConv(g Geom, x []float64, xs []int, w []float64, ws []int, b []float64) []float64 {
	bn, c, h, wd := xs[0], xs[1], xs[2], xs[3]
	cout := ws[0]
	ho, wo := g.OutSize(h, wd)
	y := make([]float64, bn*cout*ho*wo)
	for n := 0; n < bn; n++ {
		for o := 0; o < cout; o++ {
			for oh := 0; oh < ho; oh++ {
				for ow := 0; ow < wo; ow++ {
					s := 0.0
					if b != nil {
						s = b[o]
					}
					for ci := 0; ci < c; ci++ {
						for i := 0; i < g.KH; i++ {
							for j := 0; j < g.KW; j++ {
								ih, iw := oh*g.SH-g.PH+i, ow*g.SW-g.PW+j
								if ih < 0 || ih >= h || iw < 0 || iw >= wd {
									continue
								}
								s += x[((n*c+ci)*h+ih)*wd+iw] * w[((o*c+ci)*g.KH+i)*g.KW+j]
							}
						}
					}
					y[((n*cout+o)*ho+oh)*wo+ow] = s
				}
			}
		}
	}
	return y
}

type convCase struct {
	name       string
	xs, ws     []int
	g          Geom
	bias, relu bool
}

// convCases cover every kernel path: samples in groups (small outputs)
// and one at a time (outputs of groupCols positions or more: the large
// cases), im2col through the index table (outputs narrower than
// tableWidth) and by rows (the wide, large and narrow cases), col2im
// through the table (narrower than tableBackWidth) and by rows, the narrow
// kernels (the narrow cases, one with fewer output channels than a tile),
// strides 1, 2 and 3, padding, 1×1 kernels with and without their own
// im2col, and the fused ReLU.
var convCases = []convCase{
	{"3x3s2p1", []int{3, 2, 9, 8}, []int{4, 2, 3, 3}, Geom{3, 3, 2, 2, 1, 1}, true, false},
	{"3x3s2p1relu", []int{5, 2, 9, 8}, []int{4, 2, 3, 3}, Geom{3, 3, 2, 2, 1, 1}, true, true},
	{"3x3s1p1", []int{2, 3, 6, 7}, []int{5, 3, 3, 3}, Geom{3, 3, 1, 1, 1, 1}, false, false},
	{"7x7s2p3", []int{2, 3, 11, 10}, []int{4, 3, 7, 7}, Geom{7, 7, 2, 2, 3, 3}, false, false},
	{"1x1s2p0", []int{3, 4, 7, 6}, []int{3, 4, 1, 1}, Geom{1, 1, 2, 2, 0, 0}, false, false},
	{"1x1s1p0", []int{2, 4, 5, 3}, []int{6, 4, 1, 1}, Geom{1, 1, 1, 1, 0, 0}, true, false},
	{"3x2s1x2p0x1", []int{2, 2, 6, 9}, []int{3, 2, 3, 2}, Geom{3, 2, 1, 2, 0, 1}, true, false},
	{"3x3s3p1relu", []int{3, 2, 10, 11}, []int{3, 2, 3, 3}, Geom{3, 3, 3, 3, 1, 1}, false, true},
	{"3x3s2p1wide", []int{3, 2, 9, 50}, []int{3, 2, 3, 3}, Geom{3, 3, 2, 2, 1, 1}, true, true},
	{"7x7s2p3wide", []int{2, 2, 7, 48}, []int{3, 2, 7, 7}, Geom{7, 7, 2, 2, 3, 3}, false, false},
	{"3x3s3p1wide", []int{2, 2, 8, 75}, []int{2, 2, 3, 3}, Geom{3, 3, 3, 3, 1, 1}, true, false},
	{"3x3s1p1large", []int{3, 2, 24, 26}, []int{3, 2, 3, 3}, Geom{3, 3, 1, 1, 1, 1}, true, true},
	{"1x1s1p0large", []int{3, 2, 24, 26}, []int{3, 2, 1, 1}, Geom{1, 1, 1, 1, 0, 0}, true, false},
	{"3x3s2p1narrow", []int{3, 2, 5, 130}, []int{5, 2, 3, 3}, Geom{3, 3, 2, 2, 1, 1}, true, true},
	{"3x3s1p1narrow", []int{2, 3, 3, 66}, []int{3, 3, 3, 3}, Geom{3, 3, 1, 1, 1, 1}, false, false},
}

func casesNamed(names ...string) []convCase {
	var out []convCase
	for _, n := range names {
		for _, c := range convCases {
			if c.name == n {
				out = append(out, c)
			}
		}
	}
	return out
}

func relu64(y []float64) []float64 {
	for i, v := range y {
		y[i] = math.Max(v, 0)
	}
	return y
}

func randVals(r *rand.Rand, n int) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = r.NormFloat64()
	}
	return v
}

// The convolutions convGraphGrads builds.
const (
	ours        = iota // Conv2D, with the gradient of x
	oursNoInput        // Conv2D without it (Input false): only w and b
	theirs             // gorgonia's Conv2d (and Rectify)
)

// convGraphGrads builds loss = Σ r ⊙ (y² + y) for y = conv(x, w) (+ b) (and
// max(·, 0) for ReLU cases; the linear term makes the gradient at y = 0
// tell whether it is masked), with the convolution impl, and returns y, the
// loss and the gradients w.r.t. x (but for oursNoInput), w and b.
func convGraphGrads(t *testing.T, c convCase, impl int, x, w, b, r []float64) (y []float64, loss float64, grads [][]float64) {
	t.Helper()
	g := G.NewGraph()
	xn := G.NewTensor(g, tensor.Float64, 4, G.WithShape(c.xs...), G.WithName("x"),
		G.WithValue(tensor.New(tensor.WithShape(c.xs...), tensor.WithBacking(append([]float64(nil), x...)))))
	wn := G.NewTensor(g, tensor.Float64, 4, G.WithShape(c.ws...), G.WithName("w"),
		G.WithValue(tensor.New(tensor.WithShape(c.ws...), tensor.WithBacking(append([]float64(nil), w...)))))
	wrt := G.Nodes{xn, wn}
	if impl == oursNoInput {
		wrt = wrt[1:]
	}
	var bn *G.Node
	if c.bias {
		bn = G.NewVector(g, tensor.Float64, G.WithShape(c.ws[0]), G.WithName("b"),
			G.WithValue(tensor.New(tensor.WithShape(c.ws[0]), tensor.WithBacking(append([]float64(nil), b...)))))
		wrt = append(wrt, bn)
	}
	var yn *G.Node
	var err error
	if impl != theirs {
		yn, err = Conv2D(xn, wn, bn, c.g, ConvOptions{ReLU: c.relu, Input: impl == ours})
	} else {
		yn, err = G.Conv2d(xn, wn, tensor.Shape{c.g.KH, c.g.KW}, []int{c.g.PH, c.g.PW}, []int{c.g.SH, c.g.SW}, []int{1, 1})
		if err == nil && bn != nil {
			yn, err = G.BroadcastAdd(yn, bn, nil, []byte{0, 2, 3})
		}
		if err == nil && c.relu {
			yn, err = G.Rectify(yn)
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	rn := G.NewTensor(g, tensor.Float64, 4, G.WithShape(yn.Shape()...), G.WithName("r"),
		G.WithValue(tensor.New(tensor.WithShape(yn.Shape()...), tensor.WithBacking(r))))
	// Read y as soon as it is computed: the tape machine may reuse its
	// register later.
	var yv G.Value
	G.Read(yn, &yv)
	ln := must(G.Sum(must(G.HadamardProd(rn, must(G.Add(must(G.Square(yn)), yn))))))
	for _, n := range runGrad(t, g, ln, wrt...) {
		grads = append(grads, Float64s(n.Value()))
	}
	return append([]float64(nil), yv.Data().([]float64)...), Float64s(ln.Value())[0], grads
}

func maxRelDiff(a, b []float64) float64 {
	scale, d := 0.0, 0.0
	for i := range a {
		scale = math.Max(scale, math.Abs(b[i]))
		d = math.Max(d, math.Abs(a[i]-b[i]))
	}
	return d / math.Max(scale, 1e-300)
}

// TestConv2dMatchesGorgoniaAndFiniteDifferences runs every case on one
// and on two cores (other sample groups, two workers' partial sums), with
// and without the forward pass's columns kept for the filter gradient.
func TestConv2dMatchesGorgoniaAndFiniteDifferences(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	defer func(v int) { maxCachedCols = v }(maxCachedCols)
	for _, procs := range []int{1, 2} {
		runtime.GOMAXPROCS(procs)
		maxCachedCols = 96 << 20
		t.Run(fmt.Sprintf("procs%d/cached", procs), testConv2dGradients)
		maxCachedCols = 0 // the filter gradient runs its own im2col
		t.Run(fmt.Sprintf("procs%d/uncached", procs), testConv2dGradients)
	}
}

func testConv2dGradients(t *testing.T) {
	for _, c := range convCases {
		t.Run(c.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(3, uint64(len(c.name))))
			x, w := randVals(r, prod(c.xs)), randVals(r, prod(c.ws))
			var b []float64
			if c.bias {
				b = randVals(r, c.ws[0])
			}
			ref := naiveConv(c.g, x, c.xs, w, c.ws, b)
			if c.relu {
				ref = relu64(ref)
			}
			rw := randVals(r, len(ref))
			y, _, got := convGraphGrads(t, c, ours, x, w, b, rw)
			if d := maxRelDiff(y, ref); d > 1e-12 {
				t.Fatalf("forward differs from the naive convolution by %.3g (relative)", d)
			}
			yg, _, want := convGraphGrads(t, c, theirs, x, w, b, rw)
			if d := maxRelDiff(yg, ref); d > 1e-12 {
				t.Fatalf("gorgonia's Conv2d differs from the naive convolution by %.3g", d)
			}
			names := []string{"dx", "dw", "db"}
			for k := range got {
				if d := maxRelDiff(got[k], want[k]); d > 1e-12 {
					t.Errorf("%s differs from gorgonia's by %.3g (relative)", names[k], d)
				}
			}
			// Without dx the filter and bias gradients take their own path
			// for the narrow kernels.
			_, _, params := convGraphGrads(t, c, oursNoInput, x, w, b, rw)
			for k := range params {
				if d := maxRelDiff(params[k], want[k+1]); d > 1e-12 {
					t.Errorf("%s without dx differs from gorgonia's by %.3g (relative)", names[k+1], d)
				}
			}
			// Central differences of loss(x, w, b) = Σ r ⊙ (y² + y), y = conv(x, w, b)
			// on a sample of coordinates of every input.
			lossAt := func(x, w, b []float64) float64 {
				s := 0.0
				for i, v := range naiveConv(c.g, x, c.xs, w, c.ws, b) {
					if c.relu {
						v = math.Max(v, 0)
					}
					s += rw[i] * (v*v + v)
				}
				return s
			}
			vars := [][]float64{x, w, b}
			const h = 1e-5
			for k, v := range vars[:len(got)] {
				for trial := 0; trial < 12; trial++ {
					i := r.IntN(len(v))
					old := v[i]
					v[i] = old + h
					lp := lossAt(x, w, b)
					v[i] = old - h
					lm := lossAt(x, w, b)
					v[i] = old
					fd := (lp - lm) / (2 * h)
					if diff := math.Abs(fd - got[k][i]); diff > 1e-6*math.Max(1, math.Abs(fd)) {
						t.Errorf("%s[%d] = %.10g, central difference %.10g", names[k], i, got[k][i], fd)
					}
				}
			}
		})
	}
}

// TestConv2dFloat32 checks the float32 path against the float64 one.
func TestConv2dFloat32(t *testing.T) {
	c := convCases[0]
	r := rand.New(rand.NewPCG(5, 5))
	x, w, b := randVals(r, prod(c.xs)), randVals(r, prod(c.ws)), randVals(r, c.ws[0])
	ref := naiveConv(c.g, x, c.xs, w, c.ws, b)
	f32 := func(v []float64) *tensor.Dense {
		o := make([]float32, len(v))
		for i, x := range v {
			o[i] = float32(x)
		}
		return tensor.New(tensor.WithShape(len(v)), tensor.WithBacking(o))
	}
	xt, wt := f32(x), f32(w)
	if err := xt.Reshape(c.xs...); err != nil {
		t.Fatal(err)
	}
	if err := wt.Reshape(c.ws...); err != nil {
		t.Fatal(err)
	}
	op := &conv2dOp{geom: c.g, bias: true}
	y, err := op.Do(xt, wt, f32(b))
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range y.Data().([]float32) {
		if math.Abs(float64(v)-ref[i]) > 1e-4*math.Max(1, math.Abs(ref[i])) {
			t.Fatalf("y[%d] = %g, want %g", i, v, ref[i])
		}
	}
}

// convDirect runs convForward and convBackward on one case (bias always,
// the case's ReLU), with the forward pass's columns kept, and returns y
// and the gradients dx (nil without withDx), dw and db for dy.
func convDirect[T float32 | float64](c convCase, x, w, b, dy []T, withDx bool) (y, dx, dw, db []T) {
	s := newConvShape(c.g, c.xs, c.ws)
	var idx colIndex
	var work, bwork scratch
	cache := colCache{on: true}
	y = make([]T, s.n*s.cout*s.hw)
	convForward(s, idx.of(s), &work, keepCols(&cache, x, s.colLen()), x, w, b, y, c.relu)
	var ym []T
	if c.relu {
		ym = y
	}
	if withDx {
		dx = make([]T, len(x))
	}
	dw, db = make([]T, len(w)), make([]T, len(b))
	convBackward(s, idx.of(s), &bwork, takeCols(&cache, x, s.colLen()), x, w, ym, dy, dx, dw, db)
	return y, dx, dw, db
}

// TestConvFloat32MatchesFloat64 checks every case's float32 kernels, with
// and without dx, against the float64 ones.
func TestConvFloat32MatchesFloat64(t *testing.T) {
	to32 := func(v []float64) []float32 {
		o := make([]float32, len(v))
		for i, x := range v {
			o[i] = float32(x)
		}
		return o
	}
	to64 := func(v []float32) []float64 {
		o := make([]float64, len(v))
		for i, x := range v {
			o[i] = float64(x)
		}
		return o
	}
	for _, c := range convCases {
		r := rand.New(rand.NewPCG(7, uint64(len(c.name))))
		s := newConvShape(c.g, c.xs, c.ws)
		x, w, b, dy := randVals(r, prod(c.xs)), randVals(r, prod(c.ws)), randVals(r, c.ws[0]), randVals(r, s.n*s.cout*s.hw)
		for _, withDx := range []bool{false, true} {
			y64, dx64, dw64, db64 := convDirect(c, x, w, b, dy, withDx)
			y32, dx32, dw32, db32 := convDirect(c, to32(x), to32(w), to32(b), to32(dy), withDx)
			for k, p := range [][2][]float64{{y64, to64(y32)}, {dx64, to64(dx32)}, {dw64, to64(dw32)}, {db64, to64(db32)}} {
				if d := maxRelDiff(p[1], p[0]); d > 1e-5 {
					t.Errorf("%s dx=%t: float32 %s differs from float64 by %.3g (relative)", c.name, withDx, []string{"y", "dx", "dw", "db"}[k], d)
				}
			}
		}
	}
}

// TestConv2dNoInputGrad checks that gradX=false leaves the input out of
// the backward pass and still gives the filter's gradient.
func TestConv2dNoInputGrad(t *testing.T) {
	c := convCases[0]
	g := G.NewGraph()
	xn := G.NewTensor(g, tensor.Float64, 4, G.WithShape(c.xs...), G.WithName("x"))
	wn := G.NewTensor(g, tensor.Float64, 4, G.WithShape(c.ws...), G.WithName("w"), G.WithInit(G.GlorotN(1)))
	y := must(Conv2D(xn, wn, nil, c.g, ConvOptions{}))
	grads, err := G.Grad(must(G.Sum(y)), wn)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range g.AllNodes() {
		if op, ok := n.Op().(*convBackwardOp); ok && op.gradX {
			t.Fatalf("graph has an input gradient: %v", n)
		}
	}
	if err := G.Let(xn, tensor.New(tensor.WithShape(c.xs...), tensor.WithBacking(make([]float64, prod(c.xs))))); err != nil {
		t.Fatal(err)
	}
	vm := G.NewTapeMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	if len(Float64s(grads[0].Value())) != prod(c.ws) {
		t.Fatal("no filter gradient")
	}
}

// TestReluOp checks relu's value and gradient (dy where x > 0, else 0) on
// a tensor large enough to be split over the cores.
func TestReluOp(t *testing.T) {
	const n = 1 << 16
	r := rand.New(rand.NewPCG(9, 9))
	x, dyv := randVals(r, n), randVals(r, n)
	g := G.NewGraph()
	xn := G.NewVector(g, tensor.Float64, G.WithShape(n), G.WithName("x"), G.WithValue(tensor.New(tensor.WithBacking(x))))
	dn := G.NewVector(g, tensor.Float64, G.WithShape(n), G.WithName("dy"), G.WithValue(tensor.New(tensor.WithBacking(dyv))))
	ys, _, dx := weightedGrad(t, g, xn, must(ReLU(xn)), dn)
	for i, v := range x {
		want, wantD := 0.0, 0.0
		if v > 0 {
			want, wantD = v, dyv[i]
		}
		if ys[i] != want || dx[i] != wantD {
			t.Fatalf("x=%g: relu %g grad %g, want %g %g", v, ys[i], dx[i], want, wantD)
		}
	}
}

// weightedGrad runs graph g and returns y's value, the loss Σ r ⊙ y and
// ∂loss/∂x.
func weightedGrad(t *testing.T, g *G.ExprGraph, x, y, r *G.Node) (yv []float64, loss float64, dx []float64) {
	t.Helper()
	var v G.Value
	G.Read(y, &v)
	ln := must(G.Sum(must(G.HadamardProd(r, y))))
	gr := runGrad(t, g, ln, x)
	return Float64s(v), Float64s(ln.Value())[0], Float64s(gr[0].Value())
}

// runGrad adds ∂loss/∂wrt to g, runs g once and returns the gradient nodes.
func runGrad(t *testing.T, g *G.ExprGraph, loss *G.Node, wrt ...*G.Node) G.Nodes {
	t.Helper()
	gr, err := G.Grad(loss, wrt...)
	if err != nil {
		t.Fatal(err)
	}
	vm := G.NewTapeMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	return gr
}

func must(n *G.Node, err error) *G.Node {
	if err != nil {
		panic(err)
	}
	return n
}

func prod(s []int) int {
	p := 1
	for _, x := range s {
		p *= x
	}
	return p
}

// TestConv2dRunsAgain checks that a second run of the same graph, whose
// ops reuse their outputs and work buffers, gives what a fresh graph gives
// for its new input: nothing of the first run's values is left over.
func TestConv2dRunsAgain(t *testing.T) {
	for _, c := range casesNamed("3x3s2p1relu", "3x3s2p1wide", "3x3s1p1large", "1x1s1p0large") {
		t.Run(c.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(11, 11))
			x1, x2 := randVals(r, prod(c.xs)), randVals(r, prod(c.xs))
			w, b := randVals(r, prod(c.ws)), randVals(r, c.ws[0])
			g := G.NewGraph()
			xn := G.NewTensor(g, tensor.Float64, 4, G.WithShape(c.xs...), G.WithName("x"))
			wn := G.NewTensor(g, tensor.Float64, 4, G.WithShape(c.ws...), G.WithName("w"),
				G.WithValue(tensor.New(tensor.WithShape(c.ws...), tensor.WithBacking(w))))
			bn := G.NewVector(g, tensor.Float64, G.WithShape(c.ws[0]), G.WithName("b"),
				G.WithValue(tensor.New(tensor.WithShape(c.ws[0]), tensor.WithBacking(b))))
			yn := must(Conv2D(xn, wn, bn, c.g, ConvOptions{ReLU: c.relu, Input: true}))
			rw := randVals(r, yn.Shape().TotalSize())
			rn := G.NewTensor(g, tensor.Float64, 4, G.WithShape(yn.Shape()...), G.WithName("r"),
				G.WithValue(tensor.New(tensor.WithShape(yn.Shape()...), tensor.WithBacking(rw))))
			gn, err := G.Grad(must(G.Sum(must(G.HadamardProd(rn, must(G.Add(must(G.Square(yn)), yn)))))), xn, wn, bn)
			if err != nil {
				t.Fatal(err)
			}
			vm := G.NewTapeMachine(g)
			defer vm.Close()
			var got [][]float64
			for _, x := range [][]float64{x1, x2} {
				if err := G.Let(xn, tensor.New(tensor.WithShape(c.xs...), tensor.WithBacking(append([]float64(nil), x...)))); err != nil {
					t.Fatal(err)
				}
				if err := vm.RunAll(); err != nil {
					t.Fatal(err)
				}
				vm.Reset()
				got = got[:0]
				for _, n := range gn {
					got = append(got, Float64s(n.Value()))
				}
			}
			_, _, want := convGraphGrads(t, c, ours, x2, w, b, rw)
			for k := range want {
				if d := maxRelDiff(got[k], want[k]); d != 0 {
					t.Errorf("gradient %d of the second run differs from a fresh graph's by %.3g", k, d)
				}
			}
		})
	}
}

// TestConvCasesCoverEveryPath guards the claim of convCases' comment.
func TestConvCasesCoverEveryPath(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	seen := map[string]bool{}
	for _, c := range convCases {
		s := newConvShape(c.g, c.xs, c.ws)
		seen[fmt.Sprintf("table=%t grouped=%t", s.table, s.group > 1)] = true
		seen[fmt.Sprintf("table=%t tableBack=%t", s.table, s.tableBack)] = true
		seen[fmt.Sprintf("alias=%t", s.aliasesInput(s.group))] = true
		seen[fmt.Sprintf("narrow=%t", s.narrow)] = true
	}
	for _, want := range []string{"table=true grouped=true", "table=false grouped=true", "table=false grouped=false", "alias=true", "alias=false", "narrow=true", "narrow=false",
		"table=true tableBack=true", "table=true tableBack=false", "table=false tableBack=false"} {
		if !seen[want] {
			t.Errorf("no case with %s", want)
		}
	}
}
