package op

import (
	"fmt"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// GlobalAvgPool is the mean of x [B,C,H,W] over H and W, [B,C], with the
// gradient dy/(H·W) spread over every position. It computes what
// gorgonia's Reshape + Mean does (each mean a sum in order, divided by
// H·W), in one pass split over the cores and with no allocation per step:
// Mean's backward allocated a [B,C,H·W] tensor every step (6.5 MB for the
// CREMA-D shapes), which is most of what a step left to the garbage
// collector. (GlobalAveragePool2D has no gradient.)
func GlobalAvgPool(x *G.Node) (*G.Node, error) {
	if s := x.Shape(); len(s) != 4 {
		return nil, fmt.Errorf("global average pool: input %v, want [B,C,H,W]", s)
	}
	return G.ApplyOp(&meanPoolOp{base: base{name: "globalavgpool"}}, x)
}

// meanPoolOp is x [B,C,H,W] → [B,C].
type meanPoolOp struct {
	base
	y scratch
}

var _ G.SDOp = (*meanPoolOp)(nil)

func (op *meanPoolOp) Arity() int    { return 1 }
func (op *meanPoolOp) Type() hm.Type { return hm.NewFnType(tensorType(4), tensorType(2)) }
func (op *meanPoolOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapeArg(in[0], op.name, 4)
	if err != nil {
		return nil, err
	}
	return tensor.Shape{s[0], s[1]}, nil
}

func (op *meanPoolOp) Do(in ...G.Value) (G.Value, error) {
	t, err := denseArgs(op.name, in)
	if err != nil {
		return nil, err
	}
	s := t[0].Shape()
	y := output(&op.y, t[0].Dtype(), s[0], s[1])
	switch x := t[0].Data().(type) {
	case []float32:
		meanRows(x, y.Data().([]float32), s[2]*s[3])
	case []float64:
		meanRows(x, y.Data().([]float64), s[2]*s[3])
	}
	return y, nil
}

func (op *meanPoolOp) DiffWRT(int) []bool { return []bool{true} }

func (op *meanPoolOp) SymDiff(in G.Nodes, _, dy *G.Node) (G.Nodes, error) {
	d, err := G.ApplyOp(&meanPoolGradOp{base: base{name: "globalavgpool_grad", key: fmt.Sprintf("globalavgpool_grad %v", in[0].Shape())},
		xShape: in[0].Shape().Clone()}, dy)
	return G.Nodes{d}, err
}

// meanPoolGradOp is dy [B,C] → dx [B,C,H,W] = dy/(H·W) at every position.
type meanPoolGradOp struct {
	base
	xShape tensor.Shape
	dx     scratch
}

func (op *meanPoolGradOp) Arity() int    { return 1 }
func (op *meanPoolGradOp) Type() hm.Type { return hm.NewFnType(tensorType(2), tensorType(4)) }
func (op *meanPoolGradOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return op.xShape.Clone(), nil
}

func (op *meanPoolGradOp) Do(in ...G.Value) (G.Value, error) {
	t, err := denseArgs(op.name, in)
	if err != nil {
		return nil, err
	}
	dx := output(&op.dx, t[0].Dtype(), op.xShape...)
	hw := op.xShape[2] * op.xShape[3]
	switch dy := t[0].Data().(type) {
	case []float32:
		spreadRows(dy, dx.Data().([]float32), hw)
	case []float64:
		spreadRows(dy, dx.Data().([]float64), hw)
	}
	return dx, nil
}

// meanRows sets y[r] to the mean of x's row r of n elements (summed in order).
func meanRows[T float32 | float64](x, y []T, n int) {
	Blocks(len(y), max(1, elementGrain/n), func(_, lo, hi int) {
		for r := lo; r < hi; r++ {
			var acc T
			for _, v := range x[r*n : (r+1)*n] {
				acc += v
			}
			y[r] = acc / T(n)
		}
	})
}

// spreadRows sets row r of dx (n elements) to dy[r]/n.
func spreadRows[T float32 | float64](dy, dx []T, n int) {
	Blocks(len(dy), max(1, elementGrain/n), func(_, lo, hi int) {
		for r := lo; r < hi; r++ {
			v := dy[r] / T(n)
			row := dx[r*n : (r+1)*n]
			for i := range row {
				row[i] = v
			}
		}
	})
}

// GroupMean is the mean of x [G·n, E] over each run of n consecutive rows,
// [G,E] (a clip's frame embeddings to the clip's), with the gradient
// dy/n copied to each of a group's rows. gorgonia's Reshape + Mean gives
// the same forward value, but its backward pass divides that value by n
// again in place (the division's gradient with respect to its size
// operand), so the embeddings read after a training step were 1/n of
// what the head saw.
func GroupMean(x *G.Node, n int) (*G.Node, error) {
	s := x.Shape()
	if len(s) != 2 || n < 1 || s[0]%n != 0 {
		return nil, fmt.Errorf("group mean: input %v, want [G·%d,E]", s, n)
	}
	return G.ApplyOp(&groupMeanOp{base: base{name: "groupmean", key: fmt.Sprintf("groupmean %d", n)}, n: n}, x)
}

// groupMeanOp is x [G·n,E] → [G,E].
type groupMeanOp struct {
	base
	n int
	y scratch
}

var _ G.SDOp = (*groupMeanOp)(nil)

func (op *groupMeanOp) Arity() int    { return 1 }
func (op *groupMeanOp) Type() hm.Type { return hm.NewFnType(tensorType(2), tensorType(2)) }
func (op *groupMeanOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapeArg(in[0], op.name, 2)
	if err != nil {
		return nil, err
	}
	return tensor.Shape{s[0] / op.n, s[1]}, nil
}

func (op *groupMeanOp) Do(in ...G.Value) (G.Value, error) {
	t, err := denseArgs(op.name, in)
	if err != nil {
		return nil, err
	}
	s := t[0].Shape()
	y := output(&op.y, t[0].Dtype(), s[0]/op.n, s[1])
	switch x := t[0].Data().(type) {
	case []float32:
		groupMean(x, y.Data().([]float32), op.n, s[1])
	case []float64:
		groupMean(x, y.Data().([]float64), op.n, s[1])
	}
	return y, nil
}

func (op *groupMeanOp) DiffWRT(int) []bool { return []bool{true} }

func (op *groupMeanOp) SymDiff(in G.Nodes, _, dy *G.Node) (G.Nodes, error) {
	d, err := G.ApplyOp(&groupSpreadOp{base: base{name: "groupmean_grad", key: fmt.Sprintf("groupmean_grad %d", op.n)}, n: op.n}, dy)
	return G.Nodes{d}, err
}

// groupSpreadOp is dy [G,E] → dx [G·n,E], every row of group g dy[g]/n.
type groupSpreadOp struct {
	base
	n  int
	dx scratch
}

func (op *groupSpreadOp) Arity() int    { return 1 }
func (op *groupSpreadOp) Type() hm.Type { return hm.NewFnType(tensorType(2), tensorType(2)) }
func (op *groupSpreadOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapeArg(in[0], op.name, 2)
	if err != nil {
		return nil, err
	}
	return tensor.Shape{s[0] * op.n, s[1]}, nil
}

func (op *groupSpreadOp) Do(in ...G.Value) (G.Value, error) {
	t, err := denseArgs(op.name, in)
	if err != nil {
		return nil, err
	}
	s := t[0].Shape()
	dx := output(&op.dx, t[0].Dtype(), s[0]*op.n, s[1])
	switch dy := t[0].Data().(type) {
	case []float32:
		groupSpread(dy, dx.Data().([]float32), op.n, s[1])
	case []float64:
		groupSpread(dy, dx.Data().([]float64), op.n, s[1])
	}
	return dx, nil
}

// groupMean sets row g of y (e wide) to the mean of x's rows g·n … g·n+n−1
// (summed in order).
func groupMean[T float32 | float64](x, y []T, n, e int) {
	for g := 0; g < len(y)/e; g++ {
		row := y[g*e : (g+1)*e]
		copy(row, x[g*n*e:(g*n+1)*e])
		for f := 1; f < n; f++ {
			for i, v := range x[(g*n+f)*e : (g*n+f+1)*e] {
				row[i] += v
			}
		}
		for i := range row {
			row[i] /= T(n)
		}
	}
}

// groupSpread sets each of group g's n rows of dx to dy[g]/n.
func groupSpread[T float32 | float64](dy, dx []T, n, e int) {
	for g := 0; g < len(dy)/e; g++ {
		for f := 0; f < n; f++ {
			row := dx[(g*n+f)*e : (g*n+f+1)*e]
			for i, v := range dy[g*e : (g+1)*e] {
				row[i] = v / T(n)
			}
		}
	}
}
