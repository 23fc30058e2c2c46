package op

// #cgo CFLAGS: -O3
// #include "kernels.h"
import "C"

import (
	"fmt"
	"unsafe"
)

// The Go side of kernels.c: each wrapper checks the slice lengths (C does
// not) and calls the float or double kernel.

func cgeom(s convShape) *C.avb_conv {
	g := s.g
	return &C.avb_conv{c: C.long(s.c), h: C.long(s.h), w: C.long(s.w), kh: C.long(g.KH), kw: C.long(g.KW),
		sh: C.long(g.SH), sw: C.long(g.SW), ph: C.long(g.PH), pw: C.long(g.PW), ho: C.long(s.ho), wo: C.long(s.wo)}
}

func f32p[T float32 | float64](x []T) *C.float {
	return (*C.float)(unsafe.Pointer(unsafe.SliceData(x)))
}
func f64p[T float32 | float64](x []T) *C.double {
	return (*C.double)(unsafe.Pointer(unsafe.SliceData(x)))
}

func is32[T float32 | float64]() bool {
	var z T
	_, ok := any(z).(float32)
	return ok
}

// need panics unless x holds at least n elements: a C kernel would write
// past it.
// cbool is b as a C int, 1 or 0.
func cbool(b bool) C.int {
	if b {
		return 1
	}
	return 0
}

func need[T any](x []T, n int, what string) {
	if len(x) < n {
		panic(fmt.Sprintf("op: %s has %d elements, the kernel needs %d", what, len(x), n))
	}
}

// matrixLen is the length a row-major matrix of rows×cols with rows ld
// apart needs.
func matrixLen(rows, cols, ld int) int {
	if rows == 0 {
		return 0
	}
	return (rows-1)*ld + cols
}

// im2colRows writes the im2col matrix of one sample x [c,h,w] into the
// columns [0, ho·wo) of col's rows, which are ld apart, by row copies.
// Only the taps (i,j) with i < sh and j < sw are gathered from x: the row
// of tap (i,j) with j ≥ sw is the row of (i, j−sw) moved one output column
// left, and with i ≥ sh the row of (i−sh, j) moved one output row up, each
// completed by the column or row that has no counterpart (a 3×3 stride-2
// kernel gathers 4 of its 9 rows).
func im2colRows[T float32 | float64](s convShape, x, col []T, ld int) {
	need(x, s.size(), "im2col input")
	need(col, matrixLen(s.ck, s.hw, ld), "im2col matrix")
	if is32[T]() {
		C.avb_im2col_rows_f32(cgeom(s), f32p(x), f32p(col), C.long(ld))
	} else {
		C.avb_im2col_rows_f64(cgeom(s), f64p(x), f64p(col), C.long(ld))
	}
}

// col2imRows adds the columns [0, ho·wo) of col's rows (ld apart) back
// into one sample's dx [c,h,w] (overwriting dx), by rows; every element of
// dx sums its terms in the order (i, j) of the kernel taps.
func col2imRows[T float32 | float64](s convShape, col []T, ld int, dx []T) {
	need(dx, s.size(), "col2im output")
	need(col, matrixLen(s.ck, s.hw, ld), "col2im matrix")
	if is32[T]() {
		C.avb_col2im_rows_f32(cgeom(s), f32p(col), C.long(ld), f32p(dx))
	} else {
		C.avb_col2im_rows_f64(cgeom(s), f64p(col), C.long(ld), f64p(dx))
	}
}

// im2colTable writes the im2col matrix [ck, count·hw] of the count
// samples at the start of x through idx (a colIndex), using pad
// (count·(size+1) elements) for the samples, each followed by a zero.
func im2colTable[T float32 | float64](s convShape, idx []int32, x, pad, col []T, count int) {
	size := s.size()
	need(idx, s.ck*s.hw, "im2col index")
	need(x, count*size, "im2col input")
	need(pad, count*(size+1), "im2col padding buffer")
	need(col, s.ck*count*s.hw, "im2col matrix")
	ip := (*C.int32_t)(unsafe.Pointer(unsafe.SliceData(idx)))
	if is32[T]() {
		C.avb_im2col_table_f32(ip, C.long(s.ck), C.long(s.hw), f32p(x), C.long(size), C.long(count), f32p(pad), f32p(col))
	} else {
		C.avb_im2col_table_f64(ip, C.long(s.ck), C.long(s.hw), f64p(x), C.long(size), C.long(count), f64p(pad), f64p(col))
	}
}

