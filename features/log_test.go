package features

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestLogToMatchesMathLog checks logTo against math.Log over many decades, at the interval
// edges of its table, and on the arguments it hands to math.Log.
func TestLogToMatchesMathLog(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	xs := []float64{1, 2, 0.5, math.Nextafter(1, 0), math.Nextafter(1, 2), 1e-7, 1e-300,
		math.MaxFloat64, 0x1p-1022, 0x1p-1030, 0, math.Inf(1), math.NaN()}
	for j := 0; j <= 1<<lnTableBits; j++ {
		c := 1 + float64(j)/(1<<lnTableBits)
		xs = append(xs, c, math.Nextafter(c, 0), math.Nextafter(c, 2))
	}
	for i := 0; i < 200000; i++ {
		xs = append(xs, math.Exp(rng.Float64()*100-70))
	}
	got := make([]float64, len(xs))
	logTo(got, xs, 0, 0)
	for i, x := range xs {
		want := math.Log(x)
		if math.IsNaN(want) || math.IsInf(want, 0) {
			if got[i] != want && !(math.IsNaN(got[i]) && math.IsNaN(want)) {
				t.Errorf("ln(%v) = %v, want %v", x, got[i], want)
			}
			continue
		}
		if d := math.Abs(got[i] - want); d > 1e-15*math.Max(1, math.Abs(want)) {
			t.Errorf("ln(%v) = %v, math.Log %v (|Δ| %.3g)", x, got[i], want, d)
		}
	}
	// offset and floor
	logTo(got[:3], []float64{0, 1, 2}, 1e-6, 0)
	logTo(got[3:6], []float64{0, 1e-12, 2}, 0, 1e-10)
	for i, want := range []float64{math.Log(1e-6), math.Log(1 + 1e-6), math.Log(2 + 1e-6), math.Log(1e-10), math.Log(1e-10), math.Log(2)} {
		if math.Abs(got[i]-want) > 1e-15*math.Max(1, math.Abs(want)) {
			t.Errorf("case %d: %v, want %v", i, got[i], want)
		}
	}
}

// BenchmarkLog compares logTo with math.Log on one frame's 128 mel energies.
func BenchmarkLog(b *testing.B) {
	src := make([]float64, 128)
	for i := range src {
		src[i] = math.Exp(float64(i%40) - 20)
	}
	dst := make([]float64, 128)
	b.Run("logTo", func(b *testing.B) {
		for b.Loop() {
			logTo(dst, src, 1e-6, 0)
		}
	})
	b.Run("math.Log", func(b *testing.B) {
		for b.Loop() {
			for i, v := range src {
				dst[i] = math.Log(v + 1e-6)
			}
		}
	})
}
