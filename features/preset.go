package features

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// FeatureKind names the audio feature a Preset computes (Preset.Feature).
type FeatureKind string

// Feature kinds.
const (
	// FeatureLogMel is torchaudio.transforms.MelSpectrogram followed by log(x+LogOffset).
	FeatureLogMel FeatureKind = "logmel"
	// FeatureLogSTFT is log(|STFT|^Power + LogOffset), the STFT as librosa.stft / torch.stft compute it.
	FeatureLogSTFT FeatureKind = "logstft"
	// FeaturePSD is scipy.signal.spectrogram (mode "psd", scaling "density") followed by log(x+LogOffset).
	FeaturePSD FeatureKind = "psd"
	// FeatureFbank is torchaudio.compliance.kaldi.fbank: log Kaldi mel filterbank energies.
	FeatureFbank FeatureKind = "fbank"
)

// Fit is how a Preset brings a clip to its fixed duration (Preset.Fit).
type Fit string

// Fits.
const (
	// FitTileCenter repeats a short clip until it is long enough and takes the centred Seconds.
	FitTileCenter Fit = "tile-center"
	// FitTileHead repeats a short clip and takes the first Seconds (np.tile(x, k)[:n]).
	FitTileHead Fit = "tile-head"
	// FitTileRandom repeats a short clip and takes Seconds from a start drawn from the seed.
	FitTileRandom Fit = "tile-random"
	// FitNone keeps the whole clip; the feature is cropped or zero-padded to TimeFrames (AST).
	FitNone Fit = "none"
)

// Layout is the order a Preset stores the feature in (Preset.Layout).
type Layout string

// Output layouts.
const (
	// LayoutFreqTime stores the feature row-major as [frequency][time].
	LayoutFreqTime Layout = "freq-time"
	// LayoutTimeFreq stores the feature row-major as [time][frequency] (AST's fbank layout).
	LayoutTimeFreq Layout = "time-freq"
)

// Normalization is applied after the log (Preset.Norm).
type Normalization string

// Normalisations.
const (
	// NormNone leaves the log values as they are.
	NormNone Normalization = "none"
	// NormZScore is the per-clip (x-mean)/(std+NormEps), std with ddof 0 (PMR).
	NormZScore Normalization = "zscore"
	// NormAST is AST's dataset normalisation (x-NormMean)/(2·NormStd).
	NormAST Normalization = "ast"
)

// Preset is a complete, named feature recipe: how decoded audio becomes the audio column
// and how many video frames of which size go beside it. Every parameter is a JSON field so
// index.json records exactly what produced a shard. Build one with Lookup, adjust the
// override fields (Seconds via WithSeconds, Frames, FrameFPS, Width, Height) and call Validate.
type Preset struct {
	Name       string      `json:"name"`
	SampleRate int         `json:"sample_rate"` // Hz of the mono samples Extractor.Audio expects
	Feature    FeatureKind `json:"feature"`     // FeatureLogMel, FeatureLogSTFT, FeaturePSD or FeatureFbank
	Reference  string      `json:"reference"`   // the published recipe this preset reproduces

	// Duration handling.
	Seconds       float64 `json:"seconds"`        // fixed clip length (0 with FitNone)
	Fit           Fit     `json:"fit"`            // FitTileCenter, FitTileHead, FitTileRandom or FitNone
	ClipAmplitude bool    `json:"clip_amplitude"` // clip samples to [-1,1] before anything else
	SubtractMean  bool    `json:"subtract_mean"`  // subtract the waveform's mean (AST, before fbank)

	// Framing and spectrum.
	NFFT        int     `json:"n_fft"`        // FFT size (Kaldi: the padded window size)
	WinLength   int     `json:"win_length"`   // window length in samples (≤ NFFT)
	HopLength   int     `json:"hop_length"`   // frame shift in samples
	Window      string  `json:"window"`       // hann, hann-symmetric, hamming, hamming-symmetric, povey, tukey, rectangular
	WindowAlpha float64 `json:"window_alpha"` // tukey shape parameter (scipy's default 0.25)
	Center      bool    `json:"center"`       // pad NFFT/2 on both sides so frame t is centred on t·hop
	PadMode     string  `json:"pad_mode"`     // with Center: "reflect" (edge not repeated) or "constant" (zeros)
	RemoveDC    bool    `json:"remove_dc"`    // subtract each frame's mean (scipy detrend="constant", Kaldi remove_dc_offset)
	Preemphasis float64 `json:"preemphasis"`  // x[i] -= c·x[i-1] per frame, x[-1]=x[0] (Kaldi); 0 = off
	Power       float64 `json:"power"`        // 1: magnitude, 2: power spectrum

	// Mel filterbank (FeatureLogMel, FeatureFbank).
	NMels    int     `json:"n_mels"`
	FMin     float64 `json:"f_min"`     // Hz
	FMax     float64 `json:"f_max"`     // Hz; ≤ 0 means Nyquist + FMax (0 = Nyquist)
	MelScale string  `json:"mel_scale"` // "htk" or "slaney" (FeatureLogMel; Kaldi banks are always 1127·ln(1+f/700))
	MelNorm  string  `json:"mel_norm"`  // "" or "slaney" (area normalisation, FeatureLogMel)

	// Log and normalisation.
	LogOffset float64       `json:"log_offset"` // log(x+LogOffset)
	LogFloor  float64       `json:"log_floor"`  // log(max(x,LogFloor)) (Kaldi's epsilon); used when LogOffset is 0
	Norm      Normalization `json:"norm"`       // NormNone, NormZScore or NormAST
	NormMean  float64       `json:"norm_mean"`  // NormAST
	NormStd   float64       `json:"norm_std"`   // NormAST
	NormEps   float64       `json:"norm_eps"`   // NormZScore

	// Output.
	TimeFrames    int    `json:"time_frames"`     // frames in the output: fixed fits must give exactly this many (see Validate)
	DropLastFrame bool   `json:"drop_last_frame"` // drop the extra centred frame, 1+n/hop → n/hop (default: 301 → 300)
	Layout        Layout `json:"layout"`          // LayoutFreqTime or LayoutTimeFreq

	// Video frames (the features package stores them; package video selects and scales them).
	Frames   int     `json:"frames"`    // frames per clip
	FrameFPS float64 `json:"frame_fps"` // 0: uniform over the clip; >0: frame i at (i+0.5)/FrameFPS s
	Width    int     `json:"width"`
	Height   int     `json:"height"`
}

