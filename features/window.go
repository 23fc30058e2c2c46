package features

import (
	"fmt"
	"math"
)

// makeWindow returns the n-point window called name. "hann" and "hamming" are periodic
// (torch.hann_window default, scipy get_window(fftbins=True)); the "-symmetric" forms and
// "povey" (symmetric Hann to the power 0.85) are Kaldi's; "tukey" is scipy's periodic
// tukey(n, alpha), the default window of scipy.signal.spectrogram with alpha 0.25.
func makeWindow(name string, n int, alpha float64) ([]float64, error) {
	w := make([]float64, n)
	cosWin := func(a, b float64, denom int) {
		if denom == 0 {
			w[0] = 1
			return
		}
		for i := range w {
			w[i] = a - b*math.Cos(2*math.Pi*float64(i)/float64(denom))
		}
	}
	switch name {
	case "hann":
		cosWin(0.5, 0.5, n)
	case "hann-symmetric":
		cosWin(0.5, 0.5, n-1)
	case "hamming":
		cosWin(0.54, 0.46, n)
	case "hamming-symmetric":
		cosWin(0.54, 0.46, n-1)
	case "povey":
		cosWin(0.5, 0.5, n-1)
		for i, v := range w {
			w[i] = math.Pow(v, 0.85)
		}
	case "rectangular":
		for i := range w {
			w[i] = 1
		}
	case "tukey":
		if alpha < 0 || alpha > 1 {
			return nil, fmt.Errorf("window_alpha %g must be in [0,1] for tukey", alpha)
		}
		tukeyPeriodic(w, alpha)
	default:
		return nil, fmt.Errorf("window %q is not one of hann, hann-symmetric, hamming, hamming-symmetric, povey, tukey, rectangular", name)
	}
	return w, nil
}

// tukeyPeriodic fills w with scipy.signal.windows.tukey(len(w)+1, alpha, sym=True)[:-1].
func tukeyPeriodic(w []float64, alpha float64) {
	m := len(w) + 1
	if alpha <= 0 {
		for i := range w {
			w[i] = 1
		}
		return
	}
	if alpha >= 1 {
		for i := range w {
			w[i] = 0.5 - 0.5*math.Cos(2*math.Pi*float64(i)/float64(m-1))
		}
		return
	}
	width := int(math.Floor(alpha * float64(m-1) / 2))
	for i := range w {
		n := float64(i)
		switch {
		case i <= width:
			w[i] = 0.5 * (1 + math.Cos(math.Pi*(-1+2*n/alpha/float64(m-1))))
		case i >= m-width-1:
			w[i] = 0.5 * (1 + math.Cos(math.Pi*(-2/alpha+1+2*n/alpha/float64(m-1))))
		default:
			w[i] = 1
		}
	}
}
