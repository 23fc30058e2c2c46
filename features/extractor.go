package features

import (
	"fmt"
	"math"
)

// Extractor computes one preset's audio feature. It owns the FFT plan, the window, the
// filterbank and every scratch buffer, so a worker builds one and reuses it for each clip;
// Audio then allocates only the slice it returns. An Extractor is not safe for concurrent use.
type Extractor struct {
	p   Preset
	err error // the preset's Validate error, returned by every Audio call

	fft      *realFFT
	win      []float64 // frameLen samples, the window placed as the reference library places it
	frameLen int       // samples read per frame
	pad      int       // samples of centre padding on each side
	mel      *melBank  // nil for log|STFT| and PSD
	psdScale float64   // scipy density scaling 1/(fs·Σw²)

	sig   []float64 // fitted (and padded) signal
	frame []float64 // frameLen: a frame with the DC or pre-emphasis removed
	coef  []complex128
	spec  []float64 // NFFT/2+1
	bands []float64 // NMels
	vals  []float64 // TimeFrames × bins, time-major
}

// NewExtractor builds the FFT plan, window, filterbank and scratch for p. If p is invalid
// the Extractor's Audio returns p.Validate's error; call Validate first to fail early.
func NewExtractor(p Preset) *Extractor {
	e := &Extractor{p: p}
	if e.err = p.Validate(); e.err != nil {
		return e
	}
	e.frameLen = p.frameLen()
	win, _ := makeWindow(p.Window, p.WinLength, p.WindowAlpha)
	if p.Feature == FeatureFbank {
		e.win = win // Kaldi windows the WinLength samples, then zero-pads to NFFT
	} else {
		e.win = make([]float64, p.NFFT) // torch.stft centres a short window inside n_fft
		copy(e.win[(p.NFFT-p.WinLength)/2:], win)
	}
	if p.Center {
		e.pad = p.NFFT / 2
	}
	e.fft = newRealFFT(p.NFFT)
	nBins := p.NFFT/2 + 1
	switch p.Feature {
	case FeatureLogMel:
		e.mel = torchaudioMel(nBins, p.FMin, p.fmax(), p.NMels, p.SampleRate, p.MelNorm, p.MelScale)
	case FeatureFbank:
		e.mel = kaldiMel(p.NMels, p.NFFT, p.SampleRate, p.FMin, p.fmax())
	case FeaturePSD:
		var ss float64
		for _, v := range e.win {
			ss += v * v
		}
		e.psdScale = 1 / (float64(p.SampleRate) * ss)
	}
	e.frame = make([]float64, e.frameLen)
	e.coef = make([]complex128, nBins)
	e.spec = make([]float64, nBins)
	e.bands = make([]float64, p.NMels)
	e.vals = make([]float64, p.TimeFrames*p.bins())
	if p.Fit != FitNone {
		e.sig = make([]float64, p.windowSamples()+2*e.pad)
	}
	return e
}

// Preset returns the preset the Extractor computes.
func (e *Extractor) Preset() Preset { return e.p }

// Audio computes the feature of mono samples at the preset's SampleRate and returns a new
// slice of prod(AudioShape()) values in the preset's Layout. seed chooses the crop start of
// FitTileRandom presets (the same seed gives the same crop); other presets ignore it.
// It fails on empty input, on NaN or Inf samples, and on clips too short for one frame (FitNone).
func (e *Extractor) Audio(samples []float32, seed uint64) ([]float32, error) {
	if e.err != nil {
		return nil, e.err
	}
	p := e.p
	if len(samples) == 0 {
		return nil, fmt.Errorf("features %s: no audio samples", p.Name)
	}
	start := 0
	if p.Fit == FitTileRandom {
		n := p.windowSamples()
		tiled := (n + len(samples) - 1) / len(samples) * len(samples) // np.tile until at least n samples
		start = int(splitmix64(seed) % uint64(tiled-n+1))
	}
	return e.extract(samples, start)
}

// extract computes the feature; start is the crop start within the tiled clip for FitTileRandom.
func (e *Extractor) extract(samples []float32, start int) ([]float32, error) {
	p := e.p
	n, err := e.fit(samples, start)
	if err != nil {
		return nil, err
	}
	bins := p.bins()
	frames := min(p.naturalFrames(n), p.TimeFrames)
	if frames < 1 {
		return nil, fmt.Errorf("features %s: clip of %d samples is shorter than one %d-sample frame", p.Name, len(samples), e.frameLen)
	}
	for t := 0; t < frames; t++ {
		e.frameSpectrum(e.sig[t*p.HopLength : t*p.HopLength+e.frameLen])
		row := e.vals[t*bins : (t+1)*bins]
		src := e.spec
		if e.mel != nil {
			e.mel.apply(e.bands, e.spec)
			src = e.bands
		}
		if p.LogOffset > 0 {
			logTo(row, src[:bins], p.LogOffset, 0)
		} else {
			logTo(row, src[:bins], 0, p.LogFloor)
		}
	}
	clear(e.vals[frames*bins:]) // AST zero-pads the log fbank before normalising
	e.normalize()
	return e.output(), nil
}

