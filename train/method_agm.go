package train

import (
	"encoding/json"
	"flag"
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"
)

// ModeAGM is AGM (method_agm.go).
const ModeAGM Mode = "agm"

// AGMConfig are AGM's hyperparameters.
type AGMConfig struct {
	Alpha float64 `json:"agm_alpha"` // modulation strength α
	Start int     `json:"agm_start"` // first epoch (0-based) with modulation
	End   int     `json:"agm_end"`   // last epoch with modulation; <0: all
}

// Flags implements MethodConfig.
func (c *AGMConfig) Flags(fs *flag.FlagSet) {
	fs.Float64Var(&c.Alpha, "agm-alpha", c.Alpha, "agm: modulation strength α")
	fs.IntVar(&c.Start, "agm-start", c.Start, "agm: first epoch (0-based) with modulation")
	fs.IntVar(&c.End, "agm-end", c.End, "agm: last epoch with modulation (-1: all)")
}

// Validate implements MethodConfig.
func (c *AGMConfig) Validate() error {
	if !(c.Alpha >= 0) {
		return fmt.Errorf("agm-alpha %g: use a value ≥ 0 (AGM's default is 1)", c.Alpha)
	}
	return nil
}

func init() {
	RegisterMethod(MethodInfo{Mode: ModeAGM, Uses: Both,
		Summary:   "adaptive gradient modulation of each modality's Shapley part of the logits (Li et al., ICCV 2023)",
		NewConfig: func() MethodConfig { return &AGMConfig{Alpha: 1, End: -1} },
		New: func(cfg *Config) (Method, error) {
			return &agm{cfg: *cfg.Method.(*AGMConfig)}, nil
		}})
}

// agm is AGM (Li et al., "Boosting Multi-modal Model Performance with
// Adaptive Gradient Modulation", ICCV 2023).
//
// Matched, from Lingy12/AGM_ICCV2023 (model/CREMAD_net.py GradMod,
// run/CREMAD_main.py train, late fusion): the logits t and the logits with
// the audio (pa) or the video input (pv) replaced by zeros give each
// modality's two-player Shapley part, m_a = ½(t − pa + pv) and
// m_v = ½(t − pv + pa), whose sum is t; the padded passes carry gradient
// as in the reference. A modality's batch score is its mean
// −log softmax(m)[y] (clamped at −log 1e-8); the coefficient of audio is
// c_a = exp(α·min(exp(S_v − S_a) − exp(s_v − s_a), 10)) with s the step's
// scores and S their running mean over every step so far (updated after
// the coefficient), video's the same with the roles swapped; the
// gradient through m_a is
// scaled by audio's coefficient and through m_v by video's (the
// reference's backward hooks); when any gradient of the head's weights
// leaves [−1, 1], all gradients are clipped to global norm 1 (PyTorch's
// clip_grad_norm_). α defaults to the code's 1.
//
// Deviations: the hooks are written as the loss CE(t) + [CE(o) − CE(t)]
// with o = t + (c_a − 1)(m_a − sg(m_a)) + (c_v − 1)(m_v − sg(m_v)), whose
// value is CE(t) exactly and whose gradient is the hooked one; the zero
// input's encoder pass runs once and is repeated for the batch
// (Graph.ZeroReplica), so with resnet18 its batch norms use that pass's
// statistics, not the running ones the reference's eval mode uses; the
// modulation epochs default to all (the code: 0–20); outside them the
// coefficients are 1 (the reference keeps its last ones). BalanceBenchmark
// (balancemm/trainer/AGM_trainer.py) flips the sign of the score
// difference, scales only weight gradients and clips at 5; the authors'
// code is followed.
type agm struct {
	NoHooks
	cfg     AGMConfig
	on      bool
	steps   int        // training steps so far
	running [2]float64 // S_a, S_v
	opt     [2]*G.Node // exp(S_o − S_m) inputs
	active  *G.Node
	score   [2]*G.Node // s_a, s_v of the step
	coef    [2]*G.Node // c_a, c_v of the step
}

// agmScoreCap is −log 1e-8, the reference's clamp of a sample's score.
var agmScoreCap = -math.Log(1e-8)

