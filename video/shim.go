package video

/*
#cgo pkg-config: libavformat libavcodec libavutil
#include <libavformat/avformat.h>
#include <libavcodec/avcodec.h>

static int64_t avb_best_effort_ts(const AVFrame *f) { return f->best_effort_timestamp; }

static void avb_flush_decoder(AVCodecContext *c) { avcodec_flush_buffers(c); }

static int avb_best_video_stream(AVFormatContext *fc) {
	return av_find_best_stream(fc, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
}

// avb_discard_others makes the demuxer skip every stream but keep.
static void avb_discard_others(AVFormatContext *fc, int keep) {
	for (unsigned i = 0; i < fc->nb_streams; i++)
		fc->streams[i]->discard = (int)i == keep ? AVDISCARD_DEFAULT : AVDISCARD_ALL;
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

func flushDecoder(cc *astiav.CodecContext) {
	C.avb_flush_decoder((*C.AVCodecContext)(cptr(cc)))
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

// keyframeBefore returns the timestamp of the last indexed keyframe at or before ts, in the
// stream's time base, and whether there is one.
func keyframeBefore(st *astiav.Stream, ts int64) (int64, bool) {
	k := int64(C.avb_keyframe_before((*C.AVStream)(cptr(st)), C.int64_t(ts)))
	return k, k != astiav.NoPtsValue
}
