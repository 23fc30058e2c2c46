package demo

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/avbalance/avbalance/features"
	"github.com/avbalance/avbalance/synth"
	"github.com/avbalance/avbalance/train"
)

// Modes are the training modes the demo runs by default, in table order.
var Modes = []train.Mode{train.ModeAudio, train.ModeVideo, train.ModeConcat, train.ModeOGMGE, train.ModeAttrReg}

// Config describes a demo run. DefaultConfig and QuickConfig give complete ones; a zero field
// of a Config built by hand is not filled in (Validate says what is missing).
type Config struct {
	Out   string `json:"-"`     // output folder (created): seed-S/{synth,shards,runs}, report.html, plots/, results.json
	Seeds int    `json:"seeds"` // number of seeds; each generates its own set and trains every mode on it
	Seed  int64  `json:"seed"`  // first seed; the others follow (Seed, Seed+1, …)

	// Synth is the generator's configuration; Out and Seed are set per seed.
	Synth synth.Config `json:"synth"`

	// Preset names the feature preset; Frames, Size and Seconds override it when > 0.
	Preset  string  `json:"preset"`
	Frames  int     `json:"frames"`
	Size    int     `json:"size"`
	Seconds float64 `json:"seconds"`

	// Train is the base training configuration of every mode; Shards, Out, Mode, Seed and
	// Progress are set per run, and ModeEpochs (when set) overrides Epochs for a mode.
	// MethodParams sets a mode's hyperparameters by flag name (as `avbalance train`'s).
	Train        train.Config                     `json:"train"`
	Modes        []train.Mode                     `json:"modes"`
	ModeEpochs   map[train.Mode]int               `json:"mode_epochs,omitempty"`
	MethodParams map[train.Mode]map[string]string `json:"method_params,omitempty"`

	// Workers bounds the concurrent clip encoders of synth; 0 = one per CPU.
	Workers int `json:"workers"`
	// ExtractWorkers is the number of extraction workers; 0 = one per CPU. Shard rows are
	// written in the order clips finish, and the training shuffle is over rows, so only one
	// worker makes the whole demo reproducible run to run (decoding tiny clips is cheap).
	ExtractWorkers int `json:"extract_workers"`
	// Parallel is the number of training runs at once (each is mostly single-threaded); 0 = 1.
	Parallel int `json:"parallel"`

	// Progress receives stage and per-run lines (nil: silent); Verbose adds every epoch's line.
	Progress io.Writer `json:"-"`
	Verbose  bool      `json:"-"`
}

// DefaultConfig is the demo `avbalance demo` runs: three seeds of 480 generated clips
// (64×64, 8 fps, mpeg4 so the files are byte-reproducible), the tiny preset with 32×32 frames,
// SGD with momentum, 16 epochs per fusion mode and 32 for the unimodal references, two runs
// at once. demo/RESULTS.md records what it measures and how the values were chosen.
func DefaultConfig() Config {
	tc := train.DefaultConfig()
	tc.Optimizer, tc.LR, tc.Momentum, tc.WeightDecay = train.OptSGD, 0.01, 0.9, 1e-4
	tc.Embed = 64
	tc.Epochs = 16
	tc.Workers = 1
	sc := synth.Config{Clips: 480, Classes: 6, Seconds: 2, Width: 64, Height: 64, FPS: 8, VideoCodec: "mpeg4"}
	sc.Cues = synth.DefaultCues()
	// A coarser grating (5 px per period after scaling to 32×32, instead of the default's
	// sub-4 px) and the six orientations evenly spread over 180° (30° apart).
	sc.Cues.StripePeriod = 0.2
	sc.Cues.PairSpread = 1
	return Config{
		Seeds: 3, Seed: 1,
		Synth:  sc,
		Preset: "tiny", Frames: 3, Size: 32, Seconds: 1,
		Train: tc, Modes: append([]train.Mode(nil), Modes...),
		ModeEpochs: map[train.Mode]int{train.ModeAudio: 32, train.ModeVideo: 32},
		MethodParams: map[train.Mode]map[string]string{
			train.ModeAttrReg: {"lambda": "3"},
			train.ModeOGMGE:   {"alpha": "0.5"},
		},
		ExtractWorkers: 1, Parallel: 2,
	}
}

// QuickConfig is `avbalance demo --quick`: one seed, 120 clips, 4 epochs per mode, same
// design; it shows the whole flow in well under two minutes but is far too short for the
// imbalance to be measured.
func QuickConfig() Config {
	c := DefaultConfig()
	c.Seeds = 1
	c.Synth.Clips = 120
	c.Train.Epochs = 4
	c.ModeEpochs = nil
	return c
}

// Validate reports every problem with c, each saying what to change.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if c.Out == "" {
		bad("out: give an output folder")
	}
	if c.Seeds < 1 {
		bad("seeds %d: use at least 1", c.Seeds)
	}
	if len(c.Modes) == 0 {
		bad("modes: give at least one training mode")
	}
	seen := map[train.Mode]bool{}
	for _, m := range c.Modes {
		if _, err := train.LookupMethod(m); err != nil {
			bad("%v", err)
		}
		if seen[m] {
			bad("mode %q listed twice", m)
		}
		seen[m] = true
	}
	if c.Workers < 0 || c.ExtractWorkers < 0 || c.Parallel < 0 {
		bad("workers %d, extract workers %d and parallel %d must be ≥ 0", c.Workers, c.ExtractWorkers, c.Parallel)
	}
	sc := c.Synth
	sc.Out = "x"
	if err := sc.Validate(); err != nil {
		bad("%v", err)
	}
	if _, err := c.preset(); err != nil {
		bad("%v", err)
	}
	for _, m := range c.Modes {
		tc, err := c.trainConfig(m)
		if err != nil {
			bad("train %s: %v", m, err)
			continue
		}
		tc.Shards, tc.Out = "x", "x"
		if err := tc.Validate(); err != nil {
			bad("train %s: %v", m, err)
		}
	}
	return errors.Join(errs...)
}

// preset is the feature preset with the overrides applied.
func (c *Config) preset() (features.Preset, error) {
	return features.LookupWith(c.Preset, features.Overrides{Frames: c.Frames, Size: c.Size, Seconds: c.Seconds})
}

// trainConfig is the training configuration of mode: Train with the mode's
// epochs and hyperparameters.
func (c *Config) trainConfig(mode train.Mode) (train.Config, error) {
	tc := c.Train
	if err := tc.SetMode(mode); err != nil {
		return tc, err
	}
	if e, ok := c.ModeEpochs[mode]; ok {
		tc.Epochs = e
	}
	params := c.MethodParams[mode]
	names := make([]string, 0, len(params))
	for k := range params {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if err := tc.SetParam(k, params[k]); err != nil {
			return tc, err
		}
	}
	return tc, nil
}

// paramsText lists the hyperparameters set per mode, e.g. "attr-reg lambda=3; ogm-ge alpha=0.5".
func (c *Config) paramsText() string {
	var parts []string
	for _, m := range c.Modes {
		var kv []string
		for k, v := range c.MethodParams[m] {
			kv = append(kv, k+"="+v)
		}
		sort.Strings(kv)
		if len(kv) > 0 {
			parts = append(parts, string(m)+" "+strings.Join(kv, " "))
		}
	}
	return strings.Join(parts, "; ")
}
