package train

import (
	"fmt"
	"hash"
	"hash/fnv"
	"math"
	"runtime"
	"sync"
	"unsafe"

	"github.com/chewxy/hm"
	"gonum.org/v1/gonum/blas"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// This file is a 2-D convolution of our own for gorgonia (see "BLAS for
// training" in DESIGN.md): gorgonia's Conv2d reorders every output from
// NHWC to NCHW element by element, fills im2col one scalar at a time, runs
// col2im on one core and allocates a few GB per step. Here each sample is
// one BLAS gemm, W[Cout,C·k·k] · col[C·k·k,Ho·Wo], which is that sample's
// NCHW output; the samples are split into one block per core, each worker
// running im2col (row copies), its gemms and col2im for its samples, with a
// single-threaded BLAS (blas_openblas.go sets OpenBLAS to one thread), and
// the im2col buffers are kept by the op and reused from step to step. The gradients are exact (conv_test.go checks
// them against central finite differences and against gorgonia's Conv2d):
//
//	dW  = Σ_b dy_b · col_bᵀ
//	dx_b = col2im(Wᵀ · dy_b)
//	db  = Σ_{b,h,w} dy
//
// There is no second derivative (none is needed: attr-reg builds ∂f_c/∂e as
// graph ops of the head).

// convGeom is a convolution's kernel size, stride and zero padding
// (dilation 1, no groups).
type convGeom struct {
	kh, kw, sh, sw, ph, pw int
}

func (g convGeom) outSize(h, w int) (int, int) {
	return (h+2*g.ph-g.kh)/g.sh + 1, (w+2*g.pw-g.kw)/g.sw + 1
}

func (g convGeom) String() string {
	return fmt.Sprintf("%dx%d/s%dx%d/p%dx%d", g.kh, g.kw, g.sh, g.sw, g.ph, g.pw)
}

// conv2d applies the convolution of x [B,C,H,W] with w [Cout,C,kh,kw] and,
// if b is not nil, adds the bias b [Cout]. With gradX false no gradient is
// computed for x (use it when x is data nobody differentiates against: it
// saves the most expensive col2im of the network).
func conv2d(x, w, b *G.Node, g convGeom, gradX bool) (*G.Node, error) {
	return (&conv2dOp{geom: g, gradX: gradX}).apply(x, w, b)
}

// apply adds the op to x's graph (b may be nil).
func (op *conv2dOp) apply(x, w, b *G.Node) (*G.Node, error) {
	g := op.geom
	xs, ws := x.Shape(), w.Shape()
	if len(xs) != 4 || len(ws) != 4 || xs[1] != ws[1] || ws[2] != g.kh || ws[3] != g.kw {
		return nil, fmt.Errorf("conv2d: input %v and filter %v do not match kernel %s", xs, ws, g)
	}
	if ho, wo := g.outSize(xs[2], xs[3]); ho < 1 || wo < 1 {
		return nil, fmt.Errorf("conv2d: input %v is smaller than kernel %s", xs, g)
	}
	op.bias = b != nil
	if b != nil {
		if bs := b.Shape(); len(bs) != 1 || bs[0] != ws[0] {
			return nil, fmt.Errorf("conv2d: bias %v for %d output channels", bs, ws[0])
		}
		return G.ApplyOp(op, x, w, b)
	}
	return G.ApplyOp(op, x, w)
}

// opBase holds what the convolution ops share.
type opBase struct{ name string }

func (op *opBase) ReturnsPtr() bool     { return false }
func (op *opBase) CallsExtern() bool    { return false }
func (op *opBase) OverwritesInput() int { return -1 }
func (op *opBase) String() string       { return op.name }

func hashOf(op interface{ WriteHash(hash.Hash) }) uint32 {
	h := fnv.New32a()
	op.WriteHash(h)
	return h.Sum32()
}

func shapeArg(d G.DimSizer, name string, dims int) (tensor.Shape, error) {
	s, ok := d.(tensor.Shape)
	if !ok || len(s) != dims {
		return nil, fmt.Errorf("%s: shape %v, want %d dims", name, d, dims)
	}
	return s, nil
}

func tensorType(dims int) G.TensorType { return G.TensorType{Dims: dims, Of: hm.TypeVariable('a')} }

// denseArgs checks that every input is a dense tensor of dtype float32 or
// float64, all of the same dtype.
func denseArgs(name string, in []G.Value) ([]*tensor.Dense, error) {
	out := make([]*tensor.Dense, len(in))
	for i, v := range in {
		t, ok := v.(*tensor.Dense)
		if !ok {
			return nil, fmt.Errorf("%s: input %d is %T, want a dense tensor", name, i, v)
		}
		if dt := t.Dtype(); dt != tensor.Float32 && dt != tensor.Float64 || i > 0 && dt != out[0].Dtype() {
			return nil, fmt.Errorf("%s: input %d has dtype %v", name, i, dt)
		}
		out[i] = t
	}
	return out, nil
}

// conv2dOp is the forward convolution: (x, w[, b]) → y.
type conv2dOp struct {
	geom  convGeom
	bias  bool
	gradX bool // gradient for the input
	// noGradW drops the gradients of the filter and bias (graphs that
	// differentiate with respect to the inputs only).
	noGradW bool
	cols    scratch
	cache   colCache
}

// colCache keeps the forward pass's im2col matrices of a whole batch for
// the filter gradient of the same run (when they fit in maxCachedCols
// bytes), which then skips its own im2col.
type colCache struct {
	on  bool // a filter gradient reads it
	buf scratch
	x   unsafe.Pointer // first element of the input the columns are of; nil: not valid
}

var maxCachedCols = 96 << 20 // a variable for tests

// keep returns the batch-sized buffer to fill for input x, or nil when the
// columns are not cached.
func keepCols[T float32 | float64](c *colCache, x []T, n int) []T {
	var z T
	if !c.on || n*int(unsafe.Sizeof(z)) > maxCachedCols {
		c.x = nil
		return nil
	}
	c.x = unsafe.Pointer(unsafe.SliceData(x))
	return scratchOf[T](&c.buf, n)
}

// take returns the columns kept for input x (nil if none) and invalidates them.
func takeCols[T float32 | float64](c *colCache, x []T, n int) []T {
	if c == nil || c.x == nil || c.x != unsafe.Pointer(unsafe.SliceData(x)) {
		return nil
	}
	c.x = nil
	return scratchOf[T](&c.buf, n)
}

func (op *conv2dOp) Arity() int {
	if op.bias {
		return 3
	}
	return 2
}

func (op *conv2dOp) Type() hm.Type {
	if op.bias {
		return hm.NewFnType(tensorType(4), tensorType(4), tensorType(1), tensorType(4))
	}
	return hm.NewFnType(tensorType(4), tensorType(4), tensorType(4))
}

func (op *conv2dOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	xs, err := shapeArg(in[0], "conv2d input", 4)
	if err != nil {
		return nil, err
	}
	ws, err := shapeArg(in[1], "conv2d filter", 4)
	if err != nil {
		return nil, err
	}
	ho, wo := op.geom.outSize(xs[2], xs[3])
	return tensor.Shape{xs[0], ws[0], ho, wo}, nil
}

func (op *conv2dOp) ReturnsPtr() bool     { return false }
func (op *conv2dOp) CallsExtern() bool    { return false }
func (op *conv2dOp) OverwritesInput() int { return -1 }
func (op *conv2dOp) String() string       { return "conv2d" + op.geom.String() }
func (op *conv2dOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "conv2d %s bias=%t gradx=%t nogradw=%t", op.geom, op.bias, op.gradX, op.noGradW)
}
func (op *conv2dOp) Hashcode() uint32 { return hashOf(op) }

