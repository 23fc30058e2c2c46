package audio

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/asticode/go-astiav"
)

// TestBeginPacketEnd feeds the decoder from a demuxer of the test's own, closes the file before
// End (as video.Decoder.FramesShared does) and expects what Decode returns. Run with
// MALLOC_PERTURB_ set, it also catches End reading the freed stream.
func TestBeginPacketEnd(t *testing.T) {
	for _, name := range []string{"sine_h264_aac.mp4", "flv_mp3.flv", "tone.mp3", "no_video.m4a"} {
		path := filepath.Join(media, name)
		for _, rate := range []int{16000, 22050} {
			d := NewDecoder(rate)
			want, err := d.Decode(path)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			fc := astiav.AllocFormatContext()
			if err := fc.OpenInput(path, nil, nil); err != nil {
				t.Fatal(err)
			}
			if err := fc.FindStreamInfo(nil); err != nil {
				t.Fatal(err)
			}
			st := FindStream(fc)
			if err := d.Begin(path, st); err != nil {
				t.Fatal(err)
			}
			pkt := astiav.AllocPacket()
			for fc.ReadFrame(pkt) == nil {
				if pkt.StreamIndex() == st.Index() {
					if err := d.Packet(pkt); err != nil {
						t.Fatal(err)
					}
				}
				pkt.Unref()
			}
			pkt.Free()
			fc.CloseInput()
			fc.Free()
			got, err := d.End()
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if !slices.Equal(got, want) {
				t.Errorf("%s at %d Hz: Begin/Packet/End gives %d samples, Decode %d (or other values)", name, rate, len(got), len(want))
			}
			if _, err := d.End(); err == nil {
				t.Errorf("%s: a second End succeeded", name)
			}
			d.Close()
		}
	}
}
