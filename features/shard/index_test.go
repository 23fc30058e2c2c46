package shard

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// writeRun writes a small complete extraction folder: 3 shards, 2 failures and index.json.
func writeRun(t *testing.T) (string, *Index) {
	t.Helper()
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(11, 12))
	ix := &Index{
		Tool: "avbalance test", Created: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC), Dataset: "synthetic",
		Labels: []string{"NEU", "HAP", "SAD", "FEA", "DIS", "ANG"},
	}
	if err := ix.SetPreset(map[string]any{"name": "tiny", "sample_rate": 16000}); err != nil {
		t.Fatal(err)
	}
	for s, n := range []int{6, 4, 5} {
		info := writeShard(t, dir, ShardName(s), randomRows(rng, fmt.Sprintf("s%d", s), n, testAudioShape, testFrameShape),
			WithBatchRows(4))
		ix.Shards = append(ix.Shards, info)
		ix.ClipsOK += n
	}
	log, err := OpenFailureLog(dir)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if err := log.Append(Failure{ClipID: fmt.Sprintf("bad-%d", i), Path: "/x", Stage: "decode-audio", Error: "no audio stream"}); err != nil {
			t.Fatal(err)
		}
	}
	ix.ClipsFailed = log.Count()
	log.Close()
	ix.ClipsTotal = ix.ClipsOK + ix.ClipsFailed
	if err := WriteIndex(dir, ix); err != nil {
		t.Fatal(err)
	}
	return dir, ix
}

func TestIndexRoundTrip(t *testing.T) {
	dir, ix := writeRun(t)
	got, err := ReadIndex(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := *ix
	want.SchemaVersion = SchemaVersion
	var compact bytes.Buffer
	if err := json.Compact(&compact, got.Preset); err != nil {
		t.Fatal(err)
	}
	got.Preset = compact.Bytes()
	if !reflect.DeepEqual(got, &want) {
		t.Fatalf("index:\n got %+v\nwant %+v", got, &want)
	}
	var p struct {
		Name       string `json:"name"`
		SampleRate int    `json:"sample_rate"`
	}
	if err := got.DecodePreset(&p); err != nil || p.Name != "tiny" || p.SampleRate != 16000 {
		t.Fatalf("preset %+v, %v", p, err)
	}
	raw, _ := os.ReadFile(filepath.Join(dir, IndexFile))
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"schema_version", "preset", "labels", "shards", "clips_total", "clips_ok", "clips_failed", "dataset", "created", "tool"} {
		if _, ok := m[k]; !ok {
			t.Errorf("index.json has no %q", k)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, IndexFile+TempExt)); !os.IsNotExist(err) {
		t.Error("index temp file left behind")
	}
	bad := *ix
	bad.SchemaVersion = SchemaVersion + 1
	if err := WriteIndex(t.TempDir(), &bad); err == nil {
		t.Errorf("schema_version %d written", bad.SchemaVersion)
	}
}

