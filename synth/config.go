package synth

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"strconv"

	"github.com/avbalance/avbalance/ingest"
)

// Config says what to generate. Zero values of the plain fields mean the documented default;
// a zero Cues means DefaultCues().
type Config struct {
	Out        string      `json:"-"`           // output folder (created); clips go to Out/clips, manifest.csv and synth.json to Out
	Clips      int         `json:"clips"`       // number of clips; default 360
	Seed       ingest.Seed `json:"seed"`        // seeds labels, splits and every clip's signals; 0 is a valid seed
	Classes    int         `json:"classes"`     // number of classes, even (= 2 × pairs); default 6
	Seconds    float64     `json:"seconds"`     // clip length; default 2
	Width      int         `json:"width"`       // frame width in pixels, even; default 112
	Height     int         `json:"height"`      // frame height in pixels, even; default 112
	FPS        int         `json:"fps"`         // video frame rate; default 12
	SampleRate int         `json:"sample_rate"` // audio rate in Hz (mono); default 16000
	ValFrac    float64     `json:"val_frac"`    // share of each class in "val"; with TestFrac both 0 → 0.15 each
	TestFrac   float64     `json:"test_frac"`   // share of each class in "test"; the rest is "train"
	Workers    int         `json:"-"`           // concurrent clips (one encoder thread each); default GOMAXPROCS
	VideoCodec string      `json:"video_codec"` // encoder name; "" → libx264 if available, else mpeg4
	CRF        int         `json:"crf"`         // libx264 constant rate factor (mpeg4: qscale = CRF/6+1); default 20
	Cues       Cues        `json:"cues"`        // how each modality carries the class
}

// Cues are the knobs of the class design (see the package doc). Audio tells the pair
// (class/2) through a tone; video tells the whole class through the orientation of a faint
// grating, with the two members of a pair 90° apart and pairs only PairSpread·90°/P apart.
type Cues struct {
	ToneLowHz  float64 `json:"tone_low_hz"`  // tone of pair 0; default 300
	ToneHighHz float64 `json:"tone_high_hz"` // tone of the last pair (pairs are log-spaced between); default 2400
	ToneJitter float64 `json:"tone_jitter"`  // relative random detune per clip (±); default 0.03
	ToneAmpMin float64 `json:"tone_amp_min"` // tone peak amplitude is uniform in [min,max]; default 0.15
	ToneAmpMax float64 `json:"tone_amp_max"` // default 0.4
	AudioSNRdB float64 `json:"audio_snr_db"` // tone power over white-noise power; default 0 dB
	// MemberTone, when > 1, makes the audio tell the whole class: member b of a pair plays its
	// pair's tone times MemberTone (e.g. 1.25, a major third). 0 (the default): the audio tells
	// only the pair.
	MemberTone float64 `json:"member_tone,omitempty"`

	VideoNoise     float64 `json:"video_noise"`      // std of per-pixel, per-frame luminance noise (pixel range 0..1); default 0.08
	CueContrast    float64 `json:"cue_contrast"`     // grating amplitude (0..1 luminance); must be > 0; default 0.25
	PatchSize      float64 `json:"patch_size"`       // grating patch diameter / min(W,H); must be > 0; default 0.5
	StripePeriod   float64 `json:"stripe_period"`    // grating period / min(W,H); must be > 0; default 0.12
	OrientJitter   float64 `json:"orient_jitter"`    // random orientation offset per clip, degrees (±); default 3
	PairSpread     float64 `json:"pair_spread"`      // 0: video has no pair information; 1: all classes evenly spread over 180°; default 0.6
	Distractors    int     `json:"distractors"`      // random coloured discs/squares moving over the frame; default 3
	DistractorSize float64 `json:"distractor_size"`  // max distractor radius / min(W,H); default 0.12
	Drift          float64 `json:"drift_per_second"` // max patch and distractor speed, in min(W,H) per second; default 0.15
}

