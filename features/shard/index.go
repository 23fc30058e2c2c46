package shard

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/avbalance/avbalance/internal/atomicfile"
)

// Index is the content of index.json: what an extraction produced and with which configuration.
type Index struct {
	SchemaVersion int       `json:"schema_version"` // SchemaVersion; WriteIndex fills it in when zero (ReadIndex also reads 1)
	Tool          string    `json:"tool"`           // name and version of the program that wrote the folder
	Created       time.Time `json:"created"`
	Dataset       string    `json:"dataset"`
	// Preset is the full feature configuration (features.Preset marshalled to JSON). It is raw JSON
	// so that this package does not depend on package features; see SetPreset and DecodePreset.
	Preset json.RawMessage `json:"preset"`
	Labels []string        `json:"labels"` // label index → name
	// ClipList identifies the clip list the folder was started with, so a resume with another
	// list is refused. Absent in folders written before it existed.
	ClipList    *ClipList   `json:"clip_list,omitempty"`
	Shards      []ShardInfo `json:"shards"`
	ClipsTotal  int         `json:"clips_total"`
	ClipsOK     int         `json:"clips_ok"`     // rows over all shards
	ClipsFailed int         `json:"clips_failed"` // lines in failures.jsonl
}

// ClipList identifies the clip list of an extraction: the fingerprint of its clips, labels and
// splits (ingest.Dataset.Fingerprint) and its size, so a mismatch can be described.
type ClipList struct {
	Fingerprint string `json:"fingerprint"` // hex SHA-256 (ingest.Dataset.Fingerprint)
	Clips       int    `json:"clips"`       // clips to decode
	Rejected    int    `json:"rejected"`    // rows rejected before decoding (they are failures)
}

// SetPreset stores p (normally a features.Preset) as the index's Preset.
func (ix *Index) SetPreset(p any) error {
	b, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("shard: index preset: %w", err)
	}
	ix.Preset = b
	return nil
}

// DecodePreset unmarshals the index's Preset into p (normally a *features.Preset).
func (ix *Index) DecodePreset(p any) error {
	if len(ix.Preset) == 0 {
		return errors.New("shard: index has no preset")
	}
	if err := json.Unmarshal(ix.Preset, p); err != nil {
		return fmt.Errorf("shard: index preset: %w", err)
	}
	return nil
}

// WriteIndex writes dir/index.json atomically: a temp file, fsync, rename, fsync of dir.
func WriteIndex(dir string, ix *Index) error {
	c := *ix
	if c.SchemaVersion == 0 {
		c.SchemaVersion = SchemaVersion
	}
	if c.SchemaVersion != SchemaVersion {
		return fmt.Errorf("shard: index schema_version %d, this build writes %d", c.SchemaVersion, SchemaVersion)
	}
	if c.Shards == nil {
		c.Shards = []ShardInfo{}
	}
	if c.Labels == nil {
		c.Labels = []string{}
	}
	b, err := json.MarshalIndent(&c, "", "  ")
	if err != nil {
		return fmt.Errorf("shard: index for %s: %w", dir, err)
	}
	if err := atomicfile.Write(filepath.Join(dir, IndexFile), append(b, '\n')); err != nil {
		return fmt.Errorf("shard: %w", err)
	}
	return nil
}

// ReadIndex reads dir/index.json.
func ReadIndex(dir string) (*Index, error) {
	path := filepath.Join(dir, IndexFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("shard: %w", err)
	}
	var ix Index
	if err := json.Unmarshal(b, &ix); err != nil {
		return nil, fmt.Errorf("shard: %s: %w", path, err)
	}
	if ix.SchemaVersion < minSchemaVersion || ix.SchemaVersion > SchemaVersion {
		return nil, fmt.Errorf("shard: %s: schema_version %d, this build reads %d to %d", path, ix.SchemaVersion, minSchemaVersion, SchemaVersion)
	}
	return &ix, nil
}

// Scan returns the base names of the committed shard files in dir (*.arrow, sorted), ignoring
// temp files. A committed shard is complete: Writer.Commit renames only whole, synced files.
func Scan(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("shard: %w", err)
	}
	var names []string
	for _, e := range ents {
		if e.Type().IsRegular() && strings.HasSuffix(e.Name(), Ext) {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names, nil
}

// CleanTemp removes the temp files (*.tmp) that an interrupted run left in dir and returns their
// names. Call it before starting writers in dir, never while one is running.
func CleanTemp(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("shard: %w", err)
	}
	var removed []string
	for _, e := range ents {
		if e.IsDir() || !strings.HasSuffix(e.Name(), TempExt) {
			continue
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
			return removed, fmt.Errorf("shard: %w", err)
		}
		removed = append(removed, e.Name())
	}
	if len(removed) > 0 {
		if err := atomicfile.SyncDir(dir); err != nil {
			return removed, fmt.Errorf("shard: clean %s: %w", dir, err)
		}
	}
	return removed, nil
}

