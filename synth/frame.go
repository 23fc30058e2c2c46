package synth

/*
#cgo pkg-config: libavutil
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <libavutil/frame.h>

// synth_write_plane copies rows rows of row_bytes bytes each from the packed buffer src into
// plane p of f, stepping by the plane's (padded) line size.
static int synth_write_plane(AVFrame *f, int p, const uint8_t *src, int row_bytes, int rows) {
	if (p < 0 || p >= AV_NUM_DATA_POINTERS || !f->data[p] || f->linesize[p] < row_bytes) {
		return AVERROR(EINVAL);
	}
	for (int y = 0; y < rows; y++) {
		memcpy(f->data[p] + (size_t)y * f->linesize[p], src + (size_t)y * row_bytes, row_bytes);
	}
	return 0;
}

// synth_zero_frame clears every buffer of f, padding included.
static void synth_zero_frame(AVFrame *f) {
	for (int i = 0; i < AV_NUM_DATA_POINTERS && f->buf[i]; i++) {
		memset(f->buf[i]->data, 0, f->buf[i]->size);
	}
}
*/
import "C"

import (
	"fmt"
	"unsafe"

	"github.com/asticode/go-astiav"
)

// The cgo shim: go-astiav v0.16.0 exposes frame planes read-only and does not wrap
// av_frame_make_writable, so writing samples or pixels goes through these two helpers.

func cFrame(f *astiav.Frame) *C.AVFrame { return (*C.AVFrame)(f.UnsafePointer()) }

// makeWritable ensures f's buffers are not shared (e.g. still referenced by an encoder).
func makeWritable(f *astiav.Frame) error {
	if ret := C.av_frame_make_writable(cFrame(f)); ret < 0 {
		return fmt.Errorf("av_frame_make_writable: error %d", int(ret))
	}
	return nil
}

// zeroFrame clears all of f's buffers, including the line and end padding that FFmpeg leaves
// uninitialised. libx264 reads (SIMD over-read) the padding of 56-pixel-wide chroma rows, which
// made identical input encode to different bytes from run to run.
func zeroFrame(f *astiav.Frame) { C.synth_zero_frame(cFrame(f)) }

// writePlane copies rows rows of rowBytes bytes each from src into plane p of f, respecting
// the plane's line size. len(src) must be rowBytes*rows.
func writePlane(f *astiav.Frame, p int, src []byte, rowBytes, rows int) error {
	if rowBytes <= 0 || rows <= 0 || len(src) != rowBytes*rows {
		panic(fmt.Sprintf("synth: writePlane: %d bytes for %d rows of %d", len(src), rows, rowBytes))
	}
	if ret := C.synth_write_plane(cFrame(f), C.int(p), (*C.uint8_t)(unsafe.Pointer(&src[0])), C.int(rowBytes), C.int(rows)); ret < 0 {
		return fmt.Errorf("write plane %d (%d rows of %d bytes, line size %d): invalid frame", p, rows, rowBytes, f.Linesize()[p])
	}
	return nil
}

// float32Bytes views s as bytes (native byte order, as FFmpeg's flt/fltp formats expect).
func float32Bytes(s []float32) []byte {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&s[0])), len(s)*4)
}
