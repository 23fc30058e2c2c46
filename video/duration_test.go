package video

import (
	"bytes"
	"math"
	"path/filepath"
	"strings"
	"testing"
)

// TestLyingDuration: a file whose header says its clip lasts far longer than its packets do
// (Matroska and FLV: 3.6e6 s, MP4's movie header: 1e5 s, for 2 s of video) is sampled over the
// 2 s its video really lasts, gives the frames of the honest file, and the Decoder says which
// header disagreed. Before, the duration was the header's and every frame the last one.
func TestLyingDuration(t *testing.T) {
	for _, c := range []struct{ lies, honest, header string }{
		{"duration_lies.mkv", "duration_2s.mkv", "the container header says 3.6e+06 s"},
		{"duration_lies.flv", "duration_2s.flv", "the container header says 3.6e+06 s"},
		{"duration_lies.mp4", "rotate_none.mp4", "the container header says 1e+05 s"},
	} {
		d := NewDecoder(Sampler{Count: 3}, 32, 24)
		want, wantDur := frames(t, d, filepath.Join(media, c.honest))
		if len(d.Notes()) != 0 || math.Abs(wantDur-2) > 0.01 {
			t.Errorf("%s: duration %g s, notes %q; want 2 s and no note", c.honest, wantDur, d.Notes())
		}
		got, dur := frames(t, d, filepath.Join(media, c.lies))
		if math.Abs(dur-2) > 0.01 {
			t.Errorf("%s: duration %g s, want the 2 s of its packets", c.lies, dur)
		}
		n := d.FrameSize()
		if bytes.Equal(got[:n], got[n:2*n]) || bytes.Equal(got[n:2*n], got[2*n:]) {
			t.Errorf("%s: repeated frames: sampled past the end of the video", c.lies)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: frames differ from those of %s", c.lies, c.honest)
		}
		if notes := strings.Join(d.Notes(), "; "); !strings.Contains(notes, c.header) || !strings.Contains(notes, "sampled over 2 s") {
			t.Errorf("%s: notes %q, want one saying %q and what was used", c.lies, notes, c.header)
		}
		d.Close()
	}
}
