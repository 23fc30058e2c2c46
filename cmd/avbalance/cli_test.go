package main

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/avbalance/avbalance/features/shard"
	"github.com/avbalance/avbalance/internal/testmedia"
)

// run runs the CLI and returns its exit code and combined output.
func run(t *testing.T, bin string, args ...string) (int, string) {
	t.Helper()
	out, err := exec.Command(bin, args...).CombinedOutput()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return ee.ExitCode(), string(out)
	case err != nil:
		t.Fatal(err)
	}
	return 0, string(out)
}

// manifest writes a manifest of n clips over the generated testdata clips, spread over the
// train, val and test splits and two labels.
func manifest(t *testing.T, n int) string {
	t.Helper()
	media := filepath.Dir(testmedia.Generated(t, "sine_h264_aac.mp4"))
	var b strings.Builder
	b.WriteString("id,path,label,split\n")
	for i := 0; i < n; i++ {
		file := "sine_h264_aac.mp4"
		if i%3 == 0 {
			file = "flv_mp3.flv"
		}
		split := [...]string{"val", "test", "train", "train", "train"}[i%5]
		fmt.Fprintf(&b, "c%03d,%s,l%d,%s\n", i, filepath.Join(media, file), i%2, split)
	}
	p := filepath.Join(t.TempDir(), "m.csv")
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func extract(t *testing.T, bin, man, out string, extra ...string) (int, string) {
	t.Helper()
	args := append([]string{"extract", "--dataset", "manifest", "--manifest", man, "--preset", "tiny",
		"--out", out, "--quiet", "--workers", "2"}, extra...)
	return run(t, bin, args...)
}

// TestInspectVerifyFlippedByte: `avbalance inspect --verify` exits 3 and names the shard when a
// single byte of it is flipped, wherever the byte is.
func TestInspectVerifyFlippedByte(t *testing.T) {
	bin := testmedia.CLI(t)
	out := t.TempDir()
	if code, msg := extract(t, bin, manifest(t, 12), out, "--shard-rows", "5"); code != 0 {
		t.Fatalf("extract: exit %d\n%s", code, msg)
	}
	if code, msg := run(t, bin, "inspect", out, "--verify"); code != 0 {
		t.Fatalf("inspect of a good folder: exit %d\n%s", code, msg)
	}
	name := shard.ShardName(1)
	path := filepath.Join(out, name)
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(4, 4))
	// The first and last bytes (Arrow magic), a byte in the middle of the data and random ones.
	offsets := []int{0, len(orig) - 1, len(orig) / 2, rng.IntN(len(orig)), rng.IntN(len(orig))}
	for _, off := range offsets {
		bad := bytes.Clone(orig)
		bad[off] ^= 1 << rng.IntN(8)
		if err := os.WriteFile(path, bad, 0o644); err != nil {
			t.Fatal(err)
		}
		code, msg := run(t, bin, "inspect", out, "--verify")
		if code != 3 || !strings.Contains(msg, name) || !strings.Contains(msg, "sha256") {
			t.Errorf("byte %d flipped: exit %d, want 3 and a message naming %s and its sha256:\n%s", off, code, name, msg)
		}
		code, msg = run(t, bin, "inspect", out, "--json")
		var rep shard.Report
		if err := json.Unmarshal([]byte(msg[strings.Index(msg, "{"):]), &rep); err != nil || code != 3 || len(rep.Problems) == 0 {
			t.Errorf("byte %d flipped: --json exit %d, problems %v (%v)", off, code, rep.Problems, err)
		}
	}
	if err := os.WriteFile(path, orig, 0o644); err != nil {
		t.Fatal(err)
	}
	if code, msg := run(t, bin, "inspect", out); code != 0 {
		t.Errorf("inspect after restoring the byte: exit %d\n%s", code, msg)
	}
}

// checkNoCorruptShard asserts that every shard-named file in dir opens and no temp file is left.
func checkNoCorruptShard(t *testing.T, dir string) {
	t.Helper()
	files, err := shard.Scan(dir)
	if err != nil {
		return // the folder itself is not there or not readable
	}
	for _, f := range files {
		r, err := shard.Open(filepath.Join(dir, f))
		if err != nil {
			t.Errorf("corrupt shard left behind: %v", err)
			continue
		}
		r.Close()
	}
	if tmp, _ := filepath.Glob(filepath.Join(dir, "*"+shard.TempExt)); len(tmp) > 0 {
		t.Errorf("temporary files left behind: %v", tmp)
	}
}

