package ingest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/avbalance/avbalance/internal/testmedia"
)

// sharedMedia returns the real-media folder sub of ../shared/media, skipping the test when absent.
func sharedMedia(tb testing.TB, sub string) string { return testmedia.Shared(tb, sub) }

// touch creates empty files dir/name (and their folders).
func touch(t testing.TB, dir string, names ...string) {
	t.Helper()
	for _, n := range names {
		p := filepath.Join(dir, n)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// writeFile writes content to dir/name and returns the path.
func writeFile(t testing.TB, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// rejectedByID indexes a dataset's rejections (the last one wins for repeated ids).
func rejectedByID(ds *Dataset) map[string]Rejected {
	m := make(map[string]Rejected, len(ds.Rejected))
	for _, r := range ds.Rejected {
		m[r.ClipID] = r
	}
	return m
}

// clipsByID indexes a dataset's clips.
func clipsByID(ds *Dataset) map[string]Clip {
	m := make(map[string]Clip, len(ds.Clips))
	for _, c := range ds.Clips {
		m[c.ID] = c
	}
	return m
}

const bom = "\uFEFF"

// listingOf is the dirListing listDir would return for a folder holding names.
func listingOf(dir string, names ...string) *dirListing {
	l := newDirListing(dir, len(names))
	for _, n := range names {
		l.add(strings.TrimSuffix(n, filepath.Ext(n)), n)
	}
	return l
}
