package compare

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	"github.com/avbalance/avbalance/ingest"
	"github.com/avbalance/avbalance/train"
)

// Selection says how each run's reported epoch is chosen.
type Selection string

// Selections.
const (
	// SelectVal reports the best epoch on the val split (among the epochs
	// a method's admission rule admits, when it has one): the protocol.
	SelectVal Selection = "val"
	// SelectLast reports the last epoch, for shards without a val split.
	SelectLast Selection = "last"
)

func (s Selection) String() string { return string(s) }

// Set implements flag.Value.
func (s *Selection) Set(v string) error {
	switch Selection(v) {
	case SelectVal, SelectLast:
		*s = Selection(v)
		return nil
	}
	return fmt.Errorf("select %q: use val or last", v)
}

// Param is one setting of one method's runs, METHOD.FLAG=VALUE: FLAG is a
// hyperparameter of the method (as `avbalance train --FLAG`) or a training
// flag that then differs for this method only (e.g. audio.epochs=32).
type Param struct {
	Method train.Mode `json:"method"`
	Name   string     `json:"name"`
	Value  string     `json:"value"`
}

// ParseParam parses "METHOD.FLAG=VALUE" for a registered METHOD.
func ParseParam(s string) (Param, error) {
	key, value, ok := strings.Cut(s, "=")
	method, name, dot := strings.Cut(key, ".")
	if !ok || !dot || name == "" {
		return Param{}, fmt.Errorf("%q: give a method's setting as METHOD.FLAG=VALUE, e.g. attr-reg.lambda=3", s)
	}
	m, err := train.ParseMode(method)
	if err != nil {
		return Param{}, fmt.Errorf("%q: %w", s, err)
	}
	return Param{Method: m, Name: name, Value: value}, nil
}

func (p Param) String() string { return string(p.Method) + "." + p.Name + "=" + p.Value }

// Config describes a comparison: every method trained with every seed on
// one shard folder, each run's epoch selected on val and evaluated on test.
// DefaultConfig gives working values for every field except Shards and Out.
type Config struct {
	Shards  string       `json:"shards"`  // extraction folder (index.json + shard-*.arrow)
	Out     string       `json:"out"`     // comparison folder: table.md, table.csv, results.json, report.html, plots/, runs/
	Methods []train.Mode `json:"methods"` // registered modes, in table order
	Seeds   int          `json:"seeds"`   // runs per method
	Seed    ingest.Seed  `json:"seed"`    // first seed; the others follow (Seed, Seed+1, …)

	// Train is every run's training configuration; Mode, Shards, Out, Seed,
	// Resume and Progress are set per run, then Params are applied.
	Train  train.Config `json:"train"`
	Params []Param      `json:"params,omitempty"`
	Select Selection    `json:"select"`

	// Parallel is the number of runs trained at once, at most the CPU count.
	Parallel int `json:"parallel"`
	// Retrain trains a run folder again in place when it holds a run of
	// another configuration or other shards; without it such a folder
	// stops the comparison with a ConfigError.
	Retrain bool `json:"-"`

	// Title heads the report; Notes are extra lines for its setup section
	// (e.g. how a generated set was made); Checks, when set, states
	// measured claims about the report, shown with the table.
	Title  string                `json:"title,omitempty"`
	Notes  []string              `json:"notes,omitempty"`
	Checks func(*Report) []Check `json:"-"`

	// Progress receives a line per run started and finished and a status
	// line every few seconds (nil: silent); Verbose adds every epoch.
	Progress io.Writer `json:"-"`
	Verbose  bool      `json:"-"`
}

// DefaultConfig compares every registered method over 3 seeds with
// train.DefaultConfig, selecting on val, one run at a time.
func DefaultConfig() Config {
	var methods []train.Mode
	for _, info := range train.Methods() {
		methods = append(methods, info.Mode)
	}
	return Config{Methods: methods, Seeds: 3, Seed: 1, Train: train.DefaultConfig(), Select: SelectVal, Parallel: 1}
}

// SeedList is the seeds of the runs, in order.
func (c *Config) SeedList() []ingest.Seed {
	out := make([]ingest.Seed, c.Seeds)
	for i := range out {
		out[i] = c.Seed + ingest.Seed(i)
	}
	return out
}

// RunDir is the folder of the run of method with seed.
func (c *Config) RunDir(method train.Mode, seed ingest.Seed) string {
	return filepath.Join(c.Out, RunsDir, string(method), "seed-"+seed.String())
}