// fit writes the samples the frames read into e.sig (with centre padding) and returns the
// number of signal samples, excluding padding. start is FitTileRandom's crop start.
func (e *Extractor) fit(samples []float32, start int) (int, error) {
	p := e.p
	for i, v := range samples {
		if v-v != 0 { // NaN or ±Inf
			return 0, fmt.Errorf("features %s: sample %d is %v", p.Name, i, v)
		}
	}
	var mean float64
	if p.SubtractMean {
		for _, v := range samples {
			f := float64(v)
			if p.ClipAmplitude {
				f = math.Max(-1, math.Min(1, f))
			}
			mean += f
		}
		mean /= float64(len(samples))
	}
	src := len(samples)
	var n int
	switch p.Fit {
	case FitNone:
		n = src
		need := n + 2*e.pad
		if cap(e.sig) < need {
			e.sig = make([]float64, need)
		}
		e.sig = e.sig[:need]
	case FitTileCenter:
		n = p.windowSamples()
		if src > n {
			start = (src - n) / 2
		}
	case FitTileHead:
		n = p.windowSamples()
		start = 0
	case FitTileRandom:
		n = p.windowSamples()
	}
	body := e.sig[e.pad : e.pad+n]
	j := start % src
	for i := range body {
		f := float64(samples[j])
		if p.ClipAmplitude {
			f = math.Max(-1, math.Min(1, f))
		}
		body[i] = f - mean
		if j++; j == src {
			j = 0
		}
	}
	if e.pad > 0 {
		if p.PadMode == "reflect" {
			for i := 1; i <= e.pad; i++ {
				e.sig[e.pad-i] = body[min(i, n-1)]
				e.sig[e.pad+n-1+i] = body[max(n-1-i, 0)]
			}
		} else {
			clear(e.sig[:e.pad])
			clear(e.sig[e.pad+n:])
		}
	}
	return n, nil
}

// frameSpectrum fills e.spec with the power (or magnitude, or PSD) spectrum of one frame.
func (e *Extractor) frameSpectrum(x []float64) {
	p := e.p
	if p.RemoveDC || p.Preemphasis != 0 {
		f := e.frame[:len(x)]
		copy(f, x)
		if p.RemoveDC {
			var m float64
			for _, v := range f {
				m += v
			}
			m /= float64(len(f))
			for i := range f {
				f[i] -= m
			}
		}
		if c := p.Preemphasis; c != 0 {
			for i := len(f) - 1; i > 0; i-- {
				f[i] -= c * f[i-1]
			}
			f[0] -= c * f[0]
		}
		x = f
	}
	e.fft.coefficients(e.coef, x, e.win) // windows and zero-pads to NFFT
	if p.Power == 2 {
		for k, c := range e.coef {
			e.spec[k] = real(c)*real(c) + imag(c)*imag(c)
		}
	} else {
		for k, c := range e.coef {
			e.spec[k] = math.Sqrt(real(c)*real(c) + imag(c)*imag(c))
		}
	}
	if p.Feature == FeaturePSD {
		last := len(e.spec) - 1
		if p.NFFT%2 == 1 {
			last++ // odd n_fft has no Nyquist bin: scipy doubles every non-DC bin
		}
		for k := range e.spec {
			e.spec[k] *= e.psdScale
			if k > 0 && k < last {
				e.spec[k] *= 2
			}
		}
	}
}

// normalize applies the preset's normalisation to e.vals in place.
func (e *Extractor) normalize() {
	p := e.p
	switch p.Norm {
	case NormZScore:
		var s float64
		for _, v := range e.vals {
			s += v
		}
		mean := s / float64(len(e.vals))
		var ss float64
		for _, v := range e.vals {
			ss += (v - mean) * (v - mean)
		}
		inv := 1 / (math.Sqrt(ss/float64(len(e.vals))) + p.NormEps)
		for i, v := range e.vals {
			e.vals[i] = (v - mean) * inv
		}
	case NormAST:
		inv := 1 / (2 * p.NormStd)
		for i, v := range e.vals {
			e.vals[i] = (v - p.NormMean) * inv
		}
	}
}

// output converts e.vals (time-major) to a new float32 slice in the preset's layout.
func (e *Extractor) output() []float32 {
	bins, T := e.p.bins(), e.p.TimeFrames
	out := make([]float32, len(e.vals))
	if e.p.Layout == LayoutTimeFreq {
		for i, v := range e.vals {
			out[i] = float32(v)
		}
		return out
	}
	for t := 0; t < T; t++ {
		row := e.vals[t*bins : (t+1)*bins]
		for f, v := range row {
			out[f*T+t] = float32(v)
		}
	}
	return out
}

// splitmix64 maps a seed to a well-mixed 64-bit value (Steele, Lea & Flood 2014).
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}
