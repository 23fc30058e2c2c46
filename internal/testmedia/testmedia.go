// Package testmedia gives avbalance's tests their inputs: the generated clips
// committed in testdata/media, the real third-party clips kept outside the
// project in ../shared/media, and a build of the CLI.
package testmedia

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Root returns the avbalance module root (the folder whose go.mod declares
// github.com/avbalance/avbalance) above the working directory, so tests of
// nested modules such as beam/ find it too.
func Root(tb testing.TB) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && bytes.HasPrefix(b, []byte("module github.com/avbalance/avbalance\n")) {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Fatal("no avbalance go.mod above the test directory")
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

// MixedRows are manifest rows ("id,file,label,split", files in testdata/media)
// mixing good clips with every kind of generated bad input: 5 extract, 7 fail
// (5 at decoding, 2 rejected up front). Labels are "a" and "b".
var MixedRows = []string{
	"good,sine_h264_aac.mp4,a,train",
	"flv,flv_mp3.flv,b,train",
	"empty,empty.mp4,a,train",
	"truncated,truncated.mp4,a,test",
	"no-audio,no_audio.mp4,a,test",
	"no-video,no_video.m4a,b,val",
	"text,text.mp4,b,val",
	"missing,does-not-exist.mp4,b,val",
	"unknown-label,sine_h264_aac.mp4,zzz,val",
	"good-2,sine_h264_aac.mp4,b,val",
	"good-3,sine_h264_aac.mp4,a,test",
	"flv-2,flv_mp3.flv,a,val",
}

// WriteManifest writes rows ("id,file,label,split", files relative to media) as
// a manifest CSV in a temporary folder and returns its path.
func WriteManifest(tb testing.TB, media string, rows []string) string {
	tb.Helper()
	lines := []string{"id,path,label,split"}
	for _, r := range rows {
		f := strings.Split(r, ",")
		f[1] = filepath.Join(media, f[1])
		lines = append(lines, strings.Join(f, ","))
	}
	man := filepath.Join(tb.TempDir(), "manifest.csv")
	if err := os.WriteFile(man, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		tb.Fatal(err)
	}
	return man
}

// Glob returns the files matching pattern, skipping the test with a message when there are none.
func Glob(tb testing.TB, pattern string) []string {
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

// CPUTime returns the process's user+system CPU time: what benchmarks report
// beside wall time on a shared machine, where wall time depends on the neighbours.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// StuckFIFO makes a named pipe called name in dir that no one writes to: opening it for reading
// blocks for good, as a decoder stuck where no deadline reaches. At the end of the test the write
// end is opened once, so a decoder the watchdog abandoned can return. Skips when mkfifo fails.
func StuckFIFO(tb testing.TB, dir, name string) string {
	tb.Helper()
	fifo := filepath.Join(dir, name)
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		tb.Skipf("mkfifo: %v", err)
	}
	tb.Cleanup(func() {
		if f, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			f.Close()
		}
	})
	return fifo
}
