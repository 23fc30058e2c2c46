package train

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// DataIdentity is what a run records of the examples it was trained on, so
// that eval, attribute and --resume can refuse other data: the feature
// preset with every parameter, the shapes, the class names and a
// fingerprint of the shard folder's content.
type DataIdentity struct {
	Preset     json.RawMessage `json:"preset,omitempty"` // index.json's preset
	AudioShape []int           `json:"audio_shape"`
	FrameShape []int           `json:"frame_shape"`
	Labels     []string        `json:"labels"`
	// Fingerprint is the sha256 of the shard folder's preset, labels and
	// shard list (file names, rows, checksums); empty for in-memory sources.
	Fingerprint string `json:"fingerprint,omitempty"`
}

// identified is Examples that knows its identity (ShardExamples).
type identified interface {
	Identity() DataIdentity
}

// identityOf is src's identity: its own when it knows it, else its shapes
// and labels.
func identityOf(src Examples) DataIdentity {
	if s, ok := src.(identified); ok {
		return s.Identity()
	}
	return DataIdentity{AudioShape: src.AudioShape(), FrameShape: src.FrameShape(), Labels: src.Labels()}
}

// fingerprint hashes parts in order.
func fingerprint(parts ...any) string {
	h := sha256.New()
	for _, p := range parts {
		b, _ := json.Marshal(p)
		h.Write(b)
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// compatible reports, in words naming both sides, why a model trained on
// run cannot be applied to data: another preset, other shapes or other
// classes. sameData also requires the very same shard content (resume).
func (run DataIdentity) compatible(data DataIdentity, sameData bool) error {
	var diffs []string
	if !slices.Equal(run.AudioShape, data.AudioShape) || !slices.Equal(run.FrameShape, data.FrameShape) {
		diffs = append(diffs, fmt.Sprintf("the run was trained on audio %v and frames %v, these shards have audio %v and frames %v",
			run.AudioShape, run.FrameShape, data.AudioShape, data.FrameShape))
	}
	if !slices.Equal(run.Labels, data.Labels) {
		diffs = append(diffs, labelDiff(run.Labels, data.Labels))
	}
	if len(run.Preset) > 0 && len(data.Preset) > 0 {
		if d := presetDiff(run.Preset, data.Preset); d != "" {
			diffs = append(diffs, d)
		}
	}
	if sameData && run.Fingerprint != "" && data.Fingerprint != "" && run.Fingerprint != data.Fingerprint {
		diffs = append(diffs, fmt.Sprintf("the shard folder's content differs from the one the run was trained on (fingerprint %.12s…, the run's %.12s…)",
			data.Fingerprint, run.Fingerprint))
	}
	if len(diffs) == 0 {
		return nil
	}
	return &ConfigError{Err: fmt.Errorf("%s", strings.Join(diffs, "; "))}
}

// labelDiff says how two class lists differ.
func labelDiff(run, data []string) string {
	if len(run) != len(data) {
		return fmt.Sprintf("the run has %d classes %v, these shards %d %v", len(run), run, len(data), data)
	}
	for i := range run {
		if run[i] != data[i] {
			return fmt.Sprintf("class %d is %q in the run, %q in these shards (the label mapping differs: run %v, shards %v)",
				i, run[i], data[i], run, data)
		}
	}
	return ""
}

// presetDiff names the preset parameters that differ ("" when none).
func presetDiff(run, data json.RawMessage) string {
	var a, b map[string]any
	if json.Unmarshal(run, &a) != nil || json.Unmarshal(data, &b) != nil {
		if !bytes.Equal(run, data) {
			return "the feature presets differ"
		}
		return ""
	}
	keys := map[string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	var diffs []string
	for k := range keys {
		if k == "reference" || k == "source" {
			continue // a description of the recipe, not a parameter
		}
		x, _ := json.Marshal(a[k])
		y, _ := json.Marshal(b[k])
		if !bytes.Equal(x, y) {
			diffs = append(diffs, fmt.Sprintf("%s %s vs %s", k, x, y))
		}
	}
	if len(diffs) == 0 {
		return ""
	}
	sort.Strings(diffs)
	return "the feature preset differs (run vs shards): " + strings.Join(diffs, ", ")
}

// ConfigError is a bad configuration or a mismatch between a run and the
// data or flags given to it: nothing was done, and the message says what to
// change. The CLI exits with status 2 for it.
type ConfigError struct{ Err error }

func (e *ConfigError) Error() string { return e.Err.Error() }

// Unwrap returns the underlying error.
func (e *ConfigError) Unwrap() error { return e.Err }

// ErrDiverged is wrapped by the ConfigError of a run whose loss became
// NaN or infinite.
var ErrDiverged = errors.New("training diverged")

// configErrorf is a ConfigError with a formatted message.
func configErrorf(format string, a ...any) error {
	return &ConfigError{Err: fmt.Errorf(format, a...)}
}

// SameData reports whether src is the very data the run in runDir was
// trained on (its fingerprint), for a caller that wants to say so when it
// is not; false when the run or src records no fingerprint.
func SameData(runDir string, src Examples) (bool, error) {
	cfg, err := LoadConfig(runDir)
	if err != nil {
		return false, err
	}
	data := identityOf(src)
	return cfg.TrainedOn != nil && cfg.TrainedOn.Fingerprint != "" && cfg.TrainedOn.Fingerprint == data.Fingerprint, nil
}
