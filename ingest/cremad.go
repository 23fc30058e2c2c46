package ingest

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
)

// CremaDOptions configures ReadCremaD. Only Root is required; the zero value of
// everything else gives a speaker-independent 0.7/0.1/0.2 split with seed 0.
type CremaDOptions struct {
	// Root is the CREMA-D folder. When Root/VideoFlash is a directory the videos
	// are read from there (the layout of the official release); otherwise the
	// .flv files must sit directly in Root. Other files are ignored.
	Root string
	// AudioDir holds optional per-clip WAV files named <clip id>.wav. It defaults
	// to Root/AudioWAV when that directory exists; a clip whose WAV is present gets
	// it as Clip.AudioPath, otherwise the audio is taken from the .flv.
	AudioDir string
	// Split is the policy: SplitBySpeaker (the default when empty), SplitFromLists
	// or SplitNone.
	Split SplitPolicy
	// Fractions are the train/val/test shares of actors for SplitBySpeaker.
	Fractions Fractions
	// Seed drives every shuffle; the same inputs and seed give the same split.
	Seed Seed
	// TrainList and TestList are the clip lists for SplitFromLists, rows of
	// "clip_id,LABEL" without a header (the OGM-GE train.csv and test.csv format).
	TrainList, TestList string
	// ValFrac, for SplitFromLists, moves this share of the train list to val.
	// Other policies ignore it (SplitBySpeaker takes its val share from Fractions),
	// so a caller may pass one value for every policy.
	ValFrac float64
	// ValBy says what ValFrac counts: "clip" (the default; val clips share actors
	// with train, as the lists' test part does) or "actor" (whole actors of the
	// train list move to val). Like ValFrac it only applies to SplitFromLists.
	ValBy string
}

// ValBy values of CremaDOptions.
const (
	ValByClip  = "clip"
	ValByActor = "actor"
)

// CremaDName is the Dataset.Name and Clip.Source of CREMA-D clips.
const CremaDName = "cremad"

// CremaDLabels returns the CREMA-D emotion codes in label-id order:
// NEU, HAP, SAD, FEA, DIS, ANG are 0..5, the order the OGM-GE and PMR code use.
func CremaDLabels() []string { return []string{"NEU", "HAP", "SAD", "FEA", "DIS", "ANG"} }

// ReadCremaD lists the CREMA-D clips under opts.Root and assigns labels and splits.
//
// A clip id is the file stem AAAA_SSS_EMO_LL (4-digit actor, 3-letter sentence,
// emotion code, 2-letter level); the actor is the first field and the label comes
// from EMO. A file whose name does not have that form, or whose emotion code is
// not one of CremaDLabels, is Rejected. Clips are returned sorted by id.
//
// SplitBySpeaker shuffles the actors found on disk with Seed and gives
// Fractions of them (largest-remainder rounding) to train, val and test, so no
// actor is in two splits.
//
// SplitFromLists reads TrainList and TestList. Listed clips get "train" or
// "test"; when ValFrac > 0, a seeded share of the train list (by clip or by actor,
// see ValBy) becomes "val". The share is drawn from the list, not from the files
// present, so a partial download keeps the same split. A listed clip that is not
// on disk, a list row with a malformed id or more than two fields, a label that
// disagrees with the id's emotion code, or an id listed again (train list first,
// then test list; the repeat is rejected under "<id>#<list file>:<line>") is
// Rejected. Files on disk in neither list are left out and counted in
// Dataset.Skipped.
//
// SplitNone lists every clip with an empty split.
//
// A missing Root or list file, an unreadable list or an invalid option is an error.
func ReadCremaD(opts CremaDOptions) (*Dataset, error) {
	policy := opts.Split
	if policy == "" {
		policy = SplitBySpeaker
	}
	switch policy {
	case SplitBySpeaker, SplitNone:
		if opts.TrainList != "" || opts.TestList != "" {
			return nil, fmt.Errorf("cremad: TrainList and TestList apply to the %q split only, not %q", SplitFromLists, policy)
		}
	case SplitFromLists:
		if opts.TrainList == "" || opts.TestList == "" {
			return nil, errors.New("cremad: the lists split needs both TrainList and TestList")
		}
		if opts.Fractions != (Fractions{}) {
			return nil, fmt.Errorf("cremad: Fractions apply to the %q split only", SplitBySpeaker)
		}
		if err := checkValFrac(opts.ValFrac); err != nil {
			return nil, fmt.Errorf("cremad: %w", err)
		}
		if opts.ValBy != "" && opts.ValBy != ValByClip && opts.ValBy != ValByActor {
			return nil, fmt.Errorf("cremad: ValBy %q: want %q or %q", opts.ValBy, ValByClip, ValByActor)
		}
	default:
		return nil, fmt.Errorf("cremad: unknown split policy %q (want %q, %q or %q)", policy, SplitBySpeaker, SplitFromLists, SplitNone)
	}
	fr, err := opts.Fractions.resolve()
	if err != nil {
		return nil, fmt.Errorf("cremad: %w", err)
	}

	lay, err := openCremaLayout(opts.Root, opts.AudioDir)
	if err != nil {
		return nil, err
	}
	ds := &Dataset{Name: CremaDName, Labels: CremaDLabels()}
	if policy == SplitFromLists {
		train, err := readCremaListFile(opts.TrainList, SplitTrain)
		if err != nil {
			return nil, err
		}
		test, err := readCremaListFile(opts.TestList, SplitTest)
		if err != nil {
			return nil, err
		}
		lay.fromLists(ds, train, test, opts.ValFrac, opts.ValBy, opts.Seed)
	} else {
		lay.fromDisk(ds, policy == SplitBySpeaker, fr, opts.Seed)
	}
	ds.rejectFileProblems(func(path string) string {
		if p := lay.videos.problem(path); p != "" {
			return p
		}
		return lay.audios.problem(path)
	})
	sort.Slice(ds.Clips, func(i, j int) bool { return ds.Clips[i].ID < ds.Clips[j].ID })
	return ds, nil
}

