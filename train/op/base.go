package op

import (
	"fmt"
	"hash"
	"hash/fnv"
	"runtime"
	"sync"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// base is what every op of this package shares: its name (String) and the
// key its hash is made of (the name when empty). Ops embed it and add
// Arity, Type, InferShape and Do.
type base struct {
	name string
	key  string
}

func (op *base) ReturnsPtr() bool     { return false }
func (op *base) CallsExtern() bool    { return false }
func (op *base) OverwritesInput() int { return -1 }
func (op *base) String() string       { return op.name }

func (op *base) WriteHash(h hash.Hash) {
	if op.key == "" {
		fmt.Fprint(h, op.name)
		return
	}
	fmt.Fprint(h, op.key)
}

func (op *base) Hashcode() uint32 {
	h := fnv.New32a()
	op.WriteHash(h)
	return h.Sum32()
}

// sameShape is the Type and InferShape of an element-wise op of arity
// inputs whose output has the first input's shape.
type sameShape struct{ arity int }

func (s sameShape) Arity() int { return s.arity }

func (s sameShape) Type() hm.Type {
	a := hm.TypeVariable('a')
	ts := make([]hm.Type, s.arity+1)
	for i := range ts {
		ts[i] = a
	}
	return hm.NewFnType(ts...)
}

func (s sameShape) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	sh, ok := in[0].(tensor.Shape)
	if !ok {
		return nil, fmt.Errorf("input shape is %T", in[0])
	}
	return sh.Clone(), nil
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

// like allocates a zeroed tensor of t's dtype and the given shape.
func like(t *tensor.Dense, shape ...int) *tensor.Dense {
	return tensor.New(tensor.Of(t.Dtype()), tensor.WithShape(shape...))
}

// Float64s copies a value (a float32 or float64 tensor or scalar) to
// float64; nil for nil or any other kind of value.
func Float64s(v G.Value) []float64 {
	if v == nil {
		return nil
	}
	switch d := v.Data().(type) {
	case []float32:
		out := make([]float64, len(d))
		for i, x := range d {
			out[i] = float64(x)
		}
		return out
	case []float64:
		return append([]float64(nil), d...)
	case float32:
		return []float64{float64(d)}
	case float64:
		return []float64{d}
	}
	return nil
}

// Cast converts x to a backing slice of dtype dt (float32 or float64).
func Cast(x []float64, dt tensor.Dtype) any {
	if dt == tensor.Float64 {
		return x
	}
	y := make([]float32, len(x))
	for i, v := range x {
		y[i] = float32(v)
	}
	return y
}

// Parallelism is the number of cores the ops split their work over
// (GOMAXPROCS).
func Parallelism() int { return max(1, runtime.GOMAXPROCS(0)) }

// Blocks splits [0,n) into one contiguous block per worker, w = 0..P-1 with
// P = min(Parallelism(), ⌈n/grain⌉), and runs f(w, lo, hi) for each block on
// its own goroutine (on the caller's when P is 1). The split depends only
// on n, grain and P, so sums over a block, and the order blocks are combined
// in, are deterministic.
func Blocks(n, grain int, f func(w, lo, hi int)) {
	p := min(Parallelism(), (n+grain-1)/max(grain, 1))
	if p <= 1 {
		f(0, 0, n)
		return
	}
	var wg sync.WaitGroup
	for w := 0; w < p; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(w, w*n/p, (w+1)*n/p)
		}()
	}
	wg.Wait()
}

// workers is the number of blocks of n samples with grain 1.
func workers(n int) int { return max(1, min(Parallelism(), n)) }