// col2imTable adds the im2col matrix col [ck, count·hw] back into the
// count samples at the start of dx (overwriting them) through idx; every
// element sums its terms in the order of the rows (ci,i,j).
func col2imTable[T float32 | float64](s convShape, idx []int32, col, pad, dx []T, count int) {
	size := s.size()
	need(idx, s.ck*s.hw, "col2im index")
	need(dx, count*size, "col2im output")
	need(pad, count*(size+1), "col2im padding buffer")
	need(col, s.ck*count*s.hw, "col2im matrix")
	ip := (*C.int32_t)(unsafe.Pointer(unsafe.SliceData(idx)))
	if is32[T]() {
		C.avb_col2im_table_f32(ip, C.long(s.ck), C.long(s.hw), f32p(col), C.long(size), C.long(count), f32p(pad), f32p(dx))
	} else {
		C.avb_col2im_table_f64(ip, C.long(s.ck), C.long(s.hw), f64p(col), C.long(size), C.long(count), f64p(pad), f64p(dx))
	}
}

// biasReLU sets dst = src + b, then max(·, 0) when relu (dst may be src;
// a NaN stays NaN).
func biasReLU[T float32 | float64](dst, src []T, b T, relu bool) {
	need(dst, len(src), "bias/ReLU output")
	r := cbool(relu)
	if is32[T]() {
		C.avb_bias_relu_f32(f32p(dst), f32p(src), C.long(len(src)), C.float(b), r)
	} else {
		C.avb_bias_relu_f64(f64p(dst), f64p(src), C.long(len(src)), C.double(b), r)
	}
}

// maskPositive sets dx = dy where y > 0, else 0 (relu′(x) = [y > 0] for
// y = max(x, 0)), through the bits, branch-free: y is +0, positive or NaN,
// and a NaN with the sign bit clear counts as positive.
func maskPositive[T float32 | float64](y, dy, dx []T) {
	need(dy, len(y), "ReLU gradient input")
	need(dx, len(y), "ReLU gradient output")
	if is32[T]() {
		C.avb_mask_positive_f32(f32p(y), f32p(dy), f32p(dx), C.long(len(y)))
	} else {
		C.avb_mask_positive_f64(f64p(y), f64p(dy), f64p(dx), C.long(len(y)))
	}
}

// convOut writes the gemm output src [cout, count·hw] (rows ld apart) of
// a group of count samples to their outputs y [count, cout, hw], adding
// bias[o] (none when bias is nil) and applying the ReLU when relu; src may
// be y itself when count is 1.
func convOut[T float32 | float64](y, src []T, ld, cout, hw, count int, bias []T, relu bool) {
	need(y, count*cout*hw, "convolution output")
	need(src, matrixLen(cout, count*hw, ld), "gemm output")
	if bias != nil {
		need(bias, cout, "bias")
	}
	r := cbool(relu)
	if is32[T]() {
		C.avb_conv_out_f32(f32p(y), f32p(src), C.long(ld), C.long(cout), C.long(hw), C.long(count), f32p(bias), r)
	} else {
		C.avb_conv_out_f64(f64p(y), f64p(src), C.long(ld), C.long(cout), C.long(hw), C.long(count), f64p(bias), r)
	}
}

// convDz gathers the output gradients dy [count, cout, hw] of a group into
// dz [cout, count·hw] (rows ld apart), masked by y > 0 when y is not nil.
func convDz[T float32 | float64](dz []T, ld int, dy, y []T, cout, hw, count int) {
	need(dz, matrixLen(cout, count*hw, ld), "masked gradient")
	need(dy, count*cout*hw, "output gradient")
	if y != nil {
		need(y, count*cout*hw, "convolution output")
	}
	if is32[T]() {
		C.avb_conv_dz_f32(f32p(dz), C.long(ld), f32p(dy), f32p(y), C.long(cout), C.long(hw), C.long(count))
	} else {
		C.avb_conv_dz_f64(f64p(dz), C.long(ld), f64p(dy), f64p(y), C.long(cout), C.long(hw), C.long(count))
	}
}

