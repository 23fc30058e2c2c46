package testmedia

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

var (
	cliOnce sync.Once
	cliPath string
	cliErr  error
)

// CLI builds ./cmd/avbalance once per test binary and returns the binary's
// path. Tests that run the CLI are skipped with -short.
func CLI(tb testing.TB) string {
	tb.Helper()
	if testing.Short() {
		tb.Skip("builds and runs the CLI; skipped with -short")
	}
	root := Root(tb)
	cliOnce.Do(func() {
		dir, err := os.MkdirTemp("", "avbalance-cli-")
		if err != nil {
			cliErr = err
			return
		}
		cliPath = filepath.Join(dir, "avbalance")
		cmd := exec.Command("go", "build", "-o", cliPath, "./cmd/avbalance")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			cliErr = fmt.Errorf("go build ./cmd/avbalance: %v\n%s", err, out)
		}
	})
	if cliErr != nil {
		tb.Fatal(cliErr)
	}
	return cliPath
}
