package features

import "math"

// melBank is a triangular filterbank stored sparsely: band m weighs spectrum bins
// lo[m] .. lo[m]+len(w[m])-1, the contiguous range where its triangle is non-zero.
type melBank struct {
	lo []int
	w  [][]float64
}

// apply writes the band energies of spec to out.
func (b *melBank) apply(out, spec []float64) {
	for m, w := range b.w {
		s := spec[b.lo[m] : b.lo[m]+len(w)]
		var acc float64
		for i, v := range w {
			acc += v * s[i]
		}
		out[m] = acc
	}
}

// sparse builds a melBank from a dense weight function over nBins bins.
func sparse(nMels, nBins int, weight func(m, k int) float64) *melBank {
	b := &melBank{lo: make([]int, nMels), w: make([][]float64, nMels)}
	for m := 0; m < nMels; m++ {
		lo, hi := -1, -1
		for k := 0; k < nBins; k++ {
			if weight(m, k) != 0 {
				if lo < 0 {
					lo = k
				}
				hi = k
			}
		}
		if lo < 0 { // an empty band (too many mels for n_fft): sums nothing, as torchaudio's zero column
			b.lo[m], b.w[m] = 0, nil
			continue
		}
		b.lo[m] = lo
		b.w[m] = make([]float64, hi-lo+1)
		for k := lo; k <= hi; k++ {
			b.w[m][k-lo] = weight(m, k)
		}
	}
	return b
}

func hzToMel(f float64, scale string) float64 {
	if scale == "htk" {
		return 2595 * math.Log10(1+f/700)
	}
	const fSp, minLogHz = 200.0 / 3, 1000.0
	minLogMel := minLogHz / fSp
	logstep := math.Log(6.4) / 27
	if f >= minLogHz {
		return minLogMel + math.Log(f/minLogHz)/logstep
	}
	return f / fSp
}

func melToHz(m float64, scale string) float64 {
	if scale == "htk" {
		return 700 * (math.Pow(10, m/2595) - 1)
	}
	const fSp, minLogHz = 200.0 / 3, 1000.0
	minLogMel := minLogHz / fSp
	logstep := math.Log(6.4) / 27
	if m >= minLogMel {
		return minLogHz * math.Exp(logstep*(m-minLogMel))
	}
	return fSp * m
}

// torchaudioMel is torchaudio.functional.melscale_fbanks(n_freqs, f_min, f_max, n_mels,
// sample_rate, norm, mel_scale), transposed to [mel][bin] and stored sparsely.
func torchaudioMel(nFreqs int, fMin, fMax float64, nMels, sampleRate int, norm, scale string) *melBank {
	allFreqs := make([]float64, nFreqs) // torch.linspace(0, sample_rate // 2, n_freqs)
	for k := range allFreqs {
		if nFreqs > 1 {
			allFreqs[k] = float64(sampleRate/2) * float64(k) / float64(nFreqs-1)
		}
	}
	mMin, mMax := hzToMel(fMin, scale), hzToMel(fMax, scale)
	fPts := make([]float64, nMels+2)
	for i := range fPts {
		fPts[i] = melToHz(mMin+(mMax-mMin)*float64(i)/float64(nMels+1), scale)
	}
	return sparse(nMels, nFreqs, func(m, k int) float64 {
		down := (fPts[m] - allFreqs[k]) * -1 / (fPts[m+1] - fPts[m])
		up := (fPts[m+2] - allFreqs[k]) / (fPts[m+2] - fPts[m+1])
		v := math.Max(0, math.Min(down, up))
		if norm == "slaney" {
			v *= 2 / (fPts[m+2] - fPts[m])
		}
		return v
	})
}

// kaldiMel is torchaudio.compliance.kaldi.get_mel_banks(num_bins, padded_window, sample_freq,
// low_freq, high_freq) without VTLN warping, over NFFT/2+1 bins (the Nyquist bin weighs 0).
func kaldiMel(nMels, nfft, sampleRate int, lowFreq, highFreq float64) *melBank {
	mel := func(f float64) float64 { return 1127 * math.Log(1+f/700) }
	binWidth := float64(sampleRate) / float64(nfft)
	mLow, mHigh := mel(lowFreq), mel(highFreq)
	delta := (mHigh - mLow) / float64(nMels+1)
	nBins := nfft / 2 // Kaldi's banks cover bins 0..nfft/2-1
	return sparse(nMels, nBins, func(m, k int) float64 {
		left := mLow + float64(m)*delta
		center := mLow + float64(m+1)*delta
		right := mLow + float64(m+2)*delta
		x := mel(binWidth * float64(k))
		up := (x - left) / (center - left)
		down := (right - x) / (right - center)
		return math.Max(0, math.Min(up, down))
	})
}
