package op

import (
	"gonum.org/v1/gonum/blas"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// groupCols is the number of gemm columns (output positions) a group of
// samples aims at. A layer with a small output (the last layers, all of
// the tiny preset's) is slow as one gemm per sample: for 2×2 outputs the
// gemm is 4 columns wide and the filter gradient's is 4 deep.
const groupCols = 512

// convShape is one convolution's sizes and its split into sample groups.
type convShape struct {
	g            Geom
	n, c, h, w   int // input batch [n,c,h,w]
	cout, ho, wo int
	ck, hw       int  // rows and columns of one sample's im2col matrix
	group        int  // samples per gemm
	table        bool // im2col goes through a colIndex
	tableBack    bool // col2im goes through a colIndex
	narrow       bool // the forward pass (and the filter gradient without dx) use the narrow kernels
}

// The narrow kernels (narrowForward, narrowGrad) take convolutions of at
// most narrowRows im2col rows (c·kh·kw) and outputs at least narrowWidth
// wide: a first layer's 9 or 27 rows make a shallow gemm (20–26 GFLOP/s
// for its filter gradient on the CREMA-D shapes, 50–100 for the later
// layers'), behind an im2col matrix written and read back and a masked
// copy of dy. The kernels gather the taps of one output row at a time
// instead and compute 4 output channels by two vectors of columns in
// registers, with FMA where the machine has it (so their sums round
// differently from the gemm's); narrower outputs would waste most of those
// vectors. Measured (forward and filter gradient, batch 32, 1 thread,
// paired in one process): the CREMA-D first layers 18.9 → 11.1 ms (audio,
// 94 wide) and 40.4 → 30.5 ms (video, 112 wide); the tiny preset's audio
// layer (50 wide) 0.97 → 1.31 ms, hence the width bound.
const (
	narrowRows  = 32
	narrowWidth = 64
)

// im2col and col2im go through an index table, a group of samples at a
// time, for outputs narrower than tableWidth and tableBackWidth, and by
// rows otherwise: a row of a few elements costs more to set up than to
// copy. Measured on the tiny layers' batches (1 thread, since im2col by
// rows takes a channel at a time): im2col by rows is faster from 13 wide
// on (0.31 against 0.34 ms at 13 wide, 0.26 against 0.41 at 16, 0.38
// against 0.76 at 25), the table up to 8 wide (0.55 against 0.64 ms at 8,
// 0.25 against 0.43 at 7); the table's scatter-add in col2im is slower
// than rows from 8 wide on, level at 7, faster at 2 and 4 wide.
const (
	tableWidth     = 10
	tableBackWidth = 6
)

func newConvShape(g Geom, xs, ws tensor.Shape) convShape {
	s := convShape{g: g, n: xs[0], c: xs[1], h: xs[2], w: xs[3], cout: ws[0]}
	s.ho, s.wo = g.OutSize(s.h, s.w)
	s.ck, s.hw = s.c*g.KH*g.KW, s.ho*s.wo
	// The group is the smallest divisor of a worker's share of samples
	// that reaches groupCols columns (or the whole share): every worker
	// then gets the same number of whole groups. A fixed group (3 samples
	// of a 14×14 output in 16 samples a worker, 32 of 4×4 in 48) left one
	// worker a group more than the other.
	perCore := (s.n + Parallelism() - 1) / Parallelism()
	s.group = max(1, perCore)
	for d := max(1, (groupCols+s.hw-1)/s.hw); d < perCore; d++ {
		if perCore%d == 0 {
			s.group = d
			break
		}
	}
	s.table, s.tableBack = s.wo < tableWidth, s.wo < tableBackWidth
	s.narrow = s.ck <= narrowRows && s.wo >= narrowWidth && !g.direct()
	return s
}

// size is the number of elements of one input sample.
func (s convShape) size() int { return s.c * s.h * s.w }

// padLen is the scratch a worker needs for the table paths: its group's
// samples, each followed by a zero (the padding).
func (s convShape) padLen() int {
	if !s.table && !s.tableBack {
		return 0
	}
	return s.group * (s.size() + 1)
}

func (s convShape) groups() int { return (s.n + s.group - 1) / s.group }

// groupAt is the first sample of group k and its number of samples.
func (s convShape) groupAt(k int) (first, count int) {
	first = k * s.group
	return first, min(s.group, s.n-first)
}

// colLen is the size of the im2col matrices of the batch the forward pass
// keeps (0 for a direct kernel, which needs none, and for the narrow
// kernels, which make none).
func (s convShape) colLen() int {
	if s.g.direct() || s.narrow {
		return 0
	}
	return s.n * s.ck * s.hw
}

// aliasesInput reports a group whose im2col matrix is the input sample itself.
func (s convShape) aliasesInput(count int) bool { return count == 1 && s.g.direct() }

// sample is sample i of a batch of [n,len] rows.
func sample[T any](x []T, i, size int) []T { return x[i*size : (i+1)*size] }

// columns returns the im2col matrix [ck, count·hw] of the group of
// samples from first: the kept matrices, the input itself, or the group's
// im2col into buf (pad: the worker's padLen scratch).
func columns[T float32 | float64](s convShape, idx []int32, kept, x, buf, pad []T, first, count int) []T {
	switch {
	case kept != nil:
		return kept[first*s.ck*s.hw : (first+count)*s.ck*s.hw]
	case s.aliasesInput(count):
		return sample(x, first, s.ck*s.hw)
	}
	col := buf[:s.ck*count*s.hw]
	im2col(s, idx, pad, x, col, first, count)
	return col
}

// convForward computes y [n,cout,ho,wo] = conv(x [n,c,h,w], w [cout,c,kh,kw])
// + bias, then max(·, 0) when relu. With kept (len colLen) the im2col
// matrices are left there (a narrow convolution, computed by
// narrowForward a sample at a time, makes none: its colLen is 0). idx is
// s's colIndex (nil without a table path).
func convForward[T float32 | float64](s convShape, idx []int32, work *scratch, kept, x, w, bias, y []T, relu bool) {
	if s.narrow {
		// The filters padded with zeros to whole tiles, then each worker's rows.
		nw, per := narrowOut(s.cout)*s.ck, narrowLen[T](s)
		buf := scratchOf[T](work, nw+workers(s.n)*per)
		clear(buf[copy(buf[:nw], w):nw])
		Blocks(s.n, 1, func(wk, lo, hi int) {
			rows := buf[nw+wk*per : nw+(wk+1)*per]
			for i := lo; i < hi; i++ {
				narrowForward(s, sample(x, i, s.size()), buf[:nw], bias, sample(y, i, s.cout*s.hw), relu, rows)
			}
		})
		return
	}
	ngroups := s.groups()
	p := workers(ngroups)
	colLen, tmpLen := 0, 0
	if !s.aliasesInput(s.group) {
		colLen = s.ck * s.group * s.hw
	}
	if s.group > 1 {
		tmpLen = s.cout * s.group * s.hw
	}
	per := colLen + tmpLen + s.padLen()
	buf := scratchOf[T](work, p*per)
	Blocks(ngroups, 1, func(wk, lo, hi int) {
		mine := buf[wk*per : (wk+1)*per]
		cols, tmp, pad := mine[:colLen], mine[colLen:colLen+tmpLen], mine[colLen+tmpLen:]
		for k := lo; k < hi; k++ {
			first, count := s.groupAt(k)
			ld := count * s.hw
			var col []T
			if kept != nil {
				col = kept[first*s.ck*s.hw : (first+count)*s.ck*s.hw]
				im2col(s, idx, pad, x, col, first, count)
			} else {
				col = columns(s, idx, nil, x, cols, pad, first, count)
			}
			// One sample is computed in place; a group into tmp
			// [cout, count·hw], then copied to its samples. The bias is
			// added after the gemm, with the ReLU, in one pass.
			out := sample(y, first, s.cout*s.hw)
			if count > 1 {
				out = tmp[:s.cout*ld]
			}
			gemm(blas.NoTrans, blas.NoTrans, s.cout, ld, s.ck, w, s.ck, col, ld, 0, out, ld)
			if count > 1 || bias != nil || relu {
				convOut(y[first*s.cout*s.hw:], out, ld, s.cout, s.hw, count, bias, relu)
			}
		}
	})
}

// convBackward computes, for the output gradient dy, the gradients asked
// for (the others are nil): dx, dw and db. With y (the forward output after
// the ReLU), dy is masked by y > 0 first. kept, if not nil, holds the
// batch's im2col matrices from the forward pass. Each worker sums the
// filter and bias gradients of its block of groups, in sample order; the
// blocks are then added in order. Without dx, a narrow convolution's
// filter and bias gradients come from narrowGrad, a sample at a time.
func convBackward[T float32 | float64](s convShape, idx []int32, work *scratch, kept, x, w, y, dy, dx, dw, db []T) {
	ngroups := s.groups()
	p := workers(ngroups)
	// The narrow kernels compute the filter and bias gradients when dx is
	// not asked for, in their own rows and lanes (narrowLen+narrowLanes a
	// worker); the gemm path in dz, the columns, the filter gradient
	// transposed (dwt), the columns' gradient and pad.
	narrow := s.narrow && dx == nil
	aliasDz := y == nil && s.group == 1
	dzLen, colLen, dwtLen, dcolLen, padLen, narrowBuf, partLen := 0, 0, 0, 0, 0, 0, 0
	switch {
	case narrow:
		narrowBuf = narrowLen[T](s) + narrowLanes[T](s)
	default:
		if !aliasDz {
			dzLen = s.cout * s.group * s.hw
		}
		if dw != nil && kept == nil && !s.aliasesInput(s.group) {
			colLen = s.ck * s.group * s.hw
		}
		if dw != nil {
			dwtLen = s.ck * s.cout
		}
		if dx != nil && !s.aliasesInput(s.group) {
			dcolLen = s.ck * s.group * s.hw
		}
		padLen = s.padLen()
	}
	if dw != nil {
		partLen += s.cout * s.ck
	}
	if db != nil {
		partLen += s.cout
	}
	per := dzLen + colLen + dwtLen + dcolLen + padLen + narrowBuf
	buf := scratchOf[T](work, p*per+(p-1)*partLen)
	parts := buf[p*per:]
	// split cuts a worker's partial sums into its filter and bias parts.
	split := func(part []T) (pw, pb []T) {
		if dw != nil {
			pw, part = part[:s.cout*s.ck], part[s.cout*s.ck:]
		}
		if db != nil {
			pb = part
		}
		return pw, pb
	}
	Blocks(ngroups, 1, func(wk, lo, hi int) {
		mine := buf[wk*per : (wk+1)*per]
		cut := func(n int) []T {
			part := mine[:n]
			mine = mine[n:]
			return part
		}
		dzBuf, cols, dwt, dcols, pad := cut(dzLen), cut(colLen), cut(dwtLen), cut(dcolLen), cut(padLen)
		var rows, lanes []T
		if narrow {
			rows, lanes = mine[:narrowLen[T](s)], mine[narrowLen[T](s):]
		}
		accW, accB := dw, db // worker 0 sums into the gradients themselves
		if wk > 0 {
			accW, accB = split(parts[(wk-1)*partLen : wk*partLen])
		}
		for k := lo; k < hi; k++ {
			first, count := s.groupAt(k)
			if narrow {
				for i := first; i < first+count; i++ {
					var yi []T
					if y != nil {
						yi = sample(y, i, s.cout*s.hw)
					}
					narrowGrad(s, sample(x, i, s.size()), yi, sample(dy, i, s.cout*s.hw), rows, lanes, accW, accB, i == lo*s.group)
				}
				continue
			}
			ld := count * s.hw
			// dz [cout, count·hw]: the group's masked output gradient.
			dz := sample(dy, first, s.cout*s.hw)
			if !aliasDz {
				dz = dzBuf[:s.cout*ld]
				var yg []T
				if y != nil {
					yg = y[first*s.cout*s.hw:]
				}
				convDz(dz, ld, dy[first*s.cout*s.hw:], yg, s.cout, s.hw, count)
			}
			if accB != nil {
				biasSums(dz, ld, s.cout, s.hw, count, accB, k == lo)
			}
			if accW != nil {
				var beta T
				if k > lo {
					beta = 1
				}
				// dwᵀ = Σ col · dzᵀ [ck, cout], transposed into dw at the end:
				// OpenBLAS runs it faster than dw = Σ dz · colᵀ (by 10–20% on
				// most CREMA-D and tiny layers, timed alone).
				col := columns(s, idx, kept, x, cols, pad, first, count)
				gemm(blas.NoTrans, blas.Trans, s.ck, s.cout, ld, col, ld, dz, ld, beta, dwt, s.cout)
			}
			if dx == nil {
				continue
			}
			if s.aliasesInput(count) {
				gemm(blas.Trans, blas.NoTrans, s.ck, s.hw, s.cout, w, s.ck, dz, s.hw, 0, sample(dx, first, s.ck*s.hw), s.hw)
				continue
			}
			dcol := dcols[:s.ck*ld]
			gemm(blas.Trans, blas.NoTrans, s.ck, ld, s.cout, w, s.ck, dz, ld, 0, dcol, ld)
			col2im(s, idx, pad, dcol, dx, first, count)
		}
		if accW != nil && !narrow {
			transpose(accW, dwt, s.ck, s.cout)
		}
	})
	for wk := 1; wk < p; wk++ {
		pw, pb := split(parts[(wk-1)*partLen : wk*partLen])
		addTo(dw, pw)
		addTo(db, pb)
	}
}

// transpose sets dst [cols, rows] to the transpose of src [rows, cols].
func transpose[T any](dst, src []T, rows, cols int) {
	src, dst = src[:rows*cols], dst[:rows*cols]
	for r := 0; r < rows; r++ {
		for c, v := range src[r*cols : (r+1)*cols] {
			dst[c*rows+r] = v
		}
	}
}

// addTo adds src to dst element by element (nothing when dst is nil).
func addTo[T float32 | float64](dst, src []T) {
	if dst == nil {
		return
	}
	src = src[:len(dst)]
	for i, v := range src {
		dst[i] += v
	}
}

// gemm is C = op(A)·op(B) + beta·C (row-major) through gorgonia's BLAS:
// OpenBLAS unless built with the noopenblas tag.
func gemm[T float32 | float64](ta, tb blas.Transpose, m, n, k int, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	impl := G.WhichBLAS()
	switch a := any(a).(type) {
	case []float32:
		impl.Sgemm(ta, tb, m, n, k, 1, a, lda, any(b).([]float32), ldb, float32(beta), any(c).([]float32), ldc)
	case []float64:
		impl.Dgemm(ta, tb, m, n, k, 1, a, lda, any(b).([]float64), ldb, float64(beta), any(c).([]float64), ldc)
	}
}

// im2col writes the im2col matrix [ck, count·hw] of the samples
// first..first+count-1 of x into col: row (ci,i,j), column (sample,
// oh,ow) holds x[sample, ci, oh·sh−ph+i, ow·sw−pw+j] or 0. pad is the
// worker's padLen scratch.
func im2col[T float32 | float64](s convShape, idx []int32, pad, x, col []T, first, count int) {
	size := s.size()
	if s.table {
		im2colTable(s, idx, x[first*size:], pad, col, count)
		return
	}
	for j := 0; j < count; j++ {
		im2colRows(s, sample(x, first+j, size), col[j*s.hw:], count*s.hw)
	}
}

// col2im adds the im2col matrix col [ck, count·hw] back into the samples
// first..first+count-1 of dx (overwriting them): the adjoint of im2col.
// Every element of dx sums its terms in the order of the rows (ci,i,j).
func col2im[T float32 | float64](s convShape, idx []int32, pad, col, dx []T, first, count int) {
	size := s.size()
	if s.tableBack {
		col2imTable(s, idx, col, pad, dx[first*size:], count)
		return
	}
	for j := 0; j < count; j++ {
		col2imRows(s, col[j*s.hw:], count*s.hw, sample(dx, first+j, size))
	}
}

// colIndex maps element (r, p) of a sample's im2col matrix [ck, hw] to
// the element of the sample [c,h,w] it copies, or to c·h·w (a zero after
// the sample) for the padding. It is built for one geometry and input size
// and rebuilt when they change.
type colIndex struct {
	g       Geom
	c, h, w int
	idx     []int32
}

func (ci *colIndex) of(s convShape) []int32 {
	if !s.table && !s.tableBack {
		return nil
	}
	if ci.idx != nil && ci.g == s.g && ci.c == s.c && ci.h == s.h && ci.w == s.w {
		return ci.idx
	}
	*ci = colIndex{g: s.g, c: s.c, h: s.h, w: s.w, idx: make([]int32, s.ck*s.hw)}
	g, zero := s.g, int32(s.size())
	for c := 0; c < s.c; c++ {
		for i := 0; i < g.KH; i++ {
			for j := 0; j < g.KW; j++ {
				row := ci.idx[((c*g.KH+i)*g.KW+j)*s.hw:][:s.hw]
				for oh := 0; oh < s.ho; oh++ {
					for ow := 0; ow < s.wo; ow++ {
						ih, iw := oh*g.SH-g.PH+i, ow*g.SW-g.PW+j
						v := zero
						if ih >= 0 && ih < s.h && iw >= 0 && iw < s.w {
							v = int32((c*s.h+ih)*s.w + iw)
						}
						row[oh*s.wo+ow] = v
					}
				}
			}
		}
	}
	return ci.idx
}
