package train

import (
	"encoding/json"
	"flag"
	"fmt"
	"math"

	"github.com/avbalance/avbalance/attribution"
	"github.com/avbalance/avbalance/train/op"
	G "gorgonia.org/gorgonia"
)

// ModeAttrReg is attribution regularization.
const ModeAttrReg Mode = "attr-reg"

// PenaltyWeights says how attr-reg averages its per-sample penalty over a
// batch.
type PenaltyWeights string

// Penalty weightings.
const (
	// WeightsAttribution weights a sample by its total pooled attribution
	// Σ_m a_m over the batch's (a stop-gradient): a share's gradient grows
	// as 1/Σ_m a_m, and without the weights the samples to which neither
	// modality contributes dominate the step, blow the embeddings up at a
	// large λ and can end the run at chance (bench/RESULTS-attr-reg.md).
	WeightsAttribution PenaltyWeights = "attribution"
	// WeightsUniform is the plain batch mean (the paper's).
	WeightsUniform PenaltyWeights = "uniform"
)

func (w PenaltyWeights) String() string { return string(w) }

// Set implements flag.Value.
func (w *PenaltyWeights) Set(s string) (err error) {
	*w, err = parseEnum("penalty weights", s, WeightsAttribution, WeightsUniform)
	return err
}

// LambdaMode says how attr-reg's penalty weight is set.
type LambdaMode string

// Penalty weight modes.
const (
	// LambdaAdaptive treats the target as a constraint: λ starts at Lambda
	// and is raised while the training shares miss the target by more than
	// the tolerance and lowered while they are within it.
	LambdaAdaptive LambdaMode = "adaptive"
	// LambdaFixed keeps λ at Lambda.
	LambdaFixed LambdaMode = "fixed"
)

func (l LambdaMode) String() string { return string(l) }

// Set implements flag.Value.
func (l *LambdaMode) Set(s string) (err error) {
	*l, err = parseEnum("lambda mode", s, LambdaAdaptive, LambdaFixed)
	return err
}

// AttrRegConfig are attribution regularization's hyperparameters; the
// shares it pulls are the run's (Config.Target and the Attr* fields).
type AttrRegConfig struct {
	Lambda     float64    `json:"lambda"`      // weight λ of the share penalty (the start value when adaptive)
	LambdaMode LambdaMode `json:"lambda_mode"` // adaptive or fixed
	// Tolerance is how far the mean shares may end from the target: the
	// model selection's admission rule (crediting the epochs within half of
	// it, see Eligible); the adaptive λ aims at half of it, so that shares
	// met on the training batches stay met on held-out clips.
	Tolerance float64 `json:"tolerance"`
	// LambdaRate is the adaptive λ's largest step: per training step, log λ
	// moves by LambdaRate·clip((e − Tolerance/2)/(Tolerance/2), −1, 1) for
	// the smoothed share error e.
	LambdaRate float64 `json:"lambda_rate"`
	LambdaMax  float64 `json:"lambda_max"` // bound of the adaptive λ (and 1e-3 below)
	// PenaltyToEncoders lets the penalty's gradient reach the encoders (the
	// default); without it the penalty reaches only the fusion head.
	PenaltyToEncoders bool `json:"penalty_to_encoders"`
	// Weights is how the per-sample penalty is averaged over a batch.
	Weights PenaltyWeights `json:"penalty_weights"`
}

// Flags implements MethodConfig.
func (c *AttrRegConfig) Flags(fs *flag.FlagSet) {
	fs.Float64Var(&c.Lambda, "lambda", c.Lambda, "attr-reg: weight λ of the share penalty (with --lambda-mode adaptive its start value)")
	fs.Var(&c.LambdaMode, "lambda-mode", "attr-reg: `mode` adaptive (λ follows the share error toward --tolerance) or fixed")
	fs.Float64Var(&c.Tolerance, "tolerance", c.Tolerance, "attr-reg: the mean shares should end within this of --target (model selection admits only such epochs and credits those within half of it; the adaptive λ aims at half of it)")
	fs.Float64Var(&c.LambdaRate, "lambda-rate", c.LambdaRate, "attr-reg: adaptive λ's largest step per training step (log λ += rate·clip((error − tolerance/2)/(tolerance/2), ±1))")
	fs.Float64Var(&c.LambdaMax, "lambda-max", c.LambdaMax, "attr-reg: upper bound of the adaptive λ")
	fs.Var(&c.Weights, "penalty-weights", "attr-reg: average the per-sample penalty with the `weights` attribution (each sample's total attribution) or uniform (the paper's batch mean)")
	fs.BoolVar(&c.PenaltyToEncoders, "penalty-to-encoders", c.PenaltyToEncoders,
		"attr-reg: let the penalty's gradient reach the encoders (=false: only the fusion head)")
}

