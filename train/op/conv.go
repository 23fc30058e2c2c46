package op

import (
	"fmt"
	"unsafe"

	"github.com/chewxy/hm"
	"gonum.org/v1/gonum/blas"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Conv2D is a 2-D convolution for gorgonia: gorgonia's Conv2d reorders every
// output from NHWC to NCHW element by element, fills im2col one scalar at a
// time, runs col2im on one core and allocates a few GB per step. Here each
// sample is one BLAS gemm, W[Cout,C·k·k] · col[C·k·k,Ho·Wo], which is that
// sample's NCHW output; the samples are split into one block per core, each
// worker running im2col (row copies), its gemms and col2im for its samples,
// with a single-threaded BLAS (blas_openblas.go sets OpenBLAS to one
// thread), and the im2col buffers are kept by the op and reused from step to
// step. The gradients are exact (conv_test.go checks them against central
// finite differences and against gorgonia's Conv2d):
//
//	dW  = Σ_b dy_b · col_bᵀ
//	dx_b = col2im(Wᵀ · dy_b)
//	db  = Σ_{b,h,w} dy
//
// There is no second derivative.

// Geom is a convolution's kernel size, stride and zero padding (dilation
// 1, no groups).
type Geom struct {
	KH, KW int // kernel height and width
	SH, SW int // strides
	PH, PW int // zero padding on each side
}

// Square is a k×k kernel with the same stride and padding in both directions.
func Square(k, stride, pad int) Geom { return Geom{k, k, stride, stride, pad, pad} }

// OutSize is the output height and width for an input of h×w.
func (g Geom) OutSize(h, w int) (int, int) {
	return (h+2*g.PH-g.KH)/g.SH + 1, (w+2*g.PW-g.KW)/g.SW + 1
}

func (g Geom) String() string {
	return fmt.Sprintf("%dx%d/s%dx%d/p%dx%d", g.KH, g.KW, g.SH, g.SW, g.PH, g.PW)
}

// ConvGrads says which gradients a convolution passes back.
type ConvGrads struct {
	// Input: a gradient for x. Leave it off when x is data nobody
	// differentiates against: it saves the network's most expensive col2im.
	Input bool
	// NoParams drops the gradients of the filter and bias (graphs that
	// differentiate with respect to the inputs only).
	NoParams bool
}

// Conv2D convolves x [B,C,H,W] with the filter w [Cout,C,KH,KW] and, when b
// is not nil, adds the bias b [Cout].
func Conv2D(x, w, b *G.Node, g Geom, grads ConvGrads) (*G.Node, error) {
	xs, ws := x.Shape(), w.Shape()
	if len(xs) != 4 || len(ws) != 4 || xs[1] != ws[1] || ws[2] != g.KH || ws[3] != g.KW {
		return nil, fmt.Errorf("conv2d: input %v and filter %v do not match kernel %s", xs, ws, g)
	}
	if ho, wo := g.OutSize(xs[2], xs[3]); ho < 1 || wo < 1 {
		return nil, fmt.Errorf("conv2d: input %v is smaller than kernel %s", xs, g)
	}
	op := &conv2dOp{geom: g, bias: b != nil, gradX: grads.Input, noGradW: grads.NoParams}
	op.base = base{name: "conv2d" + g.String(),
		key: fmt.Sprintf("conv2d %s bias=%t gradx=%t nogradw=%t", g, op.bias, op.gradX, op.noGradW)}
	if b == nil {
		return G.ApplyOp(op, x, w)
	}
	if bs := b.Shape(); len(bs) != 1 || bs[0] != ws[0] {
		return nil, fmt.Errorf("conv2d: bias %v for %d output channels", bs, ws[0])
	}
	return G.ApplyOp(op, x, w, b)
}

// conv2dOp is the forward convolution: (x, w[, b]) → y.
type conv2dOp struct {
	base
	geom    Geom
	bias    bool
	gradX   bool // gradient for the input
	noGradW bool // no gradients for the filter and bias
	cols    scratch
	cache   colCache
}

var _ G.SDOp = (*conv2dOp)(nil)

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
	ho, wo := op.geom.OutSize(xs[2], xs[3])
	return tensor.Shape{xs[0], ws[0], ho, wo}, nil
}

