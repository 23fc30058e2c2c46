package train

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// resumableFlags are the settings a resumed run may take from the command
// line: how long it trains, how it loads, where the shards are now (the
// data itself is checked against the run's fingerprint).
var resumableFlags = map[string]bool{"epochs": true, "workers": true, "max-steps": true, "shards": true, "out": true, "resume": true}

// resumableFields are the same settings as config.json names them.
var resumableFields = map[string]bool{"epochs": true, "workers": true, "max_steps": true, "shards": true, "out": true, "trained_on": true}

// ResumeConfig is the configuration to resume the run in runDir with, from
// a FlagSet that BindFlags bound and Parse parsed: the run's saved
// configuration, with --epochs, --workers, --max-steps and --shards taken
// from the command line when given there. A flag given with another value
// than the run's is a ConfigError naming both; flags not given keep the
// run's values (not their defaults).
func ResumeConfig(runDir string, fs *flag.FlagSet) (Config, error) {
	saved, err := LoadConfig(runDir)
	if err != nil {
		return saved, noRunToResume(runDir, err)
	}
	mine := flag.NewFlagSet("saved", flag.ContinueOnError)
	finish := saved.BindFlags(mine)
	var conflicts []string
	fs.Visit(func(f *flag.Flag) {
		own := mine.Lookup(f.Name)
		if own == nil {
			return // a flag of the command, not of the run
		}
		given := f.Value.String()
		if !resumableFlags[f.Name] && given != own.Value.String() {
			conflicts = append(conflicts, fmt.Sprintf("--%s %s (the run has %s)", f.Name, given, own.Value.String()))
			return
		}
		if err := mine.Set(f.Name, given); err != nil {
			conflicts = append(conflicts, fmt.Sprintf("--%s %s: %v", f.Name, given, err))
		}
	})
	if err := finish(); err != nil {
		conflicts = append(conflicts, err.Error())
	}
	if len(conflicts) > 0 {
		return saved, configErrorf("resume %s: %s; a resumed run keeps its configuration (config.json): drop these flags, or train into another --out",
			runDir, strings.Join(conflicts, "; "))
	}
	saved.Out, saved.Resume = runDir, true
	return saved, nil
}

// noRunToResume explains a missing or unreadable config.json on --resume.
func noRunToResume(runDir string, err error) error {
	if errors.Is(err, os.ErrNotExist) {
		return configErrorf("resume: %s holds no run (no %s); train without --resume to start one", runDir, ConfigFile)
	}
	return fmt.Errorf("train: resume: %w", err)
}

// checkResume compares a resumed run's configuration with the one it was
// started with: only the resumable settings may differ.
func checkResume(saved, given Config) error {
	var ignore []string
	for k := range resumableFields {
		ignore = append(ignore, k)
	}
	diffs, err := DiffConfigs(saved, given, ignore...)
	if err != nil || len(diffs) == 0 {
		return err
	}
	var parts []string
	for _, d := range diffs {
		parts = append(parts, fmt.Sprintf("%s %s (the run has %s)", d.Name, d.B, d.A))
	}
	return configErrorf("resume %s: the configuration differs from the run's: %s; resume with the run's configuration (LoadConfig) or train into another folder",
		given.Out, strings.Join(parts, ", "))
}

// SettingDiff is one setting whose value differs between two configurations:
// its config.json name and both values as JSON ("none" where absent).
type SettingDiff struct{ Name, A, B string }

// DiffConfigs lists the settings of a and b that differ, by config.json
// name, except those named in ignore; sorted by name.
func DiffConfigs(a, b Config, ignore ...string) ([]SettingDiff, error) {
	fa, err := configFieldsJSON(a)
	if err != nil {
		return nil, err
	}
	fb, err := configFieldsJSON(b)
	if err != nil {
		return nil, err
	}
	skip := map[string]bool{}
	for _, k := range ignore {
		skip[k] = true
	}
	names := map[string]bool{}
	for k := range fa {
		names[k] = true
	}
	for k := range fb {
		names[k] = true
	}
	var out []SettingDiff
	for k := range names {
		if x, y := string(fa[k]), string(fb[k]); !skip[k] && x != y {
			out = append(out, SettingDiff{k, orNone(x), orNone(y)})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// configFieldsJSON is c as config.json has it, field by field.
func configFieldsJSON(c Config) (map[string]json.RawMessage, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	var m map[string]json.RawMessage
	return m, json.Unmarshal(b, &m)
}

// hasRun reports whether dir holds a run's configuration.
func hasRun(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, ConfigFile))
	return err == nil
}