// Validate implements MethodConfig.
func (c *AttrRegConfig) Validate() error {
	switch {
	case !(c.Lambda >= 0):
		return fmt.Errorf("lambda %g: use a value ≥ 0", c.Lambda)
	case c.LambdaMode != LambdaAdaptive && c.LambdaMode != LambdaFixed:
		return fmt.Errorf("lambda mode %q: use adaptive or fixed", c.LambdaMode)
	case c.LambdaMode == LambdaAdaptive && !(c.Lambda > 0):
		return fmt.Errorf("lambda %g: the adaptive λ starts at --lambda; use a positive value", c.Lambda)
	case !(c.Tolerance > 0 && c.Tolerance < 1):
		return fmt.Errorf("tolerance %g: use a share difference in (0,1), e.g. 0.05", c.Tolerance)
	case !(c.LambdaRate > 0):
		return fmt.Errorf("lambda rate %g: use a positive step, e.g. 0.05", c.LambdaRate)
	case c.Weights != WeightsAttribution && c.Weights != WeightsUniform:
		return fmt.Errorf("penalty weights %q: use attribution or uniform", c.Weights)
	case !(c.LambdaMax >= c.Lambda):
		return fmt.Errorf("lambda max %g: use a bound ≥ --lambda %g", c.LambdaMax, c.Lambda)
	}
	return nil
}

// defaultAttrReg are attr-reg's defaults.
func defaultAttrReg() *AttrRegConfig {
	return &AttrRegConfig{Lambda: 1, LambdaMode: LambdaAdaptive, Tolerance: 0.05, LambdaRate: 0.05, LambdaMax: 10,
		PenaltyToEncoders: true, Weights: WeightsAttribution}
}

func init() {
	RegisterMethod(MethodInfo{Mode: ModeAttrReg, Uses: Both,
		Summary:   "attribution regularization: cross-entropy + λ·Σ_m |s_m − r_m| on the modality shares, λ adapted until the shares meet the target",
		NewConfig: func() MethodConfig { return defaultAttrReg() },
		New: func(cfg *Config) (Method, error) {
			c := *cfg.Method.(*AttrRegConfig)
			return &attrReg{cfg: c, target: cfg.Target, predicted: cfg.AttrClass == ClassPredicted,
				quantity: cfg.AttrQuantity, norm: cfg.AttrNorm, method: cfg.AttrMethod, baseline: cfg.AttrBaseline,
				igSteps: (&spec{uses: Both, head: cfg.Head, quantity: cfg.AttrQuantity, steps: cfg.AttrSteps}).igSteps(),
				lambda:  c.Lambda}, nil
		}})
}

// attrReg adds λ·R to the cross-entropy, R = Σ_m |s_m − r_m| averaged over
// the batch (weighted by each sample's Σ_m a_m, or uniformly), where
// s_m = a_m / Σ_k a_k are the shares of the pooled attributions
// a_m = pool(A_m) of the attributed quantity q (Config's
// AttrQuantity of the AttrClass class) and r the target. A_m is, by
// Config.AttrMethod, Grad×Input ∂q/∂e_m ⊙ e_m or Integrated Gradients
// (e_m − b_m) ⊙ mean_j ∂q/∂e_m(b + α_j(e − b)) over AttrSteps midpoints α_j
// from AttrBaseline b (zero, or the batch's mean embedding, differentiated
// as a function of the batch). ∂q/∂e_m is built as graph ops of
// the head (Graph.ClassGrads, Graph.HeadAt at every path point), so one
// first-order gradient covers the cross-entropy and the penalty, and the
// penalty's gradient is exact (checked against finite differences and
// PyTorch autograd with create_graph). Without PenaltyToEncoders the
// embeddings enter the penalty through a stop-gradient.
//
// With LambdaAdaptive, λ is the multiplier of the constraint
// |s̄_m − r_m| ≤ Tolerance on the batch's mean shares s̄ (as GECO, Rezende &
// Viola 2018, does for a reconstruction constraint): after every step, with
// e the exponential average (0.9) of the batch's max_m |s̄_m − r_m|,
// log λ += LambdaRate·clip((e − τ)/τ, −1, 1) with the set point τ =
// Tolerance/2 (a margin inside the constraint for held-out clips), within
// [1e-3, LambdaMax]: λ grows or shrinks by at most a factor e^LambdaRate a
// step.
type attrReg struct {
	NoHooks
	cfg       AttrRegConfig
	target    Target
	predicted bool
	quantity  attribution.Quantity
	norm      attribution.Norm
	method    AttrMethod
	baseline  Baseline
	igSteps   int

	lambda   float64 // current λ
	errEMA   float64 // smoothed share error
	steps    int     // steps seen by the controller
	lambdaIn *G.Node // λ as a graph input
	shares   G.Value // per-sample video shares [B], read after each run
}

