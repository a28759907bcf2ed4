/* kernels/cpu/wmatmul_fused_avx512.c -- the decode-time forward (M <= 4 rows of x) for the
 * 32-element ggml formats without a panel: each block's 32 weights are decoded into two
 * registers and multiplied with the x rows at once, so a weight is read once from memory
 * and never stored (the panel path writes and re-reads every decoded float, which bound
 * batch-1 decode at the dequantization, not at memory). Same decoded values as
 * quant_dequantize (products and sums rounded separately: -ffp-contract=off for this
 * file); another summation order than the panel path. */
#include "kernels/cpu/wmatmul.h"

#include <string.h>

#include "io/base/quant.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#define AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,f16c")))
#define INLINE __attribute__((always_inline)) static inline

AVX512 INLINE __mmask16 lanes(int64_t n) {
    return n >= 16 ? (__mmask16)0xFFFF : n <= 0 ? (__mmask16)0 : (__mmask16)((1u << n) - 1);
}

AVX512 INLINE float half_at(const unsigned char *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    return _cvtsh_ss(h);
}

/* Block p of format f as its first and last 16 weights. */
AVX512 INLINE void decode32(WeightFormat f, const unsigned char *p, __m512 *lo, __m512 *hi) {
    if (f == WEIGHT_Q8_0) {
        const __m512 d = _mm512_set1_ps(half_at(p));
        *lo = _mm512_mul_ps(
            _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(p + 2)))), d);
        *hi = _mm512_mul_ps(
            _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(p + 18)))), d);
        return;
    }
    const int off = f == WEIGHT_Q4_1 ? 4 : 2;
    const __m512i q = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(p + off)));
    __m512i l = _mm512_and_si512(q, _mm512_set1_epi32(0x0F)), h = _mm512_srli_epi32(q, 4);
    const __m512 d = _mm512_set1_ps(half_at(p));
    if (f == WEIGHT_Q4_1) {
        const __m512 m = _mm512_set1_ps(half_at(p + 2));
        *lo = _mm512_add_ps(_mm512_mul_ps(d, _mm512_cvtepi32_ps(l)), m);
        *hi = _mm512_add_ps(_mm512_mul_ps(d, _mm512_cvtepi32_ps(h)), m);
    } else { /* Q4_0 */
        const __m512i eight = _mm512_set1_epi32(8);
        *lo = _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_sub_epi32(l, eight)));
        *hi = _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_sub_epi32(h, eight)));
    }
}

AVX512 INLINE void rows_fused(float *out, int64_t ldo, const float *x, int64_t K,
                              const unsigned char *w, size_t row_bytes, size_t block_bytes,
                              WeightFormat f, int n_rows, float beta, const int MR) {
    const int64_t n_blocks = (K + 31) / 32;
    for (int n = 0; n < n_rows; n++) {
        const unsigned char *row = w + (size_t)n * row_bytes;
        __m512 acc[4];
        #pragma GCC unroll 4
        for (int i = 0; i < MR; i++)
            acc[i] = _mm512_setzero_ps();
        for (int64_t b = 0; b < n_blocks; b++) {
            const int64_t k = 32 * b;
            __m512 wl, wh;
            decode32(f, row + (size_t)b * block_bytes, &wl, &wh);
            const __mmask16 ml = lanes(K - k), mh = lanes(K - k - 16);
            #pragma GCC unroll 4
            for (int i = 0; i < MR; i++) {
                acc[i] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(ml, x + i * K + k), wl, acc[i]);
                acc[i] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mh, x + i * K + k + 16), wh,
                                         acc[i]);
            }
        }
        #pragma GCC unroll 4
        for (int i = 0; i < MR; i++) {
            float *o = out + i * ldo + n;
            const float s = _mm512_reduce_add_ps(acc[i]);
            *o = beta != 0.0f ? *o + s : s;
        }
    }
}

AVX512 void cpu_avx512_fwd_fused(float *out, int64_t ldo, const float *x, int64_t K,
                                 const void *w, WeightFormat f, int64_t n0, int n_rows,
                                 int64_t M, float beta) {
    const size_t rb = weight_row_bytes(f, K), bb = weight_block_bytes(f);
    const unsigned char *w0 = (const unsigned char *)w + (size_t)n0 * rb;
    switch (M) {
    case 1: rows_fused(out + n0, ldo, x, K, w0, rb, bb, f, n_rows, beta, 1); break;
    case 2: rows_fused(out + n0, ldo, x, K, w0, rb, bb, f, n_rows, beta, 2); break;
    case 3: rows_fused(out + n0, ldo, x, K, w0, rb, bb, f, n_rows, beta, 3); break;
    default: rows_fused(out + n0, ldo, x, K, w0, rb, bb, f, n_rows, beta, 4); break;
    }
}

#else
void cpu_avx512_fwd_fused(float *out, int64_t ldo, const float *x, int64_t K, const void *w,
                          WeightFormat f, int64_t n0, int n_rows, int64_t M, float beta) {
    (void)out, (void)ldo, (void)x, (void)K, (void)w, (void)f, (void)n0, (void)n_rows, (void)M,
        (void)beta;
}
#endif
