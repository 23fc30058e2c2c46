package train

import (
	"fmt"
	"math"
	"testing"

	"github.com/avbalance/avbalance/attribution"

	"gorgonia.org/tensor"
)

// gradCase builds a float64 model on fixed inputs; the zero values of the
// variant fields are the raw logit, L2 pooling and Grad×Input.
type gradCase struct {
	head       Head
	toEncoders bool
	predicted  bool
	quantity   attribution.Quantity
	norm       attribution.Norm
	igSteps    int  // > 0: Integrated Gradients in the penalty
	igMean     bool // IG from the batch's mean embedding
	weighted   bool // the batch mean weighted by each sample's attribution
}

func (c gradCase) String() string {
	s := fmt.Sprintf("%s/enc=%v/pred=%v", c.head, c.toEncoders, c.predicted)
	if c.quantity != attribution.Logit || c.norm != attribution.L2 {
		s += fmt.Sprintf("/%s/%s", c.quantity, c.norm)
	}
	if c.igSteps > 0 {
		s += fmt.Sprintf("/ig%d", c.igSteps)
		if c.igMean {
			s += "-mean"
		}
	}
	if c.weighted {
		s += "/weighted"
	}
	return s
}

// reaches says whether the penalty depends on parameter p: the head's
// weight matrices, all of the head through the softmax of the
// log-probability, and the encoders unless the stop-gradient cuts them.
func (c gradCase) reaches(p *param) bool {
	if p.group != GroupHead {
		return c.toEncoders
	}
	return len(p.t.Shape()) == 2 || c.quantity == attribution.LogProb
}

const (
	gcBatch   = 3
	gcClasses = 3
	gcEmbed   = 4
)

var (
	gcAudio = []int{8, 8}
	gcFrame = []int{2, 8, 8, 3}
)

func gcSpec(c gradCase) spec {
	return spec{mode: ModeAttrReg, uses: Both, arch: ModelSmall, head: c.head, embed: gcEmbed, classes: gcClasses,
		audioShape: gcAudio, frameShape: gcFrame, dt: tensor.Float64,
		target: Target{0.3, 0.7}, predicted: c.predicted, quantity: c.quantity, norm: c.norm}
}

// gcMethod is attr-reg with λ 1 for the spec of c.
func gcMethod(c gradCase) Method {
	s := gcSpec(c)
	cfg := *defaultAttrReg()
	cfg.LambdaMode, cfg.PenaltyToEncoders, cfg.Weights = LambdaFixed, c.toEncoders, WeightsUniform
	if c.weighted {
		cfg.Weights = WeightsAttribution
	}
	m := &attrReg{cfg: cfg, target: s.target, predicted: s.predicted, quantity: s.quantity, norm: s.norm,
		method: AttrGradInput, baseline: BaselineZero, lambda: 1}
	if c.igSteps > 0 {
		m.method, m.igSteps = AttrIG, c.igSteps
		if c.igMean {
			m.baseline = BaselineMean
		}
	}
	return m
}

// gcInputs are deterministic inputs shared with penalty_reference.py.
func gcInputs() inputs {
	a := make([]float64, gcBatch*gcAudio[0]*gcAudio[1])
	for j := range a {
		a[j] = math.Sin(1.7*float64(j)+0.3) + 0.5*math.Cos(0.013*float64(j*j%97))
	}
	f := make([]float64, gcBatch*gcFrame[0]*3*gcFrame[1]*gcFrame[2])
	for j := range f {
		f[j] = math.Cos(2.3*float64(j)+0.1) + 0.3*math.Sin(0.021*float64(j*j%89))
	}
	return inputs{audio: a, frames: f, labels: []int{0, 2, 1}, n: gcBatch}
}

// setFixedWeights gives parameter p (in order) w[j] = s·sin(12.9898·j + 78.233·p + 0.5),
// s = 1/sqrt(fan-in) for weights, 0.1 for biases plus 0.05 (as penalty_reference.py).
func setFixedWeights(m *model) {
	for pi, p := range m.params {
		d := p.t.Data().([]float64)
		s := 0.1
		if sh := p.t.Shape(); len(sh) == 4 {
			s = 1 / math.Sqrt(float64(sh[1]*sh[2]*sh[3]))
		} else if len(sh) == 2 {
			s = 1 / math.Sqrt(float64(sh[0]))
		}
		for j := range d {
			d[j] = s * math.Sin(12.9898*float64(j)+78.233*float64(pi)+0.5)
			if len(p.t.Shape()) == 1 {
				d[j] += 0.05
			}
		}
	}
}

func buildGradCase(t *testing.T, c gradCase, penaltyOnly bool) *net {
	t.Helper()
	m := newModel(gcSpec(c), 1)
	opts := netOptions{}
	if penaltyOnly {
		opts = netOptions{termOnly: true, wrt: c.reaches}
	}
	n, err := buildNet(m, gcBatch, gcMethod(c), opts)
	if err != nil {
		t.Fatal(err)
	}
	setFixedWeights(m)
	if err := n.feed(gcInputs()); err != nil {
		t.Fatal(err)
	}
	return n
}

func (n *net) lossAt() float64 {
	if err := n.run(); err != nil {
		panic(err)
	}
	return values64(n.loss)[0]
}