// penaltyEps keeps the L2 pooling differentiable at 0 and the share
// denominator positive: a = sqrt(Σ A² + ε), s_m = (a_m + ε/2) / (Σ_k a_k + ε),
// so a sample whose pooled attributions are all 0 (net pooling: no modality
// adds to the quantity) has equal shares, as attribution.Shares gives it.
const penaltyEps = 1e-12

func (m *attrReg) Loss(g *Graph) (*G.Node, error) {
	if m.cfg.LambdaMode == LambdaFixed && m.cfg.Lambda == 0 {
		return nil, nil
	}
	cls := g.OneHot
	if m.predicted {
		cls = g.ArgmaxOneHot(g.Logits)
	}
	var e [2]*G.Node
	for mm := range e {
		e[mm] = g.Emb[mm]
		if !m.cfg.PenaltyToEncoders {
			e[mm] = g.StopGradient(e[mm])
		}
	}
	attr := m.gradInput(g, e, cls)
	if m.method == AttrIG {
		attr = m.integratedGradients(g, e, cls)
	}
	var a [2]*G.Node
	for mm := range a {
		a[mm] = m.pool(g, attr[mm])
	}
	tot := must(G.Add(must(G.Add(a[0], a[1])), g.Scalar(penaltyEps)))
	var r *G.Node
	for mm := range a {
		sh := must(G.HadamardDiv(must(G.Add(a[mm], g.Scalar(penaltyEps/2))), tot))
		if mm == 1 {
			G.Read(sh, &m.shares)
		}
		d := must(G.Abs(must(G.Sub(sh, g.Scalar(m.target[mm])))))
		if r == nil {
			r = d
		} else {
			r = must(G.Add(r, d))
		}
	}
	w := g.Weight
	if m.cfg.Weights == WeightsAttribution {
		// w_b = tot_b / Σ_real tot, a stop-gradient.
		wt := must(G.HadamardProd(g.Weight, g.StopGradient(tot)))
		w = must(G.HadamardDiv(wt, must(G.Sum(wt))))
	}
	pen := must(G.Sum(must(G.HadamardProd(w, r))))
	if m.cfg.LambdaMode == LambdaFixed {
		return must(G.Mul(g.Scalar(m.cfg.Lambda), pen)), nil
	}
	m.lambdaIn = g.Input("attr-reg.lambda")
	return must(G.Mul(m.lambdaIn, pen)), nil
}

// gradInput builds ∂q/∂e_m ⊙ e_m at the embeddings.
func (m *attrReg) gradInput(g *Graph, e [2]*G.Node, cls *G.Node) [2]*G.Node {
	cg := g.ClassGrads(g.QuantityWeights(m.quantity, g.Logits, cls))
	var a [2]*G.Node
	for mm := range a {
		a[mm] = must(G.HadamardProd(cg[mm], e[mm]))
	}
	return a
}

// integratedGradients builds (e_m − b_m) ⊙ (1/M) Σ_j ∂q/∂e_m(b + α_j(e − b))
// with α_j = (j + ½)/M, the head evaluated at every path point.
func (m *attrReg) integratedGradients(g *Graph, e [2]*G.Node, cls *G.Node) [2]*G.Node {
	var base, diff [2]*G.Node
	for mm := range e {
		if m.baseline == BaselineMean {
			// The batch's mean embedding (real rows only) repeated over the
			// batch; a function of the batch, differentiated as such.
			rows := must(G.Reshape(g.Weight, []int{1, g.Batch()}))
			mean := must(G.Mul(rows, e[mm]))
			ones := g.Ones(g.Batch(), 1)
			base[mm] = must(G.Mul(ones, mean))
			diff[mm] = must(G.Sub(e[mm], base[mm]))
		} else {
			diff[mm] = e[mm]
		}
	}
	steps := m.igSteps
	var sum [2]*G.Node
	for j := 0; j < steps; j++ {
		alpha := g.Scalar((float64(j) + 0.5) / float64(steps))
		var x [2]*G.Node
		for mm := range x {
			x[mm] = must(G.Mul(diff[mm], alpha))
			if base[mm] != nil {
				x[mm] = must(G.Add(base[mm], x[mm]))
			}
		}
		logits, hidden := g.HeadAt(x)
		cg := g.ClassGradsAt(g.QuantityWeights(m.quantity, logits, cls), hidden)
		for mm := range sum {
			if sum[mm] == nil {
				sum[mm] = cg[mm]
			} else {
				sum[mm] = must(G.Add(sum[mm], cg[mm]))
			}
		}
	}
	var a [2]*G.Node
	for mm := range a {
		a[mm] = must(G.HadamardProd(diff[mm], must(G.Mul(sum[mm], g.Scalar(1/float64(steps))))))
	}
	return a
}