func TestVerify(t *testing.T) {
	dir, ix := writeRun(t)
	if bad, err := Verify(dir); err != nil || len(bad) != 0 {
		t.Fatalf("clean folder: %v %v", bad, err)
	}
	path := filepath.Join(dir, ix.Shards[1].File)
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Flip one bit of a frame byte (in the file's middle): still a valid Arrow file, different hash.
	for _, pos := range []int{len(orig) / 2, len(orig) - 20, 9} {
		flipped := append([]byte(nil), orig...)
		flipped[pos] ^= 0x01
		if err := os.WriteFile(path, flipped, 0o644); err != nil {
			t.Fatal(err)
		}
		bad, err := Verify(dir)
		if err != nil {
			t.Fatal(err)
		}
		if len(bad) == 0 || bad[0].File != ix.Shards[1].File || !strings.Contains(bad[0].Reason, "sha256") {
			t.Fatalf("flipped byte %d: %v", pos, bad)
		}
	}
	if err := os.WriteFile(path, orig, 0o644); err != nil {
		t.Fatal(err)
	}

	// An unlisted shard, a shard counted wrong, a duplicated clip.
	writeShard(t, dir, "extra.arrow", randomRows(rand.New(rand.NewPCG(1, 1)), "s0", 1, testAudioShape, testFrameShape))
	ix.Shards[0].Rows++
	if err := WriteIndex(dir, ix); err != nil {
		t.Fatal(err)
	}
	bad, err := Verify(dir)
	if err != nil {
		t.Fatal(err)
	}
	var reasons []string
	for _, m := range bad {
		reasons = append(reasons, m.String())
	}
	all := strings.Join(reasons, "\n")
	for _, want := range []string{"shard-00000.arrow: 6 rows, index.json says 7", "extra.arrow: shard file not listed",
		"index.json: shards hold 16 rows, clips_ok is 15"} {
		if !strings.Contains(all, want) {
			t.Errorf("Verify did not report %q; got:\n%s", want, all)
		}
	}
	if _, err := Verify(t.TempDir()); err == nil {
		t.Error("Verify of a folder without index.json succeeded")
	}
}

func TestScanAndCleanTemp(t *testing.T) {
	dir := t.TempDir()
	writeShard(t, dir, ShardName(1), nil)
	writeShard(t, dir, ShardName(0), nil)
	for _, name := range []string{ShardName(2) + TempExt, IndexFile + TempExt, "notes.txt"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	names, err := Scan(dir)
	if err != nil || !reflect.DeepEqual(names, []string{ShardName(0), ShardName(1)}) {
		t.Fatalf("Scan: %v %v", names, err)
	}
	removed, err := CleanTemp(dir)
	if err != nil || !reflect.DeepEqual(removed, []string{IndexFile + TempExt, ShardName(2) + TempExt}) {
		t.Fatalf("CleanTemp: %v %v", removed, err)
	}
	info, err := Describe(filepath.Join(dir, ShardName(0)))
	if err != nil || info.File != ShardName(0) || info.Rows != 0 || len(info.SHA256) != 64 {
		t.Fatalf("Describe: %+v %v", info, err)
	}
}

func TestFailureLogTornLine(t *testing.T) {
	dir := t.TempDir()
	log, err := OpenFailureLog(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []Failure{
		{ClipID: "a", Path: "/a.flv", Stage: "decode-video", Error: "no video stream"},
		{ClipID: "b", Path: "/b.flv", Stage: "features", Error: "too short\nreally"},
	}
	for _, f := range want {
		if err := log.Append(f); err != nil {
			t.Fatal(err)
		}
	}
	log.Close()
	path := filepath.Join(dir, FailuresFile)
	// A crash in the middle of the third line.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"clip_id":"c","path":"/c`)
	f.Close()

	got, err := ReadFailures(dir)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("ReadFailures with a torn line: %v %v", got, err)
	}
	log, err = OpenFailureLog(dir)
	if err != nil {
		t.Fatal(err)
	}
	if log.Count() != 2 {
		t.Fatalf("Count %d after reopening, want 2", log.Count())
	}
	c := Failure{ClipID: "c", Path: "/c.flv", Stage: "write", Error: "disk full"}
	if err := log.Append(c); err != nil {
		t.Fatal(err)
	}
	log.Close()
	got, err = ReadFailures(dir)
	if err != nil || !reflect.DeepEqual(got, append(want, c)) {
		t.Fatalf("after truncating the torn line and appending: %v %v", got, err)
	}
	raw, _ := os.ReadFile(path)
	if strings.Count(string(raw), "\n") != 3 || strings.Contains(string(raw), `"/c"`) {
		t.Fatalf("file content:\n%s", raw)
	}

	// A torn line that did get its newline (garbage, then '\n') is also ignored when last.
	os.WriteFile(path, append(raw, []byte("{\"clip_id\":\"d\x00\x00\n")...), 0o644)
	if got, err := ReadFailures(dir); err != nil || len(got) != 3 {
		t.Fatalf("garbage last line: %v %v", got, err)
	}
	// A bad line that is not the last one is corruption, not a torn write.
	os.WriteFile(path, append([]byte("not json\n"), raw...), 0o644)
	if _, err := ReadFailures(dir); err == nil {
		t.Fatal("bad first line accepted")
	}
	if _, err := OpenFailureLog(dir); err == nil {
		t.Fatal("OpenFailureLog accepted a corrupt log")
	}
	if got, err := ReadFailures(t.TempDir()); err != nil || got != nil {
		t.Fatalf("missing log: %v %v", got, err)
	}
}
