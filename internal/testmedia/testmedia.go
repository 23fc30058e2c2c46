// Package testmedia gives avbalance's tests their inputs: the generated clips
// committed in testdata/media, the real third-party clips kept outside the
// project in ../shared/media, and a build of the CLI.
package testmedia

import (
	"os"
	"path/filepath"
	"testing"
)

// Root returns the module root (the folder holding go.mod) above the working directory.
func Root(tb testing.TB) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Fatal("no go.mod above the test directory")
		}
		dir = parent
	}
}

// Shared returns ../shared/media/sub beside the module root, skipping the test
// with a message when it is absent.
func Shared(tb testing.TB, sub string) string {
	tb.Helper()
	p := filepath.Join(Root(tb), "..", "shared", "media", sub)
	if _, err := os.Stat(p); err != nil {
		tb.Skipf("real media %s absent (%v); skipping", p, err)
	}
	return p
}

// Generated returns the path of a generated clip in testdata/media (see testdata/gen.sh).
func Generated(tb testing.TB, name string) string {
	tb.Helper()
	p := filepath.Join(Root(tb), "testdata", "media", name)
	if _, err := os.Stat(p); err != nil {
		tb.Fatalf("generated test media %s missing: run testdata/gen.sh", p)
	}
	return p
}
