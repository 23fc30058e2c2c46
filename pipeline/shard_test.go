package pipeline

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/avbalance/avbalance/features/shard"
	"github.com/avbalance/avbalance/ingest"
	"github.com/avbalance/avbalance/internal/badmedia"
	"github.com/avbalance/avbalance/internal/testmedia"
)

// TestExtractShardMatchesExtract: ExtractShard writes the rows of the clips it is given in their
// order, equal to Extract's, with the same failures; with 1 or 3 workers the file is the same
// byte for byte.
func TestExtractShardMatchesExtract(t *testing.T) {
	ds := badManifest(t)
	p := preset(t, "tiny")
	out := t.TempDir()
	if _, err := Extract(context.Background(), Config{Dataset: ds, Preset: p, Out: out, Workers: 2}); err != nil {
		t.Fatal(err)
	}
	want, wantFails := checkAccounting(t, out, ds)

	clips := slices.Clone(ds.Clips)
	slices.Reverse(clips) // any order: ExtractShard keeps the one it is given
	var first []byte
	for _, workers := range []int{1, 3} {
		dir := t.TempDir()
		res, err := ExtractShard(context.Background(), ShardConfig{Preset: p, Workers: workers}, clips, dir, "shard-00007.arrow")
		if err != nil {
			t.Fatal(err)
		}
		r, err := shard.Open(filepath.Join(dir, "shard-00007.arrow"))
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]shard.Row{}
		var order []string
		for i := 0; i < r.NumRows(); i++ {
			row := r.Row(i)
			row.Audio = slices.Clone(row.Audio)
			row.Frames = slices.Clone(row.Frames)
			got[row.ClipID] = row
			order = append(order, row.ClipID)
		}
		r.Close()
		compareRows(t, got, want)
		var wantOrder []string
		for _, c := range clips {
			if _, ok := want[c.ID]; ok {
				wantOrder = append(wantOrder, c.ID)
			}
		}
		if !slices.Equal(order, wantOrder) {
			t.Errorf("%d workers: rows in order %v, want the clips' order %v", workers, order, wantOrder)
		}
		if res.Info.File != "shard-00007.arrow" || res.Info.Rows != len(want) {
			t.Errorf("%d workers: info %+v", workers, res.Info)
		}
		if sum, err := shard.Describe(filepath.Join(dir, "shard-00007.arrow")); err != nil || sum != res.Info {
			t.Errorf("%d workers: info %+v, the file says %+v (%v)", workers, res.Info, sum, err)
		}
		var failed []string
		for _, f := range res.Failures {
			failed = append(failed, f.ClipID)
			if f != wantFails[f.ClipID] {
				t.Errorf("%d workers: failure %+v, Extract's %+v", workers, f, wantFails[f.ClipID])
			}
		}
		if len(failed) != len(ds.Clips)-len(want) {
			t.Errorf("%d workers: %d failures, want %d", workers, len(failed), len(ds.Clips)-len(want))
		}
		b, _ := os.ReadFile(filepath.Join(dir, "shard-00007.arrow"))
		if first == nil {
			first = b
		} else if !bytes.Equal(b, first) {
			t.Errorf("%d workers wrote other bytes than 1 worker", workers)
		}
		if tmp, _ := filepath.Glob(filepath.Join(dir, "*"+shard.TempExt)); len(tmp) > 0 {
			t.Errorf("temp files left: %v", tmp)
		}
	}
}

// TestExtractShardNoRows: a shard whose clips all fail has no file.
func TestExtractShardNoRows(t *testing.T) {
	ds := badManifest(t)
	var bad []ingest.Clip
	for _, c := range ds.Clips {
		if strings.HasPrefix(c.ID, "empty") || c.ID == "text" {
			bad = append(bad, c)
		}
	}
	dir := t.TempDir()
	res, err := ExtractShard(context.Background(), ShardConfig{Preset: preset(t, "tiny")}, bad, dir, "shard-00000.arrow")
	if err != nil {
		t.Fatal(err)
	}
	if res.Info != (shard.ShardInfo{}) || len(res.Failures) != len(bad) {
		t.Errorf("result %+v for %d failing clips", res, len(bad))
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("files written for a shard without rows: %v", ents)
	}
	if _, err := ExtractShard(context.Background(), ShardConfig{Preset: preset(t, "tiny")}, append(bad, bad[0]), dir, "shard-00000.arrow"); err == nil {
		t.Error("a clip listed twice was accepted")
	}
}

// TestExtractShardDeadline: a clip stuck for good (a FIFO) fails with the clip deadline and the
// watchdog, as in Extract, and the clips after it are still written in order.
func TestExtractShardDeadline(t *testing.T) {
	dir := t.TempDir()
	fifo := testmedia.StuckFIFO(t, dir, "stuck.mp4")
	good := badManifestMedia(t)
	clips := []ingest.Clip{{ID: "a", Path: good}, {ID: "b-stuck", Path: fifo}, {ID: "c", Path: good}, {ID: "d", Path: good}}
	wav := filepath.Join(dir, "good.wav")
	if err := os.WriteFile(wav, badmedia.WAV(16000, 1, make([]int16, 16000)), 0o644); err != nil {
		t.Fatal(err)
	}
	clips = append(clips, ingest.Clip{ID: "e-stuck-video", Path: fifo, AudioPath: wav})
	start := time.Now()
	res, err := ExtractShard(context.Background(), ShardConfig{Preset: preset(t, "tiny"), Workers: 2, ClipTimeout: 300 * time.Millisecond},
		clips, dir, "shard-00000.arrow")
	if err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > 20*time.Second {
		t.Errorf("took %v", el)
	}
	r, err := shard.Open(filepath.Join(dir, "shard-00000.arrow"))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if ids := r.ClipIDs(); !slices.Equal(ids, []string{"a", "c", "d"}) {
		t.Errorf("rows %v, want a c d", ids)
	}
	if len(res.Failures) != 2 {
		t.Fatalf("failures %+v", res.Failures)
	}
	for i, stage := range []string{ingest.StageDecodeAudio, ingest.StageDecodeVideo} {
		f := res.Failures[i]
		if f.Stage != stage || !strings.Contains(f.Error, "deadline exceeded after 0.3s") {
			t.Errorf("failure %+v, want stage %s and the deadline", f, stage)
		}
	}
}

// TestExtractShardCancel: a cancelled context leaves no file and returns an error.
func TestExtractShardCancel(t *testing.T) {
	ds := badManifest(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	dir := t.TempDir()
	if _, err := ExtractShard(ctx, ShardConfig{Preset: preset(t, "tiny")}, ds.Clips, dir, "shard-00000.arrow"); err == nil {
		t.Error("no error from a cancelled context")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("files left: %v", ents)
	}
}
