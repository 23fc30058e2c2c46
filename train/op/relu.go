package op

import (
	"fmt"

	G "gorgonia.org/gorgonia"
)

// ReLU is max(x, 0) with a one-pass gradient dy ⊙ (y > 0), both split over
// the cores; gorgonia's Rectify builds its gradient from a comparison, a
// copy and a product on one core.
func ReLU(x *G.Node) (*G.Node, error) {
	return G.ApplyOp(&reluOp{base: base{name: "relu"}, sameShape: sameShape{1}}, x)
}

type reluOp struct {
	base
	sameShape
	y scratch
}

var _ G.SDOp = (*reluOp)(nil)

// elementGrain is the smallest block of elements worth a goroutine.
const elementGrain = 1 << 15

func (op *reluOp) Do(in ...G.Value) (G.Value, error) {
	t, err := denseArgs(op.name, in)
	if err != nil {
		return nil, err
	}
	y := output(&op.y, t[0].Dtype(), t[0].Shape()...)
	switch x := t[0].Data().(type) {
	case []float32:
		out := y.Data().([]float32)
		Blocks(len(x), elementGrain, func(_, lo, hi int) { biasReLU(out[lo:hi], x[lo:hi], 0, true) })
	case []float64:
		out := y.Data().([]float64)
		Blocks(len(x), elementGrain, func(_, lo, hi int) { biasReLU(out[lo:hi], x[lo:hi], 0, true) })
	}
	return y, nil
}

func (op *reluOp) DiffWRT(int) []bool { return []bool{true} }

func (op *reluOp) SymDiff(_ G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	d, err := G.ApplyOp(&reluGradOp{base: base{name: "relu_grad"}, sameShape: sameShape{2}}, out, grad)
	return G.Nodes{d}, err
}

// reluGradOp is (y, dy) → dy ⊙ (y > 0).
type reluGradOp struct {
	base
	sameShape
	dx scratch
}

func (op *reluGradOp) Do(in ...G.Value) (G.Value, error) {
	t, err := denseArgs(op.name, in)
	if err != nil {
		return nil, err
	}
	if !t[0].Shape().Eq(t[1].Shape()) {
		return nil, fmt.Errorf("relu_grad: shapes %v and %v", t[0].Shape(), t[1].Shape())
	}
	dx := output(&op.dx, t[0].Dtype(), t[0].Shape()...)
	switch y := t[0].Data().(type) {
	case []float32:
		dy, d := t[1].Data().([]float32), dx.Data().([]float32)
		Blocks(len(y), elementGrain, func(_, lo, hi int) { maskPositive(y[lo:hi], dy[lo:hi], d[lo:hi]) })
	case []float64:
		dy, d := t[1].Data().([]float64), dx.Data().([]float64)
		Blocks(len(y), elementGrain, func(_, lo, hi int) { maskPositive(y[lo:hi], dy[lo:hi], d[lo:hi]) })
	}
	return dx, nil
}
