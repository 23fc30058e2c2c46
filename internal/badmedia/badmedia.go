// Package badmedia generates a corpus of damaged and unusual media files for robustness tests:
// empty, truncated, random and corrupted files, containers missing a stream or holding
// zero-length streams, absurd header dimensions, variable frame rate, 5.1 audio, 8 kHz and
// 96 kHz audio, and awkward file names (spaces, non-UTF-8 bytes). Every file is generated
// (ffmpeg CLI lavfi sources and byte patching in Go); nothing is third-party media.
package badmedia

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
)

// Outcome is what a robust extractor must do with a case.
type Outcome int

const (
	OK   Outcome = iota // must be extracted
	Fail                // must be a failure line (at Stage when set)
	Any                 // either, but cleanly: no panic, no hang, exactly one record
)

func (o Outcome) String() string { return [...]string{"ok", "fail", "any"}[o] }

// Case is one generated input.
type Case struct {
	Name      string  // short id, usable as a clip id
	Path      string  // media file (video, and audio unless AudioPath is set)
	AudioPath string  // separate audio file, to reach the video decoder with a bad video
	Want      Outcome // what must happen
	Stage     string  // for Fail: the failure stage expected ("" = any stage)
}

// ErrNoFFmpeg is returned (joined with the cases made without it) when the ffmpeg CLI is absent.
var ErrNoFFmpeg = errors.New("badmedia: ffmpeg CLI not found: only the cases built without it were generated")

const (
	stageAudio = "decode-audio"
	stageVideo = "decode-video"
)

// Generate writes the corpus into dir and returns its cases. Without the ffmpeg CLI it returns
// the cases it could build in Go and an error wrapping ErrNoFFmpeg.
func Generate(dir string) ([]Case, error) {
	g := &gen{dir: dir, rng: rand.New(rand.NewPCG(6, 66))}
	g.goCases()
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		return g.cases, ErrNoFFmpeg
	}
	if err := g.ffmpegCases(); err != nil {
		return g.cases, err
	}
	return g.cases, g.err
}

type gen struct {
	dir   string
	rng   *rand.Rand
	cases []Case
	err   error
}

func (g *gen) path(name string) string { return filepath.Join(g.dir, name) }

func (g *gen) write(name string, data []byte) string {
	p := g.path(name)
	if err := os.WriteFile(p, data, 0o644); err != nil && g.err == nil {
		g.err = err
	}
	return p
}

func (g *gen) add(c Case) { g.cases = append(g.cases, c) }

func (g *gen) random(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(g.rng.Uint32())
	}
	return b
}

// goCases builds the cases that need no ffmpeg.
func (g *gen) goCases() {
	good := g.write("good-audio.wav", WAV(16000, 1, sine(16000, 1, 440)))
	g.add(Case{Name: "zero-bytes", Path: g.write("zero-bytes.mp4", nil), Want: Fail, Stage: stageAudio})
	for _, ext := range []string{"mp4", "flv", "mkv", "webm", "wav", "m4a"} {
		g.add(Case{Name: "random-" + ext, Path: g.write("random."+ext, g.random(4096+g.rng.IntN(4096))), Want: Fail, Stage: stageAudio})
	}
	g.add(Case{Name: "text-as-mp4", Path: g.write("text.mp4", []byte("this is not a video\n")), Want: Fail, Stage: stageAudio})
	// Zero-length streams: a WAV with an empty data chunk, a Y4M header with no frame.
	g.add(Case{Name: "wav-zero-samples", Path: g.write("zero-samples.wav", WAV(16000, 1, nil)), Want: Fail, Stage: stageAudio})
	g.add(Case{Name: "y4m-zero-frames", Path: g.write("zero-frames.y4m", []byte("YUV4MPEG2 W64 H48 F25:1 Ip A1:1 C420jpeg\n")),
		AudioPath: good, Want: Fail, Stage: stageVideo})
	// Absurd dimensions in a header: a 60000×60000 Y4M frame with a few bytes of data, and
	// zero/negative-looking sizes.
	g.add(Case{Name: "y4m-absurd-dims", Path: g.write("absurd-dims.y4m", append([]byte("YUV4MPEG2 W60000 H60000 F25:1 Ip A1:1 C420jpeg\nFRAME\n"), g.random(1000)...)),
		AudioPath: good, Want: Fail, Stage: stageVideo})
	g.add(Case{Name: "y4m-zero-dims", Path: g.write("zero-dims.y4m", append([]byte("YUV4MPEG2 W0 H0 F25:1 C420jpeg\nFRAME\n"), g.random(100)...)),
		AudioPath: good, Want: Fail, Stage: stageVideo})
	// WAV header oddities: absurd rate, absurd channel count, huge declared data size.
	g.add(Case{Name: "wav-1hz", Path: g.write("rate-1hz.wav", WAV(1, 1, sine(16000, 1, 440))), Want: Fail, Stage: stageAudio})
	g.add(Case{Name: "wav-65535ch", Path: g.write("many-ch.wav", WAV(16000, 65535, make([]int16, 65535*2))), Want: Any})
	huge := WAV(16000, 1, sine(16000, 0.1, 440))
	binary.LittleEndian.PutUint32(huge[40:], 0xFFFFFFF0)
	g.add(Case{Name: "wav-huge-size", Path: g.write("huge-size.wav", huge), Want: Any})
}

