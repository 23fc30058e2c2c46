package train

import (
	"flag"
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"
)

// ModeMMPareto is MMPareto (method_mmpareto.go).
const ModeMMPareto Mode = "mmpareto"

// MMParetoConfig are MMPareto's hyperparameters.
type MMParetoConfig struct {
	// Gamma scales the integrated encoder gradient (the reference's
	// gamma 1.5, BalanceBenchmark's alpha 1.5).
	Gamma float64 `json:"pareto_gamma"`
}

// Flags implements MethodConfig.
func (c *MMParetoConfig) Flags(fs *flag.FlagSet) {
	fs.Float64Var(&c.Gamma, "pareto-gamma", c.Gamma, "mmpareto: scale γ of the integrated encoder gradient")
}

// Validate implements MethodConfig.
func (c *MMParetoConfig) Validate() error {
	if !(c.Gamma > 0) {
		return fmt.Errorf("pareto-gamma %g: use a value > 0 (MMPareto uses 1.5)", c.Gamma)
	}
	return nil
}

func init() {
	RegisterMethod(MethodInfo{Mode: ModeMMPareto, Uses: Both,
		Summary:   "Pareto integration of the multimodal and unimodal gradients on each encoder (Wei & Hu, ICML 2024)",
		NewConfig: func() MethodConfig { return &MMParetoConfig{Gamma: 1.5} },
		New: func(cfg *Config) (Method, error) {
			return &mmPareto{cfg: *cfg.Method.(*MMParetoConfig)}, nil
		}})
}

// mmPareto is MMPareto (Wei & Hu, "MMPareto: Boosting Multimodal Learning
// with Innocent Unimodal Assistance", ICML 2024).
//
// Matched, from GeWu-Lab/MMPareto_ICML2024 code/MMPareto.py (train_epoch)
// and code/min_norm_solvers.py: the loss is the multimodal cross-entropy
// plus one unimodal cross-entropy per modality; for each encoder m, g_mm
// is the multimodal loss's gradient and g_m the unimodal loss's, over all
// of the encoder's parameters (biases included); if their cosine is > 0
// both get weight ½, else the weights are MinNormSolver's two-vector
// solution (c for g_mm, 1 − c for g_m, c clamped to 0.999 / 0.001 at the
// ends); per parameter tensor the integrated gradient 2·(c·g_mm +
// (1 − c)·g_m) is scaled up to the norm of the plain sum g_mm + g_m when
// it is shorter, then multiplied by γ = 1.5. The heads keep the gradient
// of the summed losses.
//
// Deviations: the unimodal logits are the fusion head's modality parts
// (Graph.Part: e_m·W_m + b/2 for the concat head), as BalanceBenchmark's
// MMParetoTrainer computes them (GeWu-Lab/BalanceBenchmark
// balancemm/trainer/MMPareto_trainer.py, the re-run the issue cites), not
// separate unimodal heads as in the original; so the model, its
// checkpoints, eval and attribute are those of every fusion mode.
// BalanceBenchmark's conflict branch assigns the solver's result to its
// loop variable and leaves the weights at 0 (a bug); the original's
// solver weights are used. The two gradients come from one backward pass:
// each encoder is replicated (Graph.Replica) and the unimodal loss reads
// the replica, so its gradient arrives apart. A zero integrated gradient
// (both gradients zero) stays zero where the reference would divide by 0.
type mmPareto struct {
	NoHooks
	cfg MMParetoConfig
	rep [2]int // the replica of each encoder that the unimodal loss reads
}

func (m *mmPareto) Loss(g *Graph) (*G.Node, error) {
	var term *G.Node
	for mm := range m.rep {
		e, r := g.Replica(mm)
		m.rep[mm] = r
		ce := g.Mean(g.NLL(g.Part(mm, e)))
		if term == nil {
			term = ce
		} else {
			term = must(G.Add(term, ce))
		}
	}
	return term, nil
}

func (m *mmPareto) AfterBackward(s *Step) error {
	for mm, group := range []ParamGroup{GroupAudio, GroupVideo} {
		var gmm, gu [][]float32
		uni := s.ReplicaGrads[m.rep[mm]]
		for i, p := range s.Params {
			if p.Group == group {
				gmm, gu = append(gmm, s.Grads[i]), append(gu, uni[i])
				uni[i] = nil // integrated here, not added by the trainer
			}
		}
		paretoIntegrate(gmm, gu, m.cfg.Gamma)
	}
	return nil
}

// paretoIntegrate overwrites gmm (the multimodal loss's gradient of an
// encoder's parameter tensors) with MMPareto's integration of it and gu
// (the unimodal loss's), scaled by gamma, and returns the cosine of the two
// and the weight c of gmm.
func paretoIntegrate[F float32 | float64](gmm, gu [][]F, gamma float64) (cos, c float64) {
	var v11, v12, v22 float64
	for i := range gmm {
		for j, a := range gmm[i] {
			b := float64(gu[i][j])
			v11 += float64(a) * float64(a)
			v12 += float64(a) * b
			v22 += b * b
		}
	}
	cos = v12 / math.Max(math.Sqrt(v11)*math.Sqrt(v22), 1e-8)
	c = 0.5
	if !(cos > 0) {
		c = minNormWeight(v11, v12, v22)
	}
	for i := range gmm {
		var sum2, new2 float64
		for j, a := range gmm[i] {
			b := float64(gu[i][j])
			sum2 += (float64(a) + b) * (float64(a) + b)
			n := 2 * (c*float64(a) + (1-c)*b)
			new2 += n * n
		}
		scale := gamma
		if new2 > 0 && sum2 > new2 {
			scale *= math.Sqrt(sum2) / math.Sqrt(new2)
		}
		for j, a := range gmm[i] {
			gmm[i][j] = F(scale * 2 * (c*float64(a) + (1-c)*float64(gu[i][j])))
		}
	}
	return cos, c
}

// minNormWeight is the c ∈ [0.001, 0.999] minimising |c·x₁ + (1−c)·x₂|²
// from the inner products v11 = ⟨x₁,x₁⟩, v12 = ⟨x₁,x₂⟩, v22 = ⟨x₂,x₂⟩
// (MinNormSolver._min_norm_element_from2).
func minNormWeight(v11, v12, v22 float64) float64 {
	switch {
	case v12 >= v11:
		return 0.999
	case v12 >= v22:
		return 0.001
	}
	return (v22 - v12) / (v11 + v22 - 2*v12)
}