// pool reduces attribution rows [B,E] to a_m [B]: sqrt(Σ A² + ε), Σ|A|,
// max(Σ A, 0) or |Σ A|.
func (m *attrReg) pool(g *Graph, a *G.Node) *G.Node {
	switch m.norm {
	case attribution.L1:
		return must(G.Sum(must(G.Abs(a)), 1))
	case attribution.Net:
		return g.ReLU(must(G.Sum(a, 1)))
	case attribution.NetAbs:
		return must(G.Abs(must(G.Sum(a, 1))))
	}
	return must(G.Sqrt(must(G.Add(must(G.Sum(must(G.Square(a)), 1)), g.Scalar(penaltyEps)))))
}

func (m *attrReg) BeforeStep(s *Step) error {
	if m.lambdaIn == nil {
		return nil
	}
	return s.Set(m.lambdaIn, []float64{m.lambda})
}

func (m *attrReg) AfterBackward(s *Step) error {
	if m.lambdaIn == nil || m.shares == nil {
		return nil
	}
	v := op.Float64s(m.shares)
	mean := 0.0
	for i := 0; i < s.N; i++ {
		mean += v[i]
	}
	mean /= float64(s.N)
	// Two modalities: the audio share is 1 − the video share (up to ε).
	e := math.Abs(mean - m.target[1])
	if m.steps == 0 {
		m.errEMA = e
	} else {
		m.errEMA = 0.9*m.errEMA + 0.1*e
	}
	m.steps++
	setPoint := m.cfg.Tolerance / 2
	step := m.cfg.LambdaRate * math.Max(-1, math.Min(1, (m.errEMA-setPoint)/setPoint))
	m.lambda = math.Min(m.cfg.LambdaMax, math.Max(1e-3, m.lambda*math.Exp(step)))
	return nil
}

// Eligible admits the epochs whose val shares are within the tolerance,
// and ranks those within half of it (where the adaptive λ aims) higher: a
// val share of a few dozen clips is off by about 0.01 (its standard
// error), so an epoch met only at the edge on val can miss on test
// (bench/RESULTS-attr-reg.md).
func (m *attrReg) Eligible(val Metrics) (int, string) {
	e := math.Max(math.Abs(val.AudioShare-m.target[0]), math.Abs(val.VideoShare-m.target[1]))
	rule := fmt.Sprintf("val shares within %g of the target %s", m.cfg.Tolerance, m.target)
	ranked := fmt.Sprintf("%s, those within %g winning over epochs up to %g val clips more accurate", rule, m.cfg.Tolerance/2, math.Floor(RankCredit))
	switch {
	case e <= m.cfg.Tolerance/2:
		return 2, ranked
	case e <= m.cfg.Tolerance:
		return 1, ranked
	}
	return 0, rule
}

func (m *attrReg) Report(r *Metrics) {
	lambda := m.cfg.Lambda
	if m.cfg.LambdaMode == LambdaAdaptive {
		lambda = m.lambda
		r.setExtra("lambda", m.lambda)
	}
	r.Loss = r.CE + lambda*r.Penalty
}

// attrRegState is what a checkpoint keeps of the adaptive λ.
type attrRegState struct {
	Lambda, ErrEMA float64
	Steps          int
}

func (m *attrReg) State() ([]byte, error) {
	return json.Marshal(attrRegState{m.lambda, m.errEMA, m.steps})
}

func (m *attrReg) SetState(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	var st attrRegState
	if err := json.Unmarshal(b, &st); err != nil {
		return err
	}
	m.lambda, m.errEMA, m.steps = st.Lambda, st.ErrEMA, st.Steps
	return nil
}
