package video

import (
	"testing"

	"github.com/avbalance/avbalance/internal/testmedia"
)

// sharedMedia returns the real-media folder sub of ../shared/media, skipping the test when absent.
func sharedMedia(tb testing.TB, sub string) string { return testmedia.Shared(tb, sub) }

// glob returns the files matching pattern, skipping the test when there are none.
func glob(tb testing.TB, pattern string) []string { return testmedia.Glob(tb, pattern) }
