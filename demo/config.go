package demo

import (
	"errors"
	"fmt"
	"io"
	"runtime"

	"github.com/avbalance/avbalance/compare"
	"github.com/avbalance/avbalance/features"
	"github.com/avbalance/avbalance/ingest"
	"github.com/avbalance/avbalance/synth"
	"github.com/avbalance/avbalance/train"
)

// Modes are the training modes the demo runs by default, in table order.
var Modes = []train.Mode{train.ModeAudio, train.ModeVideo, train.ModeConcat, train.ModeOGMGE, train.ModeAttrReg}

// Config describes a demo run. DefaultConfig and QuickConfig give complete ones; a zero field
// of a Config built by hand is not filled in (Validate says what is missing).
type Config struct {
	Out string `json:"-"` // output folder (created): synth/, shards/, the comparison's files and runs/
	// Seed seeds the generated set and is the first training seed; Seeds is the number of
	// training seeds (Seed, Seed+1, …), each training every mode on the same set.
	Seeds int         `json:"seeds"`
	Seed  ingest.Seed `json:"seed"`

	// Synth is the generator's configuration; Out and Seed are set by the demo.
	Synth synth.Config `json:"synth"`

	// Preset names the feature preset; Frames, Size and Seconds override it when > 0.
	Preset  string  `json:"preset"`
	Frames  int     `json:"frames"`
	Size    int     `json:"size"`
	Seconds float64 `json:"seconds"`

	// Train is the training configuration of every mode, Params the per-mode settings
	// (as compare's METHOD.FLAG=VALUE, e.g. audio epochs 32).
	Train  train.Config    `json:"train"`
	Modes  []train.Mode    `json:"modes"`
	Params []compare.Param `json:"params,omitempty"`

	// Workers bounds the concurrent clip encoders of synth; 0 = one per CPU.
	Workers int `json:"workers"`
	// ExtractWorkers is the number of extraction workers; 0 = one per CPU. Shard rows are
	// written in the order clips finish, and the training shuffle is over rows, so only one
	// worker makes the whole demo reproducible run to run (decoding tiny clips is cheap).
	ExtractWorkers int `json:"extract_workers"`
	// Parallel is the number of training runs at once (each is mostly single-threaded), at
	// most the CPU count.
	Parallel int `json:"parallel"`

	// Progress receives stage and per-run lines (nil: silent); Verbose adds every epoch's line.
	Progress io.Writer `json:"-"`
	Verbose  bool      `json:"-"`
}

// DefaultConfig is the demo `avbalance demo` runs: 480 generated clips (64×64, 8 fps, mpeg4
// so the files are byte-reproducible), the tiny preset with 32×32 frames, SGD with momentum,
// 16 epochs per fusion mode and 32 for the unimodal references, three training seeds, two
// runs at once. demo/RESULTS.md records what it measures and how the values were chosen.
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
		Params: []compare.Param{
			{Method: train.ModeAudio, Name: "epochs", Value: "32"},
			{Method: train.ModeVideo, Name: "epochs", Value: "32"},
			{Method: train.ModeOGMGE, Name: "alpha", Value: "0.5"},
		},
		ExtractWorkers: 1, Parallel: min(2, runtime.NumCPU()),
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
	var params []compare.Param
	for _, p := range c.Params {
		if p.Name != "epochs" {
			params = append(params, p)
		}
	}
	c.Params = params
	return c
}

// Validate reports every problem with c, each saying what to change.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if c.Out == "" {
		bad("out: give an output folder")
	}
	if c.Workers < 0 || c.ExtractWorkers < 0 {
		bad("workers %d and extract workers %d must be ≥ 0", c.Workers, c.ExtractWorkers)
	}
	sc := c.Synth
	sc.Out = "x"
	if err := sc.Validate(); err != nil {
		bad("%v", err)
	}
	if _, err := c.preset(); err != nil {
		bad("%v", err)
	}
	cc := c.compareConfig()
	if cc.Out == "" {
		cc.Out = "x"
	}
	if err := cc.Validate(); err != nil {
		bad("%v", err)
	}
	return errors.Join(errs...)
}

// preset is the feature preset with the overrides applied.
func (c *Config) preset() (features.Preset, error) {
	return features.LookupWith(c.Preset, features.Overrides{Frames: c.Frames, Size: c.Size, Seconds: c.Seconds})
}
