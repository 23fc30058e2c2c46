package features

import (
	"math"
	"math/bits"
	"math/cmplx"
	"math/rand/v2"
	"strconv"
	"testing"

	"gonum.org/v1/gonum/dsp/fourier"

	"github.com/avbalance/avbalance/internal/testmedia"
)

// fftSizes are the lengths the plan is checked at: the presets' 256, 400 and 512, other
// mixed-radix lengths, odd lengths, and lengths with primes beyond 5 (7, 11, 13, 101).
var fftSizes = []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 15, 20, 22, 25, 26, 30, 49, 77, 100, 101, 125,
	200, 202, 243, 256, 400, 401, 441, 480, 512, 1000, 1001, 1024, 2048, 4096}

// maxRelDiff is max_k |got[k]-want[k]| / max_k |want[k]|.
func maxRelDiff(got, want []complex128) float64 {
	var d, peak float64
	for k := range want {
		d = math.Max(d, cmplx.Abs(got[k]-want[k]))
		peak = math.Max(peak, cmplx.Abs(want[k]))
	}
	return d / peak
}

// TestFFTPlanMatchesGonum checks our complex FFT against gonum's fourier.CmplxFFT.
func TestFFTPlanMatchesGonum(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range fftSizes {
		x := make([]complex128, n)
		for i := range x {
			x[i] = complex(rng.NormFloat64(), rng.NormFloat64())
		}
		want := fourier.NewCmplxFFT(n).Coefficients(nil, x)
		pl := newFFTPlan(n)
		for rep := 0; rep < 2; rep++ { // a plan is reusable: the second call must agree too
			buf := append([]complex128(nil), x...)
			got := pl.transform(buf)
			if d := maxRelDiff(got, want); !(d <= 1e-9) {
				t.Errorf("n=%d (radices %v): max relative difference %.3g from fourier.CmplxFFT", n, fftFactors(n), d)
			}
		}
	}
}

// TestFFTRadixOrders runs each pass kernel both as the first pass (its stride-1 loop, where
// it has one) and as a later one, with gonum's fourier.CmplxFFT as the reference.
func TestFFTRadixOrders(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, radices := range [][]int{{2, 4, 3, 5, 7}, {3, 2, 4}, {5, 2}, {7, 4, 2}, {4, 2, 5, 5}, {5, 5, 2, 4},
		{2, 2, 2}, {3, 3, 11}, {11, 3, 3}, {13, 4}} {
		n := 1
		for _, r := range radices {
			n *= r
		}
		x := make([]complex128, n)
		for i := range x {
			x[i] = complex(rng.NormFloat64(), rng.NormFloat64())
		}
		want := fourier.NewCmplxFFT(n).Coefficients(nil, x)
		got := newFFTPlanRadices(n, radices).transform(append([]complex128(nil), x...))
		if d := maxRelDiff(got, want); !(d <= 1e-9) {
			t.Errorf("n=%d radices %v: max relative difference %.3g from fourier.CmplxFFT", n, radices, d)
		}
	}
}

// TestRealFFTMatchesGonum checks the real FFT (even n packed into n/2 complex samples, odd n
// through the complex plan of n) against gonum's fourier.FFT.
func TestRealFFTMatchesGonum(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, n := range fftSizes {
		x := make([]float64, n)
		for i := range x {
			x[i] = rng.NormFloat64() + 0.1*float64(i%5)
		}
		want := fourier.NewFFT(n).Coefficients(nil, x)
		r := newRealFFT(n)
		got := make([]complex128, n/2+1)
		for rep := 0; rep < 2; rep++ {
			r.coefficients(got, x, nil)
			if d := maxRelDiff(got, want); !(d <= 1e-9) {
				t.Errorf("n=%d: max relative difference %.3g from fourier.FFT", n, d)
			}
		}
	}
}

// TestRealFFTWindowPads checks the window and zero padding of coefficients(dst, x, w) with
// len(x) < n (Kaldi's 400-sample frame in a 512-point FFT), odd len(x) and odd n included.
func TestRealFFTWindowPads(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, c := range [][2]int{{512, 400}, {512, 401}, {400, 400}, {15, 10}, {15, 15}, {30, 7}} {
		n, l := c[0], c[1]
		x, w := make([]float64, l), make([]float64, l)
		padded := make([]float64, n)
		for i := range x {
			x[i], w[i] = rng.NormFloat64(), rng.Float64()
			padded[i] = x[i] * w[i]
		}
		want := fourier.NewFFT(n).Coefficients(nil, padded)
		got := make([]complex128, n/2+1)
		r := newRealFFT(n)
		stale := make([]float64, n)
		for i := range stale {
			stale[i] = rng.NormFloat64()
		}
		r.coefficients(got, stale, nil) // a previous frame's samples must not leak into the padding
		r.coefficients(got, x, w)
		if d := maxRelDiff(got, want); !(d <= 1e-9) {
			t.Errorf("n=%d, %d windowed samples: max relative difference %.3g", n, l, d)
		}
	}
}

func TestFFTAllocatesNothing(t *testing.T) {
	for _, n := range []int{400, 512, 1001} {
		r := newRealFFT(n)
		x := make([]float64, n)
		dst := make([]complex128, n/2+1)
		if a := testing.AllocsPerRun(5, func() { r.coefficients(dst, x, nil) }); a != 0 {
			t.Errorf("n=%d: %v allocations per transform", n, a)
		}
	}
}

func TestFFTFactors(t *testing.T) {
	for _, n := range []int{1, 2, 200, 256, 1001, 2 * 3 * 5 * 7 * 11 * 13, 97 * 89} {
		p := 1
		for _, f := range fftFactors(n) {
			p *= f
		}
		if p != n {
			t.Errorf("fftFactors(%d) = %v", n, fftFactors(n))
		}
	}
}

// BenchmarkRealFFT times one real FFT at the presets' sizes: ours, gonum's fourier.FFT (the
// general real FFT, which the extractor used for 400), and for powers of two gonum's in-place
// radix-4/radix-2 transform of the n/2 packed samples without the final split (what the
// extractor used for 256 and 512; a lower bound for that path). cpu-ns/op is process CPU time.
func BenchmarkRealFFT(b *testing.B) {
	for _, n := range []int{256, 400, 512} {
		x := make([]float64, n)
		for i := range x {
			x[i] = math.Sin(float64(i*i) * 0.01)
		}
		dst := make([]complex128, n/2+1)
		run := func(name string, f func()) {
			b.Run(name+"/"+strconv.Itoa(n), func(b *testing.B) {
				c0 := int64(testmedia.CPUTime())
				for b.Loop() {
					f()
				}
				b.ReportMetric(float64(int64(testmedia.CPUTime())-c0)/float64(b.N), "cpu-ns/op")
			})
		}
		r := newRealFFT(n)
		run("ours", func() { r.coefficients(dst, x, nil) })
		g := fourier.NewFFT(n)
		run("gonum", func() { g.Coefficients(dst, x) })
		if n&(n-1) == 0 {
			z := make([]complex128, n/2)
			radix4 := bits.TrailingZeros(uint(n/2))%2 == 0
			run("gonum-radix", func() {
				for i := range z {
					z[i] = complex(x[2*i], x[2*i+1])
				}
				if radix4 {
					fourier.CoefficientsRadix4(z)
				} else {
					fourier.CoefficientsRadix2(z)
				}
			})
		}
	}
}
