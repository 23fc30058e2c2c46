package train

import (
	"encoding/json"
	"flag"
	"fmt"

	"github.com/avbalance/avbalance/train/op"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// ModePMR is PMR (method_pmr.go).
const ModePMR Mode = "pmr"

// PMRConfig are PMR's hyperparameters.
type PMRConfig struct {
	Alpha    float64 `json:"pmr_alpha"`    // weight α of the slower modality's prototype cross-entropy
	Momentum float64 `json:"pmr_momentum"` // weight of the previous prototypes in the update
	Start    int     `json:"pmr_start"`    // first epoch (0-based) with the prototype loss
	End      int     `json:"pmr_end"`      // last epoch with it; <0: all
}

// Flags implements MethodConfig.
func (c *PMRConfig) Flags(fs *flag.FlagSet) {
	fs.Float64Var(&c.Alpha, "pmr-alpha", c.Alpha, "pmr: weight α of the slower modality's prototype cross-entropy")
	fs.Float64Var(&c.Momentum, "pmr-momentum", c.Momentum, "pmr: momentum of the prototype update (0: fresh every epoch)")
	fs.IntVar(&c.Start, "pmr-start", c.Start, "pmr: first epoch (0-based) with the prototype loss")
	fs.IntVar(&c.End, "pmr-end", c.End, "pmr: last epoch with the prototype loss (-1: all)")
}

// Validate implements MethodConfig.
func (c *PMRConfig) Validate() error {
	if !(c.Alpha >= 0) {
		return fmt.Errorf("pmr-alpha %g: use a value ≥ 0 (PMR uses 1–3 on CREMA-D)", c.Alpha)
	}
	if !(c.Momentum >= 0 && c.Momentum < 1) {
		return fmt.Errorf("pmr-momentum %g: use a value in [0,1)", c.Momentum)
	}
	return nil
}

func init() {
	RegisterMethod(MethodInfo{Mode: ModePMR, Uses: Both,
		Summary:   "prototypical modal rebalance: prototype cross-entropy on the slower modality's embeddings (Fan et al., CVPR 2023)",
		NewConfig: func() MethodConfig { return &PMRConfig{Alpha: 2, End: -1} },
		New: func(cfg *Config) (Method, error) {
			return &pmr{cfg: *cfg.Method.(*PMRConfig), batch: cfg.Batch}, nil
		}})
}

// pmr is PMR (Fan et al., "PMR: Prototypical Modal Rebalance for
// Multimodal Learning", CVPR 2023).
//
// Matched, from fanyunfeng-bit/Modal-Imbalance-PMR main_Prototype_grad.py
// (train_epoch, calculate_prototype, EU_dist): each modality has one
// prototype per class, the mean embedding of the class over the first
// tenth of the train loader's batches (at least one batch), computed with
// the model in eval mode before the first epoch and after every epoch,
// mixed with the previous ones by the momentum from the third computation
// on (the reference passes epoch 0 to the first two); a sample's
// prototype logits are its negative Euclidean distances to them; the
// batch's score of a modality is Σ softmax(−dist)[y]; the modality with
// the lower score gets α·CE(−dist, y) added to the loss (the other 0,
// both 0 on a tie), so its encoder is pulled toward its prototypes; the
// prototypes are constants of the step. α 2 and momentum 0 are the
// authors' CREMA-D concat runs (bash.sh); the code's defaults are α 1 and
// momentum 0.2, BalanceBenchmark's α 0.6 and 0.5.
//
// Deviations: a class without a row in the sample keeps its previous
// prototype (at the first computation: the sample's mean), where the
// reference divides by zero; the epochs with the loss default to all
// (the authors stop at epoch 70 of 130, BalanceBenchmark never); an
// ε = 1e-20 under the square root keeps the distance's gradient finite
// where a row equals a prototype (as one can: a class seen once).
type pmr struct {
	NoHooks
	cfg      PMRConfig
	batch    int
	computed int // prototype computations so far
	proto    [2][]float64
	in       [2]*G.Node // prototypes [K,E_m]
	active   *G.Node    // 1 in the epochs with the loss
	on       bool
	coef     [2]*G.Node // α or 0 per modality, for tests
	score    [2]*G.Node
}

// pmrStream is PMR's stream of the train-split shuffle for prototypes.
const pmrStream = 0x9f2

func (m *pmr) Loss(g *Graph) (*G.Node, error) {
	k := g.Classes()
	var ce [2]*G.Node
	for mm := range m.in {
		e := g.Emb[mm]
		d := e.Shape()[1]
		m.in[mm] = g.Input(fmt.Sprintf("pmr.proto%d", mm), k, d)
		sim := must(G.Neg(protoDist(g, e, m.in[mm])))
		ce[mm] = g.Mean(g.NLL(sim))
		p := must(op.SoftMax(g.StopGradient(sim)))
		m.score[mm] = g.Mean(must(G.Sum(must(G.HadamardProd(g.OneHot, p)), 1)))
	}
	m.active = g.Input("pmr.active")
	alpha := g.Scalar(m.cfg.Alpha)
	var term *G.Node
	for mm := range ce {
		// the slower modality, the one with the lower score, gets α
		lead := must(G.Reshape(must(G.Sub(m.score[1-mm], m.score[mm])), tensor.Shape{1}))
		slower := must(G.Sum(must(op.StepMask(lead)))) // StepMask takes tensors, not scalars
		m.coef[mm] = must(G.Mul(must(G.Mul(slower, alpha)), m.active))
		t := must(G.Mul(m.coef[mm], ce[mm]))
		if term == nil {
			term = t
		} else {
			term = must(G.Add(term, t))
		}
	}
	return term, nil
}

// protoDist is the Euclidean distance [B,K] of each row of e [B,E] to each
// prototype row of p [K,E].
func protoDist(g *Graph, e, p *G.Node) *G.Node {
	b, k, d := e.Shape()[0], p.Shape()[0], e.Shape()[1]
	e3 := must(G.Reshape(e, tensor.Shape{b, 1, d}))
	p3 := must(G.Reshape(p, tensor.Shape{1, k, d}))
	diff := must(G.BroadcastSub(e3, p3, []byte{1}, []byte{0}))
	sq := must(G.Sum(must(G.Square(diff)), 2))
	return must(G.Sqrt(must(G.Add(sq, g.Scalar(pmrEps)))))
}

// pmrEps keeps the distance's gradient finite (zero) where a row equals a
// prototype; 1e-20 is a normal float32 far below any squared distance.
const pmrEps = 1e-20

func (m *pmr) StartEpoch(e *Epoch) error {
	m.on = e.Index >= m.cfg.Start && (m.cfg.End < 0 || e.Index <= m.cfg.End)
	nb := (e.TrainRows + m.batch - 1) / m.batch
	rows := max(1, nb/10) * m.batch
	k := e.t.m.spec.classes
	var sum [2][]float64
	count := make([]int, k)
	var all [2][]float64
	err := e.TrainEmbeddings(rows, pmrStream, func(label int, emb [2][]float64) {
		count[label]++
		for mm := range sum {
			d := len(emb[mm])
			if sum[mm] == nil {
				sum[mm], all[mm] = make([]float64, k*d), make([]float64, d)
			}
			for j, v := range emb[mm] {
				sum[mm][label*d+j] += v
				all[mm][j] += v
			}
		}
	})
	if err != nil {
		return err
	}
	n := 0
	for _, c := range count {
		n += c
	}
	for mm := range sum {
		m.proto[mm] = updatePrototypes(m.proto[mm], sum[mm], all[mm], count, n, m.computed, m.cfg.Momentum)
	}
	m.computed++
	return nil
}

// updatePrototypes returns the prototypes [K·E] from the per-class sums
// and counts of a sample of n rows (all: the sample's embedding sum), mixed
// with the previous ones (prev) by momentum from the third computation on.
func updatePrototypes(prev, sum, all []float64, count []int, n, computed int, momentum float64) []float64 {
	d := len(all)
	out := make([]float64, len(sum))
	for c, cnt := range count {
		for j := 0; j < d; j++ {
			switch {
			case cnt > 0:
				out[c*d+j] = sum[c*d+j] / float64(cnt)
			case prev != nil:
				out[c*d+j] = prev[c*d+j]
			default:
				out[c*d+j] = all[j] / float64(n)
			}
			if computed >= 2 && prev != nil {
				out[c*d+j] = (1-momentum)*out[c*d+j] + momentum*prev[c*d+j]
			}
		}
	}
	return out
}

func (m *pmr) BeforeStep(s *Step) error {
	for mm := range m.in {
		if err := s.Set(m.in[mm], m.proto[mm]); err != nil {
			return err
		}
	}
	on := 0.0
	if m.on {
		on = 1
	}
	return s.Set(m.active, []float64{on})
}

// pmrState is what a checkpoint keeps of PMR.
type pmrState struct {
	Computed int
	Proto    [2][]float64
}

func (m *pmr) State() ([]byte, error) {
	return json.Marshal(pmrState{Computed: m.computed, Proto: m.proto})
}

func (m *pmr) SetState(b []byte) error {
	var st pmrState
	if err := json.Unmarshal(b, &st); err != nil {
		return err
	}
	m.computed, m.proto = st.Computed, st.Proto
	return nil
}
