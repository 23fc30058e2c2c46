package ingest

import (
	"bytes"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestVGGID(t *testing.T) {
	for in, want := range map[[2]string]string{
		{"-0pJqpNjft4", "267"}:  "-0pJqpNjft4_000267",
		{"abc", "0"}:            "abc_000000",
		{"abc", "000030"}:       "abc_000030",
		{"abc", "1234567"}:      "abc_1234567",
		{"abc", "x"}:            "abc_x",
		{"aEYwqY-Zt_k", "0011"}: "aEYwqY-Zt_k_000011",
	} {
		if got := vggID(in[0], in[1]); got != want {
			t.Errorf("vggID(%q, %q) = %q, want %q", in[0], in[1], got, want)
		}
	}
}

func TestReadVGGSound(t *testing.T) {
	dir := t.TempDir()
	clips := filepath.Join(dir, "clips")
	touch(t, clips, "-0pJqpNjft4_000267.mp4", "aEYwqY-Zt_k_000011.mp4", "trainA_000030.mp4", "trainB_000000.mp4",
		"unlisted_000001.mp4", "notes.txt")
	csvPath := writeFile(t, dir, "vggsound.csv", bom+"youtube_id,start_seconds,label,split\r\n"+
		"-0pJqpNjft4,267,cow lowing,test\r\n"+
		"aEYwqY-Zt_k,11,\"donkey, ass braying\",test\r\n"+
		"trainA,30,cow lowing,train\r\n"+
		"trainB,0,\"a \"\"quoted\"\" label\",train\r\n"+
		"absent1,5,orchestra,test\r\n"+ // missing on disk
		"trainA,030,cow lowing,train\r\n"+ // same clip id again
		"bad/id,5,cow lowing,test\r\n"+
		"badstart,-5,cow lowing,test\r\n"+
		"nolabel,5,,test\r\n"+
		"badsplit,5,cow lowing,validation\r\n"+
		"short,5,cow lowing\r\n")
	ds, err := ReadVGGSound(VGGSoundOptions{CSV: csvPath, ClipsDir: clips})
	if err != nil {
		t.Fatal(err)
	}
	checkDataset(t, ds) // ids unique across clips and rejections
	wantLabels := []string{`a "quoted" label`, "cow lowing", "donkey, ass braying", "orchestra"}
	if ds.Name != "vggsound" || !reflect.DeepEqual(ds.Labels, wantLabels) {
		t.Errorf("name %q labels %q, want %q", ds.Name, ds.Labels, wantLabels)
	}
	want := []Clip{
		{ID: "-0pJqpNjft4_000267", Path: filepath.Join(clips, "-0pJqpNjft4_000267.mp4"), Label: 1, Split: "test", Source: "vggsound"},
		{ID: "aEYwqY-Zt_k_000011", Path: filepath.Join(clips, "aEYwqY-Zt_k_000011.mp4"), Label: 2, Split: "test", Source: "vggsound"},
		{ID: "trainA_000030", Path: filepath.Join(clips, "trainA_000030.mp4"), Label: 1, Split: "train", Source: "vggsound"},
		{ID: "trainB_000000", Path: filepath.Join(clips, "trainB_000000.mp4"), Label: 0, Split: "train", Source: "vggsound"},
	}
	if !reflect.DeepEqual(ds.Clips, want) {
		t.Errorf("clips\n%+v\nwant\n%+v", ds.Clips, want)
	}
	wantReasons := map[string]string{
		"absent1_000005":               "listed but missing on disk",
		"bad/id_000005":                `vggsound.csv line 8: malformed YouTube id "bad/id"`,
		"badstart_-5":                  "not a non-negative integer",
		"nolabel_000005":               "empty label",
		"badsplit_000005":              `split "validation"`,
		"short_000005":                 "line 12: 3 fields",
		"trainA_000030#vggsound.csv:7": "vggsound.csv line 7: clip trainA_000030 listed again (first at line 4)",
	}
	rej := rejectedByID(ds)
	for id, reason := range wantReasons {
		if !strings.Contains(rej[id].Reason, reason) {
			t.Errorf("rejection of %s: %q, want it to mention %q", id, rej[id].Reason, reason)
		}
	}
	if len(ds.Rejected) != len(wantReasons) {
		t.Errorf("%d rejections, want %d: %+v", len(ds.Rejected), len(wantReasons), ds.Rejected)
	}
	if p := rej["absent1_000005"].Path; p != filepath.Join(clips, "absent1_000005.mp4") {
		t.Errorf("missing clip path %q", p)
	}
	if p := rej["trainA_000030#vggsound.csv:7"].Path; p != filepath.Join(clips, "trainA_000030.mp4") {
		t.Errorf("repeated clip path %q", p)
	}

	only, err := ReadVGGSound(VGGSoundOptions{CSV: csvPath, ClipsDir: clips, OnlyPresent: true})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(only.Clips, want) || only.Skipped != 1 || len(only.Rejected) != len(wantReasons)-1 {
		t.Errorf("OnlyPresent: %d clips, skipped %d, %d rejected", len(only.Clips), only.Skipped, len(only.Rejected))
	}
	if !reflect.DeepEqual(only.Labels, wantLabels) {
		t.Errorf("OnlyPresent changed the labels: %q", only.Labels)
	}
}

func TestReadVGGSoundNoHeaderAndVal(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	for i := 0; i < 100; i++ {
		fmt.Fprintf(&b, "id%03d,%d,class %d,train\n", i, i, i%3)
		touch(t, dir, fmt.Sprintf("clips/id%03d_%06d.mp4", i, i))
	}
	b.WriteString("test1,1,class 0,test\n")
	csvPath := writeFile(t, dir, "v.csv", b.String())
	opts := VGGSoundOptions{CSV: csvPath, ClipsDir: filepath.Join(dir, "clips"), ValFrac: 0.2, Seed: 9, OnlyPresent: true}
	ds, err := ReadVGGSound(opts)
	if err != nil {
		t.Fatal(err)
	}
	n := map[string]int{}
	for _, c := range ds.Clips {
		n[c.Split]++
	}
	if n["train"] != 80 || n["val"] != 20 || ds.Skipped != 1 || len(ds.Rejected) != 0 {
		t.Errorf("splits %v skipped %d rejected %d; want train 80 val 20, 1 skipped", n, ds.Skipped, len(ds.Rejected))
	}
	again, err := ReadVGGSound(opts)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(ds, again) {
		t.Error("same seed gave a different dataset")
	}
}

func TestReadVGGSoundConfigErrors(t *testing.T) {
	dir := t.TempDir()
	csvPath := writeFile(t, dir, "v.csv", "a,1,x,train\n")
	cases := []struct {
		name string
		opts VGGSoundOptions
		want string
	}{
		{"no clips dir", VGGSoundOptions{CSV: csvPath}, "no directory"},
		{"missing csv", VGGSoundOptions{CSV: csvPath + ".nope", ClipsDir: dir}, "no such file"},
		{"clips dir missing", VGGSoundOptions{CSV: csvPath, ClipsDir: filepath.Join(dir, "nope")}, "clips dir"},
		{"bad val", VGGSoundOptions{CSV: csvPath, ClipsDir: dir, ValFrac: -0.1}, "val fraction"},
		{"csv syntax", VGGSoundOptions{CSV: writeFile(t, dir, "bad.csv", "a,1,\"x\"y,train\n"), ClipsDir: dir}, "bad.csv"},
	}
	for _, c := range cases {
		_, err := ReadVGGSound(c.opts)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one mentioning %q", c.name, err, c.want)
		}
	}
}