// TestExtractReadOnlyOutput: an output folder that cannot be written gives exit 1 and a message
// that names the folder and the cause. Root ignores permission bits, so the folder is made
// immutable with chattr +i (skipped where that is not possible); a folder under /sys, where
// even root cannot create one, is tried too.
func TestExtractReadOnlyOutput(t *testing.T) {
	bin := testmedia.CLI(t)
	man := manifest(t, 6)
	t.Run("immutable", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "ro")
		if err := os.Mkdir(out, 0o755); err != nil {
			t.Fatal(err)
		}
		if msg, err := exec.Command("chattr", "+i", out).CombinedOutput(); err != nil {
			t.Skipf("chattr +i not possible here: %v %s", err, msg)
		}
		t.Cleanup(func() { exec.Command("chattr", "-i", out).Run() })
		code, msg := extract(t, bin, man, out)
		if code != 1 || !strings.Contains(msg, out) || !strings.Contains(msg, "operation not permitted") {
			t.Errorf("exit %d, want 1 and a message naming %s and the cause:\n%s", code, out, msg)
		}
		if s := stutter(msg); s != "" {
			t.Errorf("repeated %q in %q", s, msg)
		}
		checkNoCorruptShard(t, out)
	})
	t.Run("sys", func(t *testing.T) {
		out := "/sys/avbalance-test-out"
		code, msg := extract(t, bin, man, out)
		if code != 1 || !strings.Contains(msg, out) {
			t.Errorf("exit %d, want 1 and a message naming %s:\n%s", code, out, msg)
		}
	})
}

// TestExtractDiskFull: an output folder on a file system that fills up mid-run (a 256 KiB
// tmpfs; skipped where mounting is not allowed) gives exit 1 and "no space left on device",
// leaves no corrupt or temporary shard, and everything it did commit verifies.
func TestExtractDiskFull(t *testing.T) {
	bin := testmedia.CLI(t)
	mnt := t.TempDir()
	if msg, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a small tmpfs here: %v %s", err, msg)
	}
	t.Cleanup(func() { exec.Command("umount", mnt).Run() })
	out := filepath.Join(mnt, "out")
	code, msg := extract(t, bin, manifest(t, 40), out, "--shard-rows", "4")
	if code != 1 || !strings.Contains(msg, "no space left on device") {
		t.Errorf("exit %d, want 1 and \"no space left on device\":\n%s", code, msg)
	}
	if s := stutter(msg); s != "" {
		t.Errorf("repeated %q in %q", s, msg)
	}
	checkNoCorruptShard(t, out)
	ix, err := shard.ReadIndex(out)
	if err != nil {
		t.Logf("no index.json (%v)", err)
		return
	}
	for _, s := range ix.Shards {
		if _, err := shard.Describe(filepath.Join(out, s.File)); err != nil {
			t.Errorf("listed shard %s: %v", s.File, err)
		}
	}
}