// maxFrameBytes bounds one clip's frames (Frames·Height·Width·3): the shard stores them in one
// fixed-size binary value, whose width Arrow holds in an int32.
const maxFrameBytes = math.MaxInt32

// float32 machine epsilon, Kaldi fbank's log floor in torchaudio.
const float32Eps = 1.1920928955078125e-07

// presets returns a fresh copy of every named preset.
func presets() map[string]Preset {
	logmel := func(name string, nMels int, seconds float64, frames, size int) Preset {
		return Preset{
			Name: name, SampleRate: 16000, Feature: FeatureLogMel,
			Reference: "torchaudio MelSpectrogram(n_fft=400, hop_length=160, n_mels, mel_scale=htk, power=2), log(x+1e-6)",
			Seconds:   seconds, Fit: FitTileCenter,
			NFFT: 400, WinLength: 400, HopLength: 160, Window: "hann", Center: true, PadMode: "reflect", Power: 2,
			NMels: nMels, MelScale: "htk", LogOffset: 1e-6, Norm: NormNone,
			TimeFrames: int(seconds * 100), DropLastFrame: true, Layout: LayoutFreqTime,
			Frames: frames, Width: size, Height: size,
		}
	}
	return map[string]Preset{
		"default": logmel("default", 128, 3, 3, 224),
		"tiny":    logmel("tiny", 40, 1, 3, 32),
		"ogmge-cremad": {
			Name: "ogmge-cremad", SampleRate: 22050, Feature: FeatureLogSTFT,
			Reference: "OGM-GE CREMA-D: np.tile(x,3)[:66150], librosa.stft(n_fft=512, hop_length=353) (librosa<0.10 pad_mode=reflect), log(|S|+1e-7)",
			Seconds:   3, Fit: FitTileHead,
			NFFT: 512, WinLength: 512, HopLength: 353, Window: "hann", Center: true, PadMode: "reflect", Power: 1,
			LogOffset: 1e-7, Norm: NormNone, TimeFrames: 188, Layout: LayoutFreqTime,
			Frames: 1, FrameFPS: 1, Width: 224, Height: 224,
		},
		"ogmge-vggsound": {
			Name: "ogmge-vggsound", SampleRate: 16000, Feature: FeatureLogSTFT,
			Reference: "OGM-GE VGGSound: tile, 5 s crop at a random start, librosa.stft(n_fft=256, hop_length=128) (pad_mode=reflect), log(|S|+1e-7)",
			Seconds:   5, Fit: FitTileRandom,
			NFFT: 256, WinLength: 256, HopLength: 128, Window: "hann", Center: true, PadMode: "reflect", Power: 1,
			LogOffset: 1e-7, Norm: NormNone, TimeFrames: 626, Layout: LayoutFreqTime,
			Frames: 3, Width: 224, Height: 224,
		},
		"pmr-cremad": {
			Name: "pmr-cremad", SampleRate: 16000, Feature: FeaturePSD,
			Reference: "PMR/DI-MML CREMA-D: np.tile(x,10)[:160000], clip to [-1,1], scipy.signal.spectrogram(nperseg=512, noverlap=353), log(x+1e-7), per-clip z-score",
			Seconds:   10, Fit: FitTileHead, ClipAmplitude: true,
			NFFT: 512, WinLength: 512, HopLength: 159, Window: "tukey", WindowAlpha: 0.25, RemoveDC: true, Power: 2,
			LogOffset: 1e-7, Norm: NormZScore, NormEps: 1e-9, TimeFrames: 1004, Layout: LayoutFreqTime,
			Frames: 3, Width: 224, Height: 224,
		},
		"fbank128": {
			Name: "fbank128", SampleRate: 16000, Feature: FeatureFbank,
			Reference: "AST: waveform - mean, torchaudio.compliance.kaldi.fbank(htk_compat=True, window_type=hanning, use_energy=False, num_mel_bins=128, dither=0, frame_shift=10), 1024 frames, (x+4.503877)/(2*5.141276)",
			Fit:       FitNone, SubtractMean: true,
			NFFT: 512, WinLength: 400, HopLength: 160, Window: "hann-symmetric", RemoveDC: true, Preemphasis: 0.97, Power: 2,
			NMels: 128, FMin: 20, FMax: 0, LogFloor: float32Eps,
			Norm: NormAST, NormMean: -4.503877, NormStd: 5.141276, TimeFrames: 1024, Layout: LayoutTimeFreq,
			Frames: 3, Width: 224, Height: 224,
		},
	}
}

