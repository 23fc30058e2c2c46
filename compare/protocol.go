package compare

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/avbalance/avbalance/features"
	"github.com/avbalance/avbalance/features/shard"
	"github.com/avbalance/avbalance/ingest"
	"github.com/avbalance/avbalance/train"
)

// Protocol is what a comparison was measured on and how: the shards, their
// split as found in the rows, and the epoch selection.
type Protocol struct {
	Shards  string   `json:"shards"`
	Dataset string   `json:"dataset"`
	Preset  string   `json:"preset"`
	Labels  []string `json:"labels"`
	// Fingerprint identifies the shards' content (train's data identity:
	// preset, labels, every shard's checksum in index.json); a run trained
	// on other shards is never reused.
	Fingerprint string         `json:"shards_fingerprint"`
	Splits      map[string]int `json:"splits"` // rows per split ("" for rows without one)
	// SplitPolicy says what kind of split the rows have, checked on them:
	// for CREMA-D whether any actor is in two splits.
	SplitPolicy string `json:"split_policy"`
	Selection   string `json:"selection"`
}

// ReadProtocol describes the shards of src (opened from dir) and checks
// that they can be compared on with sel: train and test rows, and val rows
// exactly when sel is SelectVal. A problem is a *ConfigError saying what to
// change.
func ReadProtocol(dir string, src *train.ShardExamples, sel Selection) (*Protocol, error) {
	ix, err := shard.ReadIndex(dir)
	if err != nil {
		return nil, &ConfigError{fmt.Errorf("shards: %w", err)}
	}
	id := src.Identity()
	p := &Protocol{Shards: dir, Dataset: ix.Dataset, Labels: id.Labels, Fingerprint: id.Fingerprint, Splits: map[string]int{}}
	var preset features.Preset
	if err := json.Unmarshal(id.Preset, &preset); err == nil {
		p.Preset = preset.Name
	}
	actors := map[string]map[string]bool{} // CREMA-D actor → splits
	for i := range src.Len() {
		ex, err := src.Example(i)
		if err != nil {
			return nil, fmt.Errorf("compare: shards %s: %w", dir, err)
		}
		p.Splits[ex.Split]++
		if ix.Dataset == ingest.CremaDName {
			actor, _, _ := strings.Cut(ex.ClipID, "_")
			if actors[actor] == nil {
				actors[actor] = map[string]bool{}
			}
			actors[actor][ex.Split] = true
		}
	}
	p.SplitPolicy = splitPolicy(ix.Dataset, actors)
	if err := p.check(sel); err != nil {
		return nil, &ConfigError{fmt.Errorf("shards %s: %w", dir, err)}
	}
	p.Selection = selectionText(sel)
	return p, nil
}

// check applies the protocol's guards.
func (p *Protocol) check(sel Selection) error {
	train, val, test := p.Splits[ingest.SplitTrain], p.Splits[ingest.SplitVal], p.Splits[ingest.SplitTest]
	switch {
	case train == 0 || test == 0:
		return fmt.Errorf("%d train and %d test rows: a comparison trains on train and reports test; re-extract with a split (%s)", train, test, p.splitsText())
	case val == 0 && sel == SelectVal:
		return fmt.Errorf("no val split to select each run's epoch on: re-extract with one (--val-frac for CREMA-D lists and VGGSound, a val split in a manifest), or give --select last to report the last epoch (the table says so)")
	case val > 0 && sel == SelectLast:
		return fmt.Errorf("%d val rows: --select last is for shards without a val split; leave it out to select on val", val)
	}
	return nil
}

func selectionText(sel Selection) string {
	if sel == SelectLast {
		return "last epoch (--select last: the shards have no val split); test metrics of that epoch"
	}
	return "best val accuracy (lowest val cross-entropy on ties; among the epochs a method's admission rule admits, when it has one); test metrics of that epoch, never test-selected"
}

// splitsText is "train 5200 / val 744 / test 1498" (plus rows without a split).
func (p *Protocol) splitsText() string {
	s := fmt.Sprintf("train %d / val %d / test %d", p.Splits[ingest.SplitTrain], p.Splits[ingest.SplitVal], p.Splits[ingest.SplitTest])
	var other []string
	for k, n := range p.Splits {
		if k != ingest.SplitTrain && k != ingest.SplitVal && k != ingest.SplitTest {
			name := k
			if k == "" {
				name = "none"
			}
			other = append(other, fmt.Sprintf("%s %d", name, n))
		}
	}
	sort.Strings(other)
	if len(other) > 0 {
		s += " (not used: " + strings.Join(other, ", ") + ")"
	}
	return s
}

// splitPolicy describes the split of the rows: for CREMA-D, from which
// actors are in which splits; otherwise from the dataset's reader.
func splitPolicy(dataset string, actors map[string]map[string]bool) string {
	switch dataset {
	case ingest.CremaDName:
		shared := 0
		for _, splits := range actors {
			if splits[ingest.SplitTrain] && splits[ingest.SplitTest] {
				shared++
			}
		}
		if shared == 0 {
			return fmt.Sprintf("speaker-independent: none of the %d actors is in both train and test (checked on the clip ids)", len(actors))
		}
		return fmt.Sprintf("speakers shared: %d of %d actors are in both train and test, as in the common CREMA-D lists (checked on the clip ids); results do not measure generalisation to new speakers", shared, len(actors))
	case ingest.VGGSoundName:
		return "the vggsound.csv train/test lists (val, if any, taken from the train list)"
	}
	return "as given in the clip list (e.g. a manifest's split column)"
}