// TestTrainKillResume: `avbalance train` killed with SIGKILL during an epoch and resumed with
// --resume ends with the same result.json as an uninterrupted run with the same seed.
func TestTrainKillResume(t *testing.T) {
	bin := testmedia.CLI(t)
	shards := t.TempDir()
	if code, msg := extract(t, bin, manifest(t, 60), shards); code != 0 {
		t.Fatalf("extract: exit %d\n%s", code, msg)
	}
	const epochs = 4
	args := func(out string) []string {
		return []string{"train", "--shards", shards, "--mode", "concat", "--epochs", fmt.Sprint(epochs),
			"--batch", "8", "--seed", "7", "--out", out, "--quiet"}
	}
	ref := filepath.Join(t.TempDir(), "ref")
	if code, msg := run(t, bin, args(ref)...); code != 0 {
		t.Fatalf("uninterrupted train: exit %d\n%s", code, msg)
	}
	rng := rand.New(rand.NewPCG(7, 7))
	for trial := 0; trial < 2; trial++ {
		out := filepath.Join(t.TempDir(), "killed")
		cmd := exec.Command(bin, args(out)...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Wait until epoch 1 is done (2 metric lines per epoch: train and val), then kill
		// somewhere in epoch 2.
		deadline := time.Now().Add(60 * time.Second)
		for time.Now().Before(deadline) {
			b, _ := os.ReadFile(filepath.Join(out, "metrics.jsonl"))
			if bytes.Count(b, []byte("\n")) >= 4 {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		time.Sleep(time.Duration(rng.Int64N(int64(300 * time.Millisecond))))
		_ = syscall.Kill(cmd.Process.Pid, syscall.SIGKILL)
		err := cmd.Wait()
		if err == nil {
			t.Logf("trial %d: the run finished before the kill", trial)
		}
		code, msg := run(t, bin, append(args(out), "--resume")...)
		if code != 0 {
			t.Fatalf("trial %d: resume: exit %d\n%s", trial, code, msg)
		}
		want, got := loadResult(t, ref), loadResult(t, out)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("trial %d: killed+resumed result differs from the uninterrupted run:\n got %v\nwant %v", trial, got, want)
		}
	}
}

// loadResult reads result.json without its timing and run-folder fields.
func loadResult(t *testing.T, dir string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "result.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	var strip func(v any)
	strip = func(v any) {
		if mm, ok := v.(map[string]any); ok {
			delete(mm, "seconds")
			delete(mm, "run_dir")
			for _, x := range mm {
				strip(x)
			}
		}
	}
	strip(m)
	return m
}

// verbNames lists every verb of the CLI.
func verbNames() []string {
	var names []string
	for _, v := range verbs {
		names = append(names, v.name)
	}
	return names
}

// TestStrayArgument: a positional argument a verb does not take makes every verb stop with
// exit 2 and a message naming it (and the flags after it that the flag package would have
// ignored), instead of running with those flags silently dropped.
func TestStrayArgument(t *testing.T) {
	bin := testmedia.CLI(t)
	pathFlag := map[string]string{"eval": "--run", "attribute": "--run"} // else --out
	for _, verb := range verbNames() {
		f := cmp.Or(pathFlag[verb], "--out")
		args := []string{verb, f, t.TempDir(), "oops", f, "later"}
		if verb == "inspect" {
			args = []string{verb, t.TempDir(), "oops", "--json"}
		}
		code, msg := run(t, bin, args...)
		if code != 2 || !strings.Contains(msg, `unexpected argument "oops"`) {
			t.Errorf("%s: exit %d, want 2 and a message naming \"oops\":\n%s", strings.Join(args, " "), code, msg)
		}
		if verb != "inspect" && !strings.Contains(msg, f+" later") {
			t.Errorf("%s: the message does not name the flags that were not read:\n%s", verb, msg)
		}
	}
	if code, msg := run(t, bin, "inspect"); code != 2 || !strings.Contains(msg, "missing DIR") {
		t.Errorf("inspect without DIR: exit %d\n%s", code, msg)
	}
}

// stutter returns the repeated part of an error message ("open open", or "preset" in
// "preset tiny: features: preset ..."), or "".
func stutter(msg string) string {
	words := strings.Fields(msg)
	for i := 1; i < len(words); i++ {
		if words[i] == words[i-1] {
			return words[i] + " " + words[i]
		}
	}
	seen := map[string]bool{}
	for _, part := range strings.Split(msg, ": ") {
		first := strings.Trim(strings.Fields(part + " x")[0], `"'`)
		if seen[first] {
			return first
		}
		seen[first] = true
	}
	return ""
}

// TestUsageErrors: bad usage is exit 2 with a message that says what is wrong, naming the
// flag, and with no repeated prefix; an explicit invalid override is refused, never replaced
// by the preset's value.
func TestUsageErrors(t *testing.T) {
	bin := testmedia.CLI(t)
	man := manifest(t, 3)
	dir := t.TempDir()
	file := filepath.Join(dir, "a-file")
	empty := filepath.Join(dir, "empty.csv")
	noClips := filepath.Join(dir, "no-clips.csv")
	os.WriteFile(file, []byte("x"), 0o644)
	os.WriteFile(empty, nil, 0o644)
	os.WriteFile(noClips, []byte("id,path,label,split\n"), 0o644)
	ext := func(extra ...string) []string {
		return append([]string{"extract", "--dataset", "manifest", "--manifest", man, "--preset", "tiny", "--quiet"}, extra...)
	}
	out := func() string { return filepath.Join(t.TempDir(), "out") }
	for _, c := range []struct {
		args []string
		want string
	}{
		{ext("--out", out(), "--workers", "-1"), "workers must be ≥ 0"},
		{ext("--out", out(), "--shard-rows", "-1"), "shard rows must be ≥ 0"},
		{ext("--out", file), "is a file, not a folder"},
		{ext("--out", filepath.Join(file, "sub")), "is a file, not a folder"},
		{ext("--out", out(), "--frames", "-2"), "--frames -2"},
		{ext("--out", out(), "--frames", "0"), "--frames 0"},
		{ext("--out", out(), "--frames", "1000000"), "frames 1000000"},
		{ext("--out", out(), "--seconds", "-1"), "--seconds -1"},
		{ext("--out", out(), "--seconds", "NaN"), "--seconds NaN"},
		{ext("--out", out(), "--seconds", "0.001"), "seconds 0.001"},
		{ext("--out", out(), "--size", "0"), "--size 0"},
		{ext("--out", out(), "--clip-timeout", "5"), "5s"},
		{ext("--out", out(), "--preset", "nope"), `unknown preset "nope"`},
		{[]string{"extract", "--manifest", man, "--out", out()}, "--dataset"},
		{[]string{"extract", "--dataset", "cremad", "--out", out()}, "--root"},
		{[]string{"extract", "--dataset", "manifest", "--manifest", filepath.Join(dir, "absent.csv"), "--out", out()}, "absent.csv"},
		{[]string{"extract", "--dataset", "manifest", "--manifest", empty, "--out", out()}, "empty file"},
		{[]string{"extract", "--dataset", "manifest", "--manifest", noClips, "--out", out()}, "lists no clips"},
		{[]string{"extract", "--dataset", "cremad", "--root", dir, "--split", "lists", "--out", out()}, "--train-list"},
		{[]string{"synth", "--out", out(), "--clips", "0"}, "--clips 0"},
		{[]string{"synth", "--out", file}, "is a file, not a folder"},
		{[]string{"synth", "--out", out(), "--seconds", "0"}, "--seconds 0"},
		{[]string{"synth", "--out", out(), "--size", "0"}, "--size 0"},
		{[]string{"inspect", filepath.Join(dir, "absent")}, "is not a folder"},
		{[]string{"inspect", dir}, "has no index.json"},
	} {
		code, msg := run(t, bin, c.args...)
		first := strings.SplitN(msg, "\n", 2)[0]
		if code != 2 || !strings.Contains(first, c.want) {
			t.Errorf("%s: exit %d, want 2 and %q in the first line:\n%s", strings.Join(c.args[1:], " "), code, c.want, msg)
		}
		if s := stutter(first); s != "" {
			t.Errorf("%s: repeated %q in %q", strings.Join(c.args[1:], " "), s, first)
		}
	}
}

// TestExtractWarnsWithoutSplits: a manifest without a split column extracts, with a warning
// that training needs splits.
func TestExtractWarnsWithoutSplits(t *testing.T) {
	bin := testmedia.CLI(t)
	man := filepath.Join(t.TempDir(), "m.csv")
	os.WriteFile(man, []byte("id,path,label\na,"+testmedia.Generated(t, "sine_h264_aac.mp4")+",x\n"), 0o644)
	code, msg := extract(t, bin, man, filepath.Join(t.TempDir(), "out"))
	if code != 0 || !strings.Contains(msg, "warning: no clip has a split") {
		t.Errorf("exit %d, want 0 and a warning about the missing splits:\n%s", code, msg)
	}
}

// TestExtractOddClipFiles: clips whose path is a directory, a symbolic link loop or a named
// pipe are failures at ingest that say which, and the pipe is never opened (opening it would
// block until the clip deadline).
func TestExtractOddClipFiles(t *testing.T) {
	bin := testmedia.CLI(t)
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "dir.mp4"), 0o755)
	os.Symlink("loop.mp4", filepath.Join(dir, "loop.mp4"))
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo.mp4"), 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	man := filepath.Join(dir, "m.csv")
	os.WriteFile(man, []byte("id,path,label,split\nd,dir.mp4,x,train\nl,loop.mp4,x,train\nf,fifo.mp4,x,train\ng,"+
		testmedia.Generated(t, "sine_h264_aac.mp4")+",x,train\n"), 0o644)
	out := filepath.Join(t.TempDir(), "out")
	if code, msg := extract(t, bin, man, out, "--clip-timeout", "30s"); code != 3 {
		t.Fatalf("exit %d, want 3 (some clips failed):\n%s", code, msg)
	}
	fails, err := shard.ReadFailures(out)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"d": "is a directory", "l": "is a symbolic link loop", "f": "is a named pipe"}
	for _, f := range fails {
		if w := want[f.ClipID]; f.Stage != "ingest" || !strings.Contains(f.Error, w) {
			t.Errorf("clip %s: %+v, want an ingest failure saying %q", f.ClipID, f, w)
		}
		delete(want, f.ClipID)
	}
	if len(want) > 0 {
		t.Errorf("no failure for %v", want)
	}
}

