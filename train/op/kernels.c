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
	/* gather_row_##S fills output row oh of tap (i,j) of one channel. */                \
	static inline void gather_row_##S(const avb_conv *g, T *row, const T *plane, long oh,   \
		long i, long j, long hlo, long hhi, long wlo, long whi) {                       \
		T *dst = row + oh * g->wo;                                                      \
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
						gather_row_##S(g, row, plane, ho - 1, i, j, hlo, hhi, wlo, whi); \
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
							gather_row_##S(g, row, plane, oh, i, j, hlo, hhi, wlo, whi); \
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
