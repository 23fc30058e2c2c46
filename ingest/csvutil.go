package ingest

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// newCSVReader returns a strict CSV reader over r that skips a leading UTF-8 BOM,
// allows rows of any length (readers check lengths per row, to reject one row
// instead of failing the file) and reuses its record slice.
func newCSVReader(r io.Reader) *csv.Reader {
	br := bufio.NewReaderSize(r, 64<<10)
	if b, err := br.Peek(3); err == nil && bytes.Equal(b, []byte{0xEF, 0xBB, 0xBF}) {
		br.Discard(3)
	}
	cr := csv.NewReader(br)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	return cr
}

// csvLine is the line a record starts on, for messages.
func csvLine(cr *csv.Reader) int {
	line, _ := cr.FieldPos(0)
	return line
}

// trimAll trims surrounding white space from every field in place.
func trimAll(rec []string) {
	for i, f := range rec {
		rec[i] = strings.TrimSpace(f)
	}
}

// dirListing is the set of media files of one folder, keyed by clip id (the file
// name without its extension).
type dirListing struct {
	prefix string         // the folder with a trailing separator
	index  map[string]int // clip id -> position in names
	names  []string       // file names as found on disk
	// problems holds, by path, why an entry is not a usable media file (a directory, a named
	// pipe, a broken link, …); regular files have no entry.
	problems map[string]string
}

func newDirListing(dir string, capacity int) *dirListing {
	return &dirListing{
		prefix: filepath.Clean(dir) + string(filepath.Separator),
		index:  make(map[string]int, capacity),
		names:  make([]string, 0, capacity),
	}
}

// add records file name for clip id. Of two names for one id (a.mp4 and a.MP4)
// the smaller is kept, so the choice does not depend on directory order.
func (l *dirListing) add(id, name string) {
	if i, ok := l.index[id]; ok {
		l.names[i] = min(l.names[i], name)
		return
	}
	l.index[id] = len(l.names)
	l.names = append(l.names, name)
}

// path is the file of clip id, or where it would be (id+ext) when it is absent.
func (l *dirListing) path(id, ext string) string {
	if i, ok := l.index[id]; ok {
		return l.prefix + l.names[i]
	}
	return l.prefix + id + ext
}

// problem says why path, an entry of the listing, is not a usable media file ("" if it is).
func (l *dirListing) problem(path string) string {
	if l == nil {
		return ""
	}
	return l.problems[path]
}

// listDir returns the entries of dir whose name ends in ext (case-insensitive).
// It reads the directory once, unsorted, so it stays cheap for the 200k files of a
// full VGGSound download: only entries that are not regular files (symbolic links,
// directories, named pipes, …) are looked at further, and those that are not (links
// to) regular files are kept with their problem, so their clips are rejected with it
// rather than reported missing or handed to a decoder.
func listDir(dir, ext string) (*dirListing, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	entries, err := f.ReadDir(-1)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	l := newDirListing(dir, len(entries))
	for _, e := range entries {
		name := e.Name()
		if len(name) <= len(ext) || !strings.EqualFold(name[len(name)-len(ext):], ext) {
			continue
		}
		l.add(name[:len(name)-len(ext)], name)
		if e.Type().IsRegular() {
			continue
		}
		path := l.prefix + name
		p := modeProblem(e.Type())
		if e.Type()&fs.ModeSymlink != 0 {
			p = fileProblem(path)
		}
		if p != "" {
			if l.problems == nil {
				l.problems = map[string]string{}
			}
			l.problems[path] = p
		}
	}
	return l, nil
}

// requireDir returns an error unless path is an existing directory.
func requireDir(what, path string) error {
	if path == "" {
		return fmt.Errorf("%s: no directory given", what)
	}
	st, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if !st.IsDir() {
		return fmt.Errorf("%s: %s is not a directory", what, path)
	}
	return nil
}

func isDir(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.IsDir()
}

// repeatID is the id under which a row that repeats an earlier row's clip id is
// rejected, e.g. "1001_DFA_ANG_XX#train.csv:6", so ids stay unique in a Dataset.
func repeatID(id, src string, line int) string { return id + "#" + placeholderID(src, line) }

// idClaims keeps the ids of a Dataset unique: the first row naming an id claims
// it (even if that row is rejected); a later row is rejected under repeatID.
type idClaims map[string]string // id -> "file line N" of the row that claimed it

// claim returns the id for the row at src:line and, when the id was already
// taken, where the row that took it is ("" otherwise).
func (c idClaims) claim(id, src string, line int) (string, string) {
	prev := c[id]
	if prev != "" {
		id = repeatID(id, src, line)
		for c[id] != "" { // only if an input spells out such an id itself
			id += "#"
		}
	}
	c[id] = where(src, line)
	return id, prev
}

// where names a row for messages: "train.csv line 6".
func where(src string, line int) string { return fmt.Sprintf("%s line %d", filepath.Base(src), line) }

// placeholderID names a row whose clip id cannot be read, e.g. "list.csv:12".
func placeholderID(src string, line int) string {
	return fmt.Sprintf("%s:%d", filepath.Base(src), line)
}
