package video

import (
	"bytes"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// ffmpegFrames decodes every frame of path with the ffmpeg CLI (autorotate on, as by
// default) scaled bilinearly to w×h RGB24, skipping the test when the CLI is absent.
func ffmpegFrames(t *testing.T, path string, w, h int) []byte {
	t.Helper()
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skipf("the ffmpeg CLI is the reference here and is not installed: %v", err)
	}
	cmd := exec.Command("ffmpeg", "-v", "error", "-i", path, "-vf", fmt.Sprintf("scale=%d:%d:flags=bilinear,format=rgb24", w, h),
		"-vsync", "passthrough", "-f", "rawvideo", "-")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ffmpeg %s: %v\n%s", path, err, stderr.String())
	}
	return out
}

// meanAbsDiff is the mean absolute difference of two equally long byte slices.
func meanAbsDiff(a, b []byte) float64 {
	var s int
	for i := range a {
		d := int(a[i]) - int(b[i])
		s += max(d, -d)
	}
	return float64(s) / float64(len(a))
}

// TestDisplayOrientation: a clip whose MP4 track matrix asks players to turn it (each of the
// seven orientations) gives, byte for byte, the frames the ffmpeg CLI gives for it (autorotated,
// scaled bilinearly) at a non-square size, so a swapped axis shows, and the Decoder says what
// it did; the clip as coded gives ffmpeg's frames and no note. Before, the frames were those of
// the picture as coded.
func TestDisplayOrientation(t *testing.T) {
	const w, h = 40, 24
	asCoded := ffmpegFrames(t, filepath.Join(media, "rotate_none.mp4"), w, h)
	for _, c := range []struct {
		file string
		want Orientation
	}{
		{"rotate_none.mp4", AsCoded}, {"rotate_90.mp4", Rotate90}, {"rotate_180.mp4", Rotate180},
		{"rotate_270.mp4", Rotate270}, {"rotate_hflip.mp4", FlipH}, {"rotate_vflip.mp4", FlipV},
		{"rotate_transpose.mp4", Transpose}, {"rotate_transverse.mp4", Transverse},
	} {
		path := filepath.Join(media, c.file)
		want := ffmpegFrames(t, path, w, h)
		d := NewDecoder(Sampler{Count: 20, FPS: 10}, w, h) // every frame of the 2 s, 10 fps clip
		got, _ := frames(t, d, path)
		if len(want) != len(got) {
			t.Fatalf("%s: ffmpeg gave %d bytes, the decoder %d", c.file, len(want), len(got))
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: frames differ from ffmpeg's by %.2f levels on average, want identical", c.file, meanAbsDiff(got, want))
		}
		if wrong := meanAbsDiff(asCoded, want); c.want != AsCoded && wrong < 10 {
			t.Fatalf("%s: the turned picture differs from the coded one by only %.1f levels: the test cannot tell them apart", c.file, wrong)
		}
		if d.Orientation() != c.want {
			t.Errorf("%s: Orientation() = %v, want %v", c.file, d.Orientation(), c.want)
		}
		notes := strings.Join(d.Notes(), "; ")
		if (c.want == AsCoded) != (notes == "") || (c.want != AsCoded && !strings.Contains(notes, c.want.String())) {
			t.Errorf("%s: notes %q, want one naming %q (none when as coded)", c.file, notes, c.want)
		}
		d.Close()
	}
}
