package synth

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/csv"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// testConfig is small and fast but keeps the default frame size; 1.5 s makes the last AAC frame short.
func testConfig(out string) Config {
	return Config{Out: out, Clips: 12, Seed: 7, Classes: 6, Seconds: 1.5, Workers: 2}
}

func TestGenerate(t *testing.T) {
	dir := t.TempDir()
	res, err := Generate(context.Background(), testConfig(dir))
	if err != nil {
		t.Fatal(err)
	}
	cfg := res.Config
	if len(res.Clips) != 12 || len(res.Labels) != 6 || res.Labels[0] != "p0-a" || res.Labels[5] != "p2-b" {
		t.Fatalf("result: %d clips, labels %v", len(res.Clips), res.Labels)
	}
	t.Logf("video codec %s, %d clips in %v", res.VideoCodec, len(res.Clips), res.Elapsed)

	// manifest
	f, err := os.Open(res.Manifest)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(rows[0], ",") != "id,path,label,split" || len(rows) != 13 {
		t.Fatalf("manifest header %v, %d rows", rows[0], len(rows))
	}
	splits := map[string]int{}
	for i, row := range rows[1:] {
		c := res.Clips[i]
		if row[0] != c.ID || row[1] != c.Path || row[2] != res.Labels[c.Label] || row[3] != c.Split {
			t.Errorf("manifest row %d = %v, result has %+v", i+1, row, c)
		}
		st, err := os.Stat(filepath.Join(dir, filepath.FromSlash(row[1])))
		if err != nil || st.Size() < 1000 {
			t.Errorf("clip %s: %v (size %d)", row[0], err, st.Size())
		}
		splits[row[3]]++
	}
	if splits["train"]+splits["val"]+splits["test"] != 12 || splits["train"] < 6 {
		t.Errorf("splits %v", splits)
	}
	if tmps, _ := filepath.Glob(filepath.Join(dir, "*", "*.tmp")); len(tmps) > 0 {
		t.Errorf("temporary files left: %v", tmps)
	}

	// synth.json
	b, err := os.ReadFile(res.Info)
	if err != nil {
		t.Fatal(err)
	}
	var in info
	if err := json.Unmarshal(b, &in); err != nil {
		t.Fatal(err)
	}
	if in.Config.Cues != DefaultCues() || in.Pairs != 3 || len(in.PairToneHz) != 3 || in.Frames != 18 || in.Samples != 24000 {
		t.Errorf("synth.json: %+v", in)
	}

	if _, err := exec.LookPath("ffprobe"); err != nil {
		t.Skip("ffprobe not installed: skipping the container checks")
	}
	r := newRenderer(cfg)
	for i, c := range res.Clips {
		p := filepath.Join(dir, filepath.FromSlash(c.Path))
		if i < 4 {
			checkStreams(t, p, cfg)
		}
		samples := decodeAudio(t, p, cfg.SampleRate)
		// FFmpeg honours the MP4 edit list at the start (AAC priming) but decodes the last,
		// short AAC frame whole: up to 1023 near-silent samples may follow the clip.
		n := cfg.samples()
		if len(samples) < n || len(samples) > (n+1023)/1024*1024 {
			t.Fatalf("clip %s: decoded %d samples, want %d (+ end padding to a multiple of 1024)", c.ID, len(samples), n)
		}
		if rms := rms(samples[n:]); rms > 0.02 {
			t.Errorf("clip %s: %d samples after the end have RMS %.3f, want near silence", c.ID, len(samples)-n, rms)
		}
		if got, want := nearestPair(cfg, dominantHz(samples[:n], cfg.SampleRate)), c.Label/2; got != want {
			t.Errorf("clip %s: dominant tone belongs to pair %d, want %d", c.ID, got, want)
		}
		r.render(i, c.Label)
		if corr := correlation(samples[:n], r.audio); corr < 0.9 {
			t.Errorf("clip %s: decoded audio correlates %.3f with the rendered signal, want ≥ 0.9 (misaligned?)", c.ID, corr)
		}
		if i < 2 { // the picture survives encoding
			frames := decodeVideo(t, p)
			if len(frames) != len(r.rgb) {
				t.Fatalf("clip %s: decoded %d video bytes, want %d", c.ID, len(frames), len(r.rgb))
			}
			if psnr := psnr(frames, r.rgb); psnr < 24 {
				t.Errorf("clip %s: PSNR of decoded video %.1f dB < 24", c.ID, psnr)
			} else {
				t.Logf("clip %s: PSNR %.1f dB", c.ID, psnr)
			}
		}
	}
}