// Describe returns the ShardInfo of an existing shard file (used to rebuild an index on resume):
// it opens and validates the shard and hashes the file.
func Describe(path string) (ShardInfo, error) {
	r, err := Open(path)
	if err != nil {
		return ShardInfo{}, err
	}
	rows := r.NumRows()
	r.Close()
	sum, err := fileSHA256(path)
	if err != nil {
		return ShardInfo{}, err
	}
	return ShardInfo{File: filepath.Base(path), Rows: rows, SHA256: sum}, nil
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("shard: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.CopyBuffer(h, f, make([]byte, 1<<20)); err != nil {
		return "", fmt.Errorf("shard: read %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Mismatch is one problem Verify found.
type Mismatch struct {
	File   string `json:"file"`   // shard, index.json or failures.jsonl
	Reason string `json:"reason"` // what is wrong
}

func (m Mismatch) String() string { return m.File + ": " + m.Reason }

// maxDuplicates bounds how many duplicate clip ids Verify lists one by one.
const maxDuplicates = 10

// Verify checks an extraction folder against its index.json: every listed shard exists, has the
// listed sha256 (a single changed byte is found) and row count, opens as a valid shard and has labels
// within the index's label list; no unlisted shard is present; clip counts add up; and every clip id
// appears once over all shard rows and failure lines. It returns the problems found; the error is for
// a folder it cannot check at all (no readable index.json).
func Verify(dir string) ([]Mismatch, error) {
	ix, err := ReadIndex(dir)
	if err != nil {
		return nil, err
	}
	var bad []Mismatch
	report := func(file, format string, args ...any) {
		bad = append(bad, Mismatch{File: file, Reason: fmt.Sprintf(format, args...)})
	}
	seen := map[string]string{} // clip id → file it was first seen in
	dups := 0
	see := func(id, file string) {
		if prev, ok := seen[id]; ok {
			if dups++; dups <= maxDuplicates {
				report(file, "clip %q already in %s", id, prev)
			}
			return
		}
		seen[id] = file
	}
	listed := map[string]bool{}
	rows := 0
	for _, s := range ix.Shards {
		if listed[s.File] {
			report(IndexFile, "shard %s listed twice", s.File)
			continue
		}
		listed[s.File] = true
		rows += s.Rows
		path := filepath.Join(dir, s.File)
		sum, err := fileSHA256(path)
		if err != nil {
			report(s.File, "%v", err)
			continue
		}
		if sum != s.SHA256 {
			report(s.File, "sha256 %s, index.json says %s", sum, s.SHA256)
		}
		r, err := Open(path)
		if err != nil {
			report(s.File, "%v", err)
			continue
		}
		if r.NumRows() != s.Rows {
			report(s.File, "%d rows, index.json says %d", r.NumRows(), s.Rows)
		}
		if len(ix.Labels) > 0 {
			for i, l := range r.Labels() {
				if l < 0 || int(l) >= len(ix.Labels) {
					report(s.File, "row %d has label %d, index.json has %d labels", i, l, len(ix.Labels))
					break
				}
			}
		}
		for _, id := range r.ClipIDs() {
			see(id, s.File)
		}
		r.Close()
	}
	present, err := Scan(dir)
	if err != nil {
		return bad, err
	}
	for _, name := range present {
		if !listed[name] {
			report(name, "shard file not listed in index.json")
		}
	}
	if rows != ix.ClipsOK {
		report(IndexFile, "shards hold %d rows, clips_ok is %d", rows, ix.ClipsOK)
	}
	// Fewer is an interrupted run, consistent and resumable (see Report.Pending); more is corrupt.
	if ix.ClipsOK+ix.ClipsFailed > ix.ClipsTotal {
		report(IndexFile, "clips_ok %d + clips_failed %d > clips_total %d", ix.ClipsOK, ix.ClipsFailed, ix.ClipsTotal)
	}
	failures, err := ReadFailures(dir)
	if err != nil {
		report(FailuresFile, "%v", err)
	} else {
		if len(failures) != ix.ClipsFailed {
			report(FailuresFile, "%d lines, clips_failed is %d", len(failures), ix.ClipsFailed)
		}
		for _, f := range failures {
			see(f.ClipID, FailuresFile)
		}
	}
	if dups > maxDuplicates {
		report(IndexFile, "%d more duplicate clip ids", dups-maxDuplicates)
	}
	return bad, nil
}