func (op *conv2dOp) Do(in ...G.Value) (G.Value, error) {
	t, err := denseArgs("conv2d", in)
	if err != nil {
		return nil, err
	}
	xs, ws := t[0].Shape(), t[1].Shape()
	ho, wo := op.geom.OutSize(xs[2], xs[3])
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
	ho, wo := op.geom.OutSize(xs[2], xs[3])
	return xs[0] * xs[1] * op.geom.KH * op.geom.KW * ho * wo
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
		name := "conv2d_dx" + op.geom.String()
		gx := &convGradInputOp{base: base{name: name, key: fmt.Sprintf("%s %v", name, x.Shape())}, geom: op.geom, xShape: x.Shape().Clone()}
		if out[0], err = G.ApplyOp(gx, w, grad); err != nil {
			return nil, err
		}
	}
	if op.noGradW {
		return out, nil
	}
	name := "conv2d_dw" + op.geom.String()
	gw := &convGradFilterOp{base: base{name: name, key: fmt.Sprintf("%s %v", name, w.Shape())}, geom: op.geom, wShape: w.Shape().Clone(), fwd: op}
	op.cache.on = !op.geom.direct()
	if out[1], err = G.ApplyOp(gw, x, grad); err != nil {
		return nil, err
	}
	if op.bias {
		if out[2], err = G.ApplyOp(&biasGradOp{base{name: "conv2d_db"}}, grad); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// convGradInputOp is (w, dy) → dx.
type convGradInputOp struct {
	base
	geom   Geom
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
	base
	geom   Geom
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
type biasGradOp struct{ base }

func (op *biasGradOp) Arity() int    { return 1 }
func (op *biasGradOp) Type() hm.Type { return hm.NewFnType(tensorType(4), tensorType(1)) }
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

// convForward computes y [B,Cout,Ho,Wo] = conv(x [B,C,H,W], w [Cout,C,kh,kw]) + bias.
// With keep (len B·C·kh·kw·Ho·Wo) the im2col matrices are left there.
func convForward[T float32 | float64](s *scratch, keep []T, g Geom, x []T, xs tensor.Shape, w []T, ws tensor.Shape, bias, y []T) {
	bn, c, h, wd := xs[0], xs[1], xs[2], xs[3]
	cout := ws[0]
	ho, wo := g.OutSize(h, wd)
	ck, hw := c*g.KH*g.KW, ho*wo
	direct := g.direct()
	var cols []T
	if !direct && keep == nil {
		cols = scratchOf[T](s, workers(bn)*ck*hw)
	}
	eachSample(bn, func(i, wk int) {
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
func convGradFilter[T float32 | float64](s *scratch, kept []T, g Geom, x []T, xs tensor.Shape, dy []T, ys tensor.Shape, dw []T, ws tensor.Shape) {
	bn, c, h, wd := xs[0], xs[1], xs[2], xs[3]
	cout, hw := ys[1], ys[2]*ys[3]
	ck := c * g.KH * g.KW
	direct := g.direct()
	p := workers(bn)
	colLen := 0
	if !direct && kept == nil {
		colLen = p * ck * hw
	}
	buf := scratchOf[T](s, colLen+(p-1)*cout*ck)
	cols, parts := buf[:colLen], buf[colLen:]
	eachSample(bn, func(i, wk int) {
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
func convGradInput[T float32 | float64](s *scratch, g Geom, w []T, ws tensor.Shape, dy []T, ys tensor.Shape, dx []T, xs tensor.Shape) {
	bn, c, h, wd := xs[0], xs[1], xs[2], xs[3]
	cout, hw := ys[1], ys[2]*ys[3]
	ck := c * g.KH * g.KW
	if g.direct() {
		// 1×1, stride 1, no padding: dx_b is wᵀ·dy_b itself.
		eachSample(bn, func(i, _ int) {
			gemm(blas.Trans, blas.NoTrans, ck, hw, cout, w, ck, dy[i*cout*hw:(i+1)*cout*hw], hw, 0, dx[i*ck*hw:(i+1)*ck*hw], hw)
		})
		return
	}
	cols := scratchOf[T](s, workers(bn)*ck*hw)
	eachSample(bn, func(i, wk int) {
		col := cols[wk*ck*hw : (wk+1)*ck*hw]
		gemm(blas.Trans, blas.NoTrans, ck, hw, cout, w, ck, dy[i*cout*hw:(i+1)*cout*hw], hw, 0, col, hw)
		col2im(g, col, c, h, wd, dx[i*c*h*wd:(i+1)*c*h*wd])
	})
}

// direct reports a 1×1, stride-1, unpadded kernel, whose im2col matrix is
// the input itself.
func (g Geom) direct() bool {
	return g.KH == 1 && g.KW == 1 && g.SH == 1 && g.SW == 1 && g.PH == 0 && g.PW == 0
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
func im2col[T float32 | float64](g Geom, x []T, c, h, w int, col []T) {
	ho, wo := g.OutSize(h, w)
	r := 0
	for ci := 0; ci < c; ci++ {
		plane := x[ci*h*w : (ci+1)*h*w]
		for i := 0; i < g.KH; i++ {
			hlo, hhi := validRange(i, g.SH, g.PH, h, ho)
			for j := 0; j < g.KW; j++ {
				wlo, whi := validRange(j, g.SW, g.PW, w, wo)
				row := col[r*ho*wo : (r+1)*ho*wo]
				r++
				clear(row[:hlo*wo])
				clear(row[hhi*wo:])
				for oh := hlo; oh < hhi; oh++ {
					dst := row[oh*wo : (oh+1)*wo]
					src := plane[(oh*g.SH-g.PH+i)*w:]
					clear(dst[:wlo])
					clear(dst[whi:])
					off := wlo*g.SW - g.PW + j
					if g.SW == 1 {
						copy(dst[wlo:whi], src[off:off+whi-wlo])
						continue
					}
					d := dst[wlo:whi]
					for k := range d {
						d[k] = src[off+k*g.SW]
					}
				}
			}
		}
	}
}

// col2im adds col [C·kh·kw, Ho·Wo] back into one sample's dx [C,H,W]
// (overwriting dx): the adjoint of im2col.
func col2im[T float32 | float64](g Geom, col []T, c, h, w int, dx []T) {
	ho, wo := g.OutSize(h, w)
	clear(dx)
	r := 0
	for ci := 0; ci < c; ci++ {
		plane := dx[ci*h*w : (ci+1)*h*w]
		for i := 0; i < g.KH; i++ {
			hlo, hhi := validRange(i, g.SH, g.PH, h, ho)
			for j := 0; j < g.KW; j++ {
				wlo, whi := validRange(j, g.SW, g.PW, w, wo)
				row := col[r*ho*wo : (r+1)*ho*wo]
				r++
				for oh := hlo; oh < hhi; oh++ {
					src := row[oh*wo+wlo : oh*wo+whi]
					dst := plane[(oh*g.SH-g.PH+i)*w:]
					off := wlo*g.SW - g.PW + j
					if g.SW == 1 {
						dst = dst[off : off+len(src)]
						for k, v := range src {
							dst[k] += v
						}
						continue
					}
					for k, v := range src {
						dst[off+k*g.SW] += v
					}
				}
			}
		}
	}
}

// eachSample runs f(i, w) for the samples i = 0..n-1, one contiguous block
// of samples per worker w (see blocks).
func eachSample(n int, f func(i, w int)) {
	blocks(n, 1, func(w, lo, hi int) {
		for i := lo; i < hi; i++ {
			f(i, w)
		}
	})
}
