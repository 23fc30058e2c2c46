package extract

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/avbalance/avbalance/features/shard"
	"github.com/avbalance/avbalance/ingest"
	"github.com/avbalance/avbalance/pipeline"
)

// The commands the process tests run, built once per test binary: avbalance-beam
// and prism, the Beam job server of the Beam version in go.mod (from the
// module cache).
var bins struct {
	once              sync.Once
	dir, beam, prism  string
	beamErr, prismErr error
	beamOut, prismOut []byte
}

func buildBinaries(t *testing.T) (beamBin, prismBin string) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds avbalance-beam and runs it as separate processes; skipped with -short")
	}
	bins.once.Do(func() {
		if bins.dir, bins.beamErr = os.MkdirTemp("", "avbalance-beam-bin-"); bins.beamErr != nil {
			bins.prismErr = bins.beamErr
			return
		}
		bins.beam, bins.prism = filepath.Join(bins.dir, "avbalance-beam"), filepath.Join(bins.dir, "prism")
		build := func(out, pkg string) ([]byte, error) {
			cmd := exec.Command("go", "build", "-o", out, pkg)
			cmd.Dir = ".." // the beam module
			return cmd.CombinedOutput()
		}
		bins.beamOut, bins.beamErr = build(bins.beam, "./cmd/avbalance-beam")
		bins.prismOut, bins.prismErr = build(bins.prism, "github.com/apache/beam/sdks/v2/go/cmd/prism")
	})
	if bins.beamErr != nil {
		t.Fatalf("go build ./cmd/avbalance-beam: %v\n%s", bins.beamErr, bins.beamOut)
	}
	return bins.beam, bins.prism
}

// prismBinary returns the prism command, skipping the test with a message when
// it cannot be built.
func prismBinary(t *testing.T) string {
	_, p := buildBinaries(t)
	if bins.prismErr != nil {
		t.Skipf("the prism job server cannot be built here (go build github.com/apache/beam/sdks/v2/go/cmd/prism: %v)\n%s", bins.prismErr, bins.prismOut)
	}
	return p
}

func removeBinaries() {
	if bins.dir != "" {
		os.RemoveAll(bins.dir)
	}
}

// process is a started command whose output is kept for the test log.
type process struct {
	name string
	cmd  *exec.Cmd
	out  bytes.Buffer // stdout and stderr
	done chan struct{}
	err  error
}

type lockedBuffer struct {
	mu sync.Mutex
	b  *bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// start runs bin with args in the background; the process is stopped (SIGTERM,
// then SIGKILL) and its output logged when the test ends.
func start(t *testing.T, name string, env []string, bin string, args ...string) *process {
	t.Helper()
	p := &process{name: name, cmd: exec.Command(bin, args...), done: make(chan struct{})}
	w := &lockedBuffer{b: &p.out}
	p.cmd.Stdout, p.cmd.Stderr = w, w
	p.cmd.Env = append(os.Environ(), env...)
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
			p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			w.mu.Lock()
			t.Logf("%s output:\n%s", p.name, lastLines(p.out.String(), 60))
			w.mu.Unlock()
		}
	})
	return p
}

func (p *process) output() string {
	return p.out.String()
}

func lastLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// freePort returns a TCP port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "localhost:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// waitListening waits until something accepts connections on localhost:port.
func waitListening(t *testing.T, p *process, port int) {
	t.Helper()
	end := time.Now().Add(time.Minute)
	for time.Now().Before(end) {
		c, err := net.DialTimeout("tcp", "localhost:"+strconv.Itoa(port), time.Second)
		if err == nil {
			c.Close()
			return
		}
		select {
		case <-p.done:
			t.Fatalf("%s exited (%v) before listening on %d:\n%s", p.name, p.err, port, p.output())
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatalf("%s does not listen on %d after a minute", p.name, port)
}

func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

func manifestArgs(in ingest.Input, out string, extra ...string) []string {
	return append([]string{"--dataset", "manifest", "--manifest", in.Manifest, "--out", out}, extra...)
}

// localRun extracts in with the local pipeline and reads the folder back.
func localRun(t *testing.T, in ingest.Input, preset string) folder {
	t.Helper()
	ds, err := in.Read()
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "local")
	if _, err := pipeline.Extract(context.Background(), pipeline.Config{Dataset: ds, Preset: lookup(t, preset), Out: out, Workers: 2}); err != nil {
		t.Fatal(err)
	}
	return readFolder(t, out)
}

// TestMultiProcess runs the job as on a cluster, three processes on one
// machine: a prism job server, avbalance-beam as the worker pool of an EXTERNAL
// environment (which starts the staged worker binary in a process of its own),
// and the launcher submitting to the job server. The output must equal the
// local pipeline's, row for row, each shard the local rows of its clips sorted
// by clip id. Then the same job in a PROCESS environment (prism starts the
// worker) must write the same bytes.
func TestMultiProcess(t *testing.T) {
	beamBin, _ := buildBinaries(t)
	prismBin := prismBinary(t)
	jobPort, poolPort := freePort(t), freePort(t)
	prism := start(t, "prism", nil, prismBin, "--job_port", strconv.Itoa(jobPort), "--serve_http=false", "--log_level", "warn")
	waitListening(t, prism, jobPort)
	poolTmp := t.TempDir() // where the pool's workers stage the worker binary
	pool := start(t, "worker pool", []string{"TMPDIR=" + poolTmp}, beamBin, "--worker_pool", ":"+strconv.Itoa(poolPort))
	waitListening(t, pool, poolPort)

	// The CLI takes the labels from the manifest (no fixed list as badInput has).
	in := ingest.Input{Dataset: "manifest", Manifest: badInput(t).Manifest}
	out := filepath.Join(t.TempDir(), "beam")
	launcher := exec.Command(beamBin, manifestArgs(in, out, "--preset", "tiny", "--shards", "3", "--workers", "2",
		"--runner", "universal", "--endpoint", "localhost:"+strconv.Itoa(jobPort),
		"--environment_type", "EXTERNAL", "--environment_config", "localhost:"+strconv.Itoa(poolPort),
		"--job_name", "avbalance-multiprocess-test")...)
	res, err := launcher.CombinedOutput()
	if code := exitCode(err); code != 3 {
		t.Fatalf("launcher: exit %d (%v), want 3 (done, some clips failed):\n%s", code, err, lastLines(string(res), 40))
	}
	if strings.Contains(string(res), "Loopback") {
		t.Errorf("the launcher ran the job in-process:\n%s", res)
	}
	if !strings.Contains(pool.output(), "starting worker") {
		t.Errorf("the worker pool started no worker:\n%s", pool.output())
	}

	local := localRun(t, in, "tiny")
	beamed := readFolder(t, out)
	compareFolders(t, local, beamed)
	checkBytes(t, local, out, 3, lookup(t, "tiny"))
	if len(beamed.rows) == 0 || len(beamed.fails) == 0 {
		t.Errorf("%d rows and %d failures: want both good and bad clips", len(beamed.rows), len(beamed.fails))
	}

	// The same job in a PROCESS environment: prism starts avbalance-beam itself,
	// which boots as under the pool. Same bytes.
	procOut := filepath.Join(t.TempDir(), "process")
	launcher = exec.Command(beamBin, manifestArgs(in, procOut, "--preset", "tiny", "--shards", "3", "--workers", "2",
		"--runner", "universal", "--endpoint", "localhost:"+strconv.Itoa(jobPort),
		"--environment_type", "PROCESS", "--environment_config", `{"command":"`+beamBin+`"}`)...)
	launcher.Env = append(os.Environ(), "TMPDIR="+poolTmp)
	if res, err := launcher.CombinedOutput(); exitCode(err) != 3 {
		t.Fatalf("launcher, PROCESS environment: exit %d (%v), want 3:\n%s", exitCode(err), err, lastLines(string(res), 40))
	}
	sameFiles(t, out, procOut)

	// The jobs' workers are stopped when the jobs end, and they removed their staged binaries.
	deadline := time.Now().Add(30 * time.Second)
	for {
		left, _ := os.ReadDir(poolTmp)
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("the worker left %d entries in its temp folder: %v", len(left), left)
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// killAfter kills run with SIGKILL once at least n shard summaries are in out
// and returns how many there are after the kill; 0 when the job ended first
// (or had written all total of them).
func killAfter(run *process, out string, n, total int) int {
	count := func() int {
		done, _ := filepath.Glob(filepath.Join(out, StateDir, "shard-*.json"))
		return len(done)
	}
	for {
		select {
		case <-run.done:
			return 0
		case <-time.After(2 * time.Millisecond):
		}
		if count() < n {
			continue
		}
		run.cmd.Process.Kill()
		<-run.done
		if c := count(); c < total {
			return c
		}
		return 0
	}
}

// TestKillRerun kills a running job (SIGKILL of avbalance-beam, prism in-process)
// once some shards are complete, then reruns it with --resume: the shards whose
// summary and checksum hold are kept (their files are not rewritten), the rest
// are extracted, and the folder equals an uninterrupted run's byte for byte.
func TestKillRerun(t *testing.T) {
	beamBin, _ := buildBinaries(t)
	in := manyInput(t, 200)
	args := func(out string, extra ...string) []string {
		return manifestArgs(in, out, append([]string{"--preset", "default", "--shards", "12", "--workers", "2"}, extra...)...)
	}
	full := filepath.Join(t.TempDir(), "full")
	if res, err := exec.Command(beamBin, args(full)...).CombinedOutput(); exitCode(err) != 3 {
		t.Fatalf("uninterrupted run: %v\n%s", err, lastLines(string(res), 30))
	}

	var out string
	killedAt := 0
	for try := 0; try < 5 && killedAt == 0; try++ {
		out = filepath.Join(t.TempDir(), fmt.Sprintf("killed-%d", try))
		killedAt = killAfter(start(t, fmt.Sprintf("run %d", try), nil, beamBin, args(out)...), out, 3, 12)
	}
	if killedAt == 0 {
		t.Fatal("the job always finished before it could be killed with some shards done")
	}
	t.Logf("killed with %d of 12 shard summaries written", killedAt)
	ix, err := shard.ReadIndex(full)
	if err != nil {
		t.Fatal(err)
	}
	before := map[string]uint64{}
	summaries, _ := filepath.Glob(filepath.Join(out, StateDir, "shard-*.json"))
	for _, s := range summaries {
		name := strings.TrimSuffix(filepath.Base(s), ".json") + shard.Ext
		if _, err := os.Stat(filepath.Join(out, name)); err == nil {
			before[name] = inode(t, filepath.Join(out, name))
		}
	}

	if res, err := exec.Command(beamBin, args(out)...).CombinedOutput(); exitCode(err) != 2 {
		t.Errorf("rerun without --resume: exit %d, want 2 (a used folder)\n%s", exitCode(err), lastLines(string(res), 10))
	}
	if res, err := exec.Command(beamBin, args(out, "--resume")...).CombinedOutput(); exitCode(err) != 3 {
		t.Fatalf("rerun with --resume: %v\n%s", err, lastLines(string(res), 30))
	}
	sameFiles(t, full, out)
	readFolder(t, out)
	if len(ix.Shards) == 0 {
		t.Fatal("no shards")
	}
	for name, ino := range before {
		if inode(t, filepath.Join(out, name)) != ino {
			t.Errorf("%s was extracted again although its summary and checksum were complete", name)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(out, StateDir, "tmp-*")); len(left) > 0 {
		t.Errorf("temp folders left: %v", left)
	}
}