func (op *conv2dOp) Do(in ...G.Value) (G.Value, error) {
	t, err := denseArgs("conv2d", in)
	if err != nil {
		return nil, err
	}
	xs, ws := t[0].Shape(), t[1].Shape()
	ho, wo := op.geom.outSize(xs[2], xs[3])
	y := tensor.New(tensor.Of(t[0].Dtype()), tensor.WithShape(xs[0], ws[0], ho, wo))
	var bias any
	if op.bias {
		bias = t[2].Data()
	}
	switch x := t[0].Data().(type) {
	case []float32:
		var b []float32
		if bias != nil {
			b = bias.([]float32)
		}
		convForward(&op.cols, keepCols(&op.cache, x, op.colLen(xs)), op.geom, x, xs, t[1].Data().([]float32), ws, b, y.Data().([]float32))
	case []float64:
		var b []float64
		if bias != nil {
			b = bias.([]float64)
		}
		convForward(&op.cols, keepCols(&op.cache, x, op.colLen(xs)), op.geom, x, xs, t[1].Data().([]float64), ws, b, y.Data().([]float64))
	}
	return y, nil
}

// colLen is the size of the im2col matrices of a batch of inputs of shape
// xs (0 for a direct kernel, which needs none).
func (op *conv2dOp) colLen(xs tensor.Shape) int {
	if op.geom.direct() {
		return 0
	}
	ho, wo := op.geom.outSize(xs[2], xs[3])
	return xs[0] * xs[1] * op.geom.kh * op.geom.kw * ho * wo
}

