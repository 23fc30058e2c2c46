package train

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/avbalance/avbalance/attribution"

	"github.com/avbalance/avbalance/internal/atomicfile"
)

// Training modes.
const (
	ModeAudio   = "audio"
	ModeVideo   = "video"
	ModeConcat  = "concat"
	ModeOGMGE   = "ogm-ge"
	ModeAttrReg = "attr-reg"
)

// Model sizes.
const (
	ModelSmall    = "small"
	ModelResNet18 = "resnet18"
)

// Fusion heads.
const (
	HeadConcat = "concat" // concat + linear
	HeadSum    = "sum"    // per-modality linear, summed
	HeadMLP    = "mlp"    // concat + one hidden ReLU layer of Embed units
)

// Optimizers.
const (
	OptSGD  = "sgd" // SGD with momentum (PyTorch convention)
	OptAdam = "adam"
)

// Attribution classes for attr-reg.
const (
	ClassTrue      = "true"
	ClassPredicted = "predicted"
)

// Config is everything a training run needs. DefaultConfig gives working
// values for every field except Shards and Out.
type Config struct {
	Shards string `json:"shards"` // extraction output folder (index.json + *.arrow)
	Out    string `json:"out"`    // run directory
	Mode   string `json:"mode"`   // audio, video, concat, ogm-ge, attr-reg
	Model  string `json:"model"`  // small, resnet18
	Head   string `json:"head"`   // concat, sum, mlp (fusion modes)
	Embed  int    `json:"embed"`  // embedding size per modality (resnet18: 512)

	Epochs      int     `json:"epochs"`
	Batch       int     `json:"batch"`
	LR          float64 `json:"lr"`
	Optimizer   string  `json:"optimizer"` // sgd, adam
	Momentum    float64 `json:"momentum"`
	WeightDecay float64 `json:"weight_decay"`
	Seed        uint64  `json:"seed"`

	// attr-reg
	Lambda            float64    `json:"lambda"`
	Target            [2]float64 `json:"target"`     // audio, video target shares
	AttrClass         string     `json:"attr_class"` // true, predicted
	AttrNorm          string     `json:"attr_norm"`  // l2, l1
	PenaltyToEncoders bool       `json:"penalty_to_encoders"`

	// ogm-ge
	Alpha    float64 `json:"alpha"`
	GENoise  bool    `json:"ge_noise"`
	OGMStart int     `json:"ogm_start"` // first epoch (0-based) with modulation
	OGMEnd   int     `json:"ogm_end"`   // last epoch with modulation; <0: all

	Workers int  `json:"workers"` // loader goroutines filling batches
	Resume  bool `json:"-"`
	// MaxSteps stops each epoch after this many optimizer steps (0: no limit);
	// for smoke tests and benchmarks.
	MaxSteps int       `json:"max_steps,omitempty"`
	Progress io.Writer `json:"-"`
}

// DefaultConfig returns the defaults: concat mode, small model, concat head,
// embedding 128, 10 epochs, batch 32, SGD lr 1e-3 momentum 0.9 weight decay
// 1e-4 (OGM-GE's recipe), λ 1, balanced targets, true class, L2, α 0.1.
func DefaultConfig() Config {
	return Config{
		Mode: ModeConcat, Model: ModelSmall, Head: HeadConcat, Embed: 128,
		Epochs: 10, Batch: 32, LR: 1e-3, Optimizer: OptSGD, Momentum: 0.9, WeightDecay: 1e-4,
		Seed: 1, Lambda: 1, Target: [2]float64{0.5, 0.5}, AttrClass: ClassTrue, AttrNorm: "l2",
		Alpha: 0.1, GENoise: true, OGMEnd: -1, Workers: 2,
	}
}

// ParseTarget parses "audio=0.5,video=0.5" into target shares.
func ParseTarget(s string) ([2]float64, error) {
	var t [2]float64
	seen := [2]bool{}
	for _, part := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return t, fmt.Errorf("target %q: want audio=X,video=Y", s)
		}
		x, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return t, fmt.Errorf("target %q: %q is not a number", s, v)
		}
		switch k {
		case "audio":
			t[0], seen[0] = x, true
		case "video":
			t[1], seen[1] = x, true
		default:
			return t, fmt.Errorf("target %q: unknown modality %q (use audio and video)", s, k)
		}
	}
	if !seen[0] || !seen[1] {
		return t, fmt.Errorf("target %q: give both audio= and video=", s)
	}
	return t, nil
}

