package ingest

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestReadManifest(t *testing.T) {
	dir := t.TempDir()
	abs := filepath.Join(t.TempDir(), "abs.mp4")
	touch(t, filepath.Dir(abs), "abs.mp4")
	touch(t, dir, "v/a.mp4", "v/b.mp4", "v/c.mp4", "v/d.mp4", "w/a.wav", "v/e.mp4", "v/f.mp4")
	path := writeFile(t, dir, "m.csv", bom+"Label, ID ,path,split,audio_path,notes\r\n"+
		"dog,a,v/a.mp4,train,w/a.wav,first\r\n"+
		"\"cat, grey\",b,v/b.mp4,test,,\r\n"+
		"dog,c,"+abs+",,,\r\n"+
		"cat,a,v/d.mp4,train,,duplicate id\r\n"+
		"bird,e,v/e.mp4,holdout,,bad split\r\n"+
		"dog,f,v/f.mp4,train,w/missing.wav,\r\n"+
		"dog,g,v/missing.mp4,train,,\r\n"+
		"dog,,v/a.mp4,train,,\r\n"+
		"dog,h,,train,,\r\n"+
		",i,v/a.mp4,train,,\r\n"+
		"dog,j,v/a.mp4\r\n")
	ds, err := ReadManifest(path, ManifestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	checkDataset(t, ds)                                       // ids unique across clips and rejections
	wantLabels := []string{"bird", "cat", "cat, grey", "dog"} // all rows name labels, rejected ones too
	if ds.Name != "manifest" || !reflect.DeepEqual(ds.Labels, wantLabels) {
		t.Errorf("name %q labels %q, want %q", ds.Name, ds.Labels, wantLabels)
	}
	want := []Clip{
		{ID: "a", Path: filepath.Join(dir, "v/a.mp4"), AudioPath: filepath.Join(dir, "w/a.wav"), Label: 3, Split: "train", Source: "manifest"},
		{ID: "b", Path: filepath.Join(dir, "v/b.mp4"), Label: 2, Split: "test", Source: "manifest"},
		{ID: "c", Path: abs, Label: 3, Source: "manifest"},
	}
	if !reflect.DeepEqual(ds.Clips, want) {
		t.Errorf("clips\n%+v\nwant\n%+v", ds.Clips, want)
	}
	wantRej := []Rejected{
		{"a#m.csv:5", filepath.Join(dir, "v/d.mp4"), `m.csv line 5: id "a" listed again (first at m.csv line 2)`},
		{"e", filepath.Join(dir, "v/e.mp4"), `m.csv line 6: split "holdout", want train, val, test or empty`},
		{"f", filepath.Join(dir, "v/f.mp4"), "m.csv line 7: audio file " + filepath.Join(dir, "w/missing.wav") + " does not exist"},
		{"g", filepath.Join(dir, "v/missing.mp4"), "m.csv line 8: media file " + filepath.Join(dir, "v/missing.mp4") + " does not exist"},
		{"m.csv:9", filepath.Join(dir, "v/a.mp4"), "m.csv line 9: empty id"},
		{"h", "", "m.csv line 10: empty path"},
		{"i", filepath.Join(dir, "v/a.mp4"), "m.csv line 11: empty label"},
		{"m.csv:12", "", "m.csv line 12: 3 fields, the header has 6"},
	}
	if !reflect.DeepEqual(ds.Rejected, wantRej) {
		t.Errorf("rejected\n%q\nwant\n%q", ds.Rejected, wantRej)
	}
}

func TestReadManifestFixedLabels(t *testing.T) {
	dir := t.TempDir()
	touch(t, dir, "a.mp4", "b.mp4")
	path := writeFile(t, dir, "m.csv", "id,path,label\na,a.mp4,dog\nb,b.mp4,horse\n")
	ds, err := ReadManifest(path, ManifestOptions{Name: "pets", Labels: []string{"dog", "cat"}})
	if err != nil {
		t.Fatal(err)
	}
	if ds.Name != "pets" || !reflect.DeepEqual(ds.Labels, []string{"dog", "cat"}) || len(ds.Clips) != 1 ||
		ds.Clips[0].Label != 0 || ds.Clips[0].Source != "pets" {
		t.Errorf("dataset %+v", ds)
	}
	if len(ds.Rejected) != 1 || !strings.Contains(ds.Rejected[0].Reason, `label "horse" is not in the fixed label list`) {
		t.Errorf("rejected %+v", ds.Rejected)
	}
}

func TestReadManifestConfigErrors(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name, content string
		labels        []string
		want          string
	}{
		{"no id", "path,label\n", nil, `missing required column "id"`},
		{"no path", "id,label,split\n", nil, `missing required column "path"`},
		{"no label", bom + "ID,Path\n", nil, `missing required column "label"`},
		{"empty", "", nil, "empty file"},
		{"repeated column", "id,path,label,Label\n", nil, `column "label" appears twice`},
		{"syntax", "id,path,label\na,\"b\"c,d\n", nil, "line 2"},
		{"repeated fixed label", "id,path,label\n", []string{"a", "a"}, `label "a" given twice`},
	}
	for _, c := range cases {
		p := writeFile(t, dir, "m.csv", c.content)
		_, err := ReadManifest(p, ManifestOptions{Labels: c.labels})
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "m.csv") {
			t.Errorf("%s: error %v, want one naming m.csv and %q", c.name, err, c.want)
		}
	}
	if _, err := ReadManifest(filepath.Join(dir, "nope.csv"), ManifestOptions{}); err == nil {
		t.Error("missing manifest: no error")
	}
}

func TestReadManifestMedia(t *testing.T) {
	media := sharedMedia(t, "vggsound-vggsounder")
	dir := t.TempDir()
	p := writeFile(t, dir, "m.csv", "id,path,label,split\n"+
		"cow,"+filepath.Join(media, "videos", "-0pJqpNjft4_000267.mp4")+",cow lowing,test\n"+
		"donkey,"+filepath.Join(media, "videos", "aEYwqY-Zt_k_000011.mp4")+",\"donkey, ass braying\",train\n")
	ds, err := ReadManifest(p, ManifestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ds.Clips) != 2 || len(ds.Rejected) != 0 || ds.Labels[ds.Clips[1].Label] != "donkey, ass braying" {
		t.Errorf("dataset %+v", ds)
	}
}

func TestReadManifestIDsStayUnique(t *testing.T) {
	// A manifest that spells out the ids the reader gives to repeated rows.
	data := "id,path,label\n" +
		"a#m.csv:4,x.mp4,dog\n" + // line 2
		"a,x.mp4,dog\n" + // line 3
		"a,x.mp4,dog\n" + // line 4: rejected as a#m.csv:4, which is taken
		"m.csv:6,x.mp4,dog\n" + // line 5
		"b\n" // line 6: placeholder m.csv:6, which is taken
	ds, err := parseManifest(strings.NewReader(data), "m.csv", "/d", ManifestOptions{}, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	checkDataset(t, ds)
	if len(ds.Clips) != 3 || len(ds.Rejected) != 2 {
		t.Errorf("%d clips, %d rejected; want 3 and 2", len(ds.Clips), len(ds.Rejected))
	}
}
