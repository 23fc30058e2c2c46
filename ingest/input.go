package ingest

import (
	"errors"
	"fmt"
)

// Input names a dataset and how to read its clip list: what the extract
// commands' flags describe. It is plain data, so a distributed runner can ship
// it to its workers and read the same list there.
type Input struct {
	Dataset     string   `json:"dataset"`              // cremad, vggsound or manifest
	Root        string   `json:"root,omitempty"`       // CREMA-D root or VGGSound clips folder
	CSV         string   `json:"csv,omitempty"`        // VGGSound clip list
	Manifest    string   `json:"manifest,omitempty"`   // generic manifest CSV
	Labels      []string `json:"labels,omitempty"`     // manifest: fixed label list (ids = positions); empty = sorted distinct
	Split       string   `json:"split,omitempty"`      // CREMA-D split policy: speaker, lists or none
	TrainList   string   `json:"train_list,omitempty"` // CREMA-D lists
	TestList    string   `json:"test_list,omitempty"`
	ValFrac     float64  `json:"val_frac,omitempty"`     // CREMA-D lists, VGGSound: share of train moved to val
	OnlyPresent bool     `json:"only_present,omitempty"` // VGGSound: leave out absent files
	Seed        Seed     `json:"seed,omitempty"`         // split seed
}

// Read reads the clip list with the reader s names. Its errors for a missing setting name the
// extract commands' flag (--dataset, --root, --csv, --manifest).
func (s Input) Read() (*Dataset, error) {
	switch s.Dataset {
	case CremaDName:
		if s.Root == "" {
			return nil, errors.New("dataset cremad needs the CREMA-D folder (--root DIR)")
		}
		if SplitPolicy(s.Split) == SplitFromLists && (s.TrainList == "" || s.TestList == "") {
			return nil, errors.New("dataset cremad with --split lists needs both lists (--train-list FILE --test-list FILE)")
		}
		return ReadCremaD(CremaDOptions{
			Root: s.Root, Split: SplitPolicy(s.Split), Seed: s.Seed,
			TrainList: s.TrainList, TestList: s.TestList, ValFrac: s.ValFrac,
		})
	case VGGSoundName:
		if s.CSV == "" || s.Root == "" {
			return nil, errors.New("dataset vggsound needs the clip list and the clips folder (--csv FILE --root DIR)")
		}
		return ReadVGGSound(VGGSoundOptions{
			CSV: s.CSV, ClipsDir: s.Root, OnlyPresent: s.OnlyPresent, ValFrac: s.ValFrac, Seed: s.Seed,
		})
	case ManifestName:
		if s.Manifest == "" {
			return nil, errors.New("dataset manifest needs a manifest file (--manifest FILE)")
		}
		return ReadManifest(s.Manifest, ManifestOptions{Labels: s.Labels})
	case "":
		return nil, errors.New("no dataset given: set --dataset to cremad, vggsound or manifest")
	default:
		return nil, fmt.Errorf("unknown dataset %q: set --dataset to cremad, vggsound or manifest", s.Dataset)
	}
}