// gradCases are the penalty variants checked against finite differences
// and PyTorch (testdata/penalty_reference.py lists the same).
var gradCases = []gradCase{
	{head: HeadConcat, toEncoders: true}, {head: HeadConcat}, {head: HeadConcat, toEncoders: true, predicted: true},
	{head: HeadSum, toEncoders: true}, {head: HeadSum, predicted: true},
	{head: HeadMLP, toEncoders: true}, {head: HeadMLP}, {head: HeadMLP, toEncoders: true, predicted: true},
	// What is attributed and how it is pooled.
	{head: HeadConcat, toEncoders: true, quantity: attribution.LogProb},
	{head: HeadMLP, toEncoders: true, quantity: attribution.LogProb, norm: attribution.NetAbs},
	{head: HeadConcat, toEncoders: true, quantity: attribution.Centered, norm: attribution.NetAbs},
	{head: HeadMLP, quantity: attribution.Centered},
	{head: HeadConcat, toEncoders: true, quantity: attribution.Margin, norm: attribution.Net},
	{head: HeadMLP, toEncoders: true, predicted: true, quantity: attribution.Margin},
	{head: HeadSum, toEncoders: true, quantity: attribution.Centered, norm: attribution.L1},
	{head: HeadMLP, toEncoders: true, quantity: attribution.LogProb, norm: attribution.Net},
	// Integrated Gradients in the penalty.
	{head: HeadMLP, toEncoders: true, igSteps: 4},
	{head: HeadMLP, toEncoders: true, quantity: attribution.LogProb, igSteps: 3},
	{head: HeadMLP, toEncoders: true, quantity: attribution.Centered, norm: attribution.NetAbs, igSteps: 3, igMean: true},
	{head: HeadConcat, toEncoders: true, predicted: true, quantity: attribution.Margin, igSteps: 2, igMean: true},
	{head: HeadMLP, quantity: attribution.LogProb, igSteps: 2, igMean: true},
	// The defaults (IG from the mean, centred logit, net pooling, reaching
	// the encoders, attribution-weighted): one exact step on the concat
	// head, several on mlp.
	{head: HeadConcat, toEncoders: true, quantity: attribution.Centered, norm: attribution.Net, igSteps: 1, igMean: true, weighted: true},
	{head: HeadMLP, toEncoders: true, quantity: attribution.Centered, norm: attribution.Net, igSteps: 3, igMean: true, weighted: true},
	{head: HeadConcat, quantity: attribution.Centered, weighted: true},
}

// TestPenaltyGradFiniteDifferences checks the penalty's gradient w.r.t.
// every parameter against central differences in float64; with the
// stop-gradient the encoders must get exactly zero. The attribution-weighted
// cases are left to TestPenaltyGradMatchesPyTorch: their weights are a
// stop-gradient, which finite differences of the loss cannot hold fixed.
func TestPenaltyGradFiniteDifferences(t *testing.T) {
	for _, c := range gradCases {
		if c.weighted {
			continue
		}
		t.Run(c.String(), func(t *testing.T) {
			n := buildGradCase(t, c, true)
			n.lossAt()
			reached := map[string]bool{}
			for i, p := range n.gradParams {
				reached[p.name] = true
				g := values64(n.grads[i])
				d := p.t.Data().([]float64)
				for _, j := range probeIndices(len(d)) {
					fd := centralDiff(n, d, j)
					checkClose(t, p.name, j, g[j], fd, 1e-6, 1e-8) // 1e-8: finite differences of a zero gradient round to ~1e-9
				}
			}
			// Parameters the penalty does not reach must have no effect on it.
			for _, p := range n.used {
				if reached[p.name] {
					continue
				}
				if p.group != GroupHead && !c.toEncoders {
					continue // reached in value, cut by the stop-gradient
				}
				d := p.t.Data().([]float64)
				if fd := centralDiff(n, d, 0); math.Abs(fd) > 1e-9 {
					t.Errorf("%s: penalty depends on it (%g) but gets no gradient", p.name, fd)
				}
			}
		})
	}
}

// TestLossGradFiniteDifferences checks CE + λ·penalty gradients, including
// the encoders (convolutions, pooling, frame mean), against central differences.
func TestLossGradFiniteDifferences(t *testing.T) {
	for _, c := range []gradCase{{head: HeadConcat, toEncoders: true}, {head: HeadMLP, toEncoders: true, predicted: true},
		{head: HeadMLP, toEncoders: true, quantity: attribution.LogProb, igSteps: 2}} {
		n := buildGradCase(t, c, false)
		n.lossAt()
		for i, p := range n.gradParams {
			g := values64(n.grads[i])
			d := p.t.Data().([]float64)
			for _, j := range probeIndices(len(d)) {
				checkClose(t, c.String()+" "+p.name, j, g[j], centralDiff(n, d, j), 1e-6, 1e-9)
			}
		}
	}
}

func probeIndices(n int) []int {
	if n <= 6 {
		out := make([]int, n)
		for i := range out {
			out[i] = i
		}
		return out
	}
	return []int{0, 1, n / 3, n / 2, (2 * n) / 3, n - 1}
}

func centralDiff(n *net, d []float64, j int) float64 {
	const h = 1e-6
	orig := d[j]
	d[j] = orig + h
	up := n.lossAt()
	d[j] = orig - h
	down := n.lossAt()
	d[j] = orig
	n.lossAt()
	return (up - down) / (2 * h)
}

func checkClose(t *testing.T, name string, j int, got, want, rel, abs float64) {
	t.Helper()
	if math.Abs(got-want) > rel*math.Max(math.Abs(got), math.Abs(want))+abs {
		t.Errorf("%s[%d]: gradient %.12g, reference %.12g", name, j, got, want)
	}
}
