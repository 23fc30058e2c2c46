package pipeline

import (
	"context"
	"encoding/csv"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/avbalance/avbalance/ingest"
	"github.com/avbalance/avbalance/internal/badmedia"
	"github.com/avbalance/avbalance/internal/testmedia"
)

// writeManifest writes rows (the first is the header) as a CSV file.
func writeManifest(t *testing.T, path string, rows [][]string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := csv.NewWriter(f)
	if err := w.WriteAll(rows); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestExtractBadMediaCorpus puts the generated bad-input corpus (internal/badmedia) through
// Extract: every clip ends in exactly one shard row or one failure line naming its file and
// stage, valid-but-odd files (5.1, 8 kHz, 96 kHz, VFR, awkward names) are extracted, and a
// resume over the finished folder changes nothing.
func TestExtractBadMediaCorpus(t *testing.T) {
	dir := t.TempDir()
	cases, err := badmedia.Generate(dir)
	if errors.Is(err, badmedia.ErrNoFFmpeg) {
		t.Logf("%v", err)
	} else if err != nil {
		t.Fatal(err)
	}
	rows := [][]string{{"id", "path", "label", "split", "audio_path"}}
	byID := map[string]badmedia.Case{}
	for i, c := range cases {
		rows = append(rows, []string{c.Name, c.Path, []string{"x", "y"}[i%2], "train", c.AudioPath})
		byID[c.Name] = c
	}
	man := filepath.Join(t.TempDir(), "bad manifest.csv")
	writeManifest(t, man, rows)
	ds, err := ingest.ReadManifest(man, ingest.ManifestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ds.Rejected) > 0 {
		t.Fatalf("rows rejected up front: %+v", ds.Rejected)
	}
	out := t.TempDir()
	sum, err := Extract(context.Background(), Config{Dataset: ds, Preset: preset(t, "tiny"), Out: out, Workers: 2, ShardRows: 4})
	if err != nil {
		t.Fatal(err)
	}
	got, fails := checkAccounting(t, out, ds)
	for id, c := range byID {
		f, failed := fails[id]
		_, ok := got[id]
		switch {
		case c.Want == badmedia.OK && !ok:
			t.Errorf("%s (%s) should be extracted, failed: %+v", id, filepath.Base(c.Path), f)
		case c.Want == badmedia.Fail && !failed:
			t.Errorf("%s (%s) should fail, was extracted", id, filepath.Base(c.Path))
		case failed:
			if c.Stage != "" && f.Stage != c.Stage {
				t.Errorf("%s: failed at %s, want %s: %s", id, f.Stage, c.Stage, f.Error)
			}
			if f.Path == "" || f.Error == "" || !strings.Contains(f.Error, filepath.Base(f.Path)) {
				t.Errorf("%s: failure does not name the file and the reason: %+v", id, f)
			}
			if strings.Contains(f.Error, "internal error") {
				t.Errorf("%s: panicked: %s", id, f.Error)
			}
			t.Logf("%-18s %-13s %s", id, f.Stage, f.Error)
		default:
			t.Logf("%-18s ok", id)
		}
	}
	t.Logf("%d cases: %d ok, %d failed", len(cases), sum.OK, sum.Failed)
	// Resuming a finished folder does nothing and keeps it valid.
	sum2, err := Extract(context.Background(), Config{Dataset: ds, Preset: preset(t, "tiny"), Out: out, Workers: 2, ShardRows: 4, Resume: true})
	if err != nil {
		t.Fatal(err)
	}
	if sum2.Skipped != len(cases) || sum2.OK != sum.OK || sum2.Failed != sum.Failed {
		t.Errorf("resume of a finished folder: %+v, first run %+v", sum2, sum)
	}
	checkAccounting(t, out, ds)
}

// TestExtractClipDeadline: a clip whose decoder blocks for good (a FIFO no one writes to, named
// .mp4) fails with "deadline exceeded" at its stage instead of hanging the run, about when
// its deadline says (not half as late again), and the other clips are still extracted. The
// readers of package ingest reject a FIFO up front; the clip list is built here by hand, as
// for a file replaced by a FIFO after it was listed.
func TestExtractClipDeadline(t *testing.T) {
	dir := t.TempDir()
	fifo := testmedia.StuckFIFO(t, dir, "stuck.mp4")
	good := filepath.Join(dir, "good.wav")
	if err := os.WriteFile(good, badmedia.WAV(16000, 1, make([]int16, 16000)), 0o644); err != nil {
		t.Fatal(err)
	}
	// The second clip reaches the video decoder with a working audio file.
	ds := &ingest.Dataset{Name: "manifest", Labels: []string{"a"}, Clips: []ingest.Clip{
		{ID: "stuck", Path: fifo}, {ID: "stuck-video", Path: fifo, AudioPath: good},
	}}
	out := t.TempDir()
	const timeout = 2 * time.Second
	start := time.Now()
	sum, err := Extract(context.Background(), Config{Dataset: ds, Preset: preset(t, "tiny"), Out: out, Workers: 2, ClipTimeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > timeout*14/10 {
		t.Errorf("the stuck clips took %s with a %s deadline: the watchdog waits too long after it", el, timeout)
	}
	_, fails := checkAccounting(t, out, ds)
	if sum.Failed != 2 {
		t.Errorf("summary %+v, want both stuck clips failed", sum)
	}
	for id, stage := range map[string]string{"stuck": ingest.StageDecodeAudio, "stuck-video": ingest.StageDecodeVideo} {
		f := fails[id]
		if f.Stage != stage || !strings.Contains(f.Error, "deadline exceeded after 2s") || !strings.Contains(f.Error, "stuck.mp4") {
			t.Errorf("%s: failure %+v, want stage %s and \"deadline exceeded after 2s\"", id, f, stage)
		}
	}
}

// TestExtractBadCSV: manifest oddities (BOM and CRLF, quoted commas, a row with a missing
// column, duplicate ids, unknown labels, a bad split, an empty id) are each either extracted or
// one ingest failure with a reason; nothing is lost or duplicated.
func TestExtractBadCSV(t *testing.T) {
	media := filepath.Dir(badManifestMedia(t))
	good := filepath.Join(media, "sine_h264_aac.mp4")
	text := "\xEF\xBB\xBFid,path,label,split\r\n" +
		"plain," + good + ",dog,train\r\n" +
		"\"quoted, id\",\"" + good + "\",\"dog, big\",val\r\n" +
		"missing-column," + good + ",dog\r\n" +
		"plain," + good + ",dog,test\r\n" +
		"unknown-label," + good + ",giraffe,train\r\n" +
		"bad-split," + good + ",cat,holdout\r\n" +
		"," + good + ",cat,train\r\n" +
		"last," + good + ",cat,\r\n"
	man := filepath.Join(t.TempDir(), "odd.csv")
	if err := os.WriteFile(man, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	ds, err := ingest.ReadManifest(man, ingest.ManifestOptions{Labels: []string{"dog", "cat", "dog, big"}})
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	if _, err := Extract(context.Background(), Config{Dataset: ds, Preset: preset(t, "tiny"), Out: out, Workers: 2}); err != nil {
		t.Fatal(err)
	}
	got, fails := checkAccounting(t, out, ds)
	for _, id := range []string{"plain", "quoted, id", "last"} {
		if _, ok := got[id]; !ok {
			t.Errorf("clip %q not extracted (failure %+v)", id, fails[id])
		}
	}
	if r := got["quoted, id"]; ds.Labels[r.Label] != "dog, big" || r.Split != "val" {
		t.Errorf("quoted row: label %q split %q", ds.Labels[r.Label], r.Split)
	}
	if len(fails) != 5 {
		t.Errorf("%d failures, want 5 (missing column, duplicate id, unknown label, bad split, empty id): %v", len(fails), fails)
	}
	for id, f := range fails {
		if f.Stage != ingest.StageIngest || !strings.Contains(f.Error, "line ") {
			t.Errorf("%s: %+v, want an ingest failure naming the manifest line", id, f)
		}
	}
	// A header without a required column stops at once with a message naming it.
	noLabel := filepath.Join(t.TempDir(), "nolabel.csv")
	os.WriteFile(noLabel, []byte("id,path\na,"+good+"\n"), 0o644)
	if _, err := ingest.ReadManifest(noLabel, ingest.ManifestOptions{}); err == nil || !strings.Contains(err.Error(), `"label"`) {
		t.Errorf("manifest without a label column: %v", err)
	}
}

// TestSafeIDs: a clip id that is not UTF-8 is stored escaped, the same way in shards and in
// failures.jsonl, so a resume recognises it.
func TestSafeIDs(t *testing.T) {
	media := filepath.Dir(badManifestMedia(t))
	man := filepath.Join(t.TempDir(), "ids.csv")
	text := "id,path,label\n" +
		"caf\xe9," + filepath.Join(media, "sine_h264_aac.mp4") + ",a\n" +
		"bad\xff," + filepath.Join(media, "empty.mp4") + ",a\n" +
		"caf\\xe9," + filepath.Join(media, "sine_h264_aac.mp4") + ",a\n"
	os.WriteFile(man, []byte(text), 0o644)
	ds, err := ingest.ReadManifest(man, ingest.ManifestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	for i := 0; i < 2; i++ {
		sum, err := Extract(context.Background(), Config{Dataset: ds, Preset: preset(t, "tiny"), Out: out, Resume: i > 0})
		if err != nil {
			t.Fatal(err)
		}
		if i == 1 && sum.Skipped != 3 {
			t.Errorf("resume redid clips: %+v", sum)
		}
	}
	rows, fails := checkAccounting(t, out, ds)
	for _, id := range []string{`caf\xe9`, `caf\xe9~`} {
		if _, ok := rows[id]; !ok {
			t.Errorf("no row %q: %v", id, rows)
		}
	}
	if _, ok := fails[`bad\xff`]; !ok {
		t.Errorf("no failure for bad\\xff: %v", fails)
	}
}

func badManifestMedia(t *testing.T) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "testdata", "media", "sine_h264_aac.mp4"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("generated test media missing: %v", err)
	}
	return p
}
