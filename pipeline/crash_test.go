package pipeline

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/avbalance/avbalance/features/shard"
	"github.com/avbalance/avbalance/ingest"
	"github.com/avbalance/avbalance/internal/testmedia"
)

// crashManifest writes a manifest of n clips that reference the generated testdata clips under
// distinct ids (mostly good MP4/FLV, some empty or text files that fail to decode, and rows
// rejected up front for a missing file), so a run mixes shard rows and failure lines.
func crashManifest(t *testing.T, n int) (string, *ingest.Dataset) {
	t.Helper()
	media := filepath.Dir(testmedia.Generated(t, "sine_h264_aac.mp4"))
	var b strings.Builder
	b.WriteString("id,path,label,split\n")
	for i := 0; i < n; i++ {
		file := "sine_h264_aac.mp4"
		switch i % 20 {
		case 3, 11:
			file = "flv_mp3.flv"
		case 7:
			file = "empty.mp4"
		case 13:
			file = "text.mp4"
		case 17:
			file = "missing-on-purpose.mp4"
		}
		split := [...]string{"train", "train", "val", "test"}[i%4]
		fmt.Fprintf(&b, "clip-%03d,%s,%s,%s\n", i, filepath.Join(media, file), []string{"a", "b", "c"}[i%3], split)
	}
	man := filepath.Join(t.TempDir(), "manifest.csv")
	if err := os.WriteFile(man, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	ds, err := ingest.ReadManifest(man, ingest.ManifestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return man, ds
}

func extractArgs(man, out string, resume bool) []string {
	a := []string{"extract", "--dataset", "manifest", "--manifest", man, "--preset", "tiny",
		"--shard-rows", "7", "--workers", "2", "--out", out}
	if resume {
		a = append(a, "--resume")
	}
	return a
}

func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		return -100
	}
	return 0
}

// checkPartial checks a folder left by a killed or interrupted run: every committed shard opens
// (no corrupt shard under a shard name) and no clip is in two places.
func checkPartial(t *testing.T, dir string) (done int) {
	t.Helper()
	files, err := shard.Scan(dir)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]string{}
	for _, f := range files {
		r, err := shard.Open(filepath.Join(dir, f))
		if err != nil {
			t.Errorf("corrupt committed shard after a kill: %v", err)
			continue
		}
		for _, id := range r.ClipIDs() {
			if prev, dup := seen[id]; dup {
				t.Errorf("clip %s in %s and %s", id, prev, f)
			}
			seen[id] = f
		}
		r.Close()
	}
	fails, err := shard.ReadFailures(dir)
	if err != nil {
		t.Errorf("failures.jsonl unreadable after a kill: %v", err)
	}
	for _, fl := range fails {
		if prev, dup := seen[fl.ClipID]; dup {
			t.Errorf("clip %s in %s and failures.jsonl", fl.ClipID, prev)
		}
		seen[fl.ClipID] = shard.FailuresFile
	}
	return len(seen)
}

// compareRows checks that the clips of a killed-and-resumed folder equal those of an
// uninterrupted run, byte for byte.
func compareRows(t *testing.T, got, want map[string]shard.Row) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%d rows, uninterrupted run has %d", len(got), len(want))
	}
	for id, w := range want {
		g, ok := got[id]
		switch {
		case !ok:
			t.Errorf("clip %s missing", id)
		case g.Label != w.Label || g.Split != w.Split || g.DurationS != w.DurationS || !bytes.Equal(g.Frames, w.Frames) || len(g.Audio) != len(w.Audio):
			t.Errorf("clip %s differs from the uninterrupted run", id)
		default:
			for i := range w.Audio {
				if g.Audio[i] != w.Audio[i] {
					t.Errorf("clip %s: audio[%d] %v, uninterrupted %v", id, i, g.Audio[i], w.Audio[i])
					break
				}
			}
		}
	}
}

// budget returns when a long test should stop starting new trials: max after now, and well
// before the test binary's own deadline.
func budget(t *testing.T, max time.Duration) time.Time {
	end := time.Now().Add(max)
	if d, ok := t.Deadline(); ok && d.Add(-30*time.Second).Before(end) {
		end = d.Add(-30 * time.Second)
	}
	return end
}

