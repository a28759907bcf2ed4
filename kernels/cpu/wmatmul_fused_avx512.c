/* kernels/cpu/wmatmul_fused_avx512.c -- the decode-time forward (M <= 4 rows of x) for bf16
 * and the 32-element ggml formats without a panel: each block's 32 weights are decoded into two
 * registers and multiplied with the x rows at once, so a weight is read once from memory
 * and never stored (the panel path writes and re-reads every decoded float, which bound
 * batch-1 decode at the dequantization, not at memory; for bf16 it made batch-1 decode of
 * SmolLM2's layer shapes 2x slower than fp32 with twice the bytes). Same decoded values as
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

/* 16 bf16 weights at p (masked) as fp32: the bits shifted into the top half. */
AVX512 INLINE __m512 widen_bf16(const unsigned char *p, __mmask16 mk) {
    const __m256i h = _mm256_maskz_loadu_epi16(mk, p);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
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

/* Weights k.. of one row as two 16-lane halves: bf16 widened (rows are not padded to 32,
 * so the tail loads are masked), the ggml formats decoded from block b. */
AVX512 INLINE void weights32(WeightFormat f, const unsigned char *row, int64_t b, int64_t k,
                             size_t block_bytes, __mmask16 ml, __mmask16 mh, __m512 *wl,
                             __m512 *wh) {
    if (f == WEIGHT_BF16) {
        *wl = widen_bf16(row + (size_t)k * 2, ml);
        *wh = widen_bf16(row + (size_t)k * 2 + 32, mh);
    } else {
        decode32(f, row + (size_t)b * block_bytes, wl, wh);
    }
}

/* How many weight rows ahead of the ones being multiplied are prefetched: the hardware
 * prefetcher alone kept a pass over 4-8 interleaved short rows (SmolLM2: 1152 bytes of
 * bf16) at 60-70% of the streaming bandwidth. */
#define PREFETCH_ROWS 8

/* NR weight rows (1, 4 or 8) against MR x rows: NR x MR independent accumulators, so the
 * FMAs of one x row do not wait on each other (one chain per row was latency-bound), and
 * NR row streams in flight at once. */
AVX512 INLINE void rows_fused(float *out, int64_t ldo, const float *x, int64_t K,
                              const unsigned char *w, size_t row_bytes, size_t block_bytes,
                              WeightFormat f, float beta, const int MR, const int NR) {
    const int64_t n_blocks = (K + 31) / 32;
    __m512 acc[8][4];
    #pragma GCC unroll 8
    for (int j = 0; j < NR; j++)
        #pragma GCC unroll 4
        for (int i = 0; i < MR; i++)
            acc[j][i] = _mm512_setzero_ps();
    for (int64_t b = 0; b < n_blocks; b++) {
        const int64_t k = 32 * b;
        const __mmask16 ml = lanes(K - k), mh = lanes(K - k - 16);
        __m512 xl[4], xh[4];
        #pragma GCC unroll 4
        for (int i = 0; i < MR; i++) {
            xl[i] = _mm512_maskz_loadu_ps(ml, x + i * K + k);
            xh[i] = _mm512_maskz_loadu_ps(mh, x + i * K + k + 16);
        }
        const size_t at = f == WEIGHT_BF16 ? (size_t)k * 2 : (size_t)b * block_bytes;
        #pragma GCC unroll 8
        for (int j = 0; j < NR; j++) {
            __m512 wl, wh;
            /* never faults, also past the matrix's end */
            _mm_prefetch((const char *)(w + (size_t)(j + PREFETCH_ROWS) * row_bytes + at),
                         _MM_HINT_T0);
            weights32(f, w + (size_t)j * row_bytes, b, k, block_bytes, ml, mh, &wl, &wh);
            #pragma GCC unroll 4
            for (int i = 0; i < MR; i++) {
                acc[j][i] = _mm512_fmadd_ps(xl[i], wl, acc[j][i]);
                acc[j][i] = _mm512_fmadd_ps(xh[i], wh, acc[j][i]);
            }
        }
    }
    #pragma GCC unroll 8
    for (int j = 0; j < NR; j++)
        #pragma GCC unroll 4
        for (int i = 0; i < MR; i++) {
            float *o = out + i * ldo + j;
            const float s = _mm512_reduce_add_ps(acc[j][i]);
            *o = beta != 0.0f ? *o + s : s;
        }
}

/* n_rows weight rows, eight at a time while 8 x MR accumulators fit the 32 registers
 * (MR <= 2), then four at a time, then the rest one by one. */
AVX512 INLINE void slice_fused(float *out, int64_t ldo, const float *x, int64_t K,
                               const unsigned char *w, size_t rb, size_t bb, WeightFormat f,
                               int n_rows, float beta, const int MR) {
    int n = 0;
    if (MR <= 2)
        for (; n + 8 <= n_rows; n += 8)
            rows_fused(out + n, ldo, x, K, w + (size_t)n * rb, rb, bb, f, beta, MR, 8);
    for (; n + 4 <= n_rows; n += 4)
        rows_fused(out + n, ldo, x, K, w + (size_t)n * rb, rb, bb, f, beta, MR, 4);
    for (; n < n_rows; n++)
        rows_fused(out + n, ldo, x, K, w + (size_t)n * rb, rb, bb, f, beta, MR, 1);
}

AVX512 void cpu_avx512_fwd_fused(float *out, int64_t ldo, const float *x, int64_t K,
                                 const void *w, WeightFormat f, int64_t n0, int n_rows,
                                 int64_t M, float beta) {
    /* bf16 is not a block format (its row bytes are not in the block table) */
    const size_t rb = f == WEIGHT_BF16 ? (size_t)K * 2 : weight_row_bytes(f, K);
    const size_t bb = weight_block_bytes(f);
    const unsigned char *w0 = (const unsigned char *)w + (size_t)n0 * rb;
    switch (M) {
    case 1: slice_fused(out + n0, ldo, x, K, w0, rb, bb, f, n_rows, beta, 1); break;
    case 2: slice_fused(out + n0, ldo, x, K, w0, rb, bb, f, n_rows, beta, 2); break;
    case 3: slice_fused(out + n0, ldo, x, K, w0, rb, bb, f, n_rows, beta, 3); break;
    default: slice_fused(out + n0, ldo, x, K, w0, rb, bb, f, n_rows, beta, 4); break;
    }
}

#else
void cpu_avx512_fwd_fused(float *out, int64_t ldo, const float *x, int64_t K, const void *w,
                          WeightFormat f, int64_t n0, int n_rows, int64_t M, float beta) {
    (void)out, (void)ldo, (void)x, (void)K, (void)w, (void)f, (void)n0, (void)n_rows, (void)M,
        (void)beta;
}
#endif
