package train

import (
	"flag"
	"fmt"

	"github.com/avbalance/avbalance/attribution"
	G "gorgonia.org/gorgonia"
)

// AttrRegConfig are attribution regularization's hyperparameters; the
// shares it pulls are the run's (Config.Target, AttrClass, AttrNorm).
type AttrRegConfig struct {
	Lambda float64 `json:"lambda"` // weight λ of the share penalty
	// PenaltyToEncoders lets the penalty's gradient reach the encoders;
	// by default it reaches only the fusion head.
	PenaltyToEncoders bool `json:"penalty_to_encoders"`
}

// Flags implements MethodConfig.
func (c *AttrRegConfig) Flags(fs *flag.FlagSet) {
	fs.Float64Var(&c.Lambda, "lambda", c.Lambda, "attr-reg: weight λ of the share penalty")
	fs.BoolVar(&c.PenaltyToEncoders, "penalty-to-encoders", c.PenaltyToEncoders,
		"attr-reg: let the penalty's gradient reach the encoders (else only the fusion head)")
}

// Validate implements MethodConfig.
func (c *AttrRegConfig) Validate() error {
	if !(c.Lambda >= 0) {
		return fmt.Errorf("lambda %g: use a value ≥ 0", c.Lambda)
	}
	return nil
}

func init() {
	RegisterMethod(MethodInfo{Mode: ModeAttrReg, Uses: Both,
		Summary:   "attribution regularization: cross-entropy + λ·Σ_m |s_m − r_m| on the Grad×Input modality shares",
		NewConfig: func() MethodConfig { return &AttrRegConfig{Lambda: 1} },
		New: func(cfg *Config) (Method, error) {
			return &attrReg{cfg: *cfg.Method.(*AttrRegConfig), target: cfg.Target,
				predicted: cfg.AttrClass == ClassPredicted, norm: cfg.AttrNorm}, nil
		}})
}

// attrReg adds λ·R to the cross-entropy, R = Σ_m |s_m − r_m| averaged over
// the batch, where s_m = a_m / Σ_k a_k are the shares of the pooled
// Grad×Input attributions a_m = pool(∂f_c/∂e_m ⊙ e_m) and r the target.
// ∂f_c/∂e_m is built as graph ops of the head (Graph.ClassGrads), so one
// first-order gradient covers the cross-entropy and the penalty, and the
// penalty's gradient is exact (checked against finite differences and
// PyTorch autograd with create_graph). Without PenaltyToEncoders the
// embeddings enter the penalty through a stop-gradient.
type attrReg struct {
	NoHooks
	cfg       AttrRegConfig
	target    Target
	predicted bool
	norm      attribution.Norm
}

// penaltyEps keeps the L2 pooling differentiable at 0 and the share
// denominator positive: a = sqrt(Σ A² + ε), s_m = a_m / (Σ_k a_k + ε).
const penaltyEps = 1e-12

func (m *attrReg) Loss(g *Graph) (*G.Node, error) {
	if m.cfg.Lambda == 0 {
		return nil, nil
	}
	cls := g.OneHot
	if m.predicted {
		cls = g.ArgmaxOneHot(g.Logits)
	}
	cg := g.ClassGrads(cls)
	var a [2]*G.Node
	for mm := range a {
		e := g.Emb[mm]
		if !m.cfg.PenaltyToEncoders {
			e = g.StopGradient(e)
		}
		a[mm] = m.pool(g, must(G.HadamardProd(cg[mm], e)))
	}
	tot := must(G.Add(must(G.Add(a[0], a[1])), g.Scalar(penaltyEps)))
	var r *G.Node
	for mm := range a {
		sh := must(G.HadamardDiv(a[mm], tot))
		d := must(G.Abs(must(G.Sub(sh, g.Scalar(m.target[mm])))))
		if r == nil {
			r = d
		} else {
			r = must(G.Add(r, d))
		}
	}
	pen := must(G.Sum(must(G.HadamardProd(g.Weight, r))))
	return must(G.Mul(g.Scalar(m.cfg.Lambda), pen)), nil
}

// pool reduces Grad×Input rows [B,E] to a_m [B]: sqrt(Σ A² + ε) or Σ|A|.
func (m *attrReg) pool(g *Graph, a *G.Node) *G.Node {
	if m.norm == attribution.L1 {
		return must(G.Sum(must(G.Abs(a)), 1))
	}
	return must(G.Sqrt(must(G.Add(must(G.Sum(must(G.Square(a)), 1)), g.Scalar(penaltyEps)))))
}

func (m *attrReg) Report(r *Metrics) { r.Loss = r.CE + m.cfg.Lambda*r.Penalty }