// PresetNames lists the named presets in alphabetical order.
func PresetNames() []string {
	m := presets()
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Lookup returns the named preset; the error lists the known names.
func Lookup(name string) (Preset, error) {
	p, ok := presets()[name]
	if !ok {
		return Preset{}, fmt.Errorf("features: unknown preset %q (known: %s)", name, strings.Join(PresetNames(), ", "))
	}
	return p, nil
}

// WithSeconds returns p with a new fixed duration and the TimeFrames that duration gives
// (honouring DropLastFrame). With FitNone there is no fixed duration: WithSeconds sets
// TimeFrames to the number of frames s seconds give and leaves Seconds at 0.
func (p Preset) WithSeconds(s float64) Preset {
	if p.Fit == FitNone {
		p.TimeFrames = p.naturalFrames(int(math.Round(s * float64(p.SampleRate))))
		return p
	}
	p.Seconds = s
	p.TimeFrames = p.naturalFrames(p.windowSamples())
	if p.DropLastFrame {
		p.TimeFrames--
	}
	return p
}

// windowSamples is the fixed clip length in samples (0 with FitNone).
func (p Preset) windowSamples() int {
	return int(math.Round(p.Seconds * float64(p.SampleRate)))
}

// frameLen is the number of signal samples one frame reads: NFFT for STFT-style features,
// WinLength for Kaldi (which zero-pads the windowed frame to NFFT).
func (p Preset) frameLen() int {
	if p.Feature == FeatureFbank {
		return p.WinLength
	}
	return p.NFFT
}

// naturalFrames is the number of frames n samples give before cropping or padding.
func (p Preset) naturalFrames(n int) int {
	if p.Center {
		return 1 + n/p.HopLength
	}
	if n < p.frameLen() {
		return 0
	}
	return 1 + (n-p.frameLen())/p.HopLength
}

// bins is the number of frequency rows: mel bands, or NFFT/2+1 STFT bins.
func (p Preset) bins() int {
	if p.Feature == FeatureLogMel || p.Feature == FeatureFbank {
		return p.NMels
	}
	return p.NFFT/2 + 1
}

// AudioShape is the shape of one clip's audio feature, row-major: [bins, TimeFrames] for
// LayoutFreqTime, [TimeFrames, bins] for LayoutTimeFreq (e.g. [128 300] for "default").
func (p Preset) AudioShape() []int {
	if p.Layout == LayoutTimeFreq {
		return []int{p.TimeFrames, p.bins()}
	}
	return []int{p.bins(), p.TimeFrames}
}

// FrameShape is the shape of one clip's frames column: [Frames, Height, Width, 3] RGB24.
func (p Preset) FrameShape() []int {
	return []int{p.Frames, p.Height, p.Width, 3}
}

// Validate checks that the preset's parameters are consistent; the error says which field
// to change and to what.
func (p Preset) Validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("features: preset %q: "+format, append([]any{p.Name}, a...)...)
	}
	if p.SampleRate <= 0 {
		return bad("sample_rate %d must be positive", p.SampleRate)
	}
	switch p.Feature {
	case FeatureLogMel, FeatureLogSTFT, FeaturePSD, FeatureFbank:
	default:
		return bad("feature %q is not one of %s, %s, %s, %s", p.Feature, FeatureLogMel, FeatureLogSTFT, FeaturePSD, FeatureFbank)
	}
	if p.NFFT < 2 || p.WinLength < 1 || p.WinLength > p.NFFT {
		return bad("need 2 ≤ n_fft and 1 ≤ win_length ≤ n_fft (have n_fft %d, win_length %d)", p.NFFT, p.WinLength)
	}
	if p.Feature != FeatureFbank && p.WinLength != p.NFFT && p.Window == "tukey" {
		return bad("window tukey needs win_length = n_fft (have %d, %d)", p.WinLength, p.NFFT)
	}
	if p.HopLength < 1 {
		return bad("hop_length %d must be ≥ 1", p.HopLength)
	}
	if _, err := makeWindow(p.Window, p.WinLength, p.WindowAlpha); err != nil {
		return bad("%v", err)
	}
	if p.Center {
		if p.Feature == FeatureFbank || p.Feature == FeaturePSD {
			return bad("center must be false for feature %s (Kaldi and scipy frame from the first sample)", p.Feature)
		}
		if p.PadMode != "reflect" && p.PadMode != "constant" {
			return bad("pad_mode %q must be \"reflect\" or \"constant\" when center is true", p.PadMode)
		}
	}
	if p.Power != 1 && p.Power != 2 {
		return bad("power %g must be 1 (magnitude) or 2 (power)", p.Power)
	}
	if p.Feature == FeaturePSD && p.Power != 2 {
		return bad("feature psd is a power spectral density: set power to 2")
	}
	if p.Preemphasis < 0 || p.Preemphasis >= 1 {
		return bad("preemphasis %g must be in [0,1)", p.Preemphasis)
	}
	if p.Feature == FeatureLogMel || p.Feature == FeatureFbank {
		if err := p.validateMel(); err != nil {
			return bad("%v", err)
		}
	}
	if p.LogOffset < 0 || p.LogFloor < 0 || (p.LogOffset == 0 && p.LogFloor == 0) {
		return bad("set log_offset > 0 (log(x+offset)) or log_floor > 0 (log(max(x,floor))); have %g and %g", p.LogOffset, p.LogFloor)
	}
	switch p.Norm {
	case NormNone, "":
	case NormZScore:
		if p.NormEps <= 0 {
			return bad("norm zscore needs norm_eps > 0 (PMR uses 1e-9)")
		}
	case NormAST:
		if p.NormStd <= 0 {
			return bad("norm ast needs norm_std > 0 (AST: 5.141276)")
		}
	default:
		return bad("norm %q is not one of none, zscore, ast", p.Norm)
	}
	if p.Layout != LayoutFreqTime && p.Layout != LayoutTimeFreq {
		return bad("layout %q must be %q or %q", p.Layout, LayoutFreqTime, LayoutTimeFreq)
	}
	if err := p.validateDuration(); err != nil {
		return bad("%v", err)
	}
	if p.Frames < 1 {
		return bad("frames %d must be ≥ 1", p.Frames)
	}
	if p.FrameFPS < 0 || math.IsNaN(p.FrameFPS) || math.IsInf(p.FrameFPS, 0) {
		return bad("frame_fps %g must be 0 (uniform over the clip) or a positive rate", p.FrameFPS)
	}
	if p.Width < 1 || p.Height < 1 || p.Width > 8192 || p.Height > 8192 {
		return bad("frame size %dx%d must be between 1 and 8192 on each side", p.Width, p.Height)
	}
	if n := int64(p.Frames) * int64(p.Width) * int64(p.Height) * 3; n > maxFrameBytes {
		return bad("frames %d of %dx%d RGB are %d bytes per clip; a shard's frames column holds at most %d: use fewer or smaller frames", p.Frames, p.Width, p.Height, n, maxFrameBytes)
	}
	return nil
}

