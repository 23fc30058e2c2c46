package ingest

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// VGGSoundOptions configures ReadVGGSound.
type VGGSoundOptions struct {
	// CSV is the clip list in the official vggsound.csv format: rows of
	// youtube_id,start_seconds,label,split.
	CSV string
	// ClipsDir holds the downloaded clips, named <youtube_id>_<start:06d>.mp4
	// (e.g. -0pJqpNjft4_000267.mp4).
	ClipsDir string
	// OnlyPresent leaves out, instead of rejecting, listed clips whose file is not
	// in ClipsDir, so a partial download does not flood failures.jsonl with
	// "missing" lines. They are counted in Dataset.Skipped.
	OnlyPresent bool
	// ValFrac moves this share of the train rows to val, chosen by a seeded
	// shuffle of the listed train clips (present or not, so a partial download
	// keeps the same split).
	ValFrac float64
	// Seed drives the val shuffle.
	Seed Seed
}

// VGGSoundName is the Dataset.Name and Clip.Source of VGGSound clips.
const VGGSoundName = "vggsound"

// ReadVGGSound reads the VGGSound clip list opts.CSV and matches it with the
// files in opts.ClipsDir.
//
// The CSV has no header in the official release; when the second field of the
// first row contains "start" (as in "start_seconds" or "start seconds"), that row
// is taken as a header and skipped; any other row is data. A UTF-8
// BOM, CRLF line ends and quoted labels with commas are fine. The clip id is
// <youtube_id>_<start:06d>. Label ids index the sorted distinct labels of every
// row that has four fields, so they do not depend on which files are present.
//
// A row is Rejected when it does not have four fields, its YouTube id has a
// character outside [A-Za-z0-9_-], its start is not a non-negative integer, its
// label is empty, its split is not "train" or "test", its clip id was named by
// an earlier row (the first row naming an id claims it, even if that row is
// rejected), or (unless OnlyPresent) its file is missing. Clips keep the CSV's
// row order.
//
// A missing CSV or ClipsDir, a CSV syntax error or an invalid option is an error.
func ReadVGGSound(opts VGGSoundOptions) (*Dataset, error) {
	if err := checkValFrac(opts.ValFrac); err != nil {
		return nil, fmt.Errorf("vggsound: %w", err)
	}
	if err := requireDir("vggsound clips dir", opts.ClipsDir); err != nil {
		return nil, err
	}
	f, err := os.Open(opts.CSV)
	if err != nil {
		return nil, fmt.Errorf("vggsound: %w", err)
	}
	defer f.Close()
	files, err := listDir(opts.ClipsDir, ".mp4")
	if err != nil {
		return nil, fmt.Errorf("vggsound: %w", err)
	}
	return parseVGGSound(f, opts.CSV, files, opts)
}

