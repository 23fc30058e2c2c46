package train

import (
	"flag"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/avbalance/avbalance/attribution"
)

// ModeOGMGE is on-the-fly gradient modulation with generalization enhancement.
const ModeOGMGE Mode = "ogm-ge"

// OGMGEConfig are OGM-GE's hyperparameters.
type OGMGEConfig struct {
	Alpha   float64 `json:"alpha"`     // modulation strength α
	GENoise bool    `json:"ge_noise"`  // generalization-enhancement noise
	Start   int     `json:"ogm_start"` // first epoch (0-based) with modulation
	End     int     `json:"ogm_end"`   // last epoch with modulation; <0: all
}

// Flags implements MethodConfig.
func (c *OGMGEConfig) Flags(fs *flag.FlagSet) {
	fs.Float64Var(&c.Alpha, "alpha", c.Alpha, "ogm-ge: modulation strength α")
	fs.BoolVar(&c.GENoise, "ge-noise", c.GENoise, "ogm-ge: add generalization-enhancement noise")
	fs.IntVar(&c.Start, "ogm-start", c.Start, "ogm-ge: first epoch (0-based) with modulation")
	fs.IntVar(&c.End, "ogm-end", c.End, "ogm-ge: last epoch with modulation (-1: all)")
}

// Validate implements MethodConfig.
func (c *OGMGEConfig) Validate() error {
	if !(c.Alpha >= 0) {
		return fmt.Errorf("alpha %g: use a value ≥ 0 (OGM-GE uses 0.1–0.8)", c.Alpha)
	}
	return nil
}

func init() {
	RegisterMethod(MethodInfo{Mode: ModeOGMGE, Uses: Both,
		Summary:   "on-the-fly gradient modulation with generalization-enhancement noise (Peng et al., CVPR 2022)",
		NewConfig: func() MethodConfig { return &OGMGEConfig{Alpha: 0.1, GENoise: true, End: -1} },
		New: func(cfg *Config) (Method, error) {
			m := &ogmGE{cfg: *cfg.Method.(*OGMGEConfig)}
			m.src, m.noise = newRand(cfg.Seed, 0x9e)
			return m, nil
		}})
}

// ogmGE is OGM-GE (Peng et al., "Balanced Multimodal Learning via On-the-fly
// Gradient Modulation", CVPR 2022; GeWu-Lab/OGM-GE_CVPR2022): after the
// backward pass, the encoder of the modality that dominates the batch has
// its gradient scaled down by 1 − tanh(α·(ratio − 1)) and, with GE, Gaussian
// noise of the gradient's own spread added. As in the reference code, a
// modality's score is Σ_b softmax(part_m(e_m,b))[y_b] over the head's
// per-modality part (for the concat head e_m·W_m + b/2), the ratio is the
// score of one modality over the other's, and the head's gradient is left
// alone. Modulation applies from epoch Start to End.
type ogmGE struct {
	NoHooks
	cfg    OGMGEConfig
	active bool
	src    *rand.PCG
	noise  *rand.Rand
}

func (m *ogmGE) StartEpoch(e *Epoch) error {
	m.active = e.Index >= m.cfg.Start && (m.cfg.End < 0 || e.Index <= m.cfg.End)
	return nil
}

func (m *ogmGE) AfterBackward(s *Step) error {
	if !m.active {
		return nil
	}
	coeff := ogmCoefficients(s.Head, s.Emb, [2]int{s.Dim(0), s.Dim(1)}, s.Labels, s.N, m.cfg.Alpha)
	for i, p := range s.Params {
		if p.Group != GroupHead {
			modulate(s.Grads[i], coeff[p.Group], m.cfg.GENoise, m.noise)
		}
	}
	return nil
}

func (m *ogmGE) State() ([]byte, error) { return m.src.MarshalBinary() }

func (m *ogmGE) SetState(b []byte) error { return m.src.UnmarshalBinary(b) }

// ogmCoefficients returns OGM-GE's per-modality gradient coefficients for a
// batch: score_m = Σ_b softmax(part_m(e_m,b))[y_b] over the head's
// per-modality parts; the dominant modality (ratio > 1) gets
// 1 − tanh(α·relu(ratio − 1)), the other 1.
func ogmCoefficients(h attribution.Head, emb [2][]float64, dims [2]int, labels []int, n int, alpha float64) [2]float64 {
	var score [2]float64
	buf := make([]float64, h.Classes())
	for m := 0; m < 2; m++ {
		for i := 0; i < n; i++ {
			part := h.Part(buf, m, emb[m][i*dims[m]:(i+1)*dims[m]])
			score[m] += attribution.Softmax(part)[labels[i]]
		}
	}
	coeff := [2]float64{1, 1}
	if score[0] == 0 || score[1] == 0 {
		return coeff
	}
	ratio := score[0] / score[1]
	if ratio > 1 {
		coeff[0] = 1 - math.Tanh(alpha*math.Max(ratio-1, 0))
	} else {
		coeff[1] = 1 - math.Tanh(alpha*math.Max(1/ratio-1, 0))
	}
	return coeff
}

// modulate scales an encoder gradient by coeff and, with noise, adds
// Gaussian noise N(0, std(g)+1e-8) (the GE part, std of the unscaled
// gradient, as in the reference code).
func modulate(g []float32, coeff float64, noise bool, rng *rand.Rand) {
	std := 0.0
	if noise {
		mean := 0.0
		for _, x := range g {
			mean += float64(x)
		}
		mean /= float64(len(g))
		for _, x := range g {
			std += (float64(x) - mean) * (float64(x) - mean)
		}
		if len(g) > 1 {
			std = math.Sqrt(std / float64(len(g)-1))
		}
		std += 1e-8
	}
	for j := range g {
		x := float64(g[j]) * coeff
		if noise {
			x += rng.NormFloat64() * std
		}
		g[j] = float32(x)
	}
}
