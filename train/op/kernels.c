#include "kernels.h"

#include <string.h>

// AVB_CLONES compiles a kernel twice, for AVX2 and for the baseline, and
// picks one at load time (GCC and Clang on x86-64 Linux).
#if defined(__x86_64__) && defined(__linux__) && (defined(__GNUC__) || defined(__clang__))
#define AVB_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define AVB_CLONES
#endif

// valid_range gives the output positions [lo,hi) whose input position
// o·stride − pad + k lies inside [0,n).
static void valid_range(long k, long stride, long pad, long n, long out, long *lo, long *hi) {
	long l = 0, h = 0;
	if (pad - k > 0) l = (pad - k + stride - 1) / stride;
	if (n - 1 + pad - k >= 0) h = (n - 1 + pad - k) / stride + 1;
	if (l > out) l = out;
	if (h > out) h = out;
	if (h < l) h = l;
	*lo = l;
	*hi = h;
}

// The narrow kernels (avb_narrow_fwd, avb_narrow_grad) compute in vectors of
// AVB_VEC bytes (GCC and Clang vector extensions), compiled for AVX-512,
// for FMA (with AVX), and for the baseline: the forward pass AVB_TILE output
// channels by two vectors of output columns at a time, the filter gradient
// AVB_TILE channels by AVB_TAPS rows of the im2col matrix.
#define AVB_VEC 64
#define AVB_TILE 4
#define AVB_TAPS 3
#if defined(__x86_64__) && defined(__linux__) && (defined(__GNUC__) || defined(__clang__))
#define AVB_NARROW_CLONES __attribute__((target_clones("avx512f", "fma", "default")))
#else
#define AVB_NARROW_CLONES
#endif

// avb_round rounds n up to a multiple of m.
static long avb_round(long n, long m) { return (n + m - 1) / m * m; }