// DiffWRT implements G.SDOp.
func (op *conv2dOp) DiffWRT(n int) []bool {
	d := []bool{op.gradX, !op.noGradW, !op.noGradW}
	return d[:n]
}

// SymDiff implements G.SDOp.
func (op *conv2dOp) SymDiff(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	if len(in) != op.Arity() {
		return nil, fmt.Errorf("conv2d: %d inputs, want %d", len(in), op.Arity())
	}
	x, w := in[0], in[1]
	out := make(G.Nodes, len(in))
	var err error
	if op.gradX {
		gx := &convGradInputOp{opBase: opBase{"conv2d_dx" + op.geom.String()}, geom: op.geom, xShape: x.Shape().Clone()}
		if out[0], err = G.ApplyOp(gx, w, grad); err != nil {
			return nil, err
		}
	}
	if op.noGradW {
		return out, nil
	}
	gw := &convGradFilterOp{opBase: opBase{"conv2d_dw" + op.geom.String()}, geom: op.geom, wShape: w.Shape().Clone(), fwd: op}
	op.cache.on = !op.geom.direct()
	if out[1], err = G.ApplyOp(gw, x, grad); err != nil {
		return nil, err
	}
	if op.bias {
		if out[2], err = G.ApplyOp(&biasGradOp{opBase{"conv2d_db"}}, grad); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// convGradInputOp is (w, dy) → dx.
type convGradInputOp struct {
	opBase
	geom   convGeom
	xShape tensor.Shape
	cols   scratch
}

func (op *convGradInputOp) Arity() int { return 2 }
func (op *convGradInputOp) Type() hm.Type {
	return hm.NewFnType(tensorType(4), tensorType(4), tensorType(4))
}
func (op *convGradInputOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return op.xShape.Clone(), nil
}
func (op *convGradInputOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "%s %v", op.name, op.xShape) }
func (op *convGradInputOp) Hashcode() uint32      { return hashOf(op) }

func (op *convGradInputOp) Do(in ...G.Value) (G.Value, error) {
	t, err := denseArgs(op.name, in)
	if err != nil {
		return nil, err
	}
	dx := tensor.New(tensor.Of(t[0].Dtype()), tensor.WithShape(op.xShape.Clone()...))
	switch w := t[0].Data().(type) {
	case []float32:
		convGradInput(&op.cols, op.geom, w, t[0].Shape(), t[1].Data().([]float32), t[1].Shape(), dx.Data().([]float32), op.xShape)
	case []float64:
		convGradInput(&op.cols, op.geom, w, t[0].Shape(), t[1].Data().([]float64), t[1].Shape(), dx.Data().([]float64), op.xShape)
	}
	return dx, nil
}

// convGradFilterOp is (x, dy) → dW.
type convGradFilterOp struct {
	opBase
	geom   convGeom
	wShape tensor.Shape
	cols   scratch
	fwd    *conv2dOp // whose cached columns it may use
}

func (op *convGradFilterOp) Arity() int { return 2 }
func (op *convGradFilterOp) Type() hm.Type {
	return hm.NewFnType(tensorType(4), tensorType(4), tensorType(4))
}
func (op *convGradFilterOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return op.wShape.Clone(), nil
}
func (op *convGradFilterOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "%s %v", op.name, op.wShape) }
func (op *convGradFilterOp) Hashcode() uint32      { return hashOf(op) }

