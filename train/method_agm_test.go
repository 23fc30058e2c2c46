package train

import (
	"fmt"
	"testing"
)

// TestAGMMatchesPyTorch compares AGM's scores, coefficients and modulated,
// clipped gradient with testdata/agm_reference.py, which scales the
// gradients through the Shapley parts with PyTorch backward hooks (the
// authors' mechanism) where AGM's graph uses stop-gradients.
func TestAGMMatchesPyTorch(t *testing.T) {
	var ref struct {
		Alpha float64 `json:"alpha"`
		Cases []struct {
			Head    Head       `json:"head"`
			Labels  []int      `json:"labels"`
			Running [2]float64 `json:"running"`
			Score   [2]float64 `json:"score"`
			Coef    [2]float64 `json:"coef"`
			Clipped bool       `json:"clipped"`
			Loss    float64    `json:"loss"`
			Grads   refGrads   `json:"grads"`
		} `json:"cases"`
	}
	readFixture(t, "agm_ref.json", &ref)
	clipped := map[bool]bool{}
	for _, rc := range ref.Cases {
		name := fmt.Sprintf("%s/%v", rc.Head, rc.Labels)
		meth := &agm{cfg: AGMConfig{Alpha: ref.Alpha, End: -1}, on: true, running: rc.Running}
		n := fixtureNet(t, ModeAGM, rc.Head, meth, rc.Labels, 1)
		if err := meth.BeforeStep(&Step{n: n}); err != nil {
			t.Fatal(err)
		}
		grads, replicas := fixtureGrads(t, n)
		for mm := range meth.score {
			checkClose(t, name+" score", mm, values64(meth.score[mm])[0], rc.Score[mm], 1e-10, 1e-12)
			checkClose(t, name+" coefficient", mm, values64(meth.coef[mm])[0], rc.Coef[mm], 1e-9, 1e-12)
		}
		checkClose(t, name+" loss", 0, values64(n.loss)[0], rc.Loss, 1e-12, 1e-12)
		addReplicas(grads, replicas)
		watch := make([]bool, len(n.used))
		for i, p := range n.used {
			watch[i] = p.group == GroupHead && len(p.t.Shape()) == 2
		}
		if f := clipIfLarge(grads, watch, 1, 1); (f < 1) != rc.Clipped {
			t.Errorf("%s: clip factor %g, PyTorch clipped: %v", name, f, rc.Clipped)
		}
		clipped[rc.Clipped] = true
		checkGrads(t, name, n, grads, rc.Grads, 1e-8)
	}
	if !clipped[true] || !clipped[false] {
		t.Error("agm_ref.json should have cases with and without clipping")
	}
}
