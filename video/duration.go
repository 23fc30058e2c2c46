package video

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/asticode/go-astiav"

	"github.com/avbalance/avbalance/internal/demux"
)

// clipDuration returns the duration of the video stream of fc, the file at path, to sample
// frames over, and a note when a header of the file disagrees badly with its packets. No
// single header field is taken alone:
//
//   - the stream's own duration is used when the container's agrees with it (or there is none);
//     when they disagree, the end of the last video packet decides between them;
//   - without a stream duration (FLV, Matroska, WebM), the end of the last video packet is
//     measured and used, unless the container's duration agrees with it (then that is kept).
//
// So a header that says an hour for two seconds of packets neither spreads the sampled frames
// over the hour nor goes unmentioned.
func clipDuration(ctx context.Context, path string, fc *astiav.FormatContext, st *astiav.Stream) (float64, string, error) {
	var stream, container float64
	if dur := st.Duration(); dur > 0 && dur != astiav.NoPtsValue {
		stream = float64(dur) * st.TimeBase().Float64()
	}
	if dur := fc.Duration(); dur > 0 && dur != astiav.NoPtsValue {
		container = float64(dur) / float64(astiav.TimeBase)
	}
	if stream > 0 && (container == 0 || agree(stream, container)) {
		return stream, "", nil
	}
	measured, ok := 0.0, false
	if fc.InputFormat() != nil && fc.InputFormat().Name() == "flv" {
		measured, ok = flvVideoEnd(path, st)
	}
	if !ok {
		var err error
		if measured, err = lastPacketEnd(ctx, path, max(stream, container)); err != nil {
			return 0, "", err
		}
	}
	used := measured
	switch {
	case stream > 0 && agree(stream, measured):
		used = stream
	case stream == 0 && container > 0 && agree(container, measured):
		used = container
	}
	var wrong []string
	for _, h := range []struct {
		what string
		s    float64
	}{{"video stream", stream}, {"container", container}} {
		if h.s > 0 && badly(h.s, used) {
			wrong = append(wrong, fmt.Sprintf("the %s header says %s", h.what, seconds(h.s)))
		}
	}
	if len(wrong) == 0 {
		return used, "", nil
	}
	return used, fmt.Sprintf("duration: %s, but the video packets end at %s; frames sampled over %s",
		strings.Join(wrong, " and "), seconds(measured), seconds(used)), nil
}

// agree reports whether two durations of one clip are the same for sampling purposes: within a
// quarter of a second or 5 %.
func agree(a, b float64) bool {
	return math.Abs(a-b) <= max(0.25, 0.05*max(a, b))
}

// badly reports whether a header's duration is so far from the one used that it is worth a
// note: more than a second and a fifth apart (an audio track a little longer than the video,
// which the container's duration covers, is not).
func badly(header, used float64) bool {
	return math.Abs(header-used) > max(1, 0.2*used)
}

func seconds(s float64) string { return strconv.FormatFloat(s, 'g', 4, 64) + " s" }

// lastPacketEnd opens path on its own and returns the end of its last video packet (pts +
// duration) relative to the stream's start. When the stream has a seek index and the headers
// declare an end (declared > 0 seconds), it seeks to the last keyframe before that end and
// reads from there; otherwise it reads every packet, without decoding.
func lastPacketEnd(ctx context.Context, path string, declared float64) (float64, error) {
	fc, idx, err := openVideo(ctx, path)
	if err != nil {
		return 0, err
	}
	defer func() { fc.Close() }() // fc is reopened below when a seek does not help
	st := fc.Streams()[idx]
	tb := st.TimeBase().Float64()
	start := st.StartTime()
	seeked := false
	if _, indexed := firstIndexed(st); indexed && declared > 0 && declared/tb < math.MaxInt64/4 {
		from := max(start, 0) + int64(declared/tb)
		seeked = fc.SeekFrame(idx, from, astiav.NewSeekFlags(astiav.SeekFlagBackward)) == nil
		if !seeked { // the position is unknown after a failed seek: read the whole file
			fc.Close()
			if fc, idx, err = openVideo(ctx, path); err != nil {
				return 0, err
			}
		}
	}
	first, end, err := packetSpan(ctx, fc, idx, frameTicks(st))
	if err != nil {
		return 0, fmt.Errorf("video: %s: %w", path, err)
	}
	if end == astiav.NoPtsValue && seeked {
		// Nothing after the keyframe found: read it all.
		fc.Close()
		if fc, idx, err = openVideo(ctx, path); err != nil {
			return 0, err
		}
		if first, end, err = packetSpan(ctx, fc, idx, frameTicks(st)); err != nil {
			return 0, fmt.Errorf("video: %s: %w", path, err)
		}
	}
	if end == astiav.NoPtsValue {
		return 0, fmt.Errorf("video: %s: no timestamped video packet", path)
	}
	if start == astiav.NoPtsValue {
		if seeked {
			start = 0
		} else {
			start = first
		}
	}
	return float64(end-start) * tb, nil
}