func (c *Config) fusion() bool {
	return c.Mode == ModeConcat || c.Mode == ModeOGMGE || c.Mode == ModeAttrReg
}

// Validate reports every problem with c, each saying what to change.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if c.Shards == "" {
		bad("shards: give the extraction output folder (the one with index.json)")
	}
	if c.Out == "" {
		bad("out: give a run directory for checkpoints and metrics")
	}
	switch c.Mode {
	case ModeAudio, ModeVideo, ModeConcat, ModeOGMGE, ModeAttrReg:
	default:
		bad("mode %q: use audio, video, concat, ogm-ge or attr-reg", c.Mode)
	}
	switch c.Model {
	case ModelSmall:
		if c.Embed < 1 {
			bad("embed %d: use a positive embedding size (e.g. 128)", c.Embed)
		}
	case ModelResNet18:
		if c.Embed != 512 {
			bad("embed %d: resnet18 embeds to 512; set embed to 512", c.Embed)
		}
	default:
		bad("model %q: use small or resnet18", c.Model)
	}
	switch c.Head {
	case HeadConcat, HeadSum, HeadMLP:
	default:
		bad("head %q: use concat, sum or mlp", c.Head)
	}
	if c.Head != HeadConcat && (c.Mode == ModeAudio || c.Mode == ModeVideo) {
		bad("head %q: unimodal modes use a linear head; set head to concat", c.Head)
	}
	if c.Epochs < 1 {
		bad("epochs %d: train at least 1 epoch", c.Epochs)
	}
	if c.Batch < 1 {
		bad("batch %d: use a batch size of at least 1", c.Batch)
	}
	if !(c.LR > 0) {
		bad("lr %g: use a positive learning rate (e.g. 1e-3)", c.LR)
	}
	switch c.Optimizer {
	case OptSGD, OptAdam:
	default:
		bad("optimizer %q: use sgd or adam", c.Optimizer)
	}
	if c.Momentum < 0 || c.Momentum >= 1 {
		bad("momentum %g: use a value in [0,1)", c.Momentum)
	}
	if c.WeightDecay < 0 {
		bad("weight decay %g: use a value ≥ 0", c.WeightDecay)
	}
	if c.Mode == ModeAttrReg {
		if c.Lambda < 0 {
			bad("lambda %g: use a value ≥ 0", c.Lambda)
		}
		if c.Target[0] < 0 || c.Target[1] < 0 || abs(c.Target[0]+c.Target[1]-1) > 1e-9 {
			bad("target %v: shares must be ≥ 0 and sum to 1 (e.g. audio=0.5,video=0.5)", c.Target)
		}
		if c.AttrClass != ClassTrue && c.AttrClass != ClassPredicted {
			bad("attr class %q: use true or predicted", c.AttrClass)
		}
	}
	if _, err := attribution.ParseNorm(c.AttrNorm); err != nil {
		bad("attr norm %q: use l2 or l1", c.AttrNorm)
	}
	if c.Mode == ModeOGMGE && c.Alpha < 0 {
		bad("alpha %g: use a value ≥ 0 (OGM-GE uses 0.1–0.8)", c.Alpha)
	}
	if c.Workers < 1 {
		bad("workers %d: use at least 1 loader worker", c.Workers)
	}
	if c.MaxSteps < 0 {
		bad("max steps %d: use 0 (no limit) or a positive number", c.MaxSteps)
	}
	return errors.Join(errs...)
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

const configFile = "config.json"

func saveConfig(dir string, c Config) error {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(dir, configFile), append(b, '\n'))
}

// LoadConfig reads RUNDIR/config.json.
func LoadConfig(runDir string) (Config, error) {
	c := DefaultConfig()
	b, err := os.ReadFile(filepath.Join(runDir, configFile))
	if err != nil {
		return c, fmt.Errorf("train: run %s: %w", runDir, err)
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("train: run %s: config.json: %w", runDir, err)
	}
	return c, nil
}
