package train

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/avbalance/avbalance/attribution"
	"github.com/avbalance/avbalance/ingest"
	"github.com/avbalance/avbalance/internal/atomicfile"
)

// Model names the encoder architecture of each modality.
type Model string

// Encoder architectures.
const (
	ModelSmall    Model = "small"    // four 3×3 stride-2 convolutions with ReLU, global average pooling
	ModelResNet18 Model = "resnet18" // torchvision's ResNet-18 trunk, embedding 512
)

// Head names the fusion head.
type Head string

// Fusion heads.
const (
	HeadConcat Head = "concat" // concat + linear
	HeadSum    Head = "sum"    // per-modality linear, summed
	HeadMLP    Head = "mlp"    // concat + one hidden ReLU layer of Embed units
)

// Optimizer names the optimizer.
type Optimizer string

// Optimizers.
const (
	OptSGD  Optimizer = "sgd" // SGD with momentum (PyTorch convention)
	OptAdam Optimizer = "adam"
)

// AttrClass says which class's logit the shares attribute.
type AttrClass string

// Attribution classes.
const (
	ClassTrue      AttrClass = "true"      // the clip's label
	ClassPredicted AttrClass = "predicted" // the model's top class
)

// parseEnum returns the value of values whose name is s.
func parseEnum[T ~string](kind, s string, values ...T) (T, error) {
	names := make([]string, len(values))
	for i, v := range values {
		if string(v) == s {
			return v, nil
		}
		names[i] = string(v)
	}
	var zero T
	return zero, fmt.Errorf("%s %q: use %s", kind, s, orList(names))
}