// flvVideoEnd returns the end of the last video tag of the FLV file at path relative to st's
// start, found by walking back from the end of the file along the tags' PreviousTagSize
// fields, a few small reads where FFmpeg would read every packet (CREMA-D's clips are FLV). The
// tag timestamp is the decode time, which for codecs without frame reordering (VP6, Sorenson
// Spark) is the presentation time. ok is false when the tail of the file is not a clean chain of
// tags (a truncated or damaged file): the caller then reads the packets.
func flvVideoEnd(path string, st *astiav.Stream) (end float64, ok bool) {
	f, err := os.Open(path)
	if err != nil {
		return 0, false
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return 0, false
	}
	const flvHeader = 9 + 4 // file header and PreviousTagSize0
	pos := info.Size()      // the end of the tag chain walked so far
	var buf [11]byte
	for range 64 { // tags after the last video tag: audio and script data, a handful at most
		if pos < flvHeader+15 {
			return 0, false
		}
		if _, err := f.ReadAt(buf[:4], pos-4); err != nil {
			return 0, false
		}
		size := int64(binary.BigEndian.Uint32(buf[:4])) // 11 + the tag's data size
		start := pos - 4 - size
		if size < 11 || start < flvHeader {
			return 0, false
		}
		if _, err := f.ReadAt(buf[:11], start); err != nil {
			return 0, false
		}
		if int64(buf[1])<<16|int64(buf[2])<<8|int64(buf[3]) != size-11 {
			return 0, false // not a tag boundary
		}
		if buf[0]&0x1f == 9 { // a video tag
			ts := int64(buf[4])<<16 | int64(buf[5])<<8 | int64(buf[6]) | int64(buf[7])<<24 // milliseconds
			tb := st.TimeBase()
			if tb.Num() != 1 || tb.Den() != 1000 {
				return 0, false // FFmpeg's FLV streams count milliseconds
			}
			first := st.StartTime()
			if first == astiav.NoPtsValue {
				first = 0
			}
			return float64(ts+frameTicks(st)-first) / 1000, true
		}
		pos = start
	}
	return 0, false
}

// frameTicks is one frame's duration in st's time base, from its average frame rate (0 if
// unknown), for packets that carry no duration (FLV).
func frameTicks(st *astiav.Stream) int64 {
	r := st.AvgFrameRate()
	if r.Num() <= 0 || r.Den() <= 0 {
		return 0
	}
	return int64(math.Round(1 / r.Float64() / st.TimeBase().Float64()))
}

// packetSpan reads the rest of fc and returns the smallest pts and the largest pts+duration of
// the packets of stream idx (NoPtsValue when there are none); a packet without a duration lasts
// frame ticks.
func packetSpan(ctx context.Context, fc *demux.Input, idx int, frame int64) (first, end int64, err error) {
	pkt := astiav.AllocPacket()
	defer pkt.Free()
	first, end = astiav.NoPtsValue, astiav.NoPtsValue
	for ctx.Err() == nil && fc.ReadFrame(pkt) == nil {
		if pts := pkt.Pts(); pkt.StreamIndex() == idx && pts != astiav.NoPtsValue {
			if first == astiav.NoPtsValue || pts < first {
				first = pts
			}
			dur := pkt.Duration()
			if dur <= 0 {
				dur = frame
			}
			end = max(end, pts+dur)
		}
		pkt.Unref()
	}
	if ctx.Err() != nil {
		return 0, 0, context.Cause(ctx)
	}
	return first, end, nil
}