// checkStreams asks ffprobe for the streams of p and checks codecs, sizes and durations.
func checkStreams(t *testing.T, p string, cfg Config) {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-show_entries",
		"stream=codec_type,codec_name,duration,sample_rate,channels,width,height,nb_frames", "-of", "json", p).Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v", p, err)
	}
	var probe struct {
		Streams []struct {
			CodecType  string `json:"codec_type"`
			CodecName  string `json:"codec_name"`
			Duration   string `json:"duration"`
			SampleRate string `json:"sample_rate"`
			Channels   int    `json:"channels"`
			Width      int    `json:"width"`
			Height     int    `json:"height"`
			NbFrames   string `json:"nb_frames"`
		} `json:"streams"`
	}
	if err := json.Unmarshal(out, &probe); err != nil {
		t.Fatalf("ffprobe %s: %v", p, err)
	}
	if len(probe.Streams) != 2 {
		t.Fatalf("%s: %d streams, want 2", p, len(probe.Streams))
	}
	for _, s := range probe.Streams {
		d, _ := strconv.ParseFloat(s.Duration, 64)
		switch s.CodecType {
		case "audio":
			if s.CodecName != "aac" || s.SampleRate != strconv.Itoa(cfg.SampleRate) || s.Channels != 1 ||
				math.Abs(d-cfg.Seconds) > 0.01 {
				t.Errorf("%s: audio stream %+v", p, s)
			}
		case "video":
			if s.Width != cfg.Width || s.Height != cfg.Height || s.NbFrames != strconv.Itoa(cfg.frames()) ||
				math.Abs(d-cfg.Seconds) > 0.5/float64(cfg.FPS) {
				t.Errorf("%s: video stream %+v", p, s)
			}
		default:
			t.Errorf("%s: unexpected stream %+v", p, s)
		}
	}
}

func decodeAudio(t *testing.T, p string, rate int) []float32 {
	t.Helper()
	out, err := exec.Command("ffmpeg", "-v", "error", "-i", p, "-map", "0:a", "-f", "f32le", "-ac", "1",
		"-ar", strconv.Itoa(rate), "-").Output()
	if err != nil {
		t.Fatalf("ffmpeg audio %s: %v", p, err)
	}
	s := make([]float32, len(out)/4)
	if err := binary.Read(bytes.NewReader(out), binary.LittleEndian, s); err != nil {
		t.Fatal(err)
	}
	return s
}

func decodeVideo(t *testing.T, p string) []byte {
	t.Helper()
	out, err := exec.Command("ffmpeg", "-v", "error", "-i", p, "-map", "0:v", "-f", "rawvideo", "-pix_fmt", "rgb24", "-").Output()
	if err != nil {
		t.Fatalf("ffmpeg video %s: %v", p, err)
	}
	return out
}

// dominantHz is the frequency (on a 0.5% log grid from 100 Hz to Nyquist) with the most energy,
// summed over 25 ms blocks by Goertzel so that the grid need not hit a 1 Hz wide peak.
func dominantHz(s []float32, rate int) float64 {
	block := rate / 40
	best, bestHz := -1.0, 0.0
	for hz := 100.0; hz < float64(rate)/2; hz *= 1.005 {
		c := 2 * math.Cos(2*math.Pi*hz/float64(rate))
		var pw float64
		for b := 0; b+block <= len(s); b += block {
			var s1, s2 float64
			for _, x := range s[b : b+block] {
				s1, s2 = float64(x)+c*s1-s2, s1
			}
			pw += s1*s1 + s2*s2 - c*s1*s2
		}
		if pw > best {
			best, bestHz = pw, hz
		}
	}
	return bestHz
}

// nearestPair is the pair whose nominal tone is closest to hz on a log scale.
func nearestPair(cfg Config, hz float64) int {
	best, bp := math.Inf(1), -1
	for p := range cfg.Pairs() {
		if d := math.Abs(math.Log(hz / cfg.PairToneHz(p))); d < best {
			best, bp = d, p
		}
	}
	return bp
}

func rms(s []float32) float64 {
	var e float64
	for _, x := range s {
		e += float64(x) * float64(x)
	}
	return math.Sqrt(e / float64(max(1, len(s))))
}

func correlation(a, b []float32) float64 {
	var ab, aa, bb float64
	for i := range a {
		ab += float64(a[i]) * float64(b[i])
		aa += float64(a[i]) * float64(a[i])
		bb += float64(b[i]) * float64(b[i])
	}
	return ab / math.Sqrt(aa*bb)
}

func psnr(a, b []byte) float64 {
	var se float64
	for i := range a {
		d := float64(a[i]) - float64(b[i])
		se += d * d
	}
	return 10 * math.Log10(255*255/(se/float64(len(a))))
}