// orList joins names as "a, b or c".
func orList(names []string) string {
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// ParseModel maps "small" or "resnet18" to a Model.
func ParseModel(s string) (Model, error) { return parseEnum("model", s, ModelSmall, ModelResNet18) }

// ParseHead maps "concat", "sum" or "mlp" to a Head.
func ParseHead(s string) (Head, error) { return parseEnum("head", s, HeadConcat, HeadSum, HeadMLP) }

// ParseOptimizer maps "sgd" or "adam" to an Optimizer.
func ParseOptimizer(s string) (Optimizer, error) { return parseEnum("optimizer", s, OptSGD, OptAdam) }

// ParseAttrClass maps "true" or "predicted" to an AttrClass.
func ParseAttrClass(s string) (AttrClass, error) {
	return parseEnum("attr class", s, ClassTrue, ClassPredicted)
}

func (m Model) String() string     { return string(m) }
func (h Head) String() string      { return string(h) }
func (o Optimizer) String() string { return string(o) }
func (c AttrClass) String() string { return string(c) }

// Set implements flag.Value.
func (m *Model) Set(s string) (err error) { *m, err = ParseModel(s); return err }

// Set implements flag.Value.
func (h *Head) Set(s string) (err error) { *h, err = ParseHead(s); return err }

// Set implements flag.Value.
func (o *Optimizer) Set(s string) (err error) { *o, err = ParseOptimizer(s); return err }

// Set implements flag.Value.
func (c *AttrClass) Set(s string) (err error) { *c, err = ParseAttrClass(s); return err }

// Target is the share each modality should have, audio then video.
type Target [2]float64

// ParseTarget parses "audio=0.5,video=0.5".
func ParseTarget(s string) (Target, error) {
	var t Target
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

// String writes t as ParseTarget reads it.
func (t Target) String() string {
	f := func(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }
	return "audio=" + f(t[0]) + ",video=" + f(t[1])
}

// Set implements flag.Value.
func (t *Target) Set(s string) (err error) {
	v, err := ParseTarget(s)
	if err == nil {
		*t = v
	}
	return err
}

// Config is everything a training run needs. DefaultConfig gives working
// values for every field except Shards and Out.
type Config struct {
	Shards string `json:"shards"` // extraction output folder (index.json + *.arrow)
	Out    string `json:"out"`    // run directory
	Mode   Mode   `json:"mode"`   // a registered method (see Methods)
	Model  Model  `json:"model"`
	Head   Head   `json:"head"`  // fusion modes
	Embed  int    `json:"embed"` // embedding size per modality (resnet18: 512)

	Epochs      int         `json:"epochs"`
	Batch       int         `json:"batch"`
	LR          float64     `json:"lr"`
	Optimizer   Optimizer   `json:"optimizer"`
	Momentum    float64     `json:"momentum"`
	WeightDecay float64     `json:"weight_decay"`
	Seed        ingest.Seed `json:"seed"`

	// How modality shares are measured, in every fusion run's metrics, in
	// attr-reg's penalty and by default in attribute: the attributions of
	// AttrQuantity (the raw logit, the log-probability, the centred logit
	// or the margin) of the AttrClass class on the embeddings, by
	// AttrMethod (Grad×Input, or Integrated Gradients from AttrBaseline
	// over AttrSteps midpoints), pooled with AttrNorm; Penalty in the
	// metrics is Σ_m |s_m − r_m| for the shares r = Target.
	Target       Target               `json:"target"`
	AttrClass    AttrClass            `json:"attr_class"`
	AttrQuantity attribution.Quantity `json:"attr_quantity"`
	AttrNorm     attribution.Norm     `json:"attr_norm"`
	AttrMethod   AttrMethod           `json:"attr_method"`
	// AttrBaseline is IG's reference embedding: zero, or mean, the mean
	// embedding of the clips attributed together (the batch in training,
	// the split in evaluation and attribute). For the concat and sum heads
	// IG from the mean is exact at any step count and equals each
	// modality's effect on the quantity of replacing it by that mean.
	AttrBaseline Baseline `json:"attr_baseline"`
	AttrSteps    int      `json:"attr_steps"`

	// Method holds the mode's own hyperparameters, the MethodConfig its
	// MethodInfo makes; nil means the mode's defaults. In config.json its
	// fields stand beside the others.
	Method MethodConfig `json:"-"`

	// Trainer is the revision of the trainer's numerics the run was made
	// with (TrainerRevision when it is new; 1 for runs written before the
	// field): compare and the demo reuse a finished run only of the current
	// revision, so a run trained by code since fixed is never reused
	// silently.
	Trainer int `json:"trainer"`

	// TrainedOn is what the run was trained on; RunExamples records it, and
	// eval, attribute and --resume check the data they are given against it.
	TrainedOn *DataIdentity `json:"trained_on,omitempty"`

	Workers int  `json:"workers"` // loader goroutines filling batches
	Resume  bool `json:"-"`
	// MaxSteps stops each epoch after this many optimizer steps (0: no limit);
	// for smoke tests and benchmarks.
	MaxSteps int       `json:"max_steps,omitempty"`
	Progress io.Writer `json:"-"`
}

// TrainerRevision is the current revision of the trainer's numerics: it
// goes up when a fix changes what a run with the same configuration
// computes. 2: the video embedding the methods and metrics read after a
// step (OGM-GE's discrepancy ratio, the train line's shares) is the one the
// head saw (op.GroupMean). 3: ties in val accuracy go to the epoch with the
// lower val cross-entropy, not the earlier one. 4: attr-reg's selection
// credits the epochs within half the tolerance (RankCredit).
const TrainerRevision = 4

// DefaultConfig returns the defaults: concat mode, small model, concat head,
// embedding 128, 10 epochs, batch 32, SGD lr 1e-3 momentum 0.9 weight decay
// 1e-4 (OGM-GE's recipe), balanced targets, shares of the true class's centred
// logit by Integrated Gradients from the mean embedding, pooled as the net
// contribution (bench/RESULTS-attr-reg.md: why).
func DefaultConfig() Config {
	return Config{
		Mode: ModeConcat, Model: ModelSmall, Head: HeadConcat, Embed: 128,
		Epochs: 10, Batch: 32, LR: 1e-3, Optimizer: OptSGD, Momentum: 0.9, WeightDecay: 1e-4,
		Seed: 1, Target: Target{0.5, 0.5}, AttrClass: ClassTrue, AttrQuantity: attribution.Centered, AttrNorm: attribution.Net,
		AttrMethod: AttrIG, AttrBaseline: BaselineMean, AttrSteps: 8, Trainer: TrainerRevision, Workers: 2,
	}
}

// ShareDefinition says in words how c's shares are measured, e.g.
// "Integrated Gradients from the mean embedding of the centered logit of
// the true class, pooled net".
func (c Config) ShareDefinition() string {
	how := "Grad×Input"
	if c.AttrMethod == AttrIG {
		how = fmt.Sprintf("Integrated Gradients from the %s embedding", c.AttrBaseline)
	}
	q := c.AttrQuantity.String()
	if q == "centered" {
		q = "centered logit"
	}
	return fmt.Sprintf("%s of the %s of the %s class, pooled %s", how, q, c.AttrClass, c.AttrNorm)
}

// NewConfig is DefaultConfig for mode m with the method's default
// hyperparameters.
func NewConfig(m Mode) (Config, error) {
	c := DefaultConfig()
	return c, c.SetMode(m)
}

// SetMode switches c to mode m with m's default hyperparameters.
func (c *Config) SetMode(m Mode) error {
	info, err := LookupMethod(m)
	if err != nil {
		return err
	}
	c.Mode, c.Method = m, info.NewConfig()
	return nil
}

// methodConfig returns c.Method, or the mode's defaults when it is nil.
func (c *Config) methodConfig() (MethodConfig, error) {
	if c.Method != nil {
		return c.Method, nil
	}
	info, err := LookupMethod(c.Mode)
	if err != nil {
		return nil, err
	}
	return info.NewConfig(), nil
}

// Clone returns a copy of c that shares no method configuration with it.
func (c Config) Clone() Config {
	if c.Method == nil {
		return c
	}
	info, err := LookupMethod(c.Mode)
	if err != nil {
		return c
	}
	mc := info.NewConfig()
	b, err := json.Marshal(c.Method)
	if err == nil && json.Unmarshal(b, mc) == nil {
		c.Method = mc
	}
	return c
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
	info, err := LookupMethod(c.Mode)
	if err != nil {
		bad("%v", err)
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
	if _, err := ParseHead(string(c.Head)); err != nil {
		bad("%v", err)
	} else if c.Head != HeadConcat && info.Uses != Both {
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
	if _, err := ParseOptimizer(string(c.Optimizer)); err != nil {
		bad("%v", err)
	}
	if c.Momentum < 0 || c.Momentum >= 1 {
		bad("momentum %g: use a value in [0,1)", c.Momentum)
	}
	if c.WeightDecay < 0 {
		bad("weight decay %g: use a value ≥ 0", c.WeightDecay)
	}
	if c.Target[0] < 0 || c.Target[1] < 0 || abs(c.Target[0]+c.Target[1]-1) > 1e-9 {
		bad("target %v: shares must be ≥ 0 and sum to 1 (e.g. audio=0.5,video=0.5)", c.Target)
	}
	if _, err := ParseAttrClass(string(c.AttrClass)); err != nil {
		bad("%v", err)
	}
	switch {
	case c.AttrMethod != AttrGradInput && c.AttrMethod != AttrIG:
		bad("attr method %q: use gradinput or ig (ig-input is attribute's only)", c.AttrMethod)
	case c.AttrBaseline != BaselineZero && c.AttrBaseline != BaselineMean:
		bad("attr baseline %q: use zero or mean", c.AttrBaseline)
	case c.AttrMethod == AttrGradInput && c.AttrBaseline != BaselineZero:
		bad("attr baseline %s: Grad×Input has no baseline; use --attr-method ig with --attr-baseline %s", c.AttrBaseline, c.AttrBaseline)
	case c.AttrMethod == AttrIG && c.AttrSteps < 1:
		bad("attr steps %d: Integrated Gradients needs at least 1 step", c.AttrSteps)
	}
	if c.Workers < 1 {
		bad("workers %d: use at least 1 loader worker", c.Workers)
	}
	if c.MaxSteps < 0 {
		bad("max steps %d: use 0 (no limit) or a positive number", c.MaxSteps)
	}
	if err == nil {
		if err := c.ensureKnownParams(); err != nil {
			bad("%v", err)
		} else if mc, err := c.methodConfig(); err != nil {
			bad("%v", err)
		} else if err := mc.Validate(); err != nil {
			bad("%s: %v", c.Mode, err)
		}
	}
	return errors.Join(errs...)
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// configFields is Config without its JSON methods.
type configFields Config

// MarshalJSON writes c's fields and then its method's, in one object.
func (c Config) MarshalJSON() ([]byte, error) {
	base, err := json.Marshal(configFields(c))
	if err != nil {
		return nil, err
	}
	mc, err := c.methodConfig()
	if err != nil {
		return nil, err
	}
	own, err := json.Marshal(mc)
	if err != nil {
		return nil, err
	}
	if own = bytes.TrimSpace(own); len(own) <= 2 { // {}
		return base, nil
	}
	return append(append(base[:len(base)-1], ','), own[1:]...), nil
}

// UnmarshalJSON reads what MarshalJSON writes; the method's fields not in b
// keep its defaults.
func (c *Config) UnmarshalJSON(b []byte) error {
	if err := json.Unmarshal(b, (*configFields)(c)); err != nil {
		return err
	}
	info, err := LookupMethod(c.Mode)
	if err != nil {
		return err
	}
	mc := info.NewConfig()
	if err := json.Unmarshal(b, mc); err != nil {
		return fmt.Errorf("%s: %w", c.Mode, err)
	}
	c.Method = mc
	return nil
}

// ConfigFile is the name of a run's configuration inside its folder.
const ConfigFile = "config.json"

func saveConfig(dir string, c Config) error {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(dir, ConfigFile), append(b, '\n'))
}

// LoadConfig reads RUNDIR/config.json.
func LoadConfig(runDir string) (Config, error) {
	c := DefaultConfig()
	// Runs written before attr_quantity existed attributed the raw logit,
	// and before attr_method with Grad×Input.
	c.AttrQuantity = attribution.Logit
	c.AttrMethod, c.AttrBaseline = AttrGradInput, BaselineZero
	c.Trainer = 1
	b, err := os.ReadFile(filepath.Join(runDir, ConfigFile))
	if err != nil {
		return c, fmt.Errorf("run %s: %w", runDir, err)
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("run %s: %s: %w", runDir, ConfigFile, err)
	}
	// attr-reg runs written before penalty_weights existed averaged uniformly.
	if ar, ok := c.Method.(*AttrRegConfig); ok && !bytes.Contains(b, []byte(`"penalty_weights"`)) {
		ar.Weights = WeightsUniform
	}
	return c, nil
}
