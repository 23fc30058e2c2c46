package compare

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/avbalance/avbalance/internal/atomicfile"
	"github.com/avbalance/avbalance/train"
)

// RunFile is compare's record inside a run folder, beside train's files.
const RunFile = "run.json"

// runRecord is RunFile: whether the run is complete (trained, evaluated
// and attributed) and the time spent on it over every compare that worked
// on it.
type runRecord struct {
	Done       bool    `json:"done"`
	Seconds    float64 `json:"seconds"`     // wall time
	CPUSeconds float64 `json:"cpu_seconds"` // this process's CPU time while it ran, shared equally among the runs at once
	Sessions   int     `json:"sessions"`    // compares that trained it (more than 1: it was resumed)
}

func readRecord(dir string) (*runRecord, error) {
	b, err := os.ReadFile(filepath.Join(dir, RunFile))
	if err != nil {
		return nil, err
	}
	var r runRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, RunFile), err)
	}
	return &r, nil
}

func writeRecord(dir string, r runRecord) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(dir, RunFile), append(b, '\n'))
}

// folderState is what a run folder holds relative to the run wanted there.
type folderState int

const (
	stateFresh    folderState = iota // nothing usable: train from the start
	stateResume                      // the same run, interrupted: continue from its checkpoint
	stateDone                        // the same run, complete
	stateMismatch                    // another run: other configuration or other shards
)

// inspectFolder compares the run folder of want with want and the shards'
// fingerprint fp; for stateMismatch, why says what differs.
func inspectFolder(want train.Config, fp string) (state folderState, why string, err error) {
	dir := want.Out
	if _, err := os.Stat(filepath.Join(dir, train.ConfigFile)); errors.Is(err, os.ErrNotExist) {
		return stateFresh, "", nil // never got past the start: nothing trained
	}
	have, err := train.LoadConfig(dir)
	if err != nil {
		return stateMismatch, fmt.Sprintf("its %s is unreadable (%v)", train.ConfigFile, err), nil
	}
	if d, err := configDiff(have, want); err != nil {
		return 0, "", err
	} else if d != "" {
		return stateMismatch, train.ConfigFile + " differs: " + d, nil
	}
	if have.TrainedOn == nil || have.TrainedOn.Fingerprint != fp {
		return stateMismatch, "it was trained on other shards (the fingerprint in its " + train.ConfigFile + " differs)", nil
	}
	rec, err := readRecord(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return stateMismatch, "it has no " + RunFile + ": not a compare run", nil
	case err != nil:
		return stateMismatch, err.Error(), nil
	case rec.Done:
		return stateDone, "", nil
	}
	if _, err := os.Stat(filepath.Join(dir, train.CheckpointFile)); err == nil {
		return stateResume, "", nil
	}
	return stateFresh, "", nil
}

// ignoredConfig are config.json fields that do not change a run's result
// or that compare checks otherwise (the shards by their fingerprint).
var ignoredConfig = []string{"out", "shards", "workers", "trained_on"}

// configDiff lists the settings in which have and want differ, e.g.
// "epochs 2 (folder) ≠ 3 (this comparison)"; "" when none.
func configDiff(have, want train.Config) (string, error) {
	diffs, err := train.DiffConfigs(have, want, ignoredConfig...)
	if err != nil {
		return "", err
	}
	var parts []string
	for _, d := range diffs {
		parts = append(parts, fmt.Sprintf("%s %s (folder) ≠ %s (this comparison)", d.Name, d.A, d.B))
	}
	return strings.Join(parts, ", "), nil
}
