package attribution

import (
	"fmt"
	"math"
	"strings"
)

// Norm selects how a modality's attribution vector A_m is pooled to the
// non-negative scalar a_m its share is made of.
type Norm int

const (
	// L2 pools with the Euclidean norm ‖A_m‖₂ (the zero value).
	L2 Norm = iota
	// L1 pools with the sum of absolute values ‖A_m‖₁.
	L1
	// Net pools with the signed sum Σ_i A_m,i clipped at 0: by
	// completeness (Grad×Input of a linear head, IG) the modality's net
	// contribution to the attributed quantity, 0 when it works against it.
	Net
	// NetAbs pools with |Σ_i A_m,i|: the net contribution's size, either sign.
	NetAbs
)

var normNames = [...]string{"l2", "l1", "net", "net-abs"}

// ParseNorm maps "l2", "l1", "net" or "net-abs" to a Norm ("" is L2).
func ParseNorm(s string) (Norm, error) {
	if s == "" {
		return L2, nil
	}
	for i, n := range normNames {
		if strings.EqualFold(s, n) {
			return Norm(i), nil
		}
	}
	return L2, fmt.Errorf("attribution: unknown norm %q (use l2, l1, net or net-abs)", s)
}

// String returns the norm's name: "l2", "l1", "net" or "net-abs".
func (n Norm) String() string {
	if n >= 0 && int(n) < len(normNames) {
		return normNames[n]
	}
	return fmt.Sprintf("Norm(%d)", int(n))
}

// Set implements flag.Value.
func (n *Norm) Set(s string) error {
	v, err := ParseNorm(s)
	if err == nil {
		*n = v
	}
	return err
}

// MarshalText writes the norm's name ("l2" or "l1").
func (n Norm) MarshalText() ([]byte, error) { return []byte(n.String()), nil }

// UnmarshalText reads a norm's name.
func (n *Norm) UnmarshalText(b []byte) error { return n.Set(string(b)) }

// GradInput returns the Grad×Input attribution ∂f_c/∂e_m ⊙ e_m per modality.
func GradInput(h Head, e [Modalities][]float64, c int) [Modalities][]float64 {
	var g [Modalities][]float64
	for m := range g {
		g[m] = make([]float64, len(e[m]))
	}
	h.ClassGrad(g, e, c)
	for m := range g {
		for i := range g[m] {
			g[m][i] *= e[m][i]
		}
	}
	return g
}

// GradFunc evaluates a scalar function and its gradient at x; grad has len(x).
type GradFunc func(x []float64, grad []float64) (float64, error)

// BatchGradFunc evaluates a scalar function and its gradient at several
// points at once: values[k] = f(points[k]), grads[k] = ∇f(points[k]).
type BatchGradFunc func(points, grads [][]float64, values []float64) error

// IGResult is Integrated Gradients of one input with the function's values
// at both ends of the path.
type IGResult struct {
	Attr          []float64 // IG_i
	FX, FBaseline float64   // f(x) and f(baseline)
}

// CompletenessError is |Σ IG − (f(x) − f(b))| / max(|f(x) − f(b)|, 1e-6).
func (r *IGResult) CompletenessError() float64 {
	sum := 0.0
	for _, v := range r.Attr {
		sum += v
	}
	d := r.FX - r.FBaseline
	return math.Abs(sum-d) / math.Max(math.Abs(d), 1e-6)
}

// IntegratedGradients approximates IG_i = (x_i − b_i)·∫₀¹ ∂f/∂x_i(b + t(x−b)) dt
// with the midpoint rule over steps points. Completeness holds up to the
// quadrature error: Σ_i IG_i ≈ f(x) − f(b).
func IntegratedGradients(f GradFunc, x, baseline []float64, steps int) ([]float64, error) {
	one := func(points, grads [][]float64, values []float64) (err error) {
		values[0], err = f(points[0], grads[0])
		return err
	}
	r, err := integrate(one, x, baseline, steps, 1, false)
	if err != nil {
		return nil, err
	}
	return r.Attr, nil
}

// IntegratedGradientsBatch is IntegratedGradients with f evaluated on up to
// batch points per call; the path's points are the steps midpoints, then x
// and the baseline, whose values are returned as FX and FBaseline.
func IntegratedGradientsBatch(f BatchGradFunc, x, baseline []float64, steps, batch int) (*IGResult, error) {
	return integrate(f, x, baseline, steps, batch, true)
}