func (op *convGradFilterOp) Do(in ...G.Value) (G.Value, error) {
	t, err := denseArgs(op.name, in)
	if err != nil {
		return nil, err
	}
	dw := tensor.New(tensor.Of(t[0].Dtype()), tensor.WithShape(op.wShape.Clone()...))
	var cache *colCache
	n := 0
	if op.fwd != nil {
		cache, n = &op.fwd.cache, op.fwd.colLen(t[0].Shape())
	}
	switch x := t[0].Data().(type) {
	case []float32:
		convGradFilter(&op.cols, takeCols(cache, x, n), op.geom, x, t[0].Shape(), t[1].Data().([]float32), t[1].Shape(), dw.Data().([]float32), op.wShape)
	case []float64:
		convGradFilter(&op.cols, takeCols(cache, x, n), op.geom, x, t[0].Shape(), t[1].Data().([]float64), t[1].Shape(), dw.Data().([]float64), op.wShape)
	}
	return dw, nil
}

// biasGradOp is dy [B,C,H,W] → Σ_{b,h,w} dy [C].
type biasGradOp struct{ opBase }

func (op *biasGradOp) Arity() int            { return 1 }
func (op *biasGradOp) Type() hm.Type         { return hm.NewFnType(tensorType(4), tensorType(1)) }
func (op *biasGradOp) WriteHash(h hash.Hash) { fmt.Fprint(h, op.name) }
func (op *biasGradOp) Hashcode() uint32      { return hashOf(op) }
func (op *biasGradOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapeArg(in[0], op.name, 4)
	if err != nil {
		return nil, err
	}
	return tensor.Shape{s[1]}, nil
}

func (op *biasGradOp) Do(in ...G.Value) (G.Value, error) {
	t, err := denseArgs(op.name, in)
	if err != nil {
		return nil, err
	}
	s := t[0].Shape()
	db := tensor.New(tensor.Of(t[0].Dtype()), tensor.WithShape(s[1]))
	switch d := t[0].Data().(type) {
	case []float32:
		sumChannels(d, s, db.Data().([]float32))
	case []float64:
		sumChannels(d, s, db.Data().([]float64))
	}
	return db, nil
}

func sumChannels[T float32 | float64](dy []T, s tensor.Shape, db []T) {
	hw := s[2] * s[3]
	for b := 0; b < s[0]; b++ {
		for c := 0; c < s[1]; c++ {
			var acc T
			for _, v := range dy[(b*s[1]+c)*hw : (b*s[1]+c+1)*hw] {
				acc += v
			}
			db[c] += acc
		}
	}
}

// scratch is an op's reusable buffer for the im2col matrices of one chunk
// of samples. The tape machine runs one op at a time, so one buffer per op
// is enough.
type scratch struct {
	f32 []float32
	f64 []float64
}

