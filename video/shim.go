package video

/*
#cgo pkg-config: libavformat libavcodec libavutil
#include <libavformat/avformat.h>
#include <libavcodec/avcodec.h>
#include <libavutil/display.h>

static int64_t avb_best_effort_ts(const AVFrame *f) { return f->best_effort_timestamp; }

// avb_stream_display_matrix returns the stream's display matrix side data, or NULL.
static const int32_t *avb_stream_display_matrix(const AVStream *st) {
	size_t size = 0;
	const uint8_t *d = av_stream_get_side_data(st, AV_PKT_DATA_DISPLAYMATRIX, &size);
	return d && size >= 9 * sizeof(int32_t) ? (const int32_t *)d : NULL;
}

// avb_frame_display_matrix returns the frame's display matrix side data, or NULL.
static const int32_t *avb_frame_display_matrix(const AVFrame *f) {
	const AVFrameSideData *sd = av_frame_get_side_data(f, AV_FRAME_DATA_DISPLAYMATRIX);
	return sd && sd->size >= 9 * sizeof(int32_t) ? (const int32_t *)sd->data : NULL;
}

static double avb_display_rotation(const int32_t *m) { return av_display_rotation_get(m); }

static void avb_flush_decoder(AVCodecContext *c) { avcodec_flush_buffers(c); }

// avb_stops_early reports whether c's codec returns each frame for its own packet, with the
// packet's timestamp: no frame reordering and no decoder delay.
static int avb_stops_early(const AVCodecContext *c) {
	const AVCodecDescriptor *d = avcodec_descriptor_get(c->codec_id);
	return d && !(d->props & AV_CODEC_PROP_REORDER) && c->codec &&
		!(c->codec->capabilities & AV_CODEC_CAP_DELAY) && c->has_b_frames == 0;
}

// avb_skip_nonref makes the decoder drop (on) or decode (off) the packets no other frame
// references; with one decoder thread the setting applies from the next packet sent.
static void avb_skip_nonref(AVCodecContext *c, int on) {
	c->skip_frame = on ? AVDISCARD_NONREF : AVDISCARD_DEFAULT;
}

static int avb_best_video_stream(AVFormatContext *fc) {
	return av_find_best_stream(fc, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
}

// avb_discard_others makes the demuxer skip every stream but keep.
static void avb_discard_others(AVFormatContext *fc, int keep) {
	for (unsigned i = 0; i < fc->nb_streams; i++)
		fc->streams[i]->discard = (int)i == keep ? AVDISCARD_DEFAULT : AVDISCARD_ALL;
}

// avb_discard_but2 makes the demuxer skip every stream but a and b.
static void avb_discard_but2(AVFormatContext *fc, int a, int b) {
	for (unsigned i = 0; i < fc->nb_streams; i++)
		fc->streams[i]->discard = ((int)i == a || (int)i == b) ? AVDISCARD_DEFAULT : AVDISCARD_ALL;
}

// avb_first_index_ts returns the timestamp of the stream's first index entry, or AV_NOPTS_VALUE.
static int64_t avb_first_index_ts(AVStream *st) {
	const AVIndexEntry *e = avformat_index_get_entry(st, 0);
	return e ? e->timestamp : AV_NOPTS_VALUE;
}

// avb_keyframe_before returns the index timestamp (dts) of the last keyframe at or before ts,
// or AV_NOPTS_VALUE when the index has none.
static int64_t avb_keyframe_before(AVStream *st, int64_t ts) {
	int i = av_index_search_timestamp(st, ts, AVSEEK_FLAG_BACKWARD);
	if (i < 0) return AV_NOPTS_VALUE;
	const AVIndexEntry *e = avformat_index_get_entry(st, i);
	return e ? e->timestamp : AV_NOPTS_VALUE;
}
*/
import "C"

import (
	"unsafe"

	"github.com/asticode/go-astiav"
)

