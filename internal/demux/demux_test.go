package demux

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/asticode/go-astiav"

	"github.com/avbalance/avbalance/internal/testmedia"
)

// flvs writes FLV files with ffmpeg into a temporary folder: both streams from the start, the
// audio starting late (1.2 s), video only, audio only, no metadata, and script data 10 s apart
// ahead of the audio and video.
func flvs(t *testing.T) map[string]string {
	t.Helper()
	dir := t.TempDir()
	video := []string{"-f", "lavfi", "-i", "testsrc=size=64x48:rate=25:duration=2"}
	tone := []string{"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=22050:duration=2"}
	codecs := []string{"-c:v", "flv1", "-c:a", "libmp3lame"}
	cases := map[string][]string{
		"both":        slices.Concat(video, tone, codecs),
		"late-audio":  slices.Concat(video, []string{"-itsoffset", "1.2"}, tone, []string{"-map", "0:v", "-map", "1:a"}, codecs),
		"video-only":  slices.Concat(video, []string{"-c:v", "flv1"}),
		"audio-only":  slices.Concat(tone, []string{"-c:a", "libmp3lame"}),
		"no-metadata": slices.Concat(video, tone, codecs, []string{"-flvflags", "no_metadata"}),
	}
	paths := map[string]string{"testdata": testmedia.Generated(t, "flv_mp3.flv")}
	for name, args := range cases {
		p := filepath.Join(dir, name+".flv")
		args = slices.Concat([]string{"-hide_banner", "-loglevel", "error", "-y", "-fflags", "+bitexact"}, args, []string{p})
		if out, err := exec.Command("ffmpeg", args...).CombinedOutput(); err != nil {
			t.Fatalf("ffmpeg %s: %v\n%s", name, err, out)
		}
		paths[name] = p
	}
	data, err := os.ReadFile(paths["both"])
	if err != nil {
		t.Fatal(err)
	}
	paths["data-first"] = filepath.Join(dir, "data-first.flv")
	// Script tags FFmpeg returns as a data stream's packets: timestamps 0 and 10 s.
	tags := slices.Concat(scriptTag("onAvbA", 0), scriptTag("onAvbB", 10000))
	if err := os.WriteFile(paths["data-first"], slices.Concat(data[:13], tags, data[13:]), 0o644); err != nil {
		t.Fatal(err)
	}
	return paths
}

// scriptTag returns an FLV script data tag (and its PreviousTagSize) named name, holding the
// number 1, at ms milliseconds.
func scriptTag(name string, ms uint32) []byte {
	body := binary.BigEndian.AppendUint16([]byte{2}, uint16(len(name))) // AMF0 string
	body = append(body, name...)
	body = binary.BigEndian.AppendUint64(append(body, 0), math.Float64bits(1)) // AMF0 number
	tag := []byte{18, byte(len(body) >> 16), byte(len(body) >> 8), byte(len(body)),
		byte(ms >> 16), byte(ms >> 8), byte(ms), byte(ms >> 24), 0, 0, 0}
	tag = append(tag, body...)
	return binary.BigEndian.AppendUint32(tag, uint32(len(tag)))
}

// packetLog lists every packet of an open file, up to the end or the first read error (listed
// too): media type, timestamps, flags, size and a hash of the data. Not the duration: FFmpeg fills in missing video packet durations from the frame
// rate its probe measured, which nothing downstream uses.
func packetLog(fc *astiav.FormatContext, read func(*astiav.Packet) error) []string {
	pkt := astiav.AllocPacket()
	defer pkt.Free()
	var log []string
	for {
		if err := read(pkt); err != nil {
			if !errors.Is(err, astiav.ErrEof) {
				log = append(log, "error: "+err.Error())
			}
			return log
		}
		typ := fc.Streams()[pkt.StreamIndex()].CodecParameters().MediaType()
		log = append(log, fmt.Sprintf("%s pts=%d dts=%d flags=%d size=%d %x", typ, pkt.Pts(), pkt.Dts(),
			pkt.Flags(), pkt.Size(), sha256.Sum256(pkt.Data())))
		pkt.Unref()
	}
}

// probed opens path as FFmpeg users do, with its stream-info probe, and returns the packetLog
// and streamsOf that follow; f names the demuxer (nil: FFmpeg guesses).
func probed(path string, f *astiav.InputFormat) (packets, streams []string, err error) {
	fc := astiav.AllocFormatContext()
	defer fc.Free()
	if err := fc.OpenInput(path, f, nil); err != nil {
		return nil, nil, err
	}
	defer fc.CloseInput()
	if err := fc.FindStreamInfo(nil); err != nil {
		return nil, nil, err
	}
	return packetLog(fc, fc.ReadFrame), streamsOf(fc), nil
}

// streamsOf lists the media types and codecs of the file's streams.
func streamsOf(fc *astiav.FormatContext) []string {
	var s []string
	for _, st := range fc.Streams() {
		s = append(s, fmt.Sprintf("%s %s", st.CodecParameters().MediaType(), st.CodecParameters().CodecID()))
	}
	return s
}