// TestExtractResumeOtherManifest: extract --resume with a changed manifest is exit 2 with a
// message that says what differs and what to do; the folder is left as it was.
func TestExtractResumeOtherManifest(t *testing.T) {
	bin := testmedia.CLI(t)
	out := filepath.Join(t.TempDir(), "out")
	if code, msg := extract(t, bin, manifest(t, 6), out); code != 0 {
		t.Fatalf("extract: exit %d\n%s", code, msg)
	}
	before, _ := os.ReadFile(filepath.Join(out, shard.IndexFile))
	code, msg := extract(t, bin, manifest(t, 9), out, "--resume")
	if code != 2 || !strings.Contains(msg, "another clip list") || !strings.Contains(msg, "9 clips") || !strings.Contains(msg, "another --out") {
		t.Errorf("resume with another manifest: exit %d, want 2 and what differs:\n%s", code, msg)
	}
	if after, _ := os.ReadFile(filepath.Join(out, shard.IndexFile)); !bytes.Equal(before, after) {
		t.Error("the refused resume changed index.json")
	}
	if code, msg := run(t, bin, "inspect", out); code != 0 {
		t.Errorf("inspect after the refused resume: exit %d\n%s", code, msg)
	}
	// Another preset configuration is refused the same way, naming what differs.
	code, msg = extract(t, bin, manifest(t, 6), out, "--resume", "--frames", "2")
	if code != 2 || !strings.Contains(msg, "frames 2 (was 3)") {
		t.Errorf("resume with --frames 2: exit %d, want 2 and the differing field:\n%s", code, msg)
	}
}