// parseVGGSound does the work of ReadVGGSound on an open CSV and the clips
// present on disk.
func parseVGGSound(r io.Reader, src string, files *dirListing, opts VGGSoundOptions) (*Dataset, error) {
	type row struct {
		id, split string
		file      int // index into files.names, -1 when absent
		label     int // index into names until the labels are sorted
	}
	var rows []row
	var rejected []Rejected
	var names []string              // labels in order of first sight
	nameIdx := make(map[string]int) // label -> index into names
	// The line of the first row naming each clip id, to reject repeats: by file
	// index for present clips (so a full download needs no second map), by id
	// for absent ones.
	firstLine := make([]int, len(files.names))
	absentLine := make(map[string]int)
	base := filepath.Base(src)
	cr := newCSVReader(r)
	for n := 0; ; n++ {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("vggsound: %s: %w", src, err)
		}
		line := csvLine(cr)
		trimAll(rec)
		if n == 0 && len(rec) >= 2 && strings.Contains(strings.ToLower(rec[1]), "start") {
			continue // header row
		}
		var id string     // the id this row is known by in the Dataset
		var clipID string // the clip id the row names, when it names one
		file, onDisk := -1, false
		var reason string
		if len(rec) < 2 || rec[0] == "" {
			id = placeholderID(src, line)
		} else {
			// The first row naming a clip id claims it, even when that row is
			// rejected, so an id is never both a clip and a failure of another row.
			clipID = vggID(rec[0], rec[1])
			id = clipID
			file, onDisk = files.index[id]
			prev := absentLine[id]
			if onDisk {
				prev = firstLine[file]
			}
			if prev > 0 {
				reason = fmt.Sprintf("clip %s listed again (first at line %d)", id, prev)
				id = repeatID(id, src, line)
			} else if onDisk {
				firstLine[file] = line
			} else {
				absentLine[id] = line
				file = -1
			}
		}
		if len(rec) == 4 && rec[2] != "" {
			if _, ok := nameIdx[rec[2]]; !ok {
				nameIdx[rec[2]] = len(names)
				names = append(names, rec[2])
			}
		}
		switch {
		case reason != "":
		case len(rec) != 4:
			reason = fmt.Sprintf("%d fields, want youtube_id,start_seconds,label,split", len(rec))
		case !isYouTubeID(rec[0]):
			reason = fmt.Sprintf("malformed YouTube id %q", rec[0])
		case !isUint(rec[1]):
			reason = fmt.Sprintf("start_seconds %q is not a non-negative integer", rec[1])
		case rec[2] == "":
			reason = "empty label"
		case rec[3] != SplitTrain && rec[3] != SplitTest:
			reason = fmt.Sprintf("split %q, want train or test", rec[3])
		}
		if reason != "" {
			var path string
			if clipID != "" {
				path = files.path(clipID, ".mp4")
			}
			rejected = append(rejected, Rejected{ClipID: id, Path: path,
				Reason: fmt.Sprintf("%s line %d: %s", base, line, reason)})
			continue
		}
		split := SplitTrain
		if rec[3] == SplitTest {
			split = SplitTest
		}
		rows = append(rows, row{id: id, file: file, split: split, label: nameIdx[rec[2]]})
	}

	ds := &Dataset{Name: VGGSoundName, Rejected: rejected, Labels: slices.Clone(names)}
	slices.Sort(ds.Labels)
	remap := make([]int, len(names)) // first-sight index -> sorted label id
	for i, l := range ds.Labels {
		remap[nameIdx[l]] = i
	}
	if opts.ValFrac > 0 {
		var train []int
		for i, r := range rows {
			if r.split == SplitTrain {
				train = append(train, i)
			}
		}
		for _, i := range carveIndex(train, func(i int) string { return rows[i].id }, opts.ValFrac, opts.Seed) {
			rows[i].split = SplitVal
		}
	}
	ds.Clips = make([]Clip, 0, min(len(rows), len(files.names)))
	for _, r := range rows {
		if r.file < 0 {
			if opts.OnlyPresent {
				ds.Skipped++
			} else {
				ds.Rejected = append(ds.Rejected, Rejected{ClipID: r.id, Path: files.prefix + r.id + ".mp4", Reason: "listed but missing on disk"})
			}
			continue
		}
		ds.Clips = append(ds.Clips, Clip{ID: r.id, Path: files.prefix + files.names[r.file], Label: remap[r.label], Split: r.split, Source: VGGSoundName})
	}
	ds.rejectFileProblems(files.problem)
	return ds, nil
}

// vggID is <ytid>_<start:06d>; start is used as written when it is not a number.
func vggID(ytid, start string) string {
	if !isUint(start) {
		return ytid + "_" + start
	}
	start = strings.TrimLeft(start, "0")
	if len(start) < 6 {
		start = strings.Repeat("0", 6-len(start)) + start
	}
	return ytid + "_" + start
}

func isUint(s string) bool {
	if s == "" || len(s) > 9 {
		return false
	}
	_, err := strconv.ParseUint(s, 10, 32)
	return err == nil
}

func isYouTubeID(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
