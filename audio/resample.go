package audio

/*
#cgo pkg-config: libswresample libavutil libavcodec
#include <libswresample/swresample.h>
#include <libavutil/channel_layout.h>
#include <libavutil/frame.h>
#include <libavutil/samplefmt.h>

// avb_swr_setup (re)configures *ps to turn in_ch channels of in_fmt at in_rate into mono float
// at out_rate, averaging the input channels (custom matrix, so the input layout does not matter).
#define AVB_MAX_CH 64

static int avb_swr_setup(SwrContext **ps, int in_fmt, int in_rate, int in_ch, int out_rate) {
	AVChannelLayout in_layout, out_layout = (AVChannelLayout)AV_CHANNEL_LAYOUT_MONO;
	double m[AVB_MAX_CH];
	int i, ret;
	if (in_ch < 1 || in_ch > AVB_MAX_CH) return AVERROR(EINVAL);
	if (*ps) swr_close(*ps);
	av_channel_layout_default(&in_layout, in_ch);
	ret = swr_alloc_set_opts2(ps, &out_layout, AV_SAMPLE_FMT_FLT, out_rate,
	                          &in_layout, (enum AVSampleFormat)in_fmt, in_rate, 0, NULL);
	av_channel_layout_uninit(&in_layout);
	if (ret < 0) return ret;
	for (i = 0; i < in_ch; i++) m[i] = 1.0 / in_ch;
	ret = swr_set_matrix(*ps, m, in_ch);
	if (ret < 0) return ret;
	return swr_init(*ps);
}

// avb_swr_out_samples bounds the output of converting n more input samples (n = 0: flush).
static int avb_swr_out_samples(SwrContext *s, int n) { return swr_get_out_samples(s, n); }

// avb_swr_frame converts one decoded frame, writing at most cap samples to out.
static int avb_swr_frame(SwrContext *s, float *out, int cap, const AVFrame *f) {
	uint8_t *o = (uint8_t *)out;
	return swr_convert(s, &o, cap, (const uint8_t **)f->extended_data, f->nb_samples);
}

// avb_swr_mono converts n mono float samples (in = NULL, n = 0 flushes).
static int avb_swr_mono(SwrContext *s, float *out, int cap, const float *in, int n) {
	uint8_t *o = (uint8_t *)out;
	const uint8_t *i = (const uint8_t *)in;
	return swr_convert(s, &o, cap, in ? &i : NULL, n);
}

static void avb_frame_format(const AVFrame *f, int *fmt, int *rate, int *ch) {
	*fmt = f->format;
	*rate = f->sample_rate;
	*ch = f->ch_layout.nb_channels;
}

static void avb_swr_free(SwrContext **ps) { swr_free(ps); }
*/
import "C"

import (
	"fmt"
	"unsafe"

	"github.com/asticode/go-astiav"
)

// Input sample rates outside [MinInputRate, MaxInputRate] are refused: a header claiming 1 Hz
// would make the resampler emit thousands of output samples per input sample.
const (
	MinInputRate = 1000
	MaxInputRate = 1_000_000
)

// resampler wraps one SwrContext that turns any sample format, rate and channel count into
// mono float32 at outRate. It is reconfigured (not reallocated) per stream.
type resampler struct {
	ctx     *C.SwrContext
	outRate int
	// current input configuration; ch == 0 means not configured
	fmt, rate, ch int
}

// setup configures the resampler for a new input; pending output of the previous
// configuration must have been flushed.
func (r *resampler) setup(sampleFmt, rate, ch int) error {
	if rate < MinInputRate || rate > MaxInputRate {
		r.ch = 0
		return fmt.Errorf("input sample rate %d Hz is outside %d–%d Hz: a damaged or absurd header", rate, MinInputRate, MaxInputRate)
	}
	if ret := C.avb_swr_setup(&r.ctx, C.int(sampleFmt), C.int(rate), C.int(ch), C.int(r.outRate)); ret < 0 {
		r.ch = 0
		return fmt.Errorf("resampler (%d ch, %d Hz, format %d): %w", ch, rate, sampleFmt, astiav.Error(ret))
	}
	r.fmt, r.rate, r.ch = sampleFmt, rate, ch
	return nil
}

// reserve grows dst so that n more samples fit and returns it.
func reserve(dst []float32, n int) []float32 {
	if cap(dst)-len(dst) < n {
		grown := make([]float32, len(dst), 2*cap(dst)+n)
		copy(grown, dst)
		dst = grown
	}
	return dst
}

// frame appends the mono resampled samples of a decoded audio frame to dst. When the frame's
// format differs from the current configuration, the old one is flushed and the resampler
// reconfigured (streams may change layout or rate mid-way).
func (r *resampler) frame(dst []float32, f *astiav.Frame) ([]float32, error) {
	var cf, crate, cch C.int
	cf2 := (*C.AVFrame)(f.UnsafePointer())
	C.avb_frame_format(cf2, &cf, &crate, &cch)
	if int(cf) != r.fmt || int(crate) != r.rate || int(cch) != r.ch {
		var err error
		if r.ch != 0 {
			if dst, err = r.flush(dst); err != nil {
				return dst, err
			}
		}
		if err = r.setup(int(cf), int(crate), int(cch)); err != nil {
			return dst, err
		}
	}
	n := int(C.avb_swr_out_samples(r.ctx, C.int(f.NbSamples())))
	if n < 0 {
		return dst, fmt.Errorf("resampler: %w", astiav.Error(n))
	}
	dst = reserve(dst, n)
	free := dst[len(dst):cap(dst)]
	got := C.avb_swr_frame(r.ctx, (*C.float)(unsafe.Pointer(unsafe.SliceData(free))), C.int(len(free)), cf2)
	if got < 0 {
		return dst, fmt.Errorf("resampler: %w", astiav.Error(got))
	}
	return dst[:len(dst)+int(got)], nil
}

// mono appends the resampled form of mono float32 samples at the configured input rate.
func (r *resampler) mono(dst, in []float32) ([]float32, error) {
	n := int(C.avb_swr_out_samples(r.ctx, C.int(len(in))))
	if n < 0 {
		return dst, fmt.Errorf("resampler: %w", astiav.Error(n))
	}
	dst = reserve(dst, n)
	free := dst[len(dst):cap(dst)]
	got := C.avb_swr_mono(r.ctx, (*C.float)(unsafe.Pointer(unsafe.SliceData(free))), C.int(len(free)),
		(*C.float)(unsafe.Pointer(unsafe.SliceData(in))), C.int(len(in)))
	if got < 0 {
		return dst, fmt.Errorf("resampler: %w", astiav.Error(got))
	}
	return dst[:len(dst)+int(got)], nil
}

// flush appends the samples still buffered in the resampler's filter.
func (r *resampler) flush(dst []float32) ([]float32, error) {
	if r.ch == 0 {
		return dst, nil
	}
	for {
		n := int(C.avb_swr_out_samples(r.ctx, 0))
		if n <= 0 {
			return dst, nil
		}
		dst = reserve(dst, n)
		free := dst[len(dst):cap(dst)]
		got := C.avb_swr_mono(r.ctx, (*C.float)(unsafe.Pointer(unsafe.SliceData(free))), C.int(len(free)), nil, 0)
		if got < 0 {
			return dst, fmt.Errorf("resampler flush: %w", astiav.Error(got))
		}
		if got == 0 {
			return dst, nil
		}
		dst = dst[:len(dst)+int(got)]
	}
}

// free releases the SwrContext.
func (r *resampler) free() {
	if r.ctx != nil {
		C.avb_swr_free(&r.ctx)
	}
	r.ch = 0
}