func (m *agm) Loss(g *Graph) (*G.Node, error) {
	e0a, _ := g.ZeroReplica(0)
	e0v, _ := g.ZeroReplica(1)
	t := g.Logits
	pa, _ := g.HeadAt([2]*G.Node{e0a, g.Emb[1]})
	pv, _ := g.HeadAt([2]*G.Node{g.Emb[0], e0v})
	half := g.Scalar(0.5)
	part := [2]*G.Node{
		must(G.Mul(half, must(G.Add(must(G.Sub(t, pa)), pv)))),
		must(G.Mul(half, must(G.Add(must(G.Sub(t, pv)), pa)))),
	}
	m.active = g.Input("agm.active")
	for mm := range part {
		ce := g.NLL(g.StopGradient(part[mm]))
		capped := must(G.Sub(ce, must(G.Rectify(must(G.Sub(ce, g.Scalar(agmScoreCap)))))))
		m.score[mm] = g.Mean(capped)
		m.opt[mm] = g.Input(fmt.Sprintf("agm.optimal%d", mm))
	}
	out := t
	for mm := range part {
		ratio := must(G.Exp(must(G.Sub(m.score[1-mm], m.score[mm]))))
		x := must(G.Sub(m.opt[mm], ratio))
		x = must(G.Sub(x, must(G.Rectify(must(G.Sub(x, g.Scalar(10)))))))
		c := must(G.Exp(must(G.Mul(g.Scalar(m.cfg.Alpha), x))))
		// inactive: coefficient 1
		m.coef[mm] = must(G.Add(g.Scalar(1), must(G.Mul(m.active, must(G.Sub(c, g.Scalar(1)))))))
		grad := must(G.Sub(part[mm], g.StopGradient(part[mm])))
		out = must(G.Add(out, must(G.Mul(must(G.Sub(m.coef[mm], g.Scalar(1))), grad))))
	}
	return must(G.Sub(g.Mean(g.NLL(out)), g.CE)), nil
}

func (m *agm) StartEpoch(e *Epoch) error {
	m.on = e.Index >= m.cfg.Start && (m.cfg.End < 0 || e.Index <= m.cfg.End)
	return nil
}

func (m *agm) BeforeStep(s *Step) error {
	for mm := range m.opt {
		if err := s.Set(m.opt[mm], []float64{math.Exp(m.running[1-mm] - m.running[mm])}); err != nil {
			return err
		}
	}
	on := 0.0
	if m.on {
		on = 1
	}
	return s.Set(m.active, []float64{on})
}

func (m *agm) AfterBackward(s *Step) error {
	m.steps++
	for mm := range m.running {
		score := values64(m.score[mm])[0]
		m.running[mm] = m.running[mm]*float64(m.steps-1)/float64(m.steps) + score/float64(m.steps)
	}
	// The padded passes' gradients are part of the gradient clipped.
	foldReplicas(s)
	s.ReplicaGrads = nil
	headW := make([]bool, len(s.Params))
	for i, p := range s.Params {
		headW[i] = p.Group == GroupHead && len(p.Shape) == 2
	}
	clipIfLarge(s.Grads, headW, 1, 1)
	return nil
}

// clipIfLarge scales grads to global L2 norm maxNorm (as PyTorch's
// clip_grad_norm_, with its 1e-6) when any value of the gradients marked
// in watch leaves [−limit, limit]; it returns the factor applied.
func clipIfLarge[F float32 | float64](grads [][]F, watch []bool, limit, maxNorm float64) float64 {
	large := false
	for i, g := range grads {
		if !watch[i] {
			continue
		}
		for _, v := range g {
			if float64(v) > limit || float64(v) < -limit {
				large = true
			}
		}
	}
	if !large {
		return 1
	}
	total := 0.0
	for _, g := range grads {
		for _, v := range g {
			total += float64(v) * float64(v)
		}
	}
	coef := maxNorm / (math.Sqrt(total) + 1e-6)
	if coef >= 1 {
		return 1
	}
	for _, g := range grads {
		for j := range g {
			g[j] = F(float64(g[j]) * coef)
		}
	}
	return coef
}

// agmState is what a checkpoint keeps of AGM.
type agmState struct {
	Steps   int
	Running [2]float64
}

func (m *agm) State() ([]byte, error) { return json.Marshal(agmState{m.steps, m.running}) }

func (m *agm) SetState(b []byte) error {
	var st agmState
	if err := json.Unmarshal(b, &st); err != nil {
		return err
	}
	m.steps, m.running = st.Steps, st.Running
	return nil
}
