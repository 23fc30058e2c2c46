package video

import (
	"path/filepath"
	"testing"

	"github.com/avbalance/avbalance/internal/testmedia"
)

// sharedMedia returns the real-media folder sub of ../shared/media, skipping the test when absent.
func sharedMedia(tb testing.TB, sub string) string { return testmedia.Shared(tb, sub) }

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
