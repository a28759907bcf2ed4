/* kernels/cpu/matmul_outer_avx512.c -- the many-row forward panel kernel of matmul_avx512.h
 * as an outer product. The dot-product block (x rows against weight rows, 16 lanes summed at the
 * end) ran at 110-140 GFLOP/s a core here: each FMA needs a load of both operands and each
 * output a horizontal sum. Transposing the block's 64 weight rows, 256 columns at a time,
 * into a (256 x 64) panel on the stack gives the backward block's shape instead: each x
 * element is broadcast against four 16-wide panel vectors, 16 accumulators per 4 x 64
 * tile, no horizontal sums: 180-230 GFLOP/s a core (1.4-2.0x on M 128-1024, N 512-49152,
 * K 512-1536, 1 thread). The transpose reads the slice once per call, so only many-row
 * calls (M >= CPU_OUTER_MIN_ROWS) come here; decode keeps the dot products.
 * Each output sums k in increasing order in one fp32 accumulator, added into out at the
 * 256-column panel boundaries, as the backward block does. */
#include "kernels/cpu/matmul_avx512.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#define AVX512 __attribute__((target("avx512f,avx512bw,avx512vl")))
#define INLINE __attribute__((always_inline)) static inline

/* Columns of w per panel: 256 x 64 floats (64 KB) stay in L2 while every x row passes. */
#define PANEL_K 256

AVX512 INLINE __mmask16 lanes(int64_t n) {
    return n >= 16 ? (__mmask16)0xFFFF : n <= 0 ? (__mmask16)0 : (__mmask16)((1u << n) - 1);
}

/* dst[c * 64 + r] = w[(r * K) + c] for r < rows (0 beyond), c < cols: a 16 x 16 block of w
 * transposed in registers (unpack pairs, then 64-bit, then 128-bit lanes twice). */
AVX512 INLINE void transpose16(float *dst, const float *w, int64_t K, int rows, int cols) {
    const __mmask16 mc = lanes(cols);
    __m512 r[16], t[16];
    #pragma GCC unroll 16
    for (int i = 0; i < 16; i++)
        r[i] = i < rows ? _mm512_maskz_loadu_ps(mc, w + (int64_t)i * K) : _mm512_setzero_ps();
    #pragma GCC unroll 8
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    #pragma GCC unroll 4
    for (int i = 0; i < 16; i += 4) {
        r[i] = _mm512_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
        r[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
        r[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
        r[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
    #pragma GCC unroll 4
    for (int i = 0; i < 4; i++) {
        t[i] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0x88);
        t[i + 4] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0xdd);
        t[i + 8] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0x88);
        t[i + 12] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0xdd);
    }
    #pragma GCC unroll 4
    for (int i = 0; i < 4; i++) {
        r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
        r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xdd);
        r[i + 4] = _mm512_shuffle_f32x4(t[i + 4], t[i + 12], 0x88);
        r[i + 12] = _mm512_shuffle_f32x4(t[i + 4], t[i + 12], 0xdd);
    }
    for (int c = 0; c < cols; c++)
        _mm512_store_ps(dst + c * 64, r[c]);
}

/* panel (kn x 64) = columns [k0, k0 + kn) of w rows [0, n_rows), transposed; rows past
 * n_rows are 0 so the tiles may run all 64 lanes. */
AVX512 INLINE void fill_panel(float *panel, const float *w, int64_t K, int n_rows, int64_t k0,
                              int64_t kn) {
    for (int j = 0; j < 64; j += 16) {
        const int rows = n_rows - j >= 16 ? 16 : n_rows - j > 0 ? n_rows - j : 0;
        for (int64_t k = 0; k < kn; k += 16) {
            transpose16(panel + k * 64 + j, w + j * K + k0 + k, K, rows,
                        kn - k >= 16 ? 16 : (int)(kn - k));
        }
    }
}

AVX512 void cpu_avx512_fwd_outer_panel(float *out, int64_t ldo, const float *x, int64_t ldx,
                                       const float *w, int64_t ldw, int64_t M, int n_rows,
                                       int64_t kn, float beta) {
    float panel[PANEL_K * 64] __attribute__((aligned(64)));
    for (int64_t k0 = 0; k0 < kn; k0 += PANEL_K) {
        const int64_t kc = kn - k0 < PANEL_K ? kn - k0 : PANEL_K;
        const float b = k0 == 0 ? beta : 1.0f;
        fill_panel(panel, w, ldw, n_rows, k0, kc);
        /* out (M, n_rows) += x (M, kc) . panel (kc, n_rows): the backward kernel's shape */
        cpu_avx512_bwd_panel(out, ldo, x + k0, ldx, panel, 64, M, kc, n_rows, b);
    }
}

#else /* not x86-64 GCC: cpu_avx512_usable() is 0, nothing calls this */
void cpu_avx512_fwd_outer_panel(float *out, int64_t ldo, const float *x, int64_t ldx,
                                const float *w, int64_t ldw, int64_t M, int n_rows, int64_t kn,
                                float beta) {
    (void)out, (void)ldo, (void)x, (void)ldx, (void)w, (void)ldw, (void)M, (void)n_rows,
        (void)kn, (void)beta;
}
#endif
