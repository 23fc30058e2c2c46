package attribution_test

import (
	"fmt"

	"github.com/avbalance/avbalance/attribution"
)

// The modality shares of one clip under a concat+linear head: Grad×Input of
// the class logit on each embedding, pooled with the L2 norm.
func Example() {
	h := &attribution.Linear{
		// Two classes; audio and video embeddings of two values each.
		W: [2][][]float64{{{1, 0}, {0, 1}}, {{0.5, 0}, {0, 0.5}}},
		B: []float64{0, 0},
	}
	e := [2][]float64{{3, 0}, {2, 0}} // audio, video
	a := attribution.GradInput(h, e, 0)
	s := attribution.Shares(attribution.Pool(a, attribution.L2))
	fmt.Printf("attributions %v %v\n", a[0], a[1])
	fmt.Printf("shares audio %.2f video %.2f, penalty from 50/50 %.2f\n", s[0], s[1], attribution.Penalty(s, [2]float64{0.5, 0.5}))
	// Output:
	// attributions [3 0] [1 0]
	// shares audio 0.75 video 0.25, penalty from 50/50 0.50
}

// Integrated Gradients of f(x) = x₀·x₁ from the zero baseline: completeness
// makes the attributions sum to f(x) − f(0).
func ExampleIntegratedGradients() {
	f := func(x, grad []float64) (float64, error) {
		grad[0], grad[1] = x[1], x[0]
		return x[0] * x[1], nil
	}
	ig, err := attribution.IntegratedGradients(f, []float64{2, 3}, []float64{0, 0}, 16)
	if err != nil {
		panic(err)
	}
	fmt.Printf("IG %.3f %.3f, sum %.3f\n", ig[0], ig[1], ig[0]+ig[1])
	// Output: IG 3.000 3.000, sum 6.000
}
