package train

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/avbalance/avbalance/internal/atomicfile"
)

// File names inside a run directory.
const (
	MetricsFile    = "metrics.jsonl"
	CheckpointFile = "checkpoint.bin"
	BestFile       = "best.bin"
	ResultFile     = "result.json"
)

func appendMetrics(path string, ms []Metrics) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("train: metrics: %w", err)
	}
	enc := json.NewEncoder(f)
	for i := range ms {
		if err = enc.Encode(&ms[i]); err != nil {
			break
		}
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("train: metrics %s: %w", path, err)
	}
	return nil
}

// truncateMetrics drops lines of epochs ≥ from (written after the last checkpoint).
func truncateMetrics(path string, from int) error {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("train: resume: %w", err)
	}
	var keep []string
	for _, line := range strings.Split(string(b), "\n") {
		var m struct{ Epoch int }
		if line != "" && json.Unmarshal([]byte(line), &m) == nil && m.Epoch < from {
			keep = append(keep, line+"\n")
		}
	}
	return atomicfile.Write(path, []byte(strings.Join(keep, "")))
}

// writeResult writes RUNDIR/result.json.
func writeResult(runDir string, res *Result) error {
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(runDir, ResultFile), append(b, '\n'))
}

// ReadResult reads RUNDIR/result.json.
func ReadResult(runDir string) (*Result, error) {
	path := filepath.Join(runDir, ResultFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	var res Result
	if err := json.Unmarshal(b, &res); err != nil {
		return nil, fmt.Errorf("train: %s: %w", path, err)
	}
	return &res, nil
}

// ReadMetrics reads RUNDIR/metrics.jsonl: one Metrics per epoch and split,
// in the order they were written.
func ReadMetrics(runDir string) ([]Metrics, error) {
	path := filepath.Join(runDir, MetricsFile)
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	defer f.Close()
	var out []Metrics
	dec := json.NewDecoder(f)
	for {
		var m Metrics
		if err := dec.Decode(&m); err == io.EOF {
			return out, nil
		} else if err != nil {
			return nil, fmt.Errorf("train: %s: line %d: %w", path, len(out)+1, err)
		}
		out = append(out, m)
	}
}

// hasCheckpoint reports whether dir holds a checkpoint to resume from.
func hasCheckpoint(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, CheckpointFile))
	return err == nil
}
