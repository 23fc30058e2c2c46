package op

import (
	"fmt"
	"unsafe"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Conv2D is a 2-D convolution for gorgonia, optionally fused with its
// bias and a ReLU: gorgonia's Conv2d reorders every output from NHWC to
// NCHW element by element, fills im2col one scalar at a time, runs col2im
// on one core and allocates a few GB per step. Here the samples are taken
// in groups (one sample when its output is large, enough samples for
// about groupCols gemm columns when it is small), and each group is one
// BLAS gemm, W[Cout,C·k·k] · col[C·k·k, n·Ho·Wo]; the groups are split
// into one block per core, each worker running im2col, its gemms, the
// bias and ReLU, and in the backward pass the ReLU mask, col2im and its
// share of the filter and bias gradients, with a single-threaded BLAS
// (blas_openblas.go); a first layer of few im2col rows and wide outputs
// runs its forward pass, and its filter gradient when dx is not asked for,
// in the narrow kernels instead (no im2col, no gemm; see narrowRows).
// Outputs and work buffers are kept by the ops and reused from step to
// step. The gradients are exact (conv_test.go checks
// them against central finite differences and against gorgonia's Conv2d):
//
//	dz  = dy ⊙ (y > 0)         (dz = dy without the ReLU)
//	dW  = Σ_b dz_b · col_bᵀ
//	dx_b = col2im(Wᵀ · dz_b)
//	db  = Σ_{b,h,w} dz
//
// One backward op computes all three (they share dz); the filter and
// bias gradients are read from it by two small ops (gradPartOp). There is
// no second derivative.

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

// ConvOptions are a convolution's fused activation and the gradients it
// passes back.
type ConvOptions struct {
	// ReLU makes the output max(conv(x, w) + b, 0), with no tensor for the
	// value before the ReLU.
	ReLU bool
	// Input: a gradient for x. Leave it off when x is data nobody
	// differentiates against: it saves the network's most expensive col2im.
	Input bool
	// NoParams drops the gradients of the filter and bias (graphs that
	// differentiate with respect to the inputs only).
	NoParams bool
}

// Conv2D convolves x [B,C,H,W] with the filter w [Cout,C,KH,KW] and, when b
// is not nil, adds the bias b [Cout].
func Conv2D(x, w, b *G.Node, g Geom, o ConvOptions) (*G.Node, error) {
	xs, ws := x.Shape(), w.Shape()
	if len(xs) != 4 || len(ws) != 4 || xs[1] != ws[1] || ws[2] != g.KH || ws[3] != g.KW {
		return nil, fmt.Errorf("conv2d: input %v and filter %v do not match kernel %s", xs, ws, g)
	}
	if ho, wo := g.OutSize(xs[2], xs[3]); ho < 1 || wo < 1 {
		return nil, fmt.Errorf("conv2d: input %v is smaller than kernel %s", xs, g)
	}
	op := &conv2dOp{geom: g, bias: b != nil, opts: o}
	op.base = base{name: "conv2d" + g.String(),
		key: fmt.Sprintf("conv2d %s bias=%t %+v", g, op.bias, o)}
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
	geom  Geom
	bias  bool
	opts  ConvOptions
	y     scratch
	work  scratch
	cache colCache
	index colIndex
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

// keepCols returns the batch-sized buffer to fill for input x, or nil when
// the columns are not cached.
func keepCols[T float32 | float64](c *colCache, x []T, n int) []T {
	var z T
	if !c.on || n == 0 || n*int(unsafe.Sizeof(z)) > maxCachedCols {
		c.x = nil
		return nil
	}
	c.x = unsafe.Pointer(unsafe.SliceData(x))
	return scratchOf[T](&c.buf, n)
}

// takeCols returns the columns kept for input x (nil if none) and invalidates them.
func takeCols[T float32 | float64](c *colCache, x []T, n int) []T {
	if c.x == nil || c.x != unsafe.Pointer(unsafe.SliceData(x)) {
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
	s := newConvShape(op.geom, t[0].Shape(), t[1].Shape())
	y := output(&op.y, t[0].Dtype(), s.n, s.cout, s.ho, s.wo)
	var bias any
	if op.bias {
		bias = t[2].Data()
	}
	switch x := t[0].Data().(type) {
	case []float32:
		b, _ := bias.([]float32)
		convForward(s, op.index.of(s), &op.work, keepCols(&op.cache, x, s.colLen()), x, t[1].Data().([]float32), b, y.Data().([]float32), op.opts.ReLU)
	case []float64:
		b, _ := bias.([]float64)
		convForward(s, op.index.of(s), &op.work, keepCols(&op.cache, x, s.colLen()), x, t[1].Data().([]float64), b, y.Data().([]float64), op.opts.ReLU)
	}
	return y, nil
}

// DiffWRT implements G.SDOp.
func (op *conv2dOp) DiffWRT(n int) []bool {
	d := []bool{op.opts.Input, !op.opts.NoParams, !op.opts.NoParams}
	return d[:n]
}

// SymDiff implements G.SDOp: one backward node for every gradient asked
// for; it returns dx if asked for, else dW, and the others are read from it.
func (op *conv2dOp) SymDiff(in G.Nodes, y, dy *G.Node) (G.Nodes, error) {
	if len(in) != op.Arity() {
		return nil, fmt.Errorf("conv2d: %d inputs, want %d", len(in), op.Arity())
	}
	x, w := in[0], in[1]
	bw := &convBackwardOp{geom: op.geom, xShape: x.Shape().Clone(), wShape: w.Shape().Clone(),
		relu: op.opts.ReLU, gradX: op.opts.Input, gradW: !op.opts.NoParams, gradB: op.bias && !op.opts.NoParams, fwd: op}
	if !bw.gradX && !bw.gradW {
		return make(G.Nodes, len(in)), nil
	}
	name := "conv2d_grad" + op.geom.String()
	bw.base = base{name: name, key: fmt.Sprintf("%s x%v w%v relu=%t dx=%t dw=%t db=%t", name, x.Shape(), w.Shape(), bw.relu, bw.gradX, bw.gradW, bw.gradB)}
	op.cache.on = bw.gradW && !op.geom.direct()
	args := G.Nodes{x, w, dy}
	if bw.relu {
		args = append(args, y)
	}
	grad, err := G.ApplyOp(bw, args...)
	if err != nil {
		return nil, err
	}
	out := make(G.Nodes, len(in))
	part := func(p int) (*G.Node, error) {
		return G.ApplyOp(&gradPartOp{base: base{name: fmt.Sprintf("%s[%d]", name, p)}, src: bw, part: p}, grad)
	}
	switch {
	case bw.gradX:
		out[0] = grad
		if bw.gradW {
			if out[1], err = part(partW); err != nil {
				return nil, err
			}
		}
	default:
		out[1] = grad
	}
	if bw.gradB {
		if out[2], err = part(partB); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// The gradients of a convolution's backward op.
const (
	partX = iota
	partW
	partB
)

// convBackwardOp is (x, w, dy[, y]) → dx, or dW when dx is not asked
// for; it keeps the other gradients for gradPartOp.
type convBackwardOp struct {
	base
	geom                Geom
	xShape, wShape      tensor.Shape
	relu                bool // dy is masked by y > 0 (y is the fourth input)
	gradX, gradW, gradB bool
	fwd                 *conv2dOp // whose cached columns it may use
	out                 [3]scratch
	vals                [3]*tensor.Dense // this run's gradients, by part
	work                scratch
}

func (op *convBackwardOp) Arity() int {
	if op.relu {
		return 4
	}
	return 3
}

func (op *convBackwardOp) Type() hm.Type {
	ts := make([]hm.Type, op.Arity()+1)
	for i := range ts {
		ts[i] = tensorType(4)
	}
	return hm.NewFnType(ts...)
}

func (op *convBackwardOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	if op.gradX {
		return op.xShape.Clone(), nil
	}
	return op.wShape.Clone(), nil
}

func (op *convBackwardOp) Do(in ...G.Value) (G.Value, error) {
	t, err := denseArgs(op.name, in)
	if err != nil {
		return nil, err
	}
	s := newConvShape(op.geom, t[0].Shape(), t[1].Shape())
	dt := t[0].Dtype()
	op.vals = [3]*tensor.Dense{}
	if op.gradX {
		op.vals[partX] = output(&op.out[partX], dt, op.xShape...)
	}
	if op.gradW {
		op.vals[partW] = output(&op.out[partW], dt, op.wShape...)
	}
	if op.gradB {
		op.vals[partB] = output(&op.out[partB], dt, op.wShape[0])
	}
	switch dt {
	case tensor.Float32:
		convBackwardOf[float32](op, s, t)
	case tensor.Float64:
		convBackwardOf[float64](op, s, t)
	}
	if op.gradX {
		return op.vals[partX], nil
	}
	return op.vals[partW], nil
}

func convBackwardOf[T float32 | float64](op *convBackwardOp, s convShape, t []*tensor.Dense) {
	data := func(v *tensor.Dense) []T {
		if v == nil {
			return nil
		}
		return v.Data().([]T)
	}
	x := data(t[0])
	var y []T
	if op.relu {
		y = data(t[3])
	}
	kept := takeCols(&op.fwd.cache, x, s.colLen())
	convBackward(s, op.fwd.index.of(s), &op.work, kept, x, data(t[1]), y, data(t[2]), data(op.vals[partX]), data(op.vals[partW]), data(op.vals[partB]))
}

// gradPartOp reads one gradient (partW or partB) that its input's
// backward op computed in the same run.
type gradPartOp struct {
	base
	src  *convBackwardOp
	part int
}

func (op *gradPartOp) Arity() int { return 1 }
func (op *gradPartOp) Type() hm.Type {
	dims := 4
	if op.part == partB {
		dims = 1
	}
	return hm.NewFnType(tensorType(4), tensorType(dims))
}
func (op *gradPartOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	if op.part == partB {
		return tensor.Shape{op.src.wShape[0]}, nil
	}
	return op.src.wShape.Clone(), nil
}

func (op *gradPartOp) Do(...G.Value) (G.Value, error) {
	if v := op.src.vals[op.part]; v != nil {
		return v, nil
	}
	return nil, fmt.Errorf("%s: the backward pass has not run", op.name)
}

// direct reports a 1×1, stride-1, unpadded kernel, whose im2col matrix is
// the input itself.
func (g Geom) direct() bool {
	return g.KH == 1 && g.KW == 1 && g.SH == 1 && g.SW == 1 && g.PH == 0 && g.PW == 0
}