func TestReadVGGSoundMedia(t *testing.T) {
	media := sharedMedia(t, "vggsound-vggsounder")
	opts := VGGSoundOptions{
		CSV:      filepath.Join(media, "data", "vggsound_test_in_vggsound_csv_format.csv"),
		ClipsDir: filepath.Join(media, "videos"),
	}
	ds, err := ReadVGGSound(opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds.Labels) != 309 || len(ds.Clips) != 9 || len(ds.Rejected) != 15446-9 {
		t.Fatalf("%d labels, %d clips, %d rejected; want 309, 9, %d", len(ds.Labels), len(ds.Clips), len(ds.Rejected), 15446-9)
	}
	for _, r := range ds.Rejected {
		if r.Reason != "listed but missing on disk" {
			t.Fatalf("unexpected rejection %+v", r)
		}
	}
	want := map[string]string{
		"-0pJqpNjft4_000267": "cow lowing", "0f0Rq7e5yX8_000160": "sloshing water",
		"6VBURvUgzls_000030": "printer printing", "M1pPtg6a_g8_000230": "playing piano",
		"MnEZwnRuQR8_000030": "firing cannon", "NMQiKrTkl10_000039": "volcano explosion",
		"aEYwqY-Zt_k_000011": "donkey, ass braying", "nEmU3E8rras_000012": "playing washboard",
		"nLKEdmVu3FY_000040": "orchestra",
	}
	for _, c := range ds.Clips {
		if want[c.ID] != ds.Labels[c.Label] || c.Split != "test" {
			t.Errorf("%s: label %q split %q, want %q test", c.ID, ds.Labels[c.Label], c.Split, want[c.ID])
		}
	}
	opts.OnlyPresent = true
	only, err := ReadVGGSound(opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(only.Clips) != 9 || len(only.Rejected) != 0 || only.Skipped != 15446-9 || !reflect.DeepEqual(only.Labels, ds.Labels) {
		t.Errorf("OnlyPresent: %d clips, %d rejected, %d skipped", len(only.Clips), len(only.Rejected), only.Skipped)
	}
}

// vggsoundRows builds an n-row vggsound.csv in memory and the matching present set.
func vggsoundRows(n int) ([]byte, *dirListing) {
	var b bytes.Buffer
	present := newDirListing("/clips", n)
	for i := 0; i < n; i++ {
		split := "train"
		if i%10 == 0 {
			split = "test"
		}
		yt := fmt.Sprintf("-%010d", i)
		fmt.Fprintf(&b, "%s,%d,\"class, number %d\",%s\n", yt, i%300, i%309, split)
		id := vggID(yt, fmt.Sprint(i%300))
		present.add(id, id+".mp4")
	}
	return b.Bytes(), present
}

// BenchmarkParseVGGSound200k reads a 200,000-row list (the size of the full
// VGGSound release) with every file present and a val carve.
func BenchmarkParseVGGSound200k(b *testing.B) {
	data, present := vggsoundRows(200_000)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		ds, err := parseVGGSound(bytes.NewReader(data), "bench.csv", present, VGGSoundOptions{ValFrac: 0.1})
		if err != nil || len(ds.Clips) != 200_000 {
			b.Fatalf("%v, %d clips", err, len(ds.Clips))
		}
	}
}
