package ingest

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// ManifestOptions configures ReadManifest. The zero value is ready to use.
type ManifestOptions struct {
	// Name is the Dataset.Name and Clip.Source; "manifest" when empty.
	Name string
	// Labels, when set, fixes the label names and their ids (index in the slice);
	// a row with a label not in the list is Rejected. When empty, the labels are
	// the sorted distinct labels of all rows, rejected ones included, so label ids
	// do not change when a file goes missing.
	Labels []string
}

// ManifestName is the default Dataset.Name and Clip.Source of ReadManifest.
const ManifestName = "manifest"

// Manifest columns. Names are matched case-insensitively, in any order; other
// columns are ignored.
const (
	ColID        = "id"
	ColPath      = "path"
	ColLabel     = "label"
	ColSplit     = "split"      // optional: train, val, test or empty
	ColAudioPath = "audio_path" // optional: separate audio file
)

// ReadManifest reads a clip manifest: a CSV file with a header row naming at
// least the columns id, path and label, and optionally split and audio_path.
// Relative paths are resolved against the manifest's folder. Fields are trimmed
// of surrounding spaces; a UTF-8 BOM and CRLF line ends are fine. Clips keep the
// manifest's row order.
//
// A row is Rejected when its field count differs from the header's, its id, path
// or label is empty, its split is not train, val, test or empty, its label is not
// in opts.Labels, a media file it names is not a regular file (the reason says what it is
// instead: absent, a directory, a symbolic link loop, a named pipe, …), or its id appeared on
// an earlier row. The first row naming an id claims it, even if that row is
// rejected; a later row with the id is Rejected (never dropped) under the id
// "<id>#<manifest file>:<line>", so every id in the Dataset is unique.
//
// An unreadable manifest, a CSV syntax error, a missing required column (the
// error names it), a repeated column or a repeated name in opts.Labels is an error.
func ReadManifest(path string, opts ManifestOptions) (*Dataset, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	defer f.Close()
	return parseManifest(f, path, filepath.Dir(path), opts, fileProblem)
}

// parseManifest does the work of ReadManifest on an open manifest whose relative
// paths resolve against dir; problem says what is wrong with a media file ("" if nothing).
func parseManifest(r io.Reader, src, dir string, opts ManifestOptions, problem func(string) string) (*Dataset, error) {
	ds := &Dataset{Name: opts.Name}
	if ds.Name == "" {
		ds.Name = ManifestName
	}
	labelID := make(map[string]int)
	for i, l := range opts.Labels {
		if _, dup := labelID[l]; dup {
			return nil, fmt.Errorf("manifest %s: label %q given twice in the fixed label list", src, l)
		}
		labelID[l] = i
	}

	cr := newCSVReader(r)
	header, err := cr.Read()
	if err == io.EOF {
		return nil, fmt.Errorf("manifest %s: empty file, want a header with columns %s,%s,%s", src, ColID, ColPath, ColLabel)
	}
	if err != nil {
		return nil, fmt.Errorf("manifest %s: %w", src, err)
	}
	col := make(map[string]int, len(header))
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(h))
		if _, dup := col[h]; dup && h != "" {
			return nil, fmt.Errorf("manifest %s: column %q appears twice in the header", src, h)
		}
		col[h] = i
	}
	for _, c := range []string{ColID, ColPath, ColLabel} {
		if _, ok := col[c]; !ok {
			return nil, fmt.Errorf("manifest %s: missing required column %q (header must name %s, %s and %s)", src, c, ColID, ColPath, ColLabel)
		}
	}
	nCols := len(header)
	field := func(rec []string, name string) string {
		if i, ok := col[name]; ok {
			return rec[i]
		}
		return ""
	}
	resolve := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(dir, p)
	}

	type row struct {
		clip  Clip
		label string
	}
	var rows []row
	claims := idClaims{}
	seen := make(map[string]bool)
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("manifest %s: %w", src, err)
		}
		line := csvLine(cr)
		trimAll(rec)
		rowID := placeholderID(src, line)
		var mediaPath string
		if len(rec) == nCols {
			if v := field(rec, ColID); v != "" {
				rowID = v
			}
			mediaPath = resolve(field(rec, ColPath))
		}
		id, prev := claims.claim(rowID, src, line)
		reject := func(format string, a ...any) {
			ds.Rejected = append(ds.Rejected, Rejected{ClipID: id, Path: mediaPath,
				Reason: fmt.Sprintf("%s line %d: ", filepath.Base(src), line) + fmt.Sprintf(format, a...)})
		}
		if len(rec) != nCols {
			reject("%d fields, the header has %d", len(rec), nCols)
			continue
		}
		c := Clip{ID: field(rec, ColID), Path: mediaPath, AudioPath: resolve(field(rec, ColAudioPath)),
			Split: field(rec, ColSplit), Source: ds.Name}
		label := field(rec, ColLabel)
		if label != "" {
			seen[label] = true // every row names the labels, so ids do not shift when files go missing
		}
		if prev != "" {
			reject("id %q listed again (first at %s)", c.ID, prev)
			continue
		}
		_, known := labelID[label]
		var fileIssue string
		if c.Path != "" {
			if fileIssue = problem(c.Path); fileIssue != "" {
				fileIssue = fmt.Sprintf("media file %s %s", c.Path, fileIssue)
			} else if c.AudioPath != "" {
				if p := problem(c.AudioPath); p != "" {
					fileIssue = fmt.Sprintf("audio file %s %s", c.AudioPath, p)
				}
			}
		}
		switch {
		case c.ID == "":
			reject("empty %s", ColID)
		case c.Path == "":
			reject("empty %s", ColPath)
		case label == "":
			reject("empty %s", ColLabel)
		case c.Split != "" && c.Split != SplitTrain && c.Split != SplitVal && c.Split != SplitTest:
			reject("split %q, want train, val, test or empty", c.Split)
		case len(opts.Labels) > 0 && !known:
			reject("label %q is not in the fixed label list", label)
		case fileIssue != "":
			reject("%s", fileIssue)
		default:
			rows = append(rows, row{clip: c, label: label})
		}
	}

	if len(opts.Labels) > 0 {
		ds.Labels = append([]string(nil), opts.Labels...)
	} else {
		for l := range seen {
			ds.Labels = append(ds.Labels, l)
		}
		sort.Strings(ds.Labels)
		for i, l := range ds.Labels {
			labelID[l] = i
		}
	}
	ds.Clips = make([]Clip, len(rows))
	for i, r := range rows {
		ds.Clips[i] = r.clip
		ds.Clips[i].Label = labelID[r.label]
	}
	return ds, nil
}