// DefaultCues returns the documented defaults of Cues.
func DefaultCues() Cues {
	return Cues{
		ToneLowHz: 300, ToneHighHz: 2400, ToneJitter: 0.03, ToneAmpMin: 0.15, ToneAmpMax: 0.4, AudioSNRdB: 0,
		VideoNoise: 0.08, CueContrast: 0.25, PatchSize: 0.5, StripePeriod: 0.12, OrientJitter: 3,
		PairSpread: 0.6, Distractors: 3, DistractorSize: 0.12, Drift: 0.15,
	}
}

// WithDefaults returns c with zero fields replaced by their documented defaults (the methods
// below read a Config with defaults applied, such as Result.Config).
func (c Config) WithDefaults() Config {
	setInt := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	setInt(&c.Clips, 360)
	setInt(&c.Classes, 6)
	setInt(&c.Width, 112)
	setInt(&c.Height, 112)
	setInt(&c.FPS, 12)
	setInt(&c.SampleRate, 16000)
	setInt(&c.Workers, runtime.GOMAXPROCS(0))
	setInt(&c.CRF, 20)
	if c.Seconds == 0 {
		c.Seconds = 2
	}
	if c.ValFrac == 0 && c.TestFrac == 0 {
		c.ValFrac, c.TestFrac = 0.15, 0.15
	}
	if c.Cues == (Cues{}) {
		c.Cues = DefaultCues()
	}
	return c
}

// validate reports the first configuration error (called after WithDefaults).
func (c Config) validate() error {
	q := c.Cues
	switch {
	case c.Out == "":
		return errors.New("synth: Config.Out is empty")
	case c.Clips < 0:
		return fmt.Errorf("synth: Clips %d < 0", c.Clips)
	case c.Classes < 2 || c.Classes%2 != 0:
		return fmt.Errorf("synth: Classes %d must be even and ≥ 2 (two members per pair)", c.Classes)
	case !(c.Seconds > 0) || c.Seconds > 600:
		return fmt.Errorf("synth: Seconds %g out of (0, 600]", c.Seconds)
	case c.Width < 16 || c.Height < 16 || c.Width%2 != 0 || c.Height%2 != 0:
		return fmt.Errorf("synth: frame %dx%d must be even and at least 16x16", c.Width, c.Height)
	case c.FPS < 1 || c.FPS > 120:
		return fmt.Errorf("synth: FPS %d out of [1, 120]", c.FPS)
	case c.SampleRate < 8000 || c.SampleRate > 96000:
		return fmt.Errorf("synth: SampleRate %d out of [8000, 96000]", c.SampleRate)
	case c.ValFrac < 0 || c.TestFrac < 0 || c.ValFrac+c.TestFrac >= 1:
		return fmt.Errorf("synth: ValFrac %g + TestFrac %g must be ≥ 0 each and < 1", c.ValFrac, c.TestFrac)
	case c.Workers < 1:
		return fmt.Errorf("synth: Workers %d < 1", c.Workers)
	case c.CRF < 0 || c.CRF > 51:
		return fmt.Errorf("synth: CRF %d out of [0, 51]", c.CRF)
	case !(q.ToneLowHz > 0) || q.ToneHighHz < q.ToneLowHz || q.ToneHighHz*(1+q.ToneJitter) >= float64(c.SampleRate)/2:
		return fmt.Errorf("synth: tones %g..%g Hz (jitter %g) must be > 0, ordered and below Nyquist %d Hz",
			q.ToneLowHz, q.ToneHighHz, q.ToneJitter, c.SampleRate/2)
	case q.MemberTone != 0 && !(q.MemberTone > 1) ||
		q.MemberTone > 1 && q.ToneHighHz*q.MemberTone*(1+q.ToneJitter) >= float64(c.SampleRate)/2:
		return fmt.Errorf("synth: MemberTone %g must be 0 (off) or > 1, with the highest member tone below Nyquist %d Hz",
			q.MemberTone, c.SampleRate/2)
	case q.ToneJitter < 0 || q.ToneJitter >= 0.5:
		return fmt.Errorf("synth: ToneJitter %g out of [0, 0.5)", q.ToneJitter)
	case q.ToneAmpMin < 0 || q.ToneAmpMax < q.ToneAmpMin || q.ToneAmpMax > 1:
		return fmt.Errorf("synth: tone amplitude range [%g, %g] must lie in [0, 1]", q.ToneAmpMin, q.ToneAmpMax)
	case math.IsNaN(q.AudioSNRdB) || math.IsInf(q.AudioSNRdB, -1):
		return fmt.Errorf("synth: AudioSNRdB %g invalid", q.AudioSNRdB)
	case q.VideoNoise < 0 || !(q.CueContrast > 0) || q.CueContrast > 0.5:
		return fmt.Errorf("synth: VideoNoise %g must be ≥ 0 and CueContrast %g in (0, 0.5]", q.VideoNoise, q.CueContrast)
	case !(q.PatchSize > 0) || q.PatchSize > 1 || !(q.StripePeriod > 0) || q.StripePeriod > q.PatchSize:
		return fmt.Errorf("synth: PatchSize %g must be in (0, 1] and StripePeriod %g in (0, PatchSize]", q.PatchSize, q.StripePeriod)
	case q.OrientJitter < 0 || q.PairSpread < 0 || q.PairSpread > 1:
		return fmt.Errorf("synth: OrientJitter %g must be ≥ 0 and PairSpread %g in [0, 1]", q.OrientJitter, q.PairSpread)
	case q.Distractors < 0 || q.DistractorSize < 0 || q.DistractorSize > 0.5 || q.Drift < 0:
		return fmt.Errorf("synth: Distractors %d, DistractorSize %g (≤ 0.5) and Drift %g must be ≥ 0",
			q.Distractors, q.DistractorSize, q.Drift)
	}
	return nil
}