func TestDeterministic(t *testing.T) {
	cfg := testConfig("x").WithDefaults()
	p1, p2 := plan(cfg), plan(cfg)
	for i := range p1 {
		if p1[i] != p2[i] {
			t.Fatalf("plan differs at %d: %+v vs %+v", i, p1[i], p2[i])
		}
	}
	other := cfg
	other.Seed++
	if po := plan(other); equalClips(po, p1) {
		t.Error("plan does not depend on the seed")
	}
	r1, r2 := newRenderer(cfg), newRenderer(cfg)
	r1.render(3, 1)
	r2.render(5, 2) // dirty the buffers first
	r2.render(3, 1)
	if !bytes.Equal(r1.rgb, r2.rgb) || !bytes.Equal(float32Bytes(r1.audio), float32Bytes(r2.audio)) {
		t.Error("same clip rendered twice differs")
	}

	// Encoded bytes: mpeg4 and the native AAC encoder are deterministic, so our pipeline must be.
	// libx264's SIMD code reads uninitialised heap memory here (the ffmpeg CLI's output changes
	// with MALLOC_PERTURB_; -x264-params asm=0 fixes it), so its bytes may differ between runs.
	cfg.Clips = 2
	cfg.VideoCodec = "mpeg4"
	var files [2][]byte
	for k := range files {
		cfg.Out = t.TempDir()
		res, err := Generate(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		if files[k], err = os.ReadFile(filepath.Join(cfg.Out, res.Clips[1].Path)); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(files[0], files[1]) {
		t.Error("same seed gave different mpeg4+aac bytes")
	}
}

func equalClips(a, b []Clip) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return len(a) == len(b)
}

func TestSplitsStratified(t *testing.T) {
	cfg := Config{Out: "x", Clips: 600, Classes: 8, Seed: 3}.WithDefaults()
	count := map[[2]int]int{}
	for _, c := range plan(cfg) {
		s := map[string]int{"train": 0, "val": 1, "test": 2}[c.Split]
		count[[2]int{c.Label, s}]++
	}
	for k := range 8 {
		tr, va, te := count[[2]int{k, 0}], count[[2]int{k, 1}], count[[2]int{k, 2}]
		if tr+va+te != 75 || va != 11 || te != 11 {
			t.Errorf("class %d: train %d val %d test %d", k, tr, va, te)
		}
	}
}

func TestLabelsSortInClassOrder(t *testing.T) {
	cfg := Config{Classes: 24}
	names := cfg.Labels()
	if names[0] != "p00-a" || names[23] != "p11-b" {
		t.Fatalf("labels %v", names)
	}
	for k := 1; k < len(names); k++ {
		if names[k-1] >= names[k] {
			t.Errorf("label %q sorts after %q", names[k-1], names[k])
		}
	}
}

func TestConfigErrors(t *testing.T) {
	for _, c := range []Config{
		{},
		{Out: "x", Classes: 5},
		{Out: "x", Width: 33},
		{Out: "x", ValFrac: 0.5, TestFrac: 0.5},
		{Out: "x", Cues: Cues{ToneLowHz: 300, ToneHighHz: 9000}},
		{Out: "x", VideoCodec: "no-such-encoder"},
	} {
		if _, err := Generate(context.Background(), c); err == nil {
			t.Errorf("Generate(%+v) succeeded", c)
		}
	}
}

func TestCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Generate(ctx, testConfig(t.TempDir())); err == nil {
		t.Error("Generate with a cancelled context succeeded")
	}
}

// BenchmarkGenerateClip renders and encodes one default clip (2 s, 112×112 at 12 fps, 16 kHz)
// per iteration on one goroutine, reusing the worker's renderer and encoder.
func BenchmarkGenerateClip(b *testing.B) {
	cfg := Config{Out: b.TempDir()}.WithDefaults()
	vc, err := pickVideoCodec("")
	if err != nil {
		b.Fatal(err)
	}
	r := newRenderer(cfg)
	enc, err := newEncoder(cfg, vc)
	if err != nil {
		b.Fatal(err)
	}
	defer enc.close()
	p := filepath.Join(cfg.Out, "clip.mp4")
	for i := 0; b.Loop(); i++ {
		r.render(i, i%cfg.Classes)
		if err := enc.encode(p, r.audio, r.rgb); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRenderClip measures the signal rendering alone.
func BenchmarkRenderClip(b *testing.B) {
	cfg := Config{Out: "x"}.WithDefaults()
	r := newRenderer(cfg)
	for i := 0; b.Loop(); i++ {
		r.render(i, i%cfg.Classes)
	}
}

// TestMemberTone: with MemberTone the member b of a pair sounds its pair's
// tone times MemberTone, so the audio tells the whole class.
func TestMemberTone(t *testing.T) {
	cfg := Config{Out: "x", Seconds: 0.5}.WithDefaults()
	cfg.Cues.MemberTone, cfg.Cues.AudioSNRdB = 1.25, 20
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	r := newRenderer(cfg)
	for k := 0; k < cfg.Classes; k++ {
		seedRNG(r.pcg, cfg.Seed, streamClip, uint64(k))
		r.renderAudio(k)
		want := cfg.PairToneHz(k / 2)
		if k%2 == 1 {
			want *= 1.25
		}
		if got := dominantHz(r.audio, cfg.SampleRate); math.Abs(math.Log(got/want)) > 0.04 {
			t.Errorf("class %d: dominant %.0f Hz, want %.0f Hz (±4%%)", k, got, want)
		}
	}
	cfg.Cues.MemberTone = 0.5
	if err := cfg.validate(); err == nil {
		t.Error("MemberTone 0.5 accepted")
	}
}
