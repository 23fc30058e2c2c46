package op

import (
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"
)

// SoftMax is softmax over the last axis of a matrix x [B,K], computed
// stably (the row's maximum subtracted first), with the gradient
// dx = y ⊙ (dy − Σ_k dy_k·y_k). gorgonia's own SoftMax and LogSoftMax
// (tensor v0.9.24) start every row's maximum from the first element of the
// whole tensor, not of the row, so a row whose first logit is its largest
// can overflow to Inf and NaN.
func SoftMax(x *G.Node) (*G.Node, error) { return applySoftmax(x, false) }

// LogSoftMax is log softmax over the last axis of a matrix x [B,K], computed
// stably, with the gradient dx = dy − softmax(x)·Σ_k dy_k.
func LogSoftMax(x *G.Node) (*G.Node, error) { return applySoftmax(x, true) }

func applySoftmax(x *G.Node, log bool) (*G.Node, error) {
	if s := x.Shape(); len(s) != 2 {
		return nil, fmt.Errorf("softmax: input %v, want a matrix [rows, classes]", s)
	}
	name := "softmax"
	if log {
		name = "logsoftmax"
	}
	return G.ApplyOp(&softmaxOp{base{name: name}, sameShape{1}, log}, x)
}

type softmaxOp struct {
	base
	sameShape
	log bool
}

var _ G.SDOp = (*softmaxOp)(nil)

func (op *softmaxOp) Do(in ...G.Value) (G.Value, error) {
	t, err := denseArgs(op.name, in)
	if err != nil {
		return nil, err
	}
	s := t[0].Shape()
	y := like(t[0], s.Clone()...)
	switch x := t[0].Data().(type) {
	case []float32:
		softmaxRows(x, y.Data().([]float32), s[1], op.log)
	case []float64:
		softmaxRows(x, y.Data().([]float64), s[1], op.log)
	}
	return y, nil
}

func (op *softmaxOp) DiffWRT(int) []bool { return []bool{true} }

func (op *softmaxOp) SymDiff(_ G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	d, err := G.ApplyOp(&softmaxGradOp{base{name: op.name + "_grad"}, sameShape{2}, op.log}, out, grad)
	return G.Nodes{d}, err
}

// softmaxGradOp is (y, dy) → dx for the softmax or log-softmax output y.
type softmaxGradOp struct {
	base
	sameShape
	log bool
}

func (op *softmaxGradOp) Do(in ...G.Value) (G.Value, error) {
	t, err := denseArgs(op.name, in)
	if err != nil {
		return nil, err
	}
	s := t[0].Shape()
	if !s.Eq(t[1].Shape()) {
		return nil, fmt.Errorf("%s: shapes %v and %v", op.name, s, t[1].Shape())
	}
	dx := like(t[0], s.Clone()...)
	switch y := t[0].Data().(type) {
	case []float32:
		softmaxGradRows(y, t[1].Data().([]float32), dx.Data().([]float32), s[1], op.log)
	case []float64:
		softmaxGradRows(y, t[1].Data().([]float64), dx.Data().([]float64), s[1], op.log)
	}
	return dx, nil
}

// softmaxRows writes softmax (or log-softmax) of every row of x (k values
// each) into y, in float64 within a row.
func softmaxRows[T float32 | float64](x, y []T, k int, log bool) {
	for r := 0; r+k <= len(x); r += k {
		row, out := x[r:r+k], y[r:r+k]
		mx := math.Inf(-1)
		for _, v := range row {
			mx = math.Max(mx, float64(v))
		}
		sum := 0.0
		for _, v := range row {
			sum += math.Exp(float64(v) - mx)
		}
		lse := mx + math.Log(sum)
		for j, v := range row {
			if log {
				out[j] = T(float64(v) - lse)
			} else {
				out[j] = T(math.Exp(float64(v) - lse))
			}
		}
	}
}

// softmaxGradRows writes dx for the outputs y and their gradient dy, row by
// row: softmax dx = y ⊙ (dy − Σ dy·y); log-softmax dx = dy − exp(y)·Σ dy.
func softmaxGradRows[T float32 | float64](y, dy, dx []T, k int, log bool) {
	for r := 0; r+k <= len(y); r += k {
		yr, dr, out := y[r:r+k], dy[r:r+k], dx[r:r+k]
		s := 0.0
		for j := range yr {
			if log {
				s += float64(dr[j])
			} else {
				s += float64(dr[j]) * float64(yr[j])
			}
		}
		for j := range yr {
			if log {
				out[j] = T(float64(dr[j]) - math.Exp(float64(yr[j]))*s)
			} else {
				out[j] = T(float64(yr[j]) * (float64(dr[j]) - s))
			}
		}
	}
}