// Pairs is the number of audio pairs: Classes/2.
func (c Config) Pairs() int { return c.Classes / 2 }

// LabelName is the name of class k: "p<pair>-a" for even k, "p<pair>-b" for odd k, with the pair
// number zero-padded to the width of the largest one, so sorted names keep class order (as the
// generic manifest reader sorts them when given no label list).
func (c Config) LabelName(k int) string {
	width := len(strconv.Itoa(max(0, c.Pairs()-1)))
	return fmt.Sprintf("p%0*d-%c", width, k/2, 'a'+rune(k%2))
}

// Labels returns the names of all classes, index = label id.
func (c Config) Labels() []string {
	names := make([]string, c.Classes)
	for k := range names {
		names[k] = c.LabelName(k)
	}
	return names
}

// PairToneHz is the nominal tone of pair p (before per-clip jitter): log-spaced from
// Cues.ToneLowHz (pair 0) to Cues.ToneHighHz (last pair).
func (c Config) PairToneHz(p int) float64 {
	q := c.Cues
	if c.Pairs() == 1 {
		return q.ToneLowHz
	}
	return q.ToneLowHz * math.Pow(q.ToneHighHz/q.ToneLowHz, float64(p)/float64(c.Pairs()-1))
}

// ClassToneHz is the nominal tone of class k: its pair's, times MemberTone for member b when
// MemberTone is set.
func (c Config) ClassToneHz(k int) float64 {
	f := c.PairToneHz(k / 2)
	if c.Cues.MemberTone > 1 && k%2 == 1 {
		f *= c.Cues.MemberTone
	}
	return f
}

// ClassOrientationDeg is the nominal grating orientation of class k (before per-clip jitter), in
// degrees in [0,180): member b is 90° from member a; pair p adds p·PairSpread·90°/Pairs.
func (c Config) ClassOrientationDeg(k int) float64 {
	p, m := k/2, k%2
	return float64(m)*90 + float64(p)*c.Cues.PairSpread*90/float64(c.Pairs())
}

// frames is the number of video frames of a clip; samples the number of audio samples.
func (c Config) frames() int  { return max(1, int(math.Round(c.Seconds*float64(c.FPS)))) }
func (c Config) samples() int { return max(1, int(math.Round(c.Seconds*float64(c.SampleRate)))) }

// Validate reports the first configuration error of c (with defaults applied), the same check
// Generate makes before writing anything.
func (c Config) Validate() error { return c.WithDefaults().validate() }