func scratchOf[T float32 | float64](s *scratch, n int) []T {
	var z T
	switch any(z).(type) {
	case float32:
		if cap(s.f32) < n {
			s.f32 = make([]float32, n)
		}
		return any(s.f32[:n]).([]T)
	default:
		if cap(s.f64) < n {
			s.f64 = make([]float64, n)
		}
		return any(s.f64[:n]).([]T)
	}
}

// gemm is C = alpha·op(A)·op(B) + beta·C (row-major) through gorgonia's
// BLAS, i.e. OpenBLAS with -tags openblas.
func gemm[T float32 | float64](ta, tb blas.Transpose, m, n, k int, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	impl := G.WhichBLAS()
	switch a := any(a).(type) {
	case []float32:
		impl.Sgemm(ta, tb, m, n, k, 1, a, lda, any(b).([]float32), ldb, float32(beta), any(c).([]float32), ldc)
	case []float64:
		impl.Dgemm(ta, tb, m, n, k, 1, a, lda, any(b).([]float64), ldb, float64(beta), any(c).([]float64), ldc)
	}
}

// samples runs f(i, w) for the samples i = 0..n-1, split into one
// contiguous block per worker w = 0..P-1 (P = GOMAXPROCS, at most n), each
// block on its own goroutine. The split depends only on n and P, so sums
// over the samples of a block, and the order they are combined in, are
// deterministic.
func samples(n int, f func(i, w int)) {
	p := min(parallelism(), n)
	if p <= 1 {
		for i := 0; i < n; i++ {
			f(i, 0)
		}
		return
	}
	var wg sync.WaitGroup
	for w := 0; w < p; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w * n / p; i < (w+1)*n/p; i++ {
				f(i, w)
			}
		}(w)
	}
	wg.Wait()
}

func parallelism() int { return max(1, runtime.GOMAXPROCS(0)) }

// workers is the number of workers samples uses for n samples.
func workers(n int) int { return max(1, min(parallelism(), n)) }

// convForward computes y [B,Cout,Ho,Wo] = conv(x [B,C,H,W], w [Cout,C,kh,kw]) + bias.
// With keep (len B·C·kh·kw·Ho·Wo) the im2col matrices are left there.
func convForward[T float32 | float64](s *scratch, keep []T, g convGeom, x []T, xs tensor.Shape, w []T, ws tensor.Shape, bias, y []T) {
	bn, c, h, wd := xs[0], xs[1], xs[2], xs[3]
	cout := ws[0]
	ho, wo := g.outSize(h, wd)
	ck, hw := c*g.kh*g.kw, ho*wo
	direct := g.direct()
	var cols []T
	if !direct && keep == nil {
		cols = scratchOf[T](s, workers(bn)*ck*hw)
	}
	samples(bn, func(i, wk int) {
		var col []T
		switch {
		case direct:
			col = x[i*ck*hw : (i+1)*ck*hw]
		case keep != nil:
			col = keep[i*ck*hw : (i+1)*ck*hw]
			im2col(g, x[i*c*h*wd:(i+1)*c*h*wd], c, h, wd, col)
		default:
			col = cols[wk*ck*hw : (wk+1)*ck*hw]
			im2col(g, x[i*c*h*wd:(i+1)*c*h*wd], c, h, wd, col)
		}
		out := y[i*cout*hw : (i+1)*cout*hw]
		var beta T
		if bias != nil {
			for o, bv := range bias {
				row := out[o*hw : (o+1)*hw]
				for j := range row {
					row[j] = bv
				}
			}
			beta = 1
		}
		gemm(blas.NoTrans, blas.NoTrans, cout, hw, ck, w, ck, col, hw, beta, out, hw)
	})
}

