package video

import (
	"os"
	"path/filepath"
	"testing"
)

// sharedMedia returns the real-media folder sub of ../shared/media next to the module root,
// skipping the test when it is absent.
func sharedMedia(tb testing.TB, sub string) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Skip("module root not found; skipping real-media test")
		}
		dir = parent
	}
	p := filepath.Join(dir, "..", "shared", "media", sub)
	if _, err := os.Stat(p); err != nil {
		tb.Skipf("real media %s absent (%v); skipping", p, err)
	}
	return p
}

func glob(tb testing.TB, pattern string) []string {
	tb.Helper()
	m, err := filepath.Glob(pattern)
	if err != nil {
		tb.Fatal(err)
	}
	if len(m) == 0 {
		tb.Skipf("no files match %s; skipping", pattern)
	}
	return m
}