// TestFindStreamsFLV checks that FLV streams are found by reading ahead, not probing: the
// packets read ahead come out of ReadFrame first, and the whole packet sequence and the streams
// are those of FFmpeg's own stream-info probe followed by av_read_frame.
func TestFindStreamsFLV(t *testing.T) {
	want := map[string][]string{
		"testdata":    {"audio", "video"},
		"both":        {"audio", "video"},
		"late-audio":  {"audio", "video"},
		"no-metadata": {"audio", "video"},
		"video-only":  {"video"},
		"audio-only":  {"audio"},
		"data-first":  {"audio", "video"},
	}
	for name, p := range flvs(t) {
		in, err := Open(context.Background(), p)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := in.FindStreams(func(*astiav.FormatContext) bool { return false }); err != nil {
			t.Fatalf("%s: FindStreams: %v", name, err)
		}
		if len(in.queue) == 0 {
			t.Errorf("%s: nothing read ahead", name)
		}
		var types []string
		for _, st := range in.Streams() {
			if typ := st.CodecParameters().MediaType(); typ == astiav.MediaTypeAudio || typ == astiav.MediaTypeVideo {
				types = append(types, typ.String())
			}
		}
		slices.Sort(types)
		if !slices.Equal(types, want[name]) {
			t.Errorf("%s: streams %v after FindStreams, want %v", name, types, want[name])
		}
		got := packetLog(in.FormatContext, in.ReadFrame)
		gotStreams := streamsOf(in.FormatContext)
		in.Close()

		wantLog, wantStreams, err := probed(p, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) == 0 || !slices.Equal(got, wantLog) {
			t.Errorf("%s: %d packets differ from FFmpeg's %d after probing", name, len(got), len(wantLog))
		}
		if !slices.Equal(gotStreams, wantStreams) {
			t.Errorf("%s: streams %v, FFmpeg's after probing %v", name, gotStreams, wantStreams)
		}
	}
}

// TestFindStreamsHeader checks that a file with a header is not read when the caller has what
// it needs, and probed when it has not.
func TestFindStreamsHeader(t *testing.T) {
	in, err := Open(context.Background(), testmedia.Generated(t, "sine_h264_aac.mp4"))
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	asked := 0
	if err := in.FindStreams(func(*astiav.FormatContext) bool { asked++; return true }); err != nil {
		t.Fatal(err)
	}
	if asked != 1 || len(in.queue) != 0 {
		t.Errorf("found asked %d times, %d packets read ahead; want 1 and 0", asked, len(in.queue))
	}
	if err := in.FindStreams(func(*astiav.FormatContext) bool { return false }); err != nil {
		t.Fatalf("probing: %v", err)
	}
}

// TestUnreadAndSeek checks that an unread packet comes back first, and that a seek drops the
// packets read ahead.
func TestUnreadAndSeek(t *testing.T) {
	in, err := Open(context.Background(), testmedia.Generated(t, "flv_mp3.flv"))
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	if err := in.FindStreams(func(*astiav.FormatContext) bool { return false }); err != nil {
		t.Fatal(err)
	}
	pkt := astiav.AllocPacket()
	defer pkt.Free()
	for range len(in.queue) + 3 { // past the read-ahead queue
		if err := in.ReadFrame(pkt); err != nil {
			t.Fatal(err)
		}
		pkt.Unref()
	}
	if err := in.ReadFrame(pkt); err != nil {
		t.Fatal(err)
	}
	pts, size := pkt.Pts(), pkt.Size()
	in.Unread(pkt)
	if pkt.Size() != 0 {
		t.Errorf("Unread left %d bytes in the packet", pkt.Size())
	}
	if err := in.ReadFrame(pkt); err != nil {
		t.Fatal(err)
	}
	if pkt.Pts() != pts || pkt.Size() != size {
		t.Errorf("after Unread: pts %d size %d, want %d %d", pkt.Pts(), pkt.Size(), pts, size)
	}
	in.Unread(pkt)
	if err := in.SeekFrame(-1, 0, astiav.NewSeekFlags(astiav.SeekFlagBackward)); err != nil {
		t.Fatal(err)
	}
	if len(in.queue) != 0 {
		t.Errorf("%d packets left read ahead after a seek", len(in.queue))
	}
}

// FuzzFindStreamsFLV checks, on mutated FLV files, that finding the streams by reading ahead
// never fails where FFmpeg's probe succeeds and hands out the same packets in the same order.
// The one allowed difference: a read error the probe ran into (and went past, as FFmpeg does)
// comes out of ReadFrame, which ends the packets there.
func FuzzFindStreamsFLV(f *testing.F) {
	// Mutated files make FFmpeg log a lot; unread, the worker's stderr pipe fills and stalls it.
	astiav.SetLogLevel(astiav.LogLevelQuiet)
	seed, err := os.ReadFile(testmedia.Generated(f, "flv_mp3.flv"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add(slices.Concat(seed[:13], scriptTag("onAvbA", 0), scriptTag("onAvbB", 10000), seed[13:]))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(dir, "clip.flv")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		// The FLV demuxer is named: probing which format mutated bytes are would cost more than
		// the rest and test FFmpeg, not this package.
		flv := astiav.FindInputFormat("flv")
		want, _, err := probed(p, flv)
		if err != nil {
			return
		}

		fc := astiav.AllocFormatContext()
		if err := fc.OpenInput(p, flv, nil); err != nil {
			fc.Free()
			t.Fatalf("open failed where FFmpeg's succeeded: %v", err)
		}
		in := &Input{FormatContext: fc, stop: func() {}}
		defer in.Close()
		if err := in.FindStreams(func(*astiav.FormatContext) bool { return false }); err != nil {
			t.Fatalf("FindStreams: %v", err)
		}
		// A read error FFmpeg's probe ran into ends its probing like the end of the file and is
		// not seen again: its reads go on after it. Without the probe the caller sees it (and a
		// decoder fails the clip): up to it, the packets must be the same.
		got := packetLog(in.FormatContext, in.ReadFrame)
		if n := len(got); n > 0 && n <= len(want)+1 && strings.HasPrefix(got[n-1], "error: ") && !slices.Equal(got, want) {
			got, want = got[:n-1], want[:n-1]
		}
		if !slices.Equal(got, want) {
			t.Fatalf("%d packets differ from FFmpeg's %d after probing:\n%s\nFFmpeg's:\n%s", len(got), len(want),
				strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	})
}