func (p Preset) validateMel() error {
	nyq := float64(p.SampleRate) / 2
	fmax := p.fmax()
	if p.NMels < 1 {
		return fmt.Errorf("n_mels %d must be ≥ 1", p.NMels)
	}
	if p.FMin < 0 || fmax <= p.FMin || fmax > nyq {
		return fmt.Errorf("need 0 ≤ f_min < f_max ≤ Nyquist %g Hz (have f_min %g, f_max %g → %g)", nyq, p.FMin, p.FMax, fmax)
	}
	if p.Feature == FeatureLogMel {
		if p.MelScale != "htk" && p.MelScale != "slaney" {
			return fmt.Errorf("mel_scale %q must be \"htk\" or \"slaney\"", p.MelScale)
		}
		if p.MelNorm != "" && p.MelNorm != "slaney" {
			return fmt.Errorf("mel_norm %q must be \"\" or \"slaney\"", p.MelNorm)
		}
	}
	return nil
}

// fmax resolves FMax ≤ 0 as an offset from Nyquist (Kaldi's high_freq convention).
func (p Preset) fmax() float64 {
	if p.FMax <= 0 {
		return float64(p.SampleRate)/2 + p.FMax
	}
	return p.FMax
}

func (p Preset) validateDuration() error {
	if p.Fit == FitNone && p.TimeFrames < 1 {
		return fmt.Errorf("time_frames %d must be ≥ 1", p.TimeFrames)
	}
	if p.DropLastFrame && (p.Fit == FitNone || !p.Center) {
		return fmt.Errorf("drop_last_frame applies to centred framing of a fixed-length clip: set it to false (or center true and a fit other than none)")
	}
	switch p.Fit {
	case FitNone:
		if p.Seconds != 0 {
			return fmt.Errorf("fit %q keeps the whole clip and crops/pads to time_frames: set seconds to 0 and choose time_frames (WithSeconds(%g) does that)", p.Fit, p.Seconds)
		}
		return nil
	case FitTileCenter, FitTileHead, FitTileRandom:
	default:
		return fmt.Errorf("fit %q is not one of %s, %s, %s, %s", p.Fit, FitTileCenter, FitTileHead, FitTileRandom, FitNone)
	}
	n := p.windowSamples()
	if !(p.Seconds > 0) || math.IsInf(p.Seconds, 0) || n < p.frameLen() || n > 3600*p.SampleRate {
		return fmt.Errorf("seconds %g must give at least one %d-sample frame and at most an hour", p.Seconds, p.frameLen())
	}
	if p.Center && p.PadMode == "reflect" && n <= p.NFFT/2 {
		return fmt.Errorf("seconds %g gives %d samples; reflect padding needs more than n_fft/2 = %d", p.Seconds, n, p.NFFT/2)
	}
	want := p.naturalFrames(n)
	if p.DropLastFrame {
		want--
	}
	if want < 1 {
		return fmt.Errorf("seconds %g gives %d samples, too few for one output frame", p.Seconds, n)
	}
	if p.TimeFrames != want {
		return fmt.Errorf("time_frames %d does not match seconds %g: %d samples give %d frames (drop_last_frame %v); set time_frames to %d, e.g. with WithSeconds(%g)",
			p.TimeFrames, p.Seconds, n, p.naturalFrames(n), p.DropLastFrame, want, p.Seconds)
	}
	return nil
}

// Overrides change a named preset's video frames and audio duration. A zero field keeps the
// preset's value; any other value replaces it and must be valid: a negative, NaN or infinite
// value is an error, never ignored.
type Overrides struct {
	Frames  int     `json:"frames,omitempty"`  // video frames per clip
	Size    int     `json:"size,omitempty"`    // frame width and height in pixels
	Seconds float64 `json:"seconds,omitempty"` // audio duration (see WithSeconds)
}

// LookupWith returns the named preset with o applied, validated.
func LookupWith(name string, o Overrides) (Preset, error) {
	p, err := Lookup(name)
	if err != nil {
		return p, err
	}
	if o.Frames != 0 {
		p.Frames = o.Frames
	}
	if o.Size != 0 {
		p.Width, p.Height = o.Size, o.Size
	}
	if o.Seconds != 0 {
		if !(o.Seconds > 0) || math.IsInf(o.Seconds, 0) {
			return p, fmt.Errorf("features: preset %q: seconds %g must be a finite number > 0", p.Name, o.Seconds)
		}
		p = p.WithSeconds(o.Seconds)
	}
	if err := p.Validate(); err != nil {
		return p, err // Validate's error names the preset already
	}
	return p, nil
}
