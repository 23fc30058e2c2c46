package train

import (
	"fmt"
	"math"
	"testing"
)

// TestMMParetoMatchesPyTorch compares MMPareto's integrated gradients with
// testdata/mmpareto_reference.py, which differentiates the multimodal and
// the unimodal losses one by one with PyTorch autograd and integrates them
// as the authors' code does; the cases cover agreeing gradients (weights
// ½) and conflicting ones (the min-norm weights). The two gradients of an
// encoder come from one Grad call through an encoder replica.
func TestMMParetoMatchesPyTorch(t *testing.T) {
	var ref struct {
		Gamma float64 `json:"gamma"`
		Cases []struct {
			Head       Head    `json:"head"`
			Labels     []int   `json:"labels"`
			VideoGain  float64 `json:"video_gain"`
			Modalities map[string]struct {
				Cos     float64 `json:"cos"`
				C       float64 `json:"c"`
				NormMM  float64 `json:"norm_mm"`
				NormUni float64 `json:"norm_uni"`
			} `json:"modalities"`
			Grads refGrads `json:"grads"`
		} `json:"cases"`
	}
	readFixture(t, "mmpareto_ref.json", &ref)
	conflicts := 0
	for _, rc := range ref.Cases {
		name := fmt.Sprintf("%s/%v/gain%g", rc.Head, rc.Labels, rc.VideoGain)
		meth := &mmPareto{cfg: MMParetoConfig{Gamma: ref.Gamma}}
		n := fixtureNet(t, ModeMMPareto, rc.Head, meth, rc.Labels, rc.VideoGain)
		grads, replicas := fixtureGrads(t, n)
		for mm, group := range []ParamGroup{GroupAudio, GroupVideo} {
			var gmm, gu [][]float64
			for i, p := range n.used {
				if p.group == group {
					gmm, gu = append(gmm, grads[i]), append(gu, replicas[meth.rep[mm]][i])
				}
			}
			rm := rc.Modalities[[]string{"audio", "video"}[mm]]
			checkClose(t, name+" |g_mm|", mm, norm(gmm), rm.NormMM, 1e-9, 1e-12)
			checkClose(t, name+" |g_uni|", mm, norm(gu), rm.NormUni, 1e-9, 1e-12)
			cos, c := paretoIntegrate(gmm, gu, ref.Gamma)
			checkClose(t, name+" cos", mm, cos, rm.Cos, 1e-9, 1e-12)
			checkClose(t, name+" c", mm, c, rm.C, 1e-9, 1e-12)
			if rm.Cos <= 0 {
				conflicts++
			}
		}
		checkGrads(t, name, n, grads, rc.Grads, 1e-8)
	}
	if conflicts == 0 {
		t.Error("no case with conflicting gradients in mmpareto_ref.json")
	}
}

func norm(g [][]float64) float64 {
	s := 0.0
	for _, x := range g {
		for _, v := range x {
			s += v * v
		}
	}
	return math.Sqrt(s)
}

func TestMinNormWeightEnds(t *testing.T) {
	if c := minNormWeight(1, 2, 5); c != 0.999 {
		t.Errorf("⟨x1,x2⟩ ≥ |x1|²: c %g, want 0.999", c)
	}
	if c := minNormWeight(5, 2, 1); c != 0.001 {
		t.Errorf("⟨x1,x2⟩ ≥ |x2|²: c %g, want 0.001", c)
	}
	if c := minNormWeight(1, -1, 1); c != 0.5 {
		t.Errorf("opposite unit vectors: c %g, want 0.5", c)
	}
}