// TestExtractKillResume kills `avbalance extract` with SIGKILL at random moments over and over,
// resuming each time, then lets a last resume finish: every clip must end in exactly one shard
// row or one failure line, every checksum must hold, no temp file may be left, and the rows
// must equal those of an uninterrupted run.
func TestExtractKillResume(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the CLI and runs it ~25 times; skipped with -short")
	}
	bin := testmedia.CLI(t)
	man, ds := crashManifest(t, 240)

	base := t.TempDir()
	t0 := time.Now()
	if out, err := exec.Command(bin, append(extractArgs(man, base, false), "--quiet")...).CombinedOutput(); exitCode(err) != exitFailuresCode {
		t.Fatalf("uninterrupted run: %v\n%s", err, out)
	}
	full := time.Since(t0)
	want, wantFails := checkAccounting(t, base, ds)

	const trials = 24
	out := t.TempDir()
	rng := rand.New(rand.NewPCG(6, 2024))
	maxDelay := max(60*time.Millisecond, 4*full/trials)
	end := budget(t, 45*time.Second)
	killed, finished := 0, 0
	for i := 0; i < trials && time.Now().Before(end); i++ {
		run := startCLI(t, bin, extractArgs(man, out, i > 0)...)
		if rng.IntN(5) == 0 {
			// Anywhere from process start: during start-up, recovery or the first clips.
			time.Sleep(time.Duration(rng.Int64N(int64(300 * time.Millisecond))))
		} else {
			// In the middle of the work: after Extract has started.
			<-run.started
			time.Sleep(time.Duration(rng.Int64N(int64(maxDelay))))
		}
		_ = syscall.Kill(run.cmd.Process.Pid, syscall.SIGKILL)
		err := run.wait()
		switch code := exitCode(err); {
		case code == -1: // killed by the signal
			killed++
		case code == exitFailuresCode:
			finished++
		default:
			t.Fatalf("trial %d: exit %d: %v\n%s", i, code, err, run.stderr.String())
		}
		done := checkPartial(t, out)
		t.Logf("trial %d: %d of %d clips done", i, done, len(ds.Clips)+len(ds.Rejected))
		if t.Failed() {
			return
		}
	}
	t.Logf("%d runs killed, %d finished before the kill (uninterrupted run took %v)", killed, finished, full.Round(time.Millisecond))
	if killed+finished < 20 {
		t.Logf("only %d trials fitted in the time budget", killed+finished)
	}
	if res, err := exec.Command(bin, append(extractArgs(man, out, true), "--quiet")...).CombinedOutput(); exitCode(err) != exitFailuresCode {
		t.Fatalf("final resume: exit %d (%v)\n%s", exitCode(err), err, res)
	}
	if tmp, _ := filepath.Glob(filepath.Join(out, "*"+shard.TempExt)); len(tmp) > 0 {
		t.Errorf("temporary files left after the final resume: %v", tmp)
	}
	got, fails := checkAccounting(t, out, ds)
	compareRows(t, got, want)
	for id, f := range wantFails {
		if g, ok := fails[id]; !ok || g.Stage != f.Stage {
			t.Errorf("clip %s: failure %+v, uninterrupted run %+v", id, g, f)
		}
	}
}

// cliRun is a started CLI process whose stderr is collected.
type cliRun struct {
	cmd     *exec.Cmd
	started chan struct{} // closed at the first stderr line (or when stderr closes)
	stderr  bytes.Buffer  // complete once wait returns
	copied  chan struct{}
}

func startCLI(t *testing.T, bin string, args ...string) *cliRun {
	t.Helper()
	r := &cliRun{cmd: exec.Command(bin, args...), started: make(chan struct{}), copied: make(chan struct{})}
	pipe, err := r.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(r.copied)
		sc := bufio.NewScanner(pipe)
		first := true
		for sc.Scan() {
			r.stderr.WriteString(sc.Text() + "\n")
			if first {
				close(r.started)
				first = false
			}
		}
		if first {
			close(r.started)
		}
	}()
	return r
}

func (r *cliRun) wait() error {
	<-r.copied
	return r.cmd.Wait()
}

// exitFailuresCode is the CLI's "done, some clips failed" exit code.
const exitFailuresCode = 3

// TestExtractInterruptResume sends SIGINT at random moments: the CLI must stop after the clips
// in flight with exit 130 and leave a consistent folder (all checksums valid, no temp file, no
// clip twice), and a resume must finish the job.
func TestExtractInterruptResume(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the CLI and runs it repeatedly; skipped with -short")
	}
	bin := testmedia.CLI(t)
	man, ds := crashManifest(t, 240)
	out := t.TempDir()
	rng := rand.New(rand.NewPCG(6, 130))
	end := budget(t, 40*time.Second)
	interrupted := 0
	for i := 0; i < 8 && time.Now().Before(end); i++ {
		run := startCLI(t, bin, extractArgs(man, out, i > 0)...)
		<-run.started // the signal handler is installed before the first line
		time.Sleep(time.Duration(rng.Int64N(int64(400 * time.Millisecond))))
		_ = syscall.Kill(run.cmd.Process.Pid, syscall.SIGINT)
		err := run.wait()
		rest := &run.stderr
		switch code := exitCode(err); code {
		case 130:
			interrupted++
			if !strings.Contains(rest.String(), "--resume") {
				t.Errorf("trial %d: the interrupted run does not say how to continue:\n%s", i, rest.String())
			}
		case exitFailuresCode: // finished before the signal
		default:
			t.Fatalf("trial %d: exit %d, want 130 (or 3 when done first): %v\n%s", i, code, err, rest.String())
		}
		if tmp, _ := filepath.Glob(filepath.Join(out, "*"+shard.TempExt)); len(tmp) > 0 {
			t.Errorf("trial %d: temporary files left by a graceful stop: %v", i, tmp)
		}
		bad, err := shard.Verify(out)
		if err != nil {
			t.Fatalf("trial %d: %v", i, err)
		}
		for _, m := range bad { // an interrupted folder is incomplete but must verify clean
			t.Errorf("trial %d: verify after SIGINT: %s", i, m)
		}
		checkPartial(t, out)
		if t.Failed() {
			return
		}
	}
	t.Logf("%d runs interrupted", interrupted)
	if res, err := exec.Command(bin, append(extractArgs(man, out, true), "--quiet")...).CombinedOutput(); exitCode(err) != exitFailuresCode {
		t.Fatalf("final resume: exit %d (%v)\n%s", exitCode(err), err, res)
	}
	checkAccounting(t, out, ds)
}