// ownFlags are the training flags compare sets itself for every run.
var ownFlags = []string{"shards", "out", "mode", "seed", "resume"}

// RunConfig is the training configuration of the run of method with seed:
// Train with the mode, the folders and the seed set and the method's Params
// applied in order.
func (c *Config) RunConfig(method train.Mode, seed ingest.Seed) (train.Config, error) {
	tc := c.Train.Clone()
	if err := tc.SetMode(method); err != nil {
		return tc, err
	}
	tc.Shards, tc.Out, tc.Seed = c.Shards, c.RunDir(method, seed), seed
	tc.Resume, tc.Progress = false, nil
	for _, p := range c.Params {
		if p.Method != method {
			continue
		}
		if err := applyParam(&tc, p); err != nil {
			return tc, err
		}
	}
	return tc, nil
}

// applyParam sets p on tc: a hyperparameter of tc's method, or a training flag.
func applyParam(tc *train.Config, p Param) error {
	info, err := train.LookupMethod(p.Method)
	if err != nil {
		return err
	}
	own := train.MethodFlags(info.NewConfig())
	if slices.Contains(own, p.Name) {
		return tc.SetParam(p.Name, p.Value)
	}
	fs := flag.NewFlagSet("", flag.ContinueOnError)
	tc.BindFlags(fs)
	common := trainingFlags(fs)
	if !slices.Contains(common, p.Name) {
		what := "no hyperparameters"
		if len(own) > 0 {
			what = "hyperparameters " + strings.Join(own, ", ")
		}
		return fmt.Errorf("%s: %s has no setting %q (it has %s; the training flags are %s)",
			p, p.Method, p.Name, what, strings.Join(common, ", "))
	}
	if err := fs.Set(p.Name, p.Value); err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	return nil
}

// trainingFlags lists the flags of fs (bound by train.Config.BindFlags)
// that are neither compare's own nor a method's hyperparameter.
func trainingFlags(fs *flag.FlagSet) []string {
	skip := map[string]bool{}
	for _, n := range ownFlags {
		skip[n] = true
	}
	for _, info := range train.Methods() {
		for _, n := range train.MethodFlags(info.NewConfig()) {
			skip[n] = true
		}
	}
	var names []string
	fs.VisitAll(func(f *flag.Flag) {
		if !skip[f.Name] {
			names = append(names, f.Name)
		}
	})
	return names
}

// Validate reports every problem with c, each saying what to change.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if c.Shards == "" {
		bad("shards: give the extraction folder (the one with index.json)")
	}
	if c.Out == "" {
		bad("out: give a folder for the comparison")
	}
	if len(c.Methods) == 0 {
		bad("methods: give at least one of %s", strings.Join(train.ModeNames(), ", "))
	}
	seen := map[train.Mode]bool{}
	for _, m := range c.Methods {
		if _, err := train.LookupMethod(m); err != nil {
			bad("methods: %v", err)
		}
		if seen[m] {
			bad("methods: %s is listed twice", m)
		}
		seen[m] = true
	}
	if c.Seeds < 1 {
		bad("seeds %d: use at least 1", c.Seeds)
	}
	if c.Select != SelectVal && c.Select != SelectLast {
		bad("select %q: use val or last", c.Select)
	}
	if n := runtime.NumCPU(); c.Parallel < 1 || c.Parallel > n {
		bad("parallel %d: use 1 to %d (this machine's CPUs)", c.Parallel, n)
	}
	for _, p := range c.Params {
		if !seen[p.Method] {
			bad("%s: %s is not among the methods compared", p, p.Method)
		}
	}
	if len(errs) == 0 {
		for _, m := range c.Methods {
			tc, err := c.RunConfig(m, c.Seed)
			if err != nil {
				bad("%v", err) // names the method's setting
			} else if err := tc.Validate(); err != nil {
				bad("%s: %v", m, err)
			}
		}
	}
	return errors.Join(errs...)
}

// paramsText lists the per-method settings, e.g. "attr-reg lambda=3; audio epochs=32".
func (c *Config) paramsText() string {
	var parts []string
	for _, m := range c.Methods {
		var kv []string
		for _, p := range c.Params {
			if p.Method == m {
				kv = append(kv, p.Name+"="+p.Value)
			}
		}
		if len(kv) > 0 {
			parts = append(parts, string(m)+" "+strings.Join(kv, " "))
		}
	}
	return strings.Join(parts, "; ")
}