// cremaLayout is what ReadCremaD found on disk.
type cremaLayout struct {
	videos, audios *dirListing
}

func openCremaLayout(root, audioDir string) (*cremaLayout, error) {
	if err := requireDir("cremad root", root); err != nil {
		return nil, err
	}
	videoDir := root
	if d := filepath.Join(root, "VideoFlash"); isDir(d) {
		videoDir = d
	}
	lay := &cremaLayout{}
	var err error
	if lay.videos, err = listDir(videoDir, ".flv"); err != nil {
		return nil, fmt.Errorf("cremad: %w", err)
	}
	switch {
	case audioDir != "":
		if err := requireDir("cremad audio dir", audioDir); err != nil {
			return nil, err
		}
	case isDir(filepath.Join(root, "AudioWAV")):
		audioDir = filepath.Join(root, "AudioWAV")
	}
	if audioDir != "" {
		if lay.audios, err = listDir(audioDir, ".wav"); err != nil {
			return nil, fmt.Errorf("cremad: %w", err)
		}
	}
	return lay, nil
}

// videoPath is the clip's .flv on disk, or where it would be.
func (l *cremaLayout) videoPath(id string) string { return l.videos.path(id, ".flv") }

func (l *cremaLayout) clip(id string, label int, split string) Clip {
	c := Clip{ID: id, Path: l.videoPath(id), Label: label, Split: split, Source: CremaDName}
	if l.audios == nil {
		return c
	}
	if _, ok := l.audios.index[id]; ok {
		c.AudioPath = l.audios.path(id, ".wav")
	}
	return c
}

