package train

import (
	"encoding/json"
	"math"
	"os"
	"testing"
)

// TestMacroF1MatchesSklearn: Metrics.MacroF1 of a pass equals scikit-learn's
// f1_score(average="macro") on the same true and predicted labels
// (testdata/macro_f1_reference.py), classes never predicted or never true included.
func TestMacroF1MatchesSklearn(t *testing.T) {
	b, err := os.ReadFile("testdata/macro_f1_ref.json")
	if err != nil {
		t.Fatal(err)
	}
	var ref struct {
		Cases []struct {
			Classes    int
			True, Pred []int
			MacroF1    float64 `json:"macro_f1"`
		}
	}
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	for i, c := range ref.Cases {
		a := &accum{s: &spec{classes: c.Classes}}
		for j, y := range c.True {
			p := make([]float64, c.Classes)
			p[c.Pred[j]] = 1 // the predicted class has the top probability
			a.labels, a.probs = append(a.labels, y), append(a.probs, p)
		}
		if got := a.metrics(0, "test", 0).MacroF1; math.Abs(got-c.MacroF1) > 1e-12 {
			t.Errorf("case %d (%d clips, %d classes): macro-F1 %.15f, sklearn %.15f", i, len(c.True), c.Classes, got, c.MacroF1)
		}
	}
}
