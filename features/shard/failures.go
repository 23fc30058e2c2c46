package shard

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/avbalance/avbalance/internal/atomicfile"
)

// Failure is one clip that did not make it into a shard, one line of failures.jsonl.
// Stage is one of ingest, decode-audio, decode-video, features, write.
type Failure struct {
	ClipID string `json:"clip_id"`
	Path   string `json:"path"`
	Stage  string `json:"stage"`
	Error  string `json:"error"`
}

// FailureLog appends failures to dir/failures.jsonl, one JSON object per line, each fsynced before
// Append returns. It is safe for concurrent use.
type FailureLog struct {
	mu   sync.Mutex
	f    *os.File
	path string
	n    int
}

// OpenFailureLog opens (or creates) dir/failures.jsonl for appending. A torn last line left by a
// crash in the middle of a write is cut off first, so new lines start on a line boundary.
func OpenFailureLog(dir string) (*FailureLog, error) {
	path := filepath.Join(dir, FailuresFile)
	_, statErr := os.Stat(path)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("shard: failure log: %w", err)
	}
	l := &FailureLog{f: f, path: path}
	if err := l.recover(); err != nil {
		f.Close()
		return nil, err
	}
	if errors.Is(statErr, os.ErrNotExist) {
		if err := atomicfile.SyncDir(dir); err != nil {
			f.Close()
			return nil, fmt.Errorf("shard: failure log %s: fsync dir: %w", path, err)
		}
	}
	return l, nil
}

// recover counts the existing failures and truncates a torn last line.
func (l *FailureLog) recover() error {
	data, err := os.ReadFile(l.path)
	if err != nil {
		return fmt.Errorf("shard: failure log: %w", err)
	}
	fs, good, err := parseFailures(data)
	if err != nil {
		return fmt.Errorf("shard: %s: %w", l.path, err)
	}
	l.n = len(fs)
	if good < len(data) {
		if err := l.f.Truncate(int64(good)); err != nil {
			return fmt.Errorf("shard: failure log: truncate torn line: %w", err)
		}
		if err := l.f.Sync(); err != nil {
			return fmt.Errorf("shard: failure log: %w", err)
		}
	}
	return nil
}

// Append writes f as one line and fsyncs it.
func (l *FailureLog) Append(f Failure) error {
	b, err := json.Marshal(f)
	if err != nil {
		return fmt.Errorf("shard: failure of clip %q: %w", f.ClipID, err)
	}
	b = append(b, '\n')
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return fmt.Errorf("shard: %s: append after Close", l.path)
	}
	if _, err := l.f.Write(b); err != nil {
		return fmt.Errorf("shard: %s: record failure of clip %q: %w", l.path, f.ClipID, err)
	}
	if err := l.f.Sync(); err != nil {
		return fmt.Errorf("shard: %s: record failure of clip %q: %w", l.path, f.ClipID, err)
	}
	l.n++
	return nil
}

// Count returns the number of failures in the log, including those of earlier runs.
func (l *FailureLog) Count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n
}

// Close closes the log file. It is idempotent.
func (l *FailureLog) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}

// ReadFailures reads dir/failures.jsonl. A missing file means no failures. A torn last line (a
// crash mid-write: no newline, or not valid JSON) is ignored; a bad line before it is an error.
func ReadFailures(dir string) ([]Failure, error) {
	path := filepath.Join(dir, FailuresFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("shard: %w", err)
	}
	fs, _, err := parseFailures(data)
	if err != nil {
		return nil, fmt.Errorf("shard: %s: %w", path, err)
	}
	return fs, nil
}

// parseFailures parses complete lines and returns the byte length of the good prefix.
func parseFailures(data []byte) (fs []Failure, good int, err error) {
	line := 0
	for pos := 0; pos < len(data); {
		line++
		end := bytes.IndexByte(data[pos:], '\n')
		if end < 0 {
			return fs, pos, nil // torn: no newline
		}
		text := bytes.TrimSpace(data[pos : pos+end])
		next := pos + end + 1
		if len(text) > 0 {
			var f Failure
			if err := json.Unmarshal(text, &f); err != nil {
				if len(bytes.TrimSpace(data[next:])) == 0 {
					return fs, pos, nil // torn last line
				}
				return nil, 0, fmt.Errorf("line %d: %v", line, err)
			}
			fs = append(fs, f)
		}
		pos = next
	}
	return fs, len(data), nil
}