// convGradFilter computes dw = Σ_b dy_b · col_bᵀ: each worker sums its
// block of samples, then the blocks are added in order. kept, if not nil,
// holds the batch's im2col matrices from the forward pass.
func convGradFilter[T float32 | float64](s *scratch, kept []T, g convGeom, x []T, xs tensor.Shape, dy []T, ys tensor.Shape, dw []T, ws tensor.Shape) {
	bn, c, h, wd := xs[0], xs[1], xs[2], xs[3]
	cout, hw := ys[1], ys[2]*ys[3]
	ck := c * g.kh * g.kw
	direct := g.direct()
	p := workers(bn)
	colLen := 0
	if !direct && kept == nil {
		colLen = p * ck * hw
	}
	buf := scratchOf[T](s, colLen+(p-1)*cout*ck)
	cols, parts := buf[:colLen], buf[colLen:]
	samples(bn, func(i, wk int) {
		var col []T
		switch {
		case direct:
			col = x[i*ck*hw : (i+1)*ck*hw]
		case kept != nil:
			col = kept[i*ck*hw : (i+1)*ck*hw]
		default:
			col = cols[wk*ck*hw : (wk+1)*ck*hw]
			im2col(g, x[i*c*h*wd:(i+1)*c*h*wd], c, h, wd, col)
		}
		acc := dw // worker 0 sums into dw itself
		if wk > 0 {
			acc = parts[(wk-1)*cout*ck : wk*cout*ck]
		}
		var beta T
		if i > wk*bn/p { // not the block's first sample
			beta = 1
		}
		gemm(blas.NoTrans, blas.Trans, cout, ck, hw, dy[i*cout*hw:(i+1)*cout*hw], hw, col, hw, beta, acc, ck)
	})
	for wk := 1; wk < p; wk++ {
		for j, v := range parts[(wk-1)*cout*ck : wk*cout*ck] {
			dw[j] += v
		}
	}
}

// convGradInput computes dx_b = col2im(wᵀ · dy_b).
func convGradInput[T float32 | float64](s *scratch, g convGeom, w []T, ws tensor.Shape, dy []T, ys tensor.Shape, dx []T, xs tensor.Shape) {
	bn, c, h, wd := xs[0], xs[1], xs[2], xs[3]
	cout, hw := ys[1], ys[2]*ys[3]
	ck := c * g.kh * g.kw
	if g.direct() {
		// 1×1, stride 1, no padding: dx_b is wᵀ·dy_b itself.
		samples(bn, func(i, _ int) {
			gemm(blas.Trans, blas.NoTrans, ck, hw, cout, w, ck, dy[i*cout*hw:(i+1)*cout*hw], hw, 0, dx[i*ck*hw:(i+1)*ck*hw], hw)
		})
		return
	}
	cols := scratchOf[T](s, workers(bn)*ck*hw)
	samples(bn, func(i, wk int) {
		col := cols[wk*ck*hw : (wk+1)*ck*hw]
		gemm(blas.Trans, blas.NoTrans, ck, hw, cout, w, ck, dy[i*cout*hw:(i+1)*cout*hw], hw, 0, col, hw)
		col2im(g, col, c, h, wd, dx[i*c*h*wd:(i+1)*c*h*wd])
	})
}

// direct reports a 1×1, stride-1, unpadded kernel, whose im2col matrix is
// the input itself.
func (g convGeom) direct() bool {
	return g.kh == 1 && g.kw == 1 && g.sh == 1 && g.sw == 1 && g.ph == 0 && g.pw == 0
}

// validRange gives the output positions [lo,hi) whose input position
// o·stride − pad + k lies inside [0,n).
func validRange(k, stride, pad, n, out int) (lo, hi int) {
	// o·stride ≥ pad − k  and  o·stride ≤ n − 1 + pad − k
	if d := pad - k; d > 0 {
		lo = (d + stride - 1) / stride
	}
	if e := n - 1 + pad - k; e < 0 {
		hi = 0
	} else {
		hi = e/stride + 1
	}
	lo, hi = min(lo, out), min(hi, out)
	if hi < lo {
		hi = lo
	}
	return lo, hi
}