// cptr returns the C object behind a go-astiav wrapper. Every go-astiav v0.16.0 wrapper used
// here (FormatContext, Stream, CodecContext) is a struct whose first field is the C pointer;
// go.mod pins that version and TestShimPointers checks the assumption.
func cptr[T any](w *T) unsafe.Pointer { return *(*unsafe.Pointer)(unsafe.Pointer(w)) }

func bestEffortTimestamp(f *astiav.Frame) int64 {
	return int64(C.avb_best_effort_ts((*C.AVFrame)(f.UnsafePointer())))
}

// stopsEarly reports whether an opened decoder returns each frame for its own packet, with
// the packet's timestamp (no reordering, no delay): then a packet whose timestamp is past a
// target shows the previous frame is the one on screen there, and need not be decoded. Only
// valid with one decoder thread.
func stopsEarly(cc *astiav.CodecContext) bool {
	return C.avb_stops_early((*C.AVCodecContext)(cptr(cc))) != 0
}

// displayMatrix copies a display matrix (nil: none) and returns it with its rotation in degrees
// counter-clockwise (av_display_rotation_get).
func displayMatrix(m *C.int32_t) (*[9]int32, float64) {
	if m == nil {
		return nil, 0
	}
	var out [9]int32
	copy(out[:], unsafe.Slice((*int32)(unsafe.Pointer(m)), 9))
	return &out, float64(C.avb_display_rotation(m))
}

// streamOrientation is the orientation the stream's display matrix asks for.
func streamOrientation(st *astiav.Stream) (Orientation, error) {
	return orientationOf(displayMatrix(C.avb_stream_display_matrix((*C.AVStream)(cptr(st)))))
}

// frameOrientation is the orientation f's own display matrix asks for, and whether it has one.
func frameOrientation(f *astiav.Frame) (Orientation, bool, error) {
	m, rot := displayMatrix(C.avb_frame_display_matrix((*C.AVFrame)(f.UnsafePointer())))
	if m == nil {
		return AsCoded, false, nil
	}
	o, err := orientationOf(m, rot)
	return o, true, err
}

func flushDecoder(cc *astiav.CodecContext) {
	C.avb_flush_decoder((*C.AVCodecContext)(cptr(cc)))
}

// skipNonRef sets the decoder's skip_frame to AVDISCARD_NONREF (on) or AVDISCARD_DEFAULT.
func skipNonRef(cc *astiav.CodecContext, on bool) {
	v := C.int(0)
	if on {
		v = 1
	}
	C.avb_skip_nonref((*C.AVCodecContext)(cptr(cc)), v)
}

// bestVideoStream returns the index of FFmpeg's preferred video stream, or -1.
func bestVideoStream(fc *astiav.FormatContext) int {
	i := int(C.avb_best_video_stream((*C.AVFormatContext)(cptr(fc))))
	if i < 0 {
		return -1
	}
	return i
}

func discardOtherStreams(fc *astiav.FormatContext, keep int) {
	C.avb_discard_others((*C.AVFormatContext)(cptr(fc)), C.int(keep))
}

// discardAllBut makes the demuxer skip every stream but a and b.
func discardAllBut(fc *astiav.FormatContext, a, b int) {
	C.avb_discard_but2((*C.AVFormatContext)(cptr(fc)), C.int(a), C.int(b))
}

// firstIndexed returns the timestamp of the stream's first index entry and whether there is one.
func firstIndexed(st *astiav.Stream) (int64, bool) {
	k := int64(C.avb_first_index_ts((*C.AVStream)(cptr(st))))
	return k, k != astiav.NoPtsValue
}

// keyframeBefore returns the timestamp of the last indexed keyframe at or before ts, in the
// stream's time base, and whether there is one.
func keyframeBefore(st *astiav.Stream, ts int64) (int64, bool) {
	k := int64(C.avb_keyframe_before((*C.AVStream)(cptr(st)), C.int64_t(ts)))
	return k, k != astiav.NoPtsValue
}