// TestHelpPlaceholders: every verb's --help exits 0, and every flag's placeholder is one word:
// the flag package takes a back-quoted phrase in a usage string as the placeholder, which
// printed "-run avbalance train".
func TestHelpPlaceholders(t *testing.T) {
	bin := testmedia.CLI(t)
	flagLine := regexp.MustCompile(`^  -([\w-]+)(?: (.*))?$`)
	for _, verb := range verbNames() {
		code, msg := run(t, bin, verb, "--help")
		if code != 0 {
			t.Errorf("%s --help: exit %d\n%s", verb, code, msg)
		}
		n := 0
		for _, line := range strings.Split(msg, "\n") {
			m := flagLine.FindStringSubmatch(line)
			if m == nil {
				continue
			}
			n++
			if strings.Contains(m[2], " ") {
				t.Errorf("%s --help: flag -%s has the placeholder %q", verb, m[1], m[2])
			}
		}
		if n == 0 {
			t.Errorf("%s --help lists no flags:\n%s", verb, msg)
		}
	}
}

// TestVersion: --version prints the program version and exits 0.
func TestVersion(t *testing.T) {
	bin := testmedia.CLI(t)
	for _, arg := range []string{"--version", "-version", "version"} {
		code, msg := run(t, bin, arg)
		if code != 0 || !strings.HasPrefix(msg, "avbalance 0.1 (build ") {
			t.Errorf("%s: exit %d\n%s", arg, code, msg)
		}
	}
}

