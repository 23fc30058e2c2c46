package op

import (
	"errors"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// StopGradient passes x through unchanged and no gradient back to it.
func StopGradient(x *G.Node) (*G.Node, error) {
	return G.ApplyOp(newNondiff("stopgrad", copyValues[float32], copyValues[float64]), x)
}

// StepMask is 1 where x > 0 and 0 elsewhere (relu′), with no gradient.
func StepMask(x *G.Node) (*G.Node, error) {
	return G.ApplyOp(newNondiff("relumask", stepMask[float32], stepMask[float64]), x)
}

// ArgmaxOneHot is, for every row of x (the last axis), the one-hot vector of
// its largest element (the first on ties), with no gradient.
func ArgmaxOneHot(x *G.Node) (*G.Node, error) {
	return G.ApplyOp(newNondiff("argmaxonehot", argmaxOneHot[float32], argmaxOneHot[float64]), x)
}

// nondiffOp is an element-shaped op whose output carries no gradient to its
// input: DiffWRT is false, so gorgonia's backward analysis stops there.
type nondiffOp struct {
	base
	sameShape
	f32 func(out, in []float32, shape tensor.Shape)
	f64 func(out, in []float64, shape tensor.Shape)
	out scratch
}

var _ G.SDOp = (*nondiffOp)(nil)

func newNondiff(name string, f32 func(out, in []float32, shape tensor.Shape), f64 func(out, in []float64, shape tensor.Shape)) *nondiffOp {
	return &nondiffOp{base: base{name: name}, sameShape: sameShape{1}, f32: f32, f64: f64}
}

func (op *nondiffOp) Do(in ...G.Value) (G.Value, error) {
	t, err := denseArgs(op.name, in)
	if err != nil {
		return nil, err
	}
	out := output(&op.out, t[0].Dtype(), t[0].Shape()...)
	switch x := t[0].Data().(type) {
	case []float32:
		op.f32(out.Data().([]float32), x, t[0].Shape())
	case []float64:
		op.f64(out.Data().([]float64), x, t[0].Shape())
	}
	return out, nil
}

// DiffWRT implements G.SDOp: no gradient flows to the input.
func (op *nondiffOp) DiffWRT(int) []bool { return []bool{false} }

// SymDiff implements G.SDOp; it is never called because DiffWRT is false.
func (op *nondiffOp) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, errors.New(op.name + " has no gradient")
}

func copyValues[T float32 | float64](o, in []T, _ tensor.Shape) { copy(o, in) }

func stepMask[T float32 | float64](o, in []T, _ tensor.Shape) {
	for k, x := range in {
		if x > 0 {
			o[k] = 1
		} else {
			o[k] = 0
		}
	}
}

func argmaxOneHot[T float32 | float64](o, in []T, s tensor.Shape) {
	k := s[len(s)-1]
	for r := 0; r < len(in)/k; r++ {
		row := in[r*k : (r+1)*k]
		best := 0
		for j, x := range row {
			if x > row[best] {
				best = j
			}
			o[r*k+j] = 0
		}
		o[r*k+best] = 1
	}
}