func (l *cremaLayout) fromDisk(ds *Dataset, bySpeaker bool, fr Fractions, seed Seed) {
	ids := make([]string, 0, len(l.videos.names))
	for id := range l.videos.index {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var actors []string
	start := len(ds.Clips)
	for _, id := range ids {
		actor, label, reason := parseCremaID(id)
		if reason != "" {
			ds.Rejected = append(ds.Rejected, Rejected{ClipID: id, Path: l.videoPath(id), Reason: reason})
			continue
		}
		ds.Clips = append(ds.Clips, l.clip(id, label, ""))
		actors = append(actors, actor)
	}
	if !bySpeaker {
		return
	}
	split := assignGroups(actors, fr, seed)
	for i := start; i < len(ds.Clips); i++ {
		ds.Clips[i].Split = split[actors[i-start]]
	}
}

func (l *cremaLayout) fromLists(ds *Dataset, train, test []listEntry, valFrac float64, valBy string, seed Seed) {
	type listed struct {
		id, actor, split string
		label            int
	}
	var valid []listed
	claims := idClaims{}
	for _, part := range []struct {
		split   string
		entries []listEntry
	}{{SplitTrain, train}, {SplitTest, test}} {
		for _, e := range part.entries {
			id, prev := claims.claim(e.id, e.src, e.line)
			here := where(e.src, e.line)
			path := l.videoPath(e.id)
			if e.problem != "" {
				path = e.src // the row itself is broken: point at the list
			}
			reject := func(reason string) {
				ds.Rejected = append(ds.Rejected, Rejected{ClipID: id, Path: path, Reason: here + ": " + reason})
			}
			if prev != "" {
				reject(fmt.Sprintf("clip %s listed again (first at %s)", e.id, prev))
				continue
			}
			if e.problem != "" {
				reject(e.problem)
				continue
			}
			actor, label, reason := parseCremaID(e.id)
			if reason == "" && e.label != "" && e.label != CremaDLabels()[label] {
				reason = fmt.Sprintf("list label %q disagrees with the emotion code in the clip id", e.label)
			}
			if reason != "" {
				reject(reason)
				continue
			}
			valid = append(valid, listed{id: e.id, actor: actor, split: part.split, label: label})
		}
	}
	if valFrac > 0 {
		key := func(v listed) string { return v.id }
		if valBy == ValByActor {
			key = func(v listed) string { return v.actor }
		}
		var keys []string
		for _, v := range valid {
			if v.split == SplitTrain {
				keys = append(keys, key(v))
			}
		}
		val := carve(keys, valFrac, seed)
		for i, v := range valid {
			if v.split == SplitTrain && val[key(v)] {
				valid[i].split = SplitVal
			}
		}
	}
	for _, v := range valid {
		if _, ok := l.videos.index[v.id]; !ok {
			ds.Rejected = append(ds.Rejected, Rejected{ClipID: v.id, Path: l.videoPath(v.id), Reason: "listed but missing on disk"})
			continue
		}
		ds.Clips = append(ds.Clips, l.clip(v.id, v.label, v.split))
	}
	for id := range l.videos.index {
		if _, ok := claims[id]; !ok {
			ds.Skipped++
		}
	}
}

// parseCremaID checks id against AAAA_SSS_EMO_LL and returns the actor and the
// label id, or a reason to reject it.
func parseCremaID(id string) (actor string, label int, reason string) {
	const want = "malformed CREMA-D clip id %q: want AAAA_SSS_EMO_LL (e.g. 1001_DFA_ANG_XX)"
	if len(id) != 15 || id[4] != '_' || id[8] != '_' || id[12] != '_' ||
		!allIn(id[0:4], '0', '9') || !allIn(id[5:8], 'A', 'Z') || !allIn(id[13:15], 'A', 'Z') {
		return "", 0, fmt.Sprintf(want, id)
	}
	emo := id[9:12]
	for i, code := range CremaDLabels() {
		if code == emo {
			return id[0:4], i, ""
		}
	}
	return "", 0, fmt.Sprintf("clip id %q: unknown emotion code %q (want one of NEU HAP SAD FEA DIS ANG)", id, emo)
}

func allIn(s string, lo, hi byte) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < lo || s[i] > hi {
			return false
		}
	}
	return true
}

// readCremaListFile reads the train or test list at path.
func readCremaListFile(path, split string) ([]listEntry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("cremad: %s list: %w", split, err)
	}
	defer f.Close()
	entries, err := readCremaList(f, path)
	if err != nil {
		return nil, fmt.Errorf("cremad: %s list: %w", split, err)
	}
	return entries, nil
}

// listEntry is one row of a CREMA-D clip list.
type listEntry struct {
	id, label string
	src       string
	line      int
	problem   string // why the row cannot be used, or ""
}

// readCremaList reads "clip_id[,LABEL]" rows (no header; a UTF-8 BOM, CRLF line
// ends and surrounding spaces are fine). A row with an empty id (named by
// placeholderID) or more than two fields comes back with a problem; CSV syntax
// errors are returned as errors.
func readCremaList(r io.Reader, src string) ([]listEntry, error) {
	cr := newCSVReader(r)
	var out []listEntry
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", src, err)
		}
		line := csvLine(cr)
		trimAll(rec)
		e := listEntry{id: rec[0], src: src, line: line}
		switch {
		case rec[0] == "":
			e.id, e.problem = placeholderID(src, line), "empty clip id"
		case len(rec) > 2:
			e.problem = fmt.Sprintf("%d fields, want clip_id,LABEL", len(rec))
		case len(rec) == 2:
			e.label = rec[1]
		}
		out = append(out, e)
	}
}
