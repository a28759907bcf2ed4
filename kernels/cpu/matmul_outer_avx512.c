/* kernels/cpu/matmul_outer_avx512.c -- the many-row forward block of matmul_avx512.h as an
 * outer product. The dot-product block (x rows against weight rows, 16 lanes summed at the
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
_Static_assert(CPU_FWD_ROWS <= 64, "a forward block is at most the panel's 64 columns");

AVX512 INLINE __mmask16 lanes(int64_t n) {
    return n >= 16 ? (__mmask16)0xFFFF : n <= 0 ? (__mmask16)0 : (__mmask16)((1u << n) - 1);
}

/* Row i of a 16 x 16 block: 16 weights (first `cols`) at p as fp32, bf16 bits widened. */
AVX512 INLINE __m512 load_row(const void *p, int64_t i, __mmask16 mk, const int BF16) {
    if (BF16) {
        const __m256i h = _mm256_maskz_loadu_epi16(mk, (const uint16_t *)p + i);
        return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
    }
    return _mm512_maskz_loadu_ps(mk, (const float *)p + i);
}

/* dst[c * 64 + r] = w[(r * K) + c] for r < rows (0 beyond), c < cols: a 16 x 16 block of w
 * transposed in registers (unpack pairs, then 64-bit, then 128-bit lanes twice). */
AVX512 INLINE void transpose16(float *dst, const void *w, int64_t K, int rows, int cols,
                               const int BF16) {
    const __mmask16 mc = lanes(cols);
    __m512 r[16], t[16];
    #pragma GCC unroll 16
    for (int i = 0; i < 16; i++)
        r[i] = i < rows ? load_row(w, (int64_t)i * K, mc, BF16) : _mm512_setzero_ps();
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
AVX512 INLINE void fill_panel(float *panel, const void *w, int64_t K, int n_rows, int64_t k0,
                              int64_t kn, const int BF16) {
    const size_t elem = BF16 ? 2 : 4;
    for (int j = 0; j < 64; j += 16) {
        const int rows = n_rows - j >= 16 ? 16 : n_rows - j > 0 ? n_rows - j : 0;
        for (int64_t k = 0; k < kn; k += 16) {
            const char *src = (const char *)w + ((size_t)j * (size_t)K + (size_t)(k0 + k)) * elem;
            transpose16(panel + k * 64 + j, src, K, rows, kn - k >= 16 ? 16 : (int)(kn - k),
                        BF16);
        }
    }
}

/* MR rows x n_rows (<= 64) columns of out (stride N) (+)= x rows (stride K) . panel. */
AVX512 INLINE void outer_tile(float *out, const float *x, const float *panel, int64_t N,
                              int64_t K, int64_t kn, int n_rows, float beta, const int MR) {
    __mmask16 mk[4];
    #pragma GCC unroll 4
    for (int c = 0; c < 4; c++)
        mk[c] = lanes(n_rows - 16 * c);
    __m512 acc[4][4];
    #pragma GCC unroll 4
    for (int i = 0; i < MR; i++)
        #pragma GCC unroll 4
        for (int c = 0; c < 4; c++)
            acc[i][c] = _mm512_setzero_ps();
    for (int64_t k = 0; k < kn; k++) {
        __m512 pv[4];
        #pragma GCC unroll 4
        for (int c = 0; c < 4; c++)
            pv[c] = _mm512_load_ps(panel + k * 64 + 16 * c);
        #pragma GCC unroll 4
        for (int i = 0; i < MR; i++) {
            const __m512 xv = _mm512_set1_ps(x[i * K + k]);
            #pragma GCC unroll 4
            for (int c = 0; c < 4; c++)
                acc[i][c] = _mm512_fmadd_ps(xv, pv[c], acc[i][c]);
        }
    }
    #pragma GCC unroll 4
    for (int i = 0; i < MR; i++)
        #pragma GCC unroll 4
        for (int c = 0; c < 4; c++) {
            float *o = out + i * N + 16 * c;
            __m512 v = acc[i][c];
            if (beta != 0.0f)
                v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(mk[c], o));
            _mm512_mask_storeu_ps(o, mk[c], v);
        }
}

AVX512 INLINE void outer_block(float *out, const float *x, const void *w, int64_t M,
                               int64_t N, int64_t K, int64_t n0, int n_rows, float beta,
                               const int BF16) {
    float panel[PANEL_K * 64] __attribute__((aligned(64)));
    const void *w0 = (const char *)w + (size_t)n0 * (size_t)K * (BF16 ? 2 : 4);
    for (int64_t k0 = 0; k0 < K; k0 += PANEL_K) {
        const int64_t kn = K - k0 < PANEL_K ? K - k0 : PANEL_K;
        const float b = k0 == 0 ? beta : 1.0f;
        fill_panel(panel, w0, K, n_rows, k0, kn, BF16);
        for (int64_t m0 = 0; m0 < M; m0 += 4) {
            float *o = out + m0 * N + n0;
            const float *xm = x + m0 * K + k0;
            switch (M - m0 >= 4 ? 4 : (int)(M - m0)) {
            case 1: outer_tile(o, xm, panel, N, K, kn, n_rows, b, 1); break;
            case 2: outer_tile(o, xm, panel, N, K, kn, n_rows, b, 2); break;
            case 3: outer_tile(o, xm, panel, N, K, kn, n_rows, b, 3); break;
            default: outer_tile(o, xm, panel, N, K, kn, n_rows, b, 4); break;
            }
        }
    }
}

AVX512 void cpu_f32_fwd_outer_block(float *out, const float *x, const float *w, int64_t M,
                                    int64_t N, int64_t K, int64_t n0, int n_rows, float beta) {
    outer_block(out, x, w, M, N, K, n0, n_rows, beta, 0);
}

AVX512 void cpu_bf16_fwd_outer_block(float *out, const float *x, const uint16_t *w, int64_t M,
                                     int64_t N, int64_t K, int64_t n0, int n_rows,
                                     float beta) {
    outer_block(out, x, w, M, N, K, n0, n_rows, beta, 1);
}

#else /* not x86-64 GCC: cpu_avx512_usable() is 0, nothing calls these */
void cpu_f32_fwd_outer_block(float *out, const float *x, const float *w, int64_t M, int64_t N,
                             int64_t K, int64_t n0, int n_rows, float beta) {
    (void)out, (void)x, (void)w, (void)M, (void)N, (void)K, (void)n0, (void)n_rows, (void)beta;
}
void cpu_bf16_fwd_outer_block(float *out, const float *x, const uint16_t *w, int64_t M,
                              int64_t N, int64_t K, int64_t n0, int n_rows, float beta) {
    (void)out, (void)x, (void)w, (void)M, (void)N, (void)K, (void)n0, (void)n_rows, (void)beta;
}
#endif
