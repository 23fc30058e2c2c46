package train

import (
	"context"
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/avbalance/avbalance/attribution"
)

// igModel is a float64 concat model of the gradient tests' shapes with
// its random initial weights.
func igModel(t *testing.T) *model {
	t.Helper()
	s := gcSpec(gradCase{head: HeadConcat})
	s.mode = ModeConcat
	m := newModel(s, 1)
	if _, err := buildNet(m, 1, nil, netOptions{}); err != nil { // creates the parameters
		t.Fatal(err)
	}
	return m
}

func igClip(r *rand.Rand) (x, zero [2][]float64) {
	x = [2][]float64{randVals(r, prod(gcAudio)), randVals(r, gcFrame[0]*3*gcFrame[1]*gcFrame[2])}
	zero = [2][]float64{make([]float64, len(x[0])), make([]float64, len(x[1]))}
	return x, zero
}

func randVals(r *rand.Rand, n int) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = r.NormFloat64()
	}
	return v
}

// TestInputGradientsFiniteDifferences checks the graph's ∂f_c/∂input (the
// first convolutions' input gradients) against central differences, and
// that running the graph again gives the same gradient.
func TestInputGradientsFiniteDifferences(t *testing.T) {
	m := igModel(t)
	ig, err := newInputIG(m, 1, attribution.Logit)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(4, 4))
	x, _ := igClip(r)
	const c = 1
	f := func() float64 {
		l, _, err := ig.run(x[0], x[1], c)
		if err != nil {
			t.Fatal(err)
		}
		return l[c]
	}
	_, g, err := ig.run(x[0], x[1], c)
	if err != nil {
		t.Fatal(err)
	}
	_, g2, _ := ig.run(x[0], x[1], c)
	for mm := range g {
		for i := range g[mm] {
			if g[mm][i] != g2[mm][i] {
				t.Fatalf("second run: gradient %d[%d] %g, first run %g", mm, i, g2[mm][i], g[mm][i])
			}
		}
	}
	const h = 1e-6
	for mm := range x {
		for trial := 0; trial < 15; trial++ {
			i := r.IntN(len(x[mm]))
			old := x[mm][i]
			x[mm][i] = old + h
			fp := f()
			x[mm][i] = old - h
			fm := f()
			x[mm][i] = old
			fd := (fp - fm) / (2 * h)
			if math.Abs(fd-g[mm][i]) > 1e-6*math.Max(1, math.Abs(fd)) {
				t.Errorf("modality %d input %d: gradient %.10g, central difference %.10g", mm, i, g[mm][i], fd)
			}
		}
	}
}

// TestInputIGCompleteness checks Σ IG ≈ f_c(x) − f_c(baseline) in float64:
// the midpoint rule's error on this piecewise-linear network is up to ~40%
// at 16 steps, ~6% at 64 and must be below 1% of f_c(x) − f_c(baseline) at
// 256 steps (0.2–0.4% here).
func TestInputIGCompleteness(t *testing.T) {
	m := igModel(t)
	ig, err := newInputIG(m, igRows, attribution.Logit)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(6, 6))
	for clip := 0; clip < 3; clip++ {
		// A random baseline: from zero the path would be a ray, along which
		// this bias-free ReLU network is linear and IG exact at any step count.
		x, _ := igClip(r)
		zero, _ := igClip(r)
		c := clip % gcClasses
		var errs []float64
		for _, steps := range []int{16, 64, 256} {
			a, res, err := ig.clip(x, zero, c, steps)
			if err != nil {
				t.Fatal(err)
			}
			errs = append(errs, res.CompletenessError())
			if len(a[0]) != len(x[0]) || len(a[1]) != len(x[1]) {
				t.Fatalf("attribution sizes %d %d", len(a[0]), len(a[1]))
			}
			t.Logf("clip %d class %d steps %d: f(x) − f(0) %.6f, rel. error %.2g",
				clip, c, steps, res.FX-res.FBaseline, res.CompletenessError())
		}
		if errs[2] > 0.01 {
			t.Errorf("clip %d: completeness errors %.3g at 16, 64 and 256 steps; want < 1%% at 256", clip, errs)
		}
	}
}

// TestAttributeIGInput runs the ig-input report on a trained run.
func TestAttributeIGInput(t *testing.T) {
	src := synthExamples(40, 3)
	dir := t.TempDir()
	if _, err := RunExamples(context.Background(), tinyConfig(dir, ModeConcat), src); err != nil {
		t.Fatal(err)
	}
	for _, base := range []Baseline{BaselineZero, BaselineMean} {
		out := filepath.Join(dir, "attr-ig-input-"+string(base))
		s, err := AttributeExamples(context.Background(), AttributeConfig{RunDir: dir, Split: "test", Out: out,
			Method: AttrIGInput, Steps: 256, Baseline: base}, src)
		if err != nil {
			t.Fatal(err)
		}
		if s.Clips != 4 || math.Abs(s.MeanAudio+s.MeanVideo-1) > 1e-3 {
			t.Errorf("%s: summary %+v", base, s)
		}
		// float32 model: completeness within 2% at 256 steps.
		if e := s.Extra.(map[string]any)["completeness_max_rel_error"].(float64); e > 0.02 {
			t.Errorf("%s: completeness error %.3g", base, e)
		}
		t.Logf("%s baseline: audio share %.3f, worst completeness error %.2g", base, s.MeanAudio, s.Extra.(map[string]any)["completeness_max_rel_error"])
	}
}

// TestInputIGQuantities: the decision-level quantities are attributed on the
// raw inputs too, with completeness within 1% (the margin 2%) at 256 steps,
// and FX is the quantity's value at the clip.
func TestInputIGQuantities(t *testing.T) {
	m := igModel(t)
	r := rand.New(rand.NewPCG(8, 8))
	x, _ := igClip(r)
	base, _ := igClip(r)
	logitIG, err := newInputIG(m, 1, attribution.Logit)
	if err != nil {
		t.Fatal(err)
	}
	logits, _, err := logitIG.run(x[0], x[1], 0)
	if err != nil {
		t.Fatal(err)
	}
	f := logits[:gcClasses]
	for _, q := range []attribution.Quantity{attribution.LogProb, attribution.Centered, attribution.Margin} {
		ig, err := newInputIG(m, igRows, q)
		if err != nil {
			t.Fatal(err)
		}
		const c = 1
		_, res, err := ig.clip(x, base, c, 256)
		if err != nil {
			t.Fatal(err)
		}
		if want := q.Value(f, c); math.Abs(res.FX-want) > 1e-9 {
			t.Errorf("%v: f(x) %g, want %g", q, res.FX, want)
		}
		// The margin's runner-up switches along the path: one more kink per
		// switch for the midpoint rule (measured 1.5% here).
		limit := 0.01
		if q == attribution.Margin {
			limit = 0.02
		}
		if e := res.CompletenessError(); e > limit {
			t.Errorf("%v: completeness error %.3g at 256 steps, want < %g", q, e, limit)
		}
	}
}