// im2col writes col [C·kh·kw, Ho·Wo] of one sample x [C,H,W]: row
// (c,i,j), column (oh,ow) holds x[c, oh·sh−ph+i, ow·sw−pw+j] or 0.
func im2col[T float32 | float64](g convGeom, x []T, c, h, w int, col []T) {
	ho, wo := g.outSize(h, w)
	r := 0
	for ci := 0; ci < c; ci++ {
		plane := x[ci*h*w : (ci+1)*h*w]
		for i := 0; i < g.kh; i++ {
			hlo, hhi := validRange(i, g.sh, g.ph, h, ho)
			for j := 0; j < g.kw; j++ {
				wlo, whi := validRange(j, g.sw, g.pw, w, wo)
				row := col[r*ho*wo : (r+1)*ho*wo]
				r++
				clear(row[:hlo*wo])
				clear(row[hhi*wo:])
				for oh := hlo; oh < hhi; oh++ {
					dst := row[oh*wo : (oh+1)*wo]
					src := plane[(oh*g.sh-g.ph+i)*w:]
					clear(dst[:wlo])
					clear(dst[whi:])
					off := wlo*g.sw - g.pw + j
					if g.sw == 1 {
						copy(dst[wlo:whi], src[off:off+whi-wlo])
						continue
					}
					d := dst[wlo:whi]
					for k := range d {
						d[k] = src[off+k*g.sw]
					}
				}
			}
		}
	}
}

// col2im adds col [C·kh·kw, Ho·Wo] back into one sample's dx [C,H,W]
// (overwriting dx): the adjoint of im2col.
func col2im[T float32 | float64](g convGeom, col []T, c, h, w int, dx []T) {
	ho, wo := g.outSize(h, w)
	clear(dx)
	r := 0
	for ci := 0; ci < c; ci++ {
		plane := dx[ci*h*w : (ci+1)*h*w]
		for i := 0; i < g.kh; i++ {
			hlo, hhi := validRange(i, g.sh, g.ph, h, ho)
			for j := 0; j < g.kw; j++ {
				wlo, whi := validRange(j, g.sw, g.pw, w, wo)
				row := col[r*ho*wo : (r+1)*ho*wo]
				r++
				for oh := hlo; oh < hhi; oh++ {
					src := row[oh*wo+wlo : oh*wo+whi]
					dst := plane[(oh*g.sh-g.ph+i)*w:]
					off := wlo*g.sw - g.pw + j
					if g.sw == 1 {
						dst = dst[off : off+len(src)]
						for k, v := range src {
							dst[k] += v
						}
						continue
					}
					for k, v := range src {
						dst[off+k*g.sw] += v
					}
				}
			}
		}
	}
}

// relu is max(x, 0) with a one-pass gradient dy ⊙ (y > 0), both split over
// the cores; gorgonia's Rectify builds its gradient from a comparison, a
// copy and a product on one core.
func relu(x *G.Node) (*G.Node, error) { return G.ApplyOp(&reluOp{opBase{"relu"}}, x) }

type reluOp struct{ opBase }

func (op *reluOp) Arity() int { return 1 }
func (op *reluOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	return hm.NewFnType(a, a)
}
func (op *reluOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, ok := in[0].(tensor.Shape)
	if !ok {
		return nil, fmt.Errorf("relu: input shape is %T", in[0])
	}
	return s.Clone(), nil
}
func (op *reluOp) WriteHash(h hash.Hash) { fmt.Fprint(h, op.name) }
func (op *reluOp) Hashcode() uint32      { return hashOf(op) }

func (op *reluOp) Do(in ...G.Value) (G.Value, error) {
	t, err := denseArgs(op.name, in)
	if err != nil {
		return nil, err
	}
	y := tensor.New(tensor.Of(t[0].Dtype()), tensor.WithShape(t[0].Shape().Clone()...))
	switch x := t[0].Data().(type) {
	case []float32:
		parallelFor(len(x), func(lo, hi int) { reluFwd(x[lo:hi], y.Data().([]float32)[lo:hi]) })
	case []float64:
		parallelFor(len(x), func(lo, hi int) { reluFwd(x[lo:hi], y.Data().([]float64)[lo:hi]) })
	}
	return y, nil
}