#define AVB_DEFINE(T, S)                                                                     \
	/* gather_##S sets d[k] = s[k·stride] for k < n. */                                  \
	static inline void gather_##S(T *restrict d, const T *restrict s, long n, long stride) { \
		if (stride == 1) {                                                              \
			memcpy(d, s, n * sizeof(T));                                            \
		} else if (stride == 2) {                                                       \
			for (long k = 0; k < n; k++) d[k] = s[2 * k];                           \
		} else {                                                                        \
			for (long k = 0; k < n; k++) d[k] = s[k * stride];                      \
		}                                                                               \
	}                                                                                       \
                                                                                                \
	/* gather_into_##S writes output row oh of tap (i,j) of one channel to dst. */       \
	static inline void gather_into_##S(const avb_conv *g, T *dst, const T *plane, long oh,  \
		long i, long j, long hlo, long hhi, long wlo, long whi) {                       \
		if (oh < hlo || oh >= hhi) {                                                    \
			memset(dst, 0, g->wo * sizeof(T));                                      \
			return;                                                                 \
		}                                                                               \
		for (long k = 0; k < wlo; k++) dst[k] = 0;                                      \
		for (long k = whi; k < g->wo; k++) dst[k] = 0;                                  \
		gather_##S(dst + wlo, plane + (oh * g->sh - g->ph + i) * g->w + wlo * g->sw - g->pw + j, \
			whi - wlo, g->sw);                                                      \
	}                                                                                       \
                                                                                                \
	/* See im2colRows in conv_kernels.go. */                                             \
	AVB_CLONES void avb_im2col_rows_##S(const avb_conv *g, const T *x, T *col, long ld) {  \
		long ho = g->ho, wo = g->wo, n = ho * wo;                                       \
		for (long ci = 0; ci < g->c; ci++)                                              \
		for (long i = 0; i < g->kh; i++) {                                              \
			long hlo, hhi;                                                          \
			valid_range(i, g->sh, g->ph, g->h, ho, &hlo, &hhi);                     \
			for (long j = 0; j < g->kw; j++) {                                      \
				long wlo, whi;                                                  \
				valid_range(j, g->sw, g->pw, g->w, wo, &wlo, &whi);             \
				long last = (wo - 1) * g->sw - g->pw + j;                       \
				{                                                               \
					T *row = col + ((ci * g->kh + i) * g->kw + j) * ld;     \
					const T *plane = x + ci * g->h * g->w;                  \
					if (i >= g->sh) {                                       \
						const T *up = col + ((ci * g->kh + i - g->sh) * g->kw + j) * ld; \
						memcpy(row, up + wo, (n - wo) * sizeof(T));     \
						gather_into_##S(g, row + n - wo, plane, ho - 1, i, j, hlo, hhi, wlo, whi); \
					} else if (j >= g->sw) {                                \
						const T *left = col + ((ci * g->kh + i) * g->kw + j - g->sw) * ld; \
						memcpy(row, left + 1, (n - 1) * sizeof(T));    \
						for (long oh = 0; oh < ho; oh++) {              \
							T v = 0;                                \
							if (oh >= hlo && oh < hhi && last >= 0 && last < g->w) \
								v = plane[(oh * g->sh - g->ph + i) * g->w + last]; \
							row[oh * wo + wo - 1] = v;              \
						}                                               \
					} else {                                                \
						for (long oh = 0; oh < ho; oh++)                \
							gather_into_##S(g, row + oh * wo, plane, oh, i, j, hlo, hhi, wlo, whi); \
					}                                                       \
				}                                                               \
			}                                                                       \
		}                                                                               \
	}                                                                                       \
                                                                                                \
	/* See col2imRows in conv_kernels.go. */                                             \
	AVB_CLONES void avb_col2im_rows_##S(const avb_conv *g, const T *col, long ld, T *dx) { \
		long ho = g->ho, wo = g->wo;                                                    \
		memset(dx, 0, g->c * g->h * g->w * sizeof(T));                                  \
		for (long ci = 0; ci < g->c; ci++)                                              \
		for (long i = 0; i < g->kh; i++) {                                              \
			long hlo, hhi;                                                          \
			valid_range(i, g->sh, g->ph, g->h, ho, &hlo, &hhi);                     \
			for (long j = 0; j < g->kw; j++) {                                      \
				long wlo, whi;                                                  \
				valid_range(j, g->sw, g->pw, g->w, wo, &wlo, &whi);             \
				long off = wlo * g->sw - g->pw + j, n = whi - wlo;              \
				{                                                               \
					const T *row = col + ((ci * g->kh + i) * g->kw + j) * ld; \
					T *plane = dx + ci * g->h * g->w;                       \
					for (long oh = hlo; oh < hhi; oh++) {                   \
						T *restrict d = plane + (oh * g->sh - g->ph + i) * g->w + off; \
						const T *restrict s = row + oh * wo + wlo;      \
						if (g->sw == 1) {                               \
							for (long k = 0; k < n; k++) d[k] += s[k]; \
						} else if (g->sw == 2) {                        \
							for (long k = 0; k < n; k++) d[2 * k] += s[k]; \
						} else {                                        \
							for (long k = 0; k < n; k++) d[k * g->sw] += s[k]; \
						}                                               \
					}                                                       \
				}                                                               \
			}                                                                       \
		}                                                                               \
	}                                                                                       \
                                                                                                \
	/* See im2col in conv_kernels.go: x holds count samples of size elements. */         \
	AVB_CLONES void avb_im2col_table_##S(const int32_t *idx, long ck, long hw, const T *x, \
		long size, long count, T *pad, T *col) {                                        \
		long ld = count * hw;                                                           \
		for (long j = 0; j < count; j++) {                                             \
			memcpy(pad + j * (size + 1), x + j * size, size * sizeof(T));           \
			pad[j * (size + 1) + size] = 0;                                         \
		}                                                                               \
		for (long r = 0; r < ck; r++) {                                                 \
			const int32_t *ix = idx + r * hw;                                       \
			for (long j = 0; j < count; j++) {                                      \
				const T *restrict src = pad + j * (size + 1);                   \
				T *restrict dst = col + r * ld + j * hw;                        \
				for (long p = 0; p < hw; p++) dst[p] = src[ix[p]];              \
			}                                                                       \
		}                                                                               \
	}                                                                                       \
                                                                                                \
	/* See col2im in conv_kernels.go. */                                                 \
	AVB_CLONES void avb_col2im_table_##S(const int32_t *idx, long ck, long hw, const T *col, \
		long size, long count, T *pad, T *dx) {                                         \
		long ld = count * hw;                                                           \
		memset(pad, 0, count * (size + 1) * sizeof(T));                                 \
		for (long r = 0; r < ck; r++) {                                                 \
			const int32_t *ix = idx + r * hw;                                       \
			for (long j = 0; j < count; j++) {                                      \
				T *acc = pad + j * (size + 1);                                  \
				const T *src = col + r * ld + j * hw;                           \
				for (long p = 0; p < hw; p++) acc[ix[p]] += src[p];             \
			}                                                                       \
		}                                                                               \
		for (long j = 0; j < count; j++) memcpy(dx + j * size, pad + j * (size + 1), size * sizeof(T)); \
	}                                                                                       \
                                                                                                \
	/* avb_bias_relu_##S sets dst = src + b, then max(·, 0) when relu; NaN stays NaN. */ \
	AVB_CLONES void avb_bias_relu_##S(T *dst, const T *src, long n, T b, int relu) {       \
		if (relu) {                                                                     \
			for (long k = 0; k < n; k++) {                                          \
				T v = src[k] + b;                                               \
				dst[k] = v < 0 ? 0 : v;                                         \
			}                                                                       \
		} else {                                                                        \
			for (long k = 0; k < n; k++) dst[k] = src[k] + b;                       \
		}                                                                               \
	}                                                                                       \
                                                                                                \
	/* avb_sum_##S sums x in 8 interleaved partial sums, added in a fixed order. */      \
	AVB_CLONES T avb_sum_##S(const T *x, long n) {                                         \
		T acc[8] = {0};                                                                 \
		long k = 0;                                                                     \
		for (; k + 8 <= n; k += 8)                                                      \
			for (int l = 0; l < 8; l++) acc[l] += x[k + l];                         \
		T s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7])); \
		for (; k < n; k++) s += x[k];                                                   \
		return s;                                                                       \
	}                                                                                       \
                                                                                                \
	/* See convOut in kernels.go. */                                                      \
	void avb_conv_out_##S(T *y, const T *src, long ld, long cout, long hw, long count,     \
		const T *bias, int relu) {                                                      \
		for (long j = 0; j < count; j++)                                                \
			for (long o = 0; o < cout; o++)                                         \
				avb_bias_relu_##S(y + (j * cout + o) * hw, src + o * ld + j * hw, hw, \
					bias ? bias[o] : 0, relu);                                      \
	}                                                                                       \
                                                                                                \
	/* See convDz in kernels.go. */                                                       \
	void avb_conv_dz_##S(T *dz, long ld, const T *dy, const T *y, long cout, long hw,      \
		long count) {                                                                   \
		for (long j = 0; j < count; j++)                                                \
			for (long o = 0; o < cout; o++) {                                       \
				T *d = dz + o * ld + j * hw;                                    \
				const T *s = dy + (j * cout + o) * hw;                          \
				if (y)                                                          \
					avb_mask_positive_##S(y + (j * cout + o) * hw, s, d, hw); \
				else                                                            \
					memcpy(d, s, hw * sizeof(T));                           \
			}                                                                       \
	}                                                                                       \
                                                                                                \
	/* See biasSums in kernels.go. */                                                     \
	void avb_bias_sums_##S(const T *dz, long ld, long cout, long hw, long count, T *acc,   \
		int first) {                                                                    \
		for (long o = 0; o < cout; o++)                                                 \
			for (long j = 0; j < count; j++) {                                      \
				T s = avb_sum_##S(dz + o * ld + j * hw, hw);                     \
				acc[o] = first && j == 0 ? s : acc[o] + s;                       \
			}                                                                       \
	}                                                                                       \
                                                                                                \
	/* vec_##S is a vector that may sit at any element (unaligned) and alias T. */       \
	typedef T vec_##S __attribute__((vector_size(AVB_VEC), aligned(sizeof(T)), may_alias)); \
                                                                                                \
	/* tap_rows_##S writes output row oh of the rows (ci,i,j) of one sample's im2col     \
	 * matrix to rows, ld apart. */                                                       \
	static inline void tap_rows_##S(const avb_conv *g, const T *x, long oh, T *rows, long ld) { \
		for (long ci = 0; ci < g->c; ci++)                                              \
			for (long i = 0; i < g->kh; i++) {                                      \
				long hlo, hhi;                                                  \
				valid_range(i, g->sh, g->ph, g->h, g->ho, &hlo, &hhi);          \
				for (long j = 0; j < g->kw; j++) {                              \
					long wlo, whi;                                          \
					valid_range(j, g->sw, g->pw, g->w, g->wo, &wlo, &whi);  \
					gather_into_##S(g, rows + ((ci * g->kh + i) * g->kw + j) * ld, \
						x + ci * g->h * g->w, oh, i, j, hlo, hhi, wlo, whi); \
				}                                                               \
			}                                                                       \
	}                                                                                       \
                                                                                                \
	/* See narrowForward in kernels.go. w holds avb_narrow_out(cout) filters (zero      \
	 * past cout), rows avb_narrow_rows elements. */                                      \
	AVB_NARROW_CLONES void avb_narrow_fwd_##S(const avb_conv *g, const T *x, const T *w,   \
		long cout, const T *bias, int relu, T *rows, T *y) {                            \
		enum { L = AVB_VEC / sizeof(T) };                                               \
		long ck = g->c * g->kh * g->kw, wo = g->wo, hw = g->ho * wo;                    \
		long ld = avb_round(wo, 2 * L);                                                 \
		memset(rows, 0, ck * ld * sizeof(T));                                           \
		for (long oh = 0; oh < g->ho; oh++) {                                           \
			tap_rows_##S(g, x, oh, rows, ld);                                       \
			for (long o0 = 0; o0 < cout; o0 += AVB_TILE)                            \
				for (long c0 = 0; c0 < wo; c0 += 2 * L) {                       \
					vec_##S acc[AVB_TILE][2];                               \
					for (int t = 0; t < AVB_TILE; t++)                      \
						acc[t][0] = acc[t][1] = (vec_##S){0};           \
					for (long r = 0; r < ck; r++) {                         \
						vec_##S r0 = *(const vec_##S *)(rows + r * ld + c0);      \
						vec_##S r1 = *(const vec_##S *)(rows + r * ld + c0 + L);  \
						for (int t = 0; t < AVB_TILE; t++) {            \
							T wv = w[(o0 + t) * ck + r];            \
							acc[t][0] += r0 * wv;                   \
							acc[t][1] += r1 * wv;                   \
						}                                               \
					}                                                       \
					long n = wo - c0 < 2 * L ? wo - c0 : 2 * L;             \
					for (int t = 0; t < AVB_TILE && o0 + t < cout; t++) {   \
						T out[2 * L], b = bias ? bias[o0 + t] : 0;     \
						*(vec_##S *)(out) = acc[t][0];                      \
						*(vec_##S *)(out + L) = acc[t][1];                  \
						T *yo = y + (o0 + t) * hw + oh * wo + c0;       \
						for (long l = 0; l < n; l++) {                  \
							T v = out[l] + b;                       \
							yo[l] = relu && v < 0 ? 0 : v;          \
						}                                               \
					}                                                       \
				}                                                               \
		}                                                                               \
	}                                                                                       \
                                                                                                \
	/* See narrowGrad in kernels.go: rows holds avb_narrow_rows elements, lanes           \
	 * avb_narrow_lanes. */                                                               \
	AVB_NARROW_CLONES void avb_narrow_grad_##S(const avb_conv *g, const T *x, const T *y,  \
		const T *dy, long cout, T *rows, T *lanes, T *dw, T *db, int first) {           \
		enum { L = AVB_VEC / sizeof(T) };                                               \
		long ck = g->c * g->kh * g->kw, wo = g->wo, hw = g->ho * wo;                    \
		long ld = avb_round(wo, 2 * L), ckt = avb_round(ck, AVB_TAPS);                  \
		long co = avb_round(cout, AVB_TILE), nl = ckt + 1;                              \
		T *dz = rows + ckt * ld;                                                        \
		memset(rows, 0, (ckt + co) * ld * sizeof(T));                                   \
		memset(lanes, 0, co * nl * L * sizeof(T));                                      \
		for (long oh = 0; oh < g->ho; oh++) {                                           \
			tap_rows_##S(g, x, oh, rows, ld);                                       \
			for (long o = 0; o < cout; o++) {                                       \
				const T *s = dy + o * hw + oh * wo;                             \
				if (y)                                                          \
					avb_mask_positive_##S(y + o * hw + oh * wo, s, dz + o * ld, wo); \
				else                                                            \
					memcpy(dz + o * ld, s, wo * sizeof(T));                 \
			}                                                                       \
			for (long o0 = 0; o0 < co; o0 += AVB_TILE) {                            \
				for (long r0 = 0; r0 < ckt; r0 += AVB_TAPS) {                   \
					vec_##S acc[AVB_TILE][AVB_TAPS];                        \
					for (int t = 0; t < AVB_TILE; t++)                      \
						for (int u = 0; u < AVB_TAPS; u++)              \
							acc[t][u] = *(const vec_##S *)(lanes + ((o0 + t) * nl + r0 + u) * L); \
					for (long c0 = 0; c0 < ld; c0 += L) {                   \
						vec_##S d[AVB_TILE], rr[AVB_TAPS];              \
						for (int t = 0; t < AVB_TILE; t++)              \
							d[t] = *(const vec_##S *)(dz + (o0 + t) * ld + c0); \
						for (int u = 0; u < AVB_TAPS; u++)              \
							rr[u] = *(const vec_##S *)(rows + (r0 + u) * ld + c0); \
						for (int t = 0; t < AVB_TILE; t++)              \
							for (int u = 0; u < AVB_TAPS; u++)      \
								acc[t][u] += d[t] * rr[u];      \
					}                                                       \
					for (int t = 0; t < AVB_TILE; t++)                      \
						for (int u = 0; u < AVB_TAPS; u++)              \
							*(vec_##S *)(lanes + ((o0 + t) * nl + r0 + u) * L) = acc[t][u]; \
				}                                                               \
				for (int t = 0; t < AVB_TILE; t++) {                            \
					vec_##S acc = *(const vec_##S *)(lanes + ((o0 + t) * nl + ckt) * L); \
					for (long c0 = 0; c0 < ld; c0 += L) acc += *(const vec_##S *)(dz + (o0 + t) * ld + c0); \
					*(vec_##S *)(lanes + ((o0 + t) * nl + ckt) * L) = acc;       \
				}                                                               \
			}                                                                       \
		}                                                                               \
		for (long o = 0; o < cout; o++)                                                 \
			for (long r = 0; r <= ck; r++) {                                        \
				long lane = r < ck ? r : ckt;                                   \
				T *dst = r < ck ? dw + o * ck + r : db ? db + o : 0;            \
				T s = avb_sum_##S(lanes + (o * nl + lane) * L, L);              \
				if (dst) *dst = first ? s : *dst + s;                           \
			}                                                                       \
	}

AVB_DEFINE(float, f32)
AVB_DEFINE(double, f64)

// avb_mask_positive_f32 sets dz = dy where y > 0 and 0 elsewhere, through
// the bits: y = max(x, 0) is +0, positive or NaN, and a positive NaN
// counts as positive, as in reluBackward32.
AVB_CLONES void avb_mask_positive_f32(const float *y, const float *dy, float *dz, long n) {
	for (long k = 0; k < n; k++) {
		int32_t yb;
		uint32_t d;
		memcpy(&yb, y + k, 4);
		memcpy(&d, dy + k, 4);
		d &= yb > 0 ? 0xffffffffu : 0;
		memcpy(dz + k, &d, 4);
	}
}

// avb_mask_positive_f64 is avb_mask_positive_f32 for double.
AVB_CLONES void avb_mask_positive_f64(const double *y, const double *dy, double *dz, long n) {
	for (long k = 0; k < n; k++) {
		int64_t yb;
		uint64_t d;
		memcpy(&yb, y + k, 8);
		memcpy(&d, dy + k, 8);
		d &= yb > 0 ? ~(uint64_t)0 : 0;
		memcpy(dz + k, &d, 8);
	}
}

// avb_narrow_rows is the scratch avb_narrow_fwd_* and avb_narrow_grad_* need
// for their rows, in elements of size elem.
long avb_narrow_rows(const avb_conv *g, long cout, long elem) {
	long l = 2 * (AVB_VEC / elem);
	return (avb_round(g->c * g->kh * g->kw, AVB_TAPS) + avb_round(cout, AVB_TILE)) * avb_round(g->wo, l);
}

// avb_narrow_lanes is the scratch avb_narrow_grad_* needs for its partial sums.
long avb_narrow_lanes(const avb_conv *g, long cout, long elem) {
	return avb_round(cout, AVB_TILE) * (avb_round(g->c * g->kh * g->kw, AVB_TAPS) + 1) * (AVB_VEC / elem);
}

// avb_narrow_out is the number of filters avb_narrow_fwd_* reads: cout
// rounded up to whole tiles.
long avb_narrow_out(long cout) { return avb_round(cout, AVB_TILE); }
