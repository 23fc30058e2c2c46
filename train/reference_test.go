package train

import (
	"encoding/json"
	"math"
	"os"
	"testing"
)

type penaltyRef struct {
	Cases []struct {
		Head       Head    `json:"head"`
		ToEncoders bool    `json:"to_encoders"`
		Predicted  bool    `json:"predicted"`
		Penalty    float64 `json:"penalty"`
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
	if len(ref.Cases) == 0 {
		t.Fatal("no cases in penalty_grad_ref.json")
	}
	for _, rc := range ref.Cases {
		c := gradCase{rc.Head, rc.ToEncoders, rc.Predicted}
		n := buildGradCase(t, c, true)
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
