// Package extractflags defines the flags that `avbalance extract` and
// `avbalance-beam` share: which dataset to read and which feature preset to
// compute, so both commands take the same arguments.
package extractflags

import (
	"flag"
	"strings"

	"github.com/avbalance/avbalance/features"
	"github.com/avbalance/avbalance/ingest"
)

// Flags holds the parsed values.
type Flags struct {
	Source    ingest.Source
	preset    string
	overrides features.Overrides
}

// Register adds the dataset and preset flags to fs. rootHelp describes --root
// (the Beam runner adds that workers must see it too).
func Register(fs *flag.FlagSet, rootHelp string) *Flags {
	f := &Flags{}
	s := &f.Source
	fs.StringVar(&s.Dataset, "dataset", "", "cremad, vggsound or manifest")
	fs.StringVar(&s.Root, "root", "", rootHelp)
	fs.StringVar(&s.CSV, "csv", "", "VGGSound clip list (youtube_id,start_seconds,label,split)")
	fs.StringVar(&s.Manifest, "manifest", "", "generic manifest CSV (id,path,label[,split][,audio_path])")
	fs.StringVar(&s.Split, "split", "speaker", "CREMA-D split: speaker (by actor, seeded), lists (--train-list/--test-list) or none")
	fs.StringVar(&s.TrainList, "train-list", "", "CREMA-D train list for --split lists (OGM-GE train.csv)")
	fs.StringVar(&s.TestList, "test-list", "", "CREMA-D test list for --split lists (OGM-GE test.csv)")
	fs.Float64Var(&s.ValFrac, "val-frac", 0.1, "share of train moved to val (CREMA-D lists, VGGSound)")
	fs.BoolVar(&s.OnlyPresent, "only-present", false, "VGGSound: leave out listed clips whose file is absent instead of recording them as failures")
	fs.Uint64Var(&s.Seed, "seed", 0, "seed for splits and random crops")
	fs.StringVar(&f.preset, "preset", "default", "feature preset: "+strings.Join(features.PresetNames(), ", "))
	fs.IntVar(&f.overrides.Frames, "frames", 0, "override the preset's number of video frames")
	fs.IntVar(&f.overrides.Size, "size", 0, "override the preset's frame width and height (pixels)")
	fs.Float64Var(&f.overrides.Seconds, "seconds", 0, "override the preset's audio duration (seconds)")
	return f
}

// Preset returns the chosen preset with the overrides applied, validated.
func (f *Flags) Preset() (features.Preset, error) {
	return features.LookupWith(f.preset, f.overrides)
}