// TestCompareKillResume: `avbalance compare` killed (SIGKILL, or SIGINT: exit 130) while one
// run is complete and another half trained, then run again with the same command, ends with
// the same table as an uninterrupted compare (timing columns aside), reusing the complete
// run and continuing the interrupted one. A rerun of the finished compare trains nothing; a
// changed setting is refused with exit 2.
func TestCompareKillResume(t *testing.T) {
	bin := testmedia.CLI(t)
	shards := t.TempDir()
	if code, msg := extract(t, bin, manifest(t, 40), shards); code != 0 {
		t.Fatalf("extract: exit %d\n%s", code, msg)
	}
	args := func(out string, extra ...string) []string {
		return append([]string{"compare", "--shards", shards, "--out", out, "--methods", "concat,attr-reg",
			"--seeds", "2", "--epochs", "3", "--batch", "8", "--embed", "8", "--lr", "0.01", "--parallel", "1",
			"attr-reg.lambda=3", "--quiet"}, extra...)
	}
	ref := filepath.Join(t.TempDir(), "ref")
	if code, msg := run(t, bin, args(ref)...); code != 0 {
		t.Fatalf("uninterrupted compare: exit %d\n%s", code, msg)
	}
	want := tableWithoutTiming(t, ref)

	start := time.Now()
	code, msg := run(t, bin, args(ref)...)
	if code != 0 || !strings.Contains(msg, "0 runs trained, 4 reused") {
		t.Errorf("rerun: exit %d\n%s", code, msg)
	}
	t.Logf("rerun of a finished compare: %v", time.Since(start))
	code, msg = run(t, bin, args(ref, "attr-reg.lambda=5")...)
	if code != 2 || !strings.Contains(msg, "lambda 3 (folder) ≠ 5") || !strings.Contains(msg, "--retrain") {
		t.Errorf("changed λ: exit %d, want 2 naming lambda and --retrain:\n%s", code, msg)
	}
	if code, msg := run(t, bin, args(ref, "stray")...); code != 2 || !strings.Contains(msg, `"stray"`) {
		t.Errorf("stray argument: exit %d, want 2:\n%s", code, msg)
	}

	for _, sig := range []syscall.Signal{syscall.SIGKILL, syscall.SIGINT} {
		out := filepath.Join(t.TempDir(), "killed")
		cmd := exec.Command(bin, args(out)...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Wait until concat seed 1 is complete and attr-reg seed 1 has an epoch checkpointed.
		deadline := time.Now().Add(120 * time.Second)
		for time.Now().Before(deadline) {
			b, _ := os.ReadFile(filepath.Join(out, "runs", "concat", "seed-1", "run.json"))
			_, err := os.Stat(filepath.Join(out, "runs", "attr-reg", "seed-1", "checkpoint.bin"))
			if bytes.Contains(b, []byte(`"done": true`)) && err == nil {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		_ = cmd.Process.Signal(sig)
		err := cmd.Wait()
		var ee *exec.ExitError
		if sig == syscall.SIGINT && (!errors.As(err, &ee) || ee.ExitCode() != 130 || !strings.Contains(stderr.String(), "run the same command again")) {
			t.Errorf("SIGINT: %v, want exit 130 and how to continue:\n%s", err, stderr.String())
		}
		code, msg := run(t, bin, args(out)...)
		if code != 0 {
			t.Fatalf("%v: resume: exit %d\n%s", sig, code, msg)
		}
		if !strings.Contains(msg, "1 reused") && !strings.Contains(msg, "2 reused") {
			t.Errorf("%v: resume did not reuse the complete run:\n%s", sig, msg)
		}
		if got := tableWithoutTiming(t, out); !reflect.DeepEqual(got, want) {
			t.Errorf("%v: killed+resumed table differs from the uninterrupted one:\n got %v\nwant %v", sig, got, want)
		}
		var res struct{ Runs []struct{ Sessions int } }
		b, _ := os.ReadFile(filepath.Join(out, "results.json"))
		if err := json.Unmarshal(b, &res); err != nil || len(res.Runs) != 4 {
			t.Fatalf("results.json: %v", err)
		}
		resumed := 0
		for _, r := range res.Runs {
			if r.Sessions > 1 {
				resumed++
			}
		}
		if resumed == 0 {
			t.Errorf("%v: no run was continued from its checkpoint", sig)
		}
	}
}

// tableWithoutTiming reads DIR/table.csv without its seconds and CPU-seconds columns.
func tableWithoutTiming(t *testing.T, dir string) [][]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "table.csv"))
	if err != nil {
		t.Fatal(err)
	}
	var out [][]string
	var keep []int
	for i, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		cells := strings.Split(line, ",")
		if i == 0 {
			for j, c := range cells {
				if !strings.HasPrefix(c, "seconds_") && !strings.HasPrefix(c, "cpu_seconds_") {
					keep = append(keep, j)
				}
			}
		}
		var row []string
		for _, j := range keep {
			row = append(row, cells[j])
		}
		out = append(out, row)
	}
	return out
}
