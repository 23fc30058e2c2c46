package op

import (
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"
)

// ReLU is max(x, 0) with a one-pass gradient dy ⊙ (y > 0), both split over
// the cores; gorgonia's Rectify builds its gradient from a comparison, a
// copy and a product on one core.
func ReLU(x *G.Node) (*G.Node, error) {
	return G.ApplyOp(&reluOp{base{name: "relu"}, sameShape{1}}, x)
}

type reluOp struct {
	base
	sameShape
}

var _ G.SDOp = (*reluOp)(nil)

// elementGrain is the smallest block of elements worth a goroutine.
const elementGrain = 1 << 15

func (op *reluOp) Do(in ...G.Value) (G.Value, error) {
	t, err := denseArgs(op.name, in)
	if err != nil {
		return nil, err
	}
	y := like(t[0], t[0].Shape().Clone()...)
	switch x := t[0].Data().(type) {
	case []float32:
		out := y.Data().([]float32)
		blocks(len(x), elementGrain, func(_, lo, hi int) { reluForward(x[lo:hi], out[lo:hi]) })
	case []float64:
		out := y.Data().([]float64)
		blocks(len(x), elementGrain, func(_, lo, hi int) { reluForward(x[lo:hi], out[lo:hi]) })
	}
	return y, nil
}

func (op *reluOp) DiffWRT(int) []bool { return []bool{true} }

func (op *reluOp) SymDiff(_ G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	d, err := G.ApplyOp(&reluGradOp{base{name: "relu_grad"}, sameShape{2}}, out, grad)
	return G.Nodes{d}, err
}

// reluGradOp is (y, dy) → dy ⊙ (y > 0).
type reluGradOp struct {
	base
	sameShape
}

func (op *reluGradOp) Do(in ...G.Value) (G.Value, error) {
	t, err := denseArgs(op.name, in)
	if err != nil {
		return nil, err
	}
	if !t[0].Shape().Eq(t[1].Shape()) {
		return nil, fmt.Errorf("relu_grad: shapes %v and %v", t[0].Shape(), t[1].Shape())
	}
	dx := like(t[0], t[0].Shape().Clone()...)
	switch y := t[0].Data().(type) {
	case []float32:
		dy, d := t[1].Data().([]float32), dx.Data().([]float32)
		blocks(len(y), elementGrain, func(_, lo, hi int) { reluBackward32(y[lo:hi], dy[lo:hi], d[lo:hi]) })
	case []float64:
		dy, d := t[1].Data().([]float64), dx.Data().([]float64)
		blocks(len(y), elementGrain, func(_, lo, hi int) { reluBackward64(y[lo:hi], dy[lo:hi], d[lo:hi]) })
	}
	return dx, nil
}

func reluForward[T float32 | float64](x, y []T) {
	for i, v := range x {
		y[i] = max(v, 0)
	}
}

// reluBackward32 masks dy with y > 0 through the bits (y = max(x, 0) is +0
// or positive, or NaN): a sign-random branch per element costs more than
// the rest of the loop.
func reluBackward32(y, dy, dx []float32) {
	dy, dx = dy[:len(y)], dx[:len(y)]
	for i, v := range y {
		var m uint32
		if int32(math.Float32bits(v)) > 0 { // positive, not zero, not negative
			m = ^uint32(0)
		}
		dx[i] = math.Float32frombits(math.Float32bits(dy[i]) & m)
	}
}

// reluBackward64 is reluBackward32 in float64.
func reluBackward64(y, dy, dx []float64) {
	dy, dx = dy[:len(y)], dx[:len(y)]
	for i, v := range y {
		var m uint64
		if int64(math.Float64bits(v)) > 0 {
			m = ^uint64(0)
		}
		dx[i] = math.Float64frombits(math.Float64bits(dy[i]) & m)
	}
}
