package train

import (
	"encoding/json"

	"math"
	"os"
	"testing"

	"github.com/avbalance/avbalance/attribution"
)

type penaltyRef struct {
	Cases []struct {
		Head       Head                 `json:"head"`
		ToEncoders bool                 `json:"to_encoders"`
		Predicted  bool                 `json:"predicted"`
		Quantity   attribution.Quantity `json:"quantity"`
		Norm       attribution.Norm     `json:"norm"`
		IGSteps    int                  `json:"ig_steps"`
		IGMean     bool                 `json:"ig_mean"`
		Weighted   bool                 `json:"weighted"`
		Penalty    float64              `json:"penalty"`
		Grads      map[string]struct {
			Index []int     `json:"index"`
			Grad  []float64 `json:"grad"`
			Norm  float64   `json:"norm"`
		} `json:"grads"`
	} `json:"cases"`
}

// TestPenaltyGradMatchesPyTorch compares the penalty and its gradient with
// PyTorch autograd (create_graph=True) on identical weights and inputs
// (testdata/penalty_reference.py), to 1e-6 relative in float64.
func TestPenaltyGradMatchesPyTorch(t *testing.T) {
	b, err := os.ReadFile("testdata/penalty_grad_ref.json")
	if err != nil {
		t.Fatal(err)
	}
	var ref penaltyRef
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	if len(ref.Cases) != len(gradCases) {
		t.Fatalf("penalty_grad_ref.json has %d cases, gradCases %d: run testdata/penalty_reference.py", len(ref.Cases), len(gradCases))
	}
	for i, rc := range ref.Cases {
		c := gradCase{head: rc.Head, toEncoders: rc.ToEncoders, predicted: rc.Predicted, quantity: rc.Quantity,
			norm: rc.Norm, igSteps: rc.IGSteps, igMean: rc.IGMean, weighted: rc.Weighted}
		n := buildGradCase(t, c, true)
		if c != gradCases[i] {
			t.Errorf("case %d is %s in the reference, %s in gradCases", i, c, gradCases[i])
		}
		checkClose(t, c.String()+" penalty", 0, n.lossAt(), rc.Penalty, 1e-6, 1e-12)
		if len(n.gradParams) != len(rc.Grads) {
			t.Errorf("%s: %d parameters reached, PyTorch %d", c, len(n.gradParams), len(rc.Grads))
		}
		for i, p := range n.gradParams {
			r, ok := rc.Grads[p.name]
			if !ok {
				t.Errorf("%s: %s not in the reference", c, p.name)
				continue
			}
			g := values64(n.grads[i])
			norm := 0.0
			for _, v := range g {
				norm += v * v
			}
			checkClose(t, c.String()+" |"+p.name+"|", 0, math.Sqrt(norm), r.Norm, 1e-6, 1e-12)
			for k, j := range r.Index {
				checkClose(t, c.String()+" "+p.name, j, g[j], r.Grad[k], 1e-6, 1e-12)
			}
		}
	}
}
