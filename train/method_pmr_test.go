package train

import (
	"fmt"
	"math"
	"testing"
)

// sampleInputs is a fixed 6-row prototype sample (pmr_reference.py's
// sample_inputs).
func sampleInputs(phase float64, labels []int) inputs {
	rows := len(labels)
	a := make([]float64, rows*gcAudio[0]*gcAudio[1])
	for j := range a {
		a[j] = math.Sin(0.9*float64(j)+0.7+phase) + 0.4*math.Cos(0.017*float64(j*j%83))
	}
	f := make([]float64, rows*gcFrame[0]*3*gcFrame[1]*gcFrame[2])
	for j := range f {
		f[j] = math.Cos(1.3*float64(j)+0.2+phase) + 0.25*math.Sin(0.019*float64(j*j%79))
	}
	return inputs{audio: a, frames: f, labels: labels, n: rows}
}

// TestPMRMatchesPyTorch compares PMR's prototypes (class means of a sample,
// mixed by the momentum), the batch's scores and coefficients, the loss
// and its gradient with testdata/pmr_reference.py (PyTorch, float64).
func TestPMRMatchesPyTorch(t *testing.T) {
	var ref struct {
		Alpha        float64 `json:"alpha"`
		Momentum     float64 `json:"momentum"`
		SampleLabels []int   `json:"sample_labels"`
		Cases        []struct {
			Head   Head         `json:"head"`
			Labels []int        `json:"labels"`
			Proto  [2][]float64 `json:"proto"`
			First  [2][]float64 `json:"first"`
			Score  [2]float64   `json:"score"`
			Coef   [2]float64   `json:"coef"`
			Loss   float64      `json:"loss"`
			Grads  refGrads     `json:"grads"`
		} `json:"cases"`
	}
	readFixture(t, "pmr_ref.json", &ref)
	slower := [2]bool{}
	for _, rc := range ref.Cases {
		name := fmt.Sprintf("%s/%v", rc.Head, rc.Labels)
		meth := &pmr{cfg: PMRConfig{Alpha: ref.Alpha, Momentum: ref.Momentum, End: -1}, on: true}
		n := fixtureNet(t, ModePMR, rc.Head, meth, rc.Labels, 1)
		en, err := buildNet(n.m, len(ref.SampleLabels), nil, netOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for computed, phase := range []float64{0, 2} {
			if err := en.feed(sampleInputs(phase, ref.SampleLabels)); err != nil {
				t.Fatal(err)
			}
			if err := en.run(); err != nil {
				t.Fatal(err)
			}
			for mm := range meth.proto {
				emb := values64(en.emb[mm])
				sum, all := make([]float64, gcClasses*gcEmbed), make([]float64, gcEmbed)
				count := make([]int, gcClasses)
				for i, y := range ref.SampleLabels {
					count[y]++
					for j := 0; j < gcEmbed; j++ {
						sum[y*gcEmbed+j] += emb[i*gcEmbed+j]
						all[j] += emb[i*gcEmbed+j]
					}
				}
				// the second computation is mixed as from the third on
				meth.proto[mm] = updatePrototypes(meth.proto[mm], sum, all, count, len(ref.SampleLabels), 2*computed, ref.Momentum)
			}
			if computed == 0 {
				for mm := range meth.proto {
					for j, v := range rc.First[mm] {
						checkClose(t, name+" first prototypes", j, meth.proto[mm][j], v, 1e-10, 1e-12)
					}
				}
			}
		}
		for mm := range meth.proto {
			for j, v := range rc.Proto[mm] {
				checkClose(t, name+" prototypes", j, meth.proto[mm][j], v, 1e-10, 1e-12)
			}
		}
		if err := meth.BeforeStep(&Step{n: n}); err != nil {
			t.Fatal(err)
		}
		grads, _ := fixtureGrads(t, n)
		for mm := range meth.score {
			// the reference sums over the batch, PMR's graph averages
			checkClose(t, name+" score", mm, values64(meth.score[mm])[0]*gcBatch, rc.Score[mm], 1e-10, 1e-12)
			if got := values64(meth.coef[mm])[0]; got != rc.Coef[mm] {
				t.Errorf("%s: coefficient %d is %g, PyTorch %g", name, mm, got, rc.Coef[mm])
			}
			if rc.Coef[mm] > 0 {
				slower[mm] = true
			}
		}
		checkClose(t, name+" loss", 0, values64(n.loss)[0], rc.Loss, 1e-10, 1e-12)
		checkGrads(t, name, n, grads, rc.Grads, 1e-8)
	}
	if !slower[0] || !slower[1] {
		t.Errorf("pmr_ref.json should have cases with either modality slower, has %v", slower)
	}
}

// TestPMRPrototypeGaps: a class absent from the sample keeps its previous
// prototype, or at the first computation the sample's mean.
func TestPMRPrototypeGaps(t *testing.T) {
	sum, all, count := []float64{2, 4, 0, 0}, []float64{2, 4}, []int{2, 0}
	got := updatePrototypes(nil, sum, all, count, 2, 0, 0.5)
	if want := []float64{1, 2, 1, 2}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("first computation: %v, want %v", got, want)
	}
	got = updatePrototypes([]float64{3, 3, 7, 9}, sum, all, count, 2, 1, 0.5)
	if want := []float64{1, 2, 7, 9}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("second computation (no momentum yet): %v, want %v", got, want)
	}
	got = updatePrototypes([]float64{3, 3, 7, 9}, sum, all, count, 2, 2, 0.5)
	if want := []float64{2, 2.5, 7, 9}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("third computation (momentum 0.5): %v, want %v", got, want)
	}
}