// ffmpegCases builds the cases made from ffmpeg-generated clips.
func (g *gen) ffmpegCases() error {
	base := g.path("base.mp4")
	av := []string{"-f", "lavfi", "-i", "testsrc=size=64x48:rate=25:duration=1"}
	tone := func(rate int, dur string) []string {
		return []string{"-f", "lavfi", "-i", fmt.Sprintf("sine=frequency=440:sample_rate=%d:duration=%s", rate, dur)}
	}
	h264 := []string{"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"}
	steps := []struct {
		name string
		args []string
		c    Case
	}{
		{"base.mp4", cat(av, tone(44100, "1"), h264, []string{"-c:a", "aac", "-b:a", "32k"}), Case{Name: "base", Want: OK}},
		{"no-audio.mp4", cat(av, h264), Case{Name: "no-audio", Want: Fail, Stage: stageAudio}},
		{"no-video.m4a", cat(tone(44100, "1"), []string{"-c:a", "aac"}), Case{Name: "no-video", Want: Fail, Stage: stageVideo}},
		{"no-streams.mp4", cat(av, tone(44100, "1"), []string{"-map", "0:v", "-map", "1:a", "-frames:v", "0", "-frames:a", "0"}, h264, []string{"-c:a", "aac"}),
			Case{Name: "no-streams", Want: Fail, Stage: stageAudio}},
		{"audio-8k.mp4", cat(av, tone(8000, "1"), h264, []string{"-c:a", "aac", "-b:a", "24k"}), Case{Name: "audio-8k", Want: OK}},
		{"audio-96k.mp4", cat(av, tone(96000, "1"), h264, []string{"-c:a", "aac", "-b:a", "64k"}), Case{Name: "audio-96k", Want: OK}},
		{"audio-5.1.mp4", cat(av, tone(48000, "1"), []string{"-af", "pan=5.1|c0=c0|c1=c0|c2=c0|c3=c0|c4=c0|c5=c0"}, h264, []string{"-c:a", "aac"}),
			Case{Name: "audio-5.1", Want: OK}},
		{"vfr.mkv", cat([]string{"-f", "lavfi", "-i", "testsrc=size=64x48:rate=25:duration=2"}, tone(44100, "2"),
			[]string{"-vf", "setpts='if(lt(N,10),N*0.02,0.2+(N-10)*0.09)/TB'", "-fps_mode", "vfr"}, h264, []string{"-c:a", "aac"}),
			Case{Name: "vfr", Want: OK}},
		{"flv-mp3.flv", cat(av, tone(22050, "1"), []string{"-c:v", "flv1", "-c:a", "libmp3lame", "-ac", "1"}), Case{Name: "flv-mp3", Want: OK}},
		// FLV announces streams by their first packet: audio first seen 0.6 s in is still found.
		{"flv-late-audio.flv", cat(av, []string{"-itsoffset", "0.6"}, tone(22050, "0.4"), []string{"-map", "0:v", "-map", "1:a", "-c:v", "flv1", "-c:a", "libmp3lame"}),
			Case{Name: "flv-late-audio", Want: OK}},
		{"flv-no-audio.flv", cat(av, []string{"-c:v", "flv1"}), Case{Name: "flv-no-audio", Want: Fail, Stage: stageAudio}},
		{"flv-no-video.flv", cat(tone(22050, "1"), []string{"-c:a", "libmp3lame"}), Case{Name: "flv-no-video", Want: Fail, Stage: stageVideo}},
	}
	for _, s := range steps {
		p := g.path(s.name)
		args := append([]string{"-hide_banner", "-loglevel", "error", "-y", "-fflags", "+bitexact"}, s.args...)
		if out, err := exec.Command("ffmpeg", append(args, p)...).CombinedOutput(); err != nil {
			return fmt.Errorf("badmedia: ffmpeg %s: %v\n%s", s.name, err, out)
		}
		c := s.c
		c.Path = p
		g.add(c)
	}
	data, err := os.ReadFile(base)
	if err != nil {
		return err
	}
	// Truncated at several offsets (the MP4 index is at the end, so most cannot be opened).
	for _, pct := range []int{1, 10, 50, 90, 99} {
		name := fmt.Sprintf("truncated-%02d.mp4", pct)
		g.add(Case{Name: fmt.Sprintf("truncated-%02d", pct), Path: g.write(name, data[:len(data)*pct/100]), Want: Any})
	}
	// Corrupt packets mid-stream: overwrite runs of bytes inside the media data.
	corrupt := bytes.Clone(data)
	if i := bytes.Index(corrupt, []byte("mdat")); i > 0 {
		for k := 0; k < 8; k++ {
			off := i + 8 + (len(corrupt)-i-8)*(k+1)/10
			copy(corrupt[off:], g.random(min(48, len(corrupt)-off)))
		}
	}
	g.add(Case{Name: "corrupt-mid", Path: g.write("corrupt-mid.mp4", corrupt), Want: Any})
	// Absurd dimensions in the MP4 headers (tkhd and the avc1 sample entry): the H.264 SPS
	// still says 64×48.
	absurd := bytes.Clone(data)
	if i := bytes.Index(absurd, []byte("avc1")); i > 0 && i+36 < len(absurd) {
		binary.BigEndian.PutUint16(absurd[i+4+24:], 0xFFFF)
		binary.BigEndian.PutUint16(absurd[i+4+26:], 0xFFFF)
	}
	g.add(Case{Name: "mp4-absurd-dims", Path: g.write("absurd-dims.mp4", absurd), Want: Any})
	// Awkward names: spaces, and bytes that are not UTF-8 (Latin-1 é).
	g.add(Case{Name: "name-with-spaces", Path: g.write("a clip with  spaces.mp4", data), Want: OK})
	g.add(Case{Name: "name-not-utf8", Path: g.write("caf\xe9 \xff.mp4", data), Want: OK})
	return nil
}

