package train

import (
	"errors"
	"fmt"
	"hash"
	"hash/fnv"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// nondiffOp is an element-shaped op whose output carries no gradient to its
// input: DiffWRT is false, so gorgonia's backward analysis stops there. It
// implements stop-gradient, relu′ masks and one-hot(argmax).
type nondiffOp struct {
	name string
	f32  func(out, in []float32, shape tensor.Shape)
	f64  func(out, in []float64, shape tensor.Shape)
}

func (op *nondiffOp) Arity() int { return 1 }

func (op *nondiffOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	return hm.NewFnType(a, a)
}

func (op *nondiffOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, ok := in[0].(tensor.Shape)
	if !ok {
		return nil, fmt.Errorf("%s: input shape is %T", op.name, in[0])
	}
	return s.Clone(), nil
}

func (op *nondiffOp) Do(in ...G.Value) (G.Value, error) {
	t, ok := in[0].(*tensor.Dense)
	if !ok {
		return nil, fmt.Errorf("%s: input is %T, want a dense tensor", op.name, in[0])
	}
	out := tensor.New(tensor.Of(t.Dtype()), tensor.WithShape(t.Shape().Clone()...))
	switch t.Dtype() {
	case tensor.Float32:
		op.f32(out.Data().([]float32), t.Data().([]float32), t.Shape())
	case tensor.Float64:
		op.f64(out.Data().([]float64), t.Data().([]float64), t.Shape())
	default:
		return nil, fmt.Errorf("%s: dtype %v not supported", op.name, t.Dtype())
	}
	return out, nil
}

func (op *nondiffOp) ReturnsPtr() bool      { return false }
func (op *nondiffOp) CallsExtern() bool     { return false }
func (op *nondiffOp) OverwritesInput() int  { return -1 }
func (op *nondiffOp) WriteHash(h hash.Hash) { fmt.Fprint(h, op.name) }
func (op *nondiffOp) String() string        { return op.name }
func (op *nondiffOp) Hashcode() uint32 {
	h := fnv.New32a()
	op.WriteHash(h)
	return h.Sum32()
}

// DiffWRT implements G.SDOp: no gradient flows to the input.
func (op *nondiffOp) DiffWRT(int) []bool { return []bool{false} }

// SymDiff implements G.SDOp; it is never called because DiffWRT is false.
func (op *nondiffOp) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, errors.New(op.name + " has no gradient")
}

func stopGradOp() *nondiffOp {
	return &nondiffOp{name: "stopgrad",
		f32: func(o, i []float32, _ tensor.Shape) { copy(o, i) },
		f64: func(o, i []float64, _ tensor.Shape) { copy(o, i) }}
}

func stepMask[T float32 | float64](o, in []T, _ tensor.Shape) {
	for k, x := range in {
		if x > 0 {
			o[k] = 1
		} else {
			o[k] = 0
		}
	}
}

func reluMaskOp() *nondiffOp {
	return &nondiffOp{name: "relumask", f32: stepMask[float32], f64: stepMask[float64]}
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

func argmaxOneHotOp() *nondiffOp {
	return &nondiffOp{name: "argmaxonehot", f32: argmaxOneHot[float32], f64: argmaxOneHot[float64]}
}