func (op *reluOp) DiffWRT(int) []bool { return []bool{true} }

func (op *reluOp) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	d, err := G.ApplyOp(&reluGradOp{opBase{"relu_grad"}}, out, grad)
	return G.Nodes{d}, err
}

// reluGradOp is (y, dy) → dy ⊙ (y > 0).
type reluGradOp struct{ opBase }

func (op *reluGradOp) Arity() int { return 2 }
func (op *reluGradOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	return hm.NewFnType(a, a, a)
}
func (op *reluGradOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, ok := in[0].(tensor.Shape)
	if !ok {
		return nil, fmt.Errorf("relu_grad: input shape is %T", in[0])
	}
	return s.Clone(), nil
}
func (op *reluGradOp) WriteHash(h hash.Hash) { fmt.Fprint(h, op.name) }
func (op *reluGradOp) Hashcode() uint32      { return hashOf(op) }

func (op *reluGradOp) Do(in ...G.Value) (G.Value, error) {
	t, err := denseArgs(op.name, in)
	if err != nil {
		return nil, err
	}
	if !t[0].Shape().Eq(t[1].Shape()) {
		return nil, fmt.Errorf("relu_grad: shapes %v and %v", t[0].Shape(), t[1].Shape())
	}
	dx := tensor.New(tensor.Of(t[0].Dtype()), tensor.WithShape(t[0].Shape().Clone()...))
	switch y := t[0].Data().(type) {
	case []float32:
		dy, d := t[1].Data().([]float32), dx.Data().([]float32)
		parallelFor(len(y), func(lo, hi int) { reluBwd(y[lo:hi], dy[lo:hi], d[lo:hi]) })
	case []float64:
		dy, d := t[1].Data().([]float64), dx.Data().([]float64)
		parallelFor(len(y), func(lo, hi int) { reluBwd(y[lo:hi], dy[lo:hi], d[lo:hi]) })
	}
	return dx, nil
}

func reluFwd[T float32 | float64](x, y []T) {
	for i, v := range x {
		y[i] = max(v, 0)
	}
}

// reluBwd masks dy with y > 0 through the bits (y = max(x, 0) is +0 or
// positive, or NaN): a sign-random branch per element costs more than the
// rest of the loop.
func reluBwd[T float32 | float64](y, dy, dx []T) {
	switch y := any(y).(type) {
	case []float32:
		dy, dx := any(dy).([]float32), any(dx).([]float32)
		dy, dx = dy[:len(y)], dx[:len(y)]
		for i, v := range y {
			b := math.Float32bits(v)
			var m uint32
			if int32(b) > 0 { // positive, not zero, not negative
				m = ^uint32(0)
			}
			dx[i] = math.Float32frombits(math.Float32bits(dy[i]) & m)
		}
	case []float64:
		dy, dx := any(dy).([]float64), any(dx).([]float64)
		dy, dx = dy[:len(y)], dx[:len(y)]
		for i, v := range y {
			b := math.Float64bits(v)
			var m uint64
			if int64(b) > 0 {
				m = ^uint64(0)
			}
			dx[i] = math.Float64frombits(math.Float64bits(dy[i]) & m)
		}
	}
}

// parallelFor splits [0,n) into one contiguous range per core (one range
// when n is small).
func parallelFor(n int, f func(lo, hi int)) {
	p := parallelism()
	if n < 1<<15 || p == 1 {
		f(0, n)
		return
	}
	var wg sync.WaitGroup
	for k := 0; k < p; k++ {
		lo, hi := k*n/p, (k+1)*n/p
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(lo, hi)
		}()
	}
	wg.Wait()
}