func integrate(f BatchGradFunc, x, baseline []float64, steps, batch int, ends bool) (*IGResult, error) {
	if len(x) != len(baseline) {
		panic("attribution: x and baseline differ in length")
	}
	if steps < 1 {
		return nil, fmt.Errorf("attribution: IG needs at least 1 step, got %d", steps)
	}
	total := steps
	if ends {
		total += 2
	}
	alpha := func(k int) float64 {
		switch k {
		case steps:
			return 1
		case steps + 1:
			return 0
		}
		return (float64(k) + 0.5) / float64(steps)
	}
	batch = max(1, min(batch, total))
	points, grads := make([][]float64, batch), make([][]float64, batch)
	for k := range points {
		points[k], grads[k] = make([]float64, len(x)), make([]float64, len(x))
	}
	values := make([]float64, batch)
	res := &IGResult{Attr: make([]float64, len(x))}
	for lo := 0; lo < total; lo += batch {
		n := min(batch, total-lo)
		for k := 0; k < n; k++ {
			a := alpha(lo + k)
			for i := range x {
				points[k][i] = baseline[i] + a*(x[i]-baseline[i])
			}
		}
		if err := f(points[:n], grads[:n], values[:n]); err != nil {
			return nil, err
		}
		for k := 0; k < n; k++ {
			switch p := lo + k; {
			case p < steps:
				for i, g := range grads[k] {
					res.Attr[i] += g
				}
			case p == steps:
				res.FX = values[k]
			default:
				res.FBaseline = values[k]
			}
		}
	}
	for i := range res.Attr {
		res.Attr[i] *= (x[i] - baseline[i]) / float64(steps)
	}
	return res, nil
}

// HeadIG runs Integrated Gradients of quantity q for class c on the
// concatenated embeddings of a head, from baseline to e, and returns it split
// per modality.
func HeadIG(h Head, e, baseline [Modalities][]float64, q Quantity, c, steps int) ([Modalities][]float64, error) {
	d := h.Dims()
	x := append(append([]float64(nil), e[0]...), e[1]...)
	b := append(append([]float64(nil), baseline[0]...), baseline[1]...)
	var g [Modalities][]float64
	logits := make([]float64, h.Classes())
	f := func(p, grad []float64) (float64, error) {
		in := [Modalities][]float64{p[:d[0]], p[d[0]:]}
		g[0], g[1] = grad[:d[0]], grad[d[0]:]
		QuantityGrad(h, g, in, q, c)
		return q.Value(h.Logits(logits, in), c), nil
	}
	ig, err := IntegratedGradients(f, x, b, steps)
	if err != nil {
		return [Modalities][]float64{}, err
	}
	return [Modalities][]float64{ig[:d[0]], ig[d[0]:]}, nil
}

// Pool reduces each modality's attribution vector to a scalar.
func Pool(a [Modalities][]float64, n Norm) [Modalities]float64 {
	var out [Modalities]float64
	for m, v := range a {
		s := 0.0
		for _, x := range v {
			switch n {
			case L1:
				s += math.Abs(x)
			case Net, NetAbs:
				s += x
			default:
				s += x * x
			}
		}
		switch n {
		case L2:
			s = math.Sqrt(s)
		case Net:
			s = math.Max(s, 0)
		case NetAbs:
			s = math.Abs(s)
		}
		out[m] = s
	}
	return out
}

// Shares normalises pooled attributions to shares that sum to 1; all-zero
// attributions give equal shares.
func Shares(a [Modalities]float64) [Modalities]float64 {
	t := 0.0
	for _, x := range a {
		t += x
	}
	var s [Modalities]float64
	for m, x := range a {
		if t == 0 {
			s[m] = 1 / float64(Modalities)
		} else {
			s[m] = x / t
		}
	}
	return s
}

// Penalty is the regularizer Σ_m |s_m − r_m| for shares s and targets r.
func Penalty(s, r [Modalities]float64) float64 {
	p := 0.0
	for m := range s {
		p += math.Abs(s[m] - r[m])
	}
	return p
}

// Probe returns the logits of the head with every modality except m zeroed:
// the unimodal probe of branch m inside a fusion model.
func Probe(dst []float64, h Head, m int, e []float64) []float64 {
	var in [Modalities][]float64
	d := h.Dims()
	for k := range in {
		if k == m {
			in[k] = e
		} else {
			in[k] = make([]float64, d[k])
		}
	}
	return h.Logits(dst, in)
}
