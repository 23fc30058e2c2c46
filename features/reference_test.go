package features

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// Tolerances against the reference libraries (testdata/reference.py), also stated in doc.go.
// All preset outputs are in the log domain (or normalised log), so a max absolute difference
// of 1e-3 bounds the relative difference of the underlying linear values by about 0.1%.
// The references compute in float32 (torch, scipy on float32 input, librosa's complex64);
// we compute in float64, so most of the difference is theirs.
const (
	tolLog    = 1e-3 // max |Δ| of log / normalised-log outputs
	tolWindow = 1e-12
	tolMelRel = 1e-5 // max |Δ| / max weight of a mel filterbank (torchaudio builds it in float32)
)

type reference struct {
	Fixture struct {
		File    string `json:"file"`
		Samples int    `json:"samples"`
	} `json:"fixture"`
	VGGSoundStart int `json:"vggsound_start"`
	Presets       map[string]struct {
		Shape     []int  `json:"shape"`
		TimeIndex []int  `json:"time_index"`
		File      string `json:"file"`
	} `json:"presets"`
	Windows map[string][]float64 `json:"windows"`
	Mel     struct {
		Params struct {
			NFreqs     int     `json:"n_freqs"`
			FMin       float64 `json:"f_min"`
			FMax       float64 `json:"f_max"`
			NMels      int     `json:"n_mels"`
			SampleRate int     `json:"sample_rate"`
		} `json:"params"`
		HTK          [][]float64 `json:"htk"`
		SlaneySlaney [][]float64 `json:"slaney_slaney"`
	} `json:"mel"`
}

func loadReference(t testing.TB) (reference, []float32) {
	t.Helper()
	var ref reference
	b, err := os.ReadFile(filepath.Join("testdata", "reference.json"))
	if err != nil {
		t.Fatalf("reading reference: %v (regenerate with /usr/bin/python3 features/testdata/reference.py)", err)
	}
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatalf("testdata/reference.json: %v", err)
	}
	x := readF32(t, ref.Fixture.File)
	if len(x) != ref.Fixture.Samples {
		t.Fatalf("fixture has %d samples, reference.json says %d", len(x), ref.Fixture.Samples)
	}
	return ref, x
}

func readF32(t testing.TB, name string) []float32 {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	v := make([]float32, len(b)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v
}

func TestReferencePresets(t *testing.T) {
	ref, x := loadReference(t)
	for _, name := range PresetNames() {
		t.Run(name, func(t *testing.T) {
			r, ok := ref.Presets[name]
			if !ok {
				t.Fatalf("no reference for preset %s", name)
			}
			p, _ := Lookup(name)
			shape := p.AudioShape()
			if shape[0] != r.Shape[0] || shape[1] != r.Shape[1] {
				t.Fatalf("AudioShape %v, reference %v", shape, r.Shape)
			}
			e := NewExtractor(p)
			var got []float32
			var err error
			if p.Fit == FitTileRandom {
				got, err = e.extract(x, ref.VGGSoundStart)
			} else {
				got, err = e.Audio(x, 0)
			}
			if err != nil {
				t.Fatal(err)
			}
			want := readF32(t, r.File)
			bins := p.bins()
			if len(want) != len(r.TimeIndex)*bins {
				t.Fatalf("%s holds %d values, want %d×%d", r.File, len(want), len(r.TimeIndex), bins)
			}
			var worst float64
			wt, wf := 0, 0
			for i, ti := range r.TimeIndex {
				for f := 0; f < bins; f++ {
					var g float32
					if p.Layout == LayoutTimeFreq {
						g = got[ti*bins+f]
					} else {
						g = got[f*p.TimeFrames+ti]
					}
					if d := math.Abs(float64(g) - float64(want[i*bins+f])); d > worst || math.IsNaN(d) {
						worst, wt, wf = d, ti, f
					}
				}
			}
			t.Logf("max |Δ| %.3g at frame %d bin %d", worst, wt, wf)
			if !(worst <= tolLog) {
				t.Errorf("max |Δ| %.3g at frame %d bin %d exceeds %g", worst, wt, wf, tolLog)
			}
		})
	}
}

func TestWindowsMatchReference(t *testing.T) {
	ref, _ := loadReference(t)
	for name, want := range ref.Windows {
		win, alpha := name, 0.25
		if name == "tukey63-0.5" {
			win, alpha = "tukey", 0.5
		}
		got, err := makeWindow(win, len(want), alpha)
		if err != nil {
			t.Fatal(err)
		}
		for i := range want {
			if math.Abs(got[i]-want[i]) > tolWindow {
				t.Errorf("window %s[%d] = %v, reference %v", name, i, got[i], want[i])
				break
			}
		}
	}
}

func TestMelFilterbankMatchesTorchaudio(t *testing.T) {
	ref, _ := loadReference(t)
	m := ref.Mel.Params
	for _, c := range []struct {
		norm, scale string
		want        [][]float64
	}{{"", "htk", ref.Mel.HTK}, {"slaney", "slaney", ref.Mel.SlaneySlaney}} {
		b := torchaudioMel(m.NFreqs, m.FMin, m.FMax, m.NMels, m.SampleRate, c.norm, c.scale)
		var peak, worst float64
		for k := 0; k < m.NFreqs; k++ {
			for j := 0; j < m.NMels; j++ {
				var g float64
				if off := k - b.lo[j]; off >= 0 && off < len(b.w[j]) {
					g = b.w[j][off]
				}
				peak = math.Max(peak, c.want[k][j])
				worst = math.Max(worst, math.Abs(g-c.want[k][j]))
			}
		}
		if worst > tolMelRel*peak {
			t.Errorf("mel %s/%q: max |Δ| %.3g > %g × peak %.3g", c.scale, c.norm, worst, tolMelRel, peak)
		}
	}
}