func cat(parts ...[]string) []string {
	var out []string
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// sine returns seconds of a 440 Hz-ish tone at rate as 16-bit samples.
func sine(rate int, seconds float64, hz float64) []int16 {
	n := int(float64(rate) * seconds)
	s := make([]int16, n)
	for i := range s {
		s[i] = int16(8000 * math.Sin(2*math.Pi*hz*float64(i)/float64(rate)))
	}
	return s
}

// WAV returns a 16-bit PCM WAV file holding samples (interleaved for ch channels) at rate Hz.
func WAV(rate, ch int, samples []int16) []byte {
	le := binary.LittleEndian
	b := []byte("RIFF\x00\x00\x00\x00WAVEfmt ")
	b = le.AppendUint32(b, 16)
	b = le.AppendUint16(b, 1)
	b = le.AppendUint16(b, uint16(ch))
	b = le.AppendUint32(b, uint32(rate))
	b = le.AppendUint32(b, uint32(rate*ch*2))
	b = le.AppendUint16(b, uint16(ch*2))
	b = le.AppendUint16(b, 16)
	b = append(b, "data"...)
	b = le.AppendUint32(b, uint32(2*len(samples)))
	for _, v := range samples {
		b = le.AppendUint16(b, uint16(v))
	}
	le.PutUint32(b[4:], uint32(len(b)-8))
	return b
}
