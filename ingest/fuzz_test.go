package ingest

import (
	"bytes"
	"strings"
	"testing"
)

// checkDataset asserts what every reader promises, whatever its input.
func checkDataset(t *testing.T, ds *Dataset) {
	t.Helper()
	ids := make(map[string]bool, len(ds.Clips))
	for _, c := range ds.Clips {
		if c.ID == "" || ids[c.ID] {
			t.Fatalf("empty or repeated clip id %q", c.ID)
		}
		ids[c.ID] = true
		if c.Label < 0 || c.Label >= len(ds.Labels) {
			t.Fatalf("clip %q: label %d outside %d labels", c.ID, c.Label, len(ds.Labels))
		}
		switch c.Split {
		case "", SplitTrain, SplitVal, SplitTest:
		default:
			t.Fatalf("clip %q: split %q", c.ID, c.Split)
		}
	}
	for _, r := range ds.Rejected {
		if r.ClipID == "" || r.Reason == "" {
			t.Fatalf("rejection without id or reason: %+v", r)
		}
		if ids[r.ClipID] {
			t.Fatalf("id %q is used twice (%s)", r.ClipID, r.Reason)
		}
		ids[r.ClipID] = true
	}
}

func FuzzReadManifest(f *testing.F) {
	f.Add([]byte("id,path,label,split,audio_path\na,a.mp4,dog,train,a.wav\nb,b.mp4,\"cat, grey\",test,\n"))
	f.Add([]byte(bom + "Label,ID,Path\r\ndog,a,a.mp4\r\ndog,a,x.mp4\r\n,,\r\n"))
	f.Add([]byte("path,label\n"))
	f.Add([]byte("id,path,label\na,\"b\"c,d\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		// Files whose name has an even length "exist", so both outcomes are explored.
		exists := func(p string) string {
			if len(p)%2 == 0 {
				return ""
			}
			return "does not exist"
		}
		for _, labels := range [][]string{nil, {"dog", "cat"}} {
			ds, err := parseManifest(bytes.NewReader(data), "fuzz.csv", "/m", ManifestOptions{Labels: labels}, exists)
			if err != nil {
				continue
			}
			checkDataset(t, ds)
		}
	})
}

func FuzzReadVGGSoundCSV(f *testing.F) {
	f.Add([]byte("-0pJqpNjft4,267,cow lowing,test\naEYwqY-Zt_k,11,\"donkey, ass braying\",train\n"))
	f.Add([]byte(bom + "youtube_id,start_seconds,label,split\r\nabc,0,x,train\r\nabc,000,x,train\r\n"))
	f.Add([]byte("a/b,-1,,val\nshort,1\n,,,\n"))
	files := listingOf("/clips", "-0pJqpNjft4_000267.mp4", "abc_000000.MP4")
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, opts := range []VGGSoundOptions{{}, {OnlyPresent: true, ValFrac: 0.5, Seed: 3}} {
			ds, err := parseVGGSound(bytes.NewReader(data), "fuzz.csv", files, opts)
			if err != nil {
				continue
			}
			checkDataset(t, ds)
			for _, c := range ds.Clips {
				if _, ok := files.index[c.ID]; !ok {
					t.Fatalf("clip %q is not on disk", c.ID)
				}
			}
		}
	})
}

func FuzzReadCremaDList(f *testing.F) {
	f.Add([]byte(bom+"1001_DFA_ANG_XX,ANG\r\n1001_DFA_NEU_XX,NEU\r\n"), []byte("1001_DFA_ANG_XX\n1002_IEO_SAD_LO,SAD\n"))
	f.Add([]byte("1001_DFA_XYZ_XX,XYZ\n,\n1001_DFA_HAP_XX,SAD,x\n"), []byte("\"1001_DFA_HAP_XX\",HAP\n"))
	lay := &cremaLayout{
		videos: listingOf("/v", "1001_DFA_ANG_XX.flv", "1002_IEO_SAD_LO.flv", "1003_IEO_HAP_HI.flv"),
		audios: listingOf("/a", "1001_DFA_ANG_XX.wav"),
	}
	f.Fuzz(func(t *testing.T, train, test []byte) {
		tr, err1 := readCremaList(bytes.NewReader(train), "train.csv")
		te, err2 := readCremaList(bytes.NewReader(test), "test.csv")
		if err1 != nil || err2 != nil {
			return
		}
		for _, valBy := range []string{ValByClip, ValByActor} {
			ds := &Dataset{Labels: CremaDLabels()}
			lay.fromLists(ds, tr, te, 0.3, valBy, 1)
			checkDataset(t, ds)
			for _, c := range ds.Clips {
				if !strings.HasPrefix(c.Path, "/v/") || ds.Labels[c.Label] != c.ID[9:12] {
					t.Fatalf("clip %+v", c)
				}
			}
		}
	})
}
