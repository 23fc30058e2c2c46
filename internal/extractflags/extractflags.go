// Package extractflags defines the flags that `avbalance extract` and
// `avbalance-beam` share: which dataset to read, which feature preset to
// compute, the per-clip deadline and resuming, so both commands take the same
// arguments.
package extractflags

import (
	"flag"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/avbalance/avbalance/features"
	"github.com/avbalance/avbalance/ingest"
	"github.com/avbalance/avbalance/pipeline"
)

// Flags holds the parsed values.
type Flags struct {
	Input ingest.Input
	// Resume continues an interrupted run in the output folder instead of
	// refusing a folder that holds results.
	Resume      bool
	preset      string
	overrides   features.Overrides
	clipTimeout *time.Duration
	fs          *flag.FlagSet // to tell an override set to 0 from one left out
}

// Register adds the dataset and preset flags to fs. rootHelp describes --root
// (the Beam runner adds that workers must see it too).
func Register(fs *flag.FlagSet, rootHelp string) *Flags {
	f := &Flags{fs: fs}
	s := &f.Input
	fs.StringVar(&s.Dataset, "dataset", "", "cremad, vggsound or manifest")
	fs.StringVar(&s.Root, "root", "", rootHelp)
	fs.StringVar(&s.CSV, "csv", "", "VGGSound clip list (youtube_id,start_seconds,label,split)")
	fs.StringVar(&s.Manifest, "manifest", "", "generic manifest CSV (id,path,label[,split][,audio_path])")
	fs.StringVar(&s.Split, "split", "speaker", "CREMA-D split: speaker (by actor, seeded), lists (--train-list/--test-list) or none")
	fs.StringVar(&s.TrainList, "train-list", "", "CREMA-D train list for --split lists (OGM-GE train.csv)")
	fs.StringVar(&s.TestList, "test-list", "", "CREMA-D test list for --split lists (OGM-GE test.csv)")
	fs.Float64Var(&s.ValFrac, "val-frac", 0.1, "share of train moved to val (CREMA-D lists, VGGSound)")
	fs.BoolVar(&s.OnlyPresent, "only-present", false, "VGGSound: leave out listed clips whose file is absent instead of recording them as failures")
	fs.Var(&s.Seed, "seed", "`seed` for splits and random crops")
	fs.StringVar(&f.preset, "preset", "default", "feature preset: "+strings.Join(features.PresetNames(), ", "))
	fs.IntVar(&f.overrides.Frames, "frames", 0, "override the preset's number of video frames, `N` ≥ 1")
	fs.IntVar(&f.overrides.Size, "size", 0, "override the preset's frame width and height, `PX` ≥ 1")
	fs.Float64Var(&f.overrides.Seconds, "seconds", 0, "override the preset's audio duration, `S` seconds > 0")
	f.clipTimeout = Duration(fs, "clip-timeout", pipeline.DefaultClipTimeout, "give up on a clip that takes longer than `DURATION` to decode, e.g. 30s or 2m (recorded as a failure; 0 = no limit)")
	fs.BoolVar(&f.Resume, "resume", false, "continue an interrupted run in --out: keep its shards and failures, extract the rest")
	return f
}

// ClipTimeout returns --clip-timeout as pipeline.Config.ClipTimeout takes it:
// negative for "no limit", which the flag writes as 0.
func (f *Flags) ClipTimeout() time.Duration {
	if *f.clipTimeout == 0 {
		return -1
	}
	return *f.clipTimeout
}

// Preset returns the chosen preset with the overrides applied, validated. An override flag
// that was given must be a finite number > 0: a 0 (the value that means "keep the preset's")
// or a negative or NaN value is an error naming the flag, never replaced by the preset's value.
func (f *Flags) Preset() (features.Preset, error) {
	if err := CheckPositive(f.fs, "frames", "size", "seconds"); err != nil {
		return features.Preset{}, err
	}
	return features.LookupWith(f.preset, f.overrides)
}

// CheckPositive returns an error naming the first of the named numeric flags that was given on
// the command line with a value that is not a finite number > 0. It is for flags whose zero
// value means "use the default": given explicitly, 0 is a mistake to report, not a request
// for the default.
func CheckPositive(fs *flag.FlagSet, names ...string) error {
	var bad error
	fs.Visit(func(fl *flag.Flag) {
		if bad != nil || !slices.Contains(names, fl.Name) {
			return
		}
		if v, err := strconv.ParseFloat(fl.Value.String(), 64); err != nil || !(v > 0) || math.IsInf(v, 0) {
			bad = fmt.Errorf("--%s %s: must be a number greater than 0 (leave --%s out for the default)", fl.Name, fl.Value, fl.Name)
		}
	})
	return bad
}