// biasSums adds, for every channel o, the sums of dz's row o over each of
// the count samples (each sum in 8 interleaved partial sums) to acc[o], in
// sample order; with first, acc[o] starts from the first sample's sum.
func biasSums[T float32 | float64](dz []T, ld, cout, hw, count int, acc []T, first bool) {
	need(dz, matrixLen(cout, count*hw, ld), "masked gradient")
	need(acc, cout, "bias gradient")
	f := cbool(first)
	if is32[T]() {
		C.avb_bias_sums_f32(f32p(dz), C.long(ld), C.long(cout), C.long(hw), C.long(count), f32p(acc), f)
	} else {
		C.avb_bias_sums_f64(f64p(dz), C.long(ld), C.long(cout), C.long(hw), C.long(count), f64p(acc), f)
	}
}

// narrowLen is the scratch narrowForward and narrowGrad need for their
// rows (elements), narrowLanes narrowGrad's partial sums, narrowOut the
// number of filters narrowForward reads (cout rounded up to whole tiles).
func narrowLen[T float32 | float64](s convShape) int {
	var z T
	return int(C.avb_narrow_rows(cgeom(s), C.long(s.cout), C.long(unsafe.Sizeof(z))))
}
func narrowLanes[T float32 | float64](s convShape) int {
	var z T
	return int(C.avb_narrow_lanes(cgeom(s), C.long(s.cout), C.long(unsafe.Sizeof(z))))
}
func narrowOut(cout int) int { return int(C.avb_narrow_out(C.long(cout))) }

// narrowForward sets one sample's output y [cout,ho,wo] to conv(x
// [c,h,w], w) + bias (none when bias is nil), then max(·, 0) when relu,
// with no im2col matrix: it gathers the kernel taps' inputs of one output
// row at a time into rows (narrowLen elements) and sums them, for a few
// output channels and columns at a time, in registers, bias last. w holds
// narrowOut(cout) filters, zero past cout.
func narrowForward[T float32 | float64](s convShape, x, w, bias, y []T, relu bool, rows []T) {
	need(x, s.size(), "convolution input")
	need(w, narrowOut(s.cout)*s.ck, "padded filters")
	need(y, s.cout*s.hw, "convolution output")
	need(rows, narrowLen[T](s), "narrow kernel rows")
	if bias != nil {
		need(bias, s.cout, "bias")
	}
	r := cbool(relu)
	if is32[T]() {
		C.avb_narrow_fwd_f32(cgeom(s), f32p(x), f32p(w), C.long(s.cout), f32p(bias), r, f32p(rows), f32p(y))
	} else {
		C.avb_narrow_fwd_f64(cgeom(s), f64p(x), f64p(w), C.long(s.cout), f64p(bias), r, f64p(rows), f64p(y))
	}
}

// narrowGrad adds one sample's filter gradient [cout, ck] to dw and its
// bias gradient to db (none when db is nil), or sets them to it with
// first: dz = dy [cout,ho,wo], masked by y > 0 when y is not nil, against
// the kernel taps' inputs gathered one output row at a time into rows
// (narrowLen elements). Each sum runs in one vector of partial sums in
// lanes (narrowLanes elements), whose lanes are added last.
func narrowGrad[T float32 | float64](s convShape, x, y, dy, rows, lanes, dw, db []T, first bool) {
	need(x, s.size(), "convolution input")
	need(dy, s.cout*s.hw, "output gradient")
	need(dw, s.cout*s.ck, "filter gradient")
	need(rows, narrowLen[T](s), "narrow kernel rows")
	need(lanes, narrowLanes[T](s), "narrow kernel partial sums")
	if y != nil {
		need(y, s.cout*s.hw, "convolution output")
	}
	if db != nil {
		need(db, s.cout, "bias gradient")
	}
	f := cbool(first)
	if is32[T]() {
		C.avb_narrow_grad_f32(cgeom(s), f32p(x), f32p(y), f32p(dy), C.long(s.cout), f32p(rows), f32p(lanes), f32p(dw), f32p(db), f)
	} else {
		C.avb_narrow_grad_f64(cgeom(s), f64p(x), f64p(y), f64p(dy), C.long(s.cout), f64p(rows), f64p(lanes), f64p(dw), f64p(db), f)
	}
}
