/* kernels/cpu/matmul_avx512.c -- the AVX-512 blocks of matmul_avx512.h. A forward block holds
 * up to 4 x rows by 4 weight rows in 16 accumulators (8 loads per 16 FMAs, K tails by
 * masks); a backward block owns 64 columns of dx and passes every 4-row block of dx over
 * each 256-row slice of W while that slice is in cache.
 * Built for AVX-512 only here (target attributes), so the rest of tlm stays baseline
 * x86-64; the callers check cpu_avx512_usable() first. The tile loops are unrolled
 * (MR, NR are constants per instance) so the accumulators live in registers. */
#include "kernels/cpu/matmul_avx512.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#define AVX512 __attribute__((target("avx512f,avx512bw,avx512vl")))
#define INLINE __attribute__((always_inline)) static inline

int cpu_avx512_usable(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl");
}

/* The first n (0..16) lanes. */
AVX512 INLINE __mmask16 lanes(int64_t n) {
    return n >= 16 ? (__mmask16)0xFFFF : n <= 0 ? (__mmask16)0 : (__mmask16)((1u << n) - 1);
}

/* 16 bf16 (masked) widened to fp32: the bits shifted into the top half. */
AVX512 INLINE __m512 load_bf16(const uint16_t *p, __mmask16 mk) {
    const __m256i h = _mm256_maskz_loadu_epi16(mk, p);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

/* 16 weights at p (masked) as fp32: bf16 bits widened, or fp32 as they are. */
AVX512 INLINE __m512 load_w(const void *p, int64_t i, __mmask16 mk, const int BF16) {
    return BF16 ? load_bf16((const uint16_t *)p + i, mk)
                : _mm512_maskz_loadu_ps(mk, (const float *)p + i);
}

/* MR x NR outputs at out (row stride N): rows of x (stride K) times rows of w (stride K,
 * bf16 bits when BF16, else fp32). */
AVX512 INLINE void fwd_tile(float *out, const float *x, const void *w, int64_t N, int64_t K,
                            float beta, const int MR, const int NR, const int BF16) {
    __m512 acc[4][4];
    #pragma GCC unroll 4
    for (int i = 0; i < MR; i++)
        #pragma GCC unroll 4
        for (int j = 0; j < NR; j++)
            acc[i][j] = _mm512_setzero_ps();
    for (int64_t k = 0; k < K; k += 16) {
        const __mmask16 mk = lanes(K - k);
        __m512 wv[4];
        #pragma GCC unroll 4
        for (int j = 0; j < NR; j++) {
            /* the rows 8 ahead, at this column: a block's 4 rows are short interleaved
             * streams (1 KB at K 512) the hardware prefetchers barely learn; a prefetch
             * never faults, so past the last row it is harmless */
            const int64_t at = (j + 8) * K + k;
            _mm_prefetch((const char *)w + at * (BF16 ? 2 : 4), _MM_HINT_T0);
            wv[j] = load_w(w, j * K + k, mk, BF16);
        }
        #pragma GCC unroll 4
        for (int i = 0; i < MR; i++) {
            const __m512 xv = _mm512_maskz_loadu_ps(mk, x + i * K + k);
            #pragma GCC unroll 4
            for (int j = 0; j < NR; j++)
                acc[i][j] = _mm512_fmadd_ps(xv, wv[j], acc[i][j]);
        }
    }
    #pragma GCC unroll 4
    for (int i = 0; i < MR; i++)
        #pragma GCC unroll 4
        for (int j = 0; j < NR; j++) {
            float *o = out + i * N + j;
            const float s = _mm512_reduce_add_ps(acc[i][j]);
            *o = beta != 0.0f ? *o + s : s;
        }
}

/* One fwd_tile per (MR, NR) pair, so each is compiled with its accumulators in registers. */
AVX512 INLINE void fwd_tile_any(float *out, const float *x, const void *w, int64_t N,
                                int64_t K, float beta, int mr, int nr, const int BF16) {
    const size_t row_bytes = (size_t)K * (BF16 ? 2 : 4);
#define FWD_CASE(MR)                                                                       \
    case MR:                                                                               \
        if (nr == 4)                                                                       \
            fwd_tile(out, x, w, N, K, beta, MR, 4, BF16);                                  \
        else                                                                               \
            for (int j = 0; j < nr; j++)                                                   \
                fwd_tile(out + j, x, (const char *)w + j * row_bytes, N, K, beta, MR, 1,   \
                         BF16);                                                            \
        break;
    switch (mr) {
        FWD_CASE(1)
        FWD_CASE(2)
        FWD_CASE(3)
        FWD_CASE(4)
    default:
        break;
    }
#undef FWD_CASE
}

/* Rows [n0, n0 + n_rows) of w against every x row: 4-row blocks of x outermost (they stay
 * in L1) over the 4-row blocks of this slice of w (it stays in L2). */
AVX512 INLINE void fwd_rows(float *out, const float *x, const void *w, int64_t M, int64_t N,
                            int64_t K, int64_t n0, int64_t n_rows, float beta, const int BF16) {
    const size_t row_bytes = (size_t)K * (BF16 ? 2 : 4);
    for (int64_t m0 = 0; m0 < M; m0 += 4) {
        const int mr = M - m0 >= 4 ? 4 : (int)(M - m0);
        for (int64_t n = n0; n < n0 + n_rows; n += 4) {
            const int nr = n0 + n_rows - n >= 4 ? 4 : (int)(n0 + n_rows - n);
            fwd_tile_any(out + m0 * N + n, x + m0 * K, (const char *)w + (size_t)n * row_bytes,
                         N, K, beta, mr, nr, BF16);
        }
    }
}

AVX512 void cpu_bf16_fwd_block(float *out, const float *x, const uint16_t *w, int64_t M,
                               int64_t N, int64_t K, int64_t n0, int n_rows, float beta) {
    if (M >= CPU_OUTER_MIN_ROWS)
        cpu_bf16_fwd_outer_block(out, x, w, M, N, K, n0, n_rows, beta);
    else
        fwd_rows(out, x, w, M, N, K, n0, n_rows, beta, 1);
}

AVX512 void cpu_f32_fwd_block(float *out, const float *x, const float *w, int64_t M,
                              int64_t N, int64_t K, int64_t n0, int n_rows, float beta) {
    if (M >= CPU_OUTER_MIN_ROWS)
        cpu_f32_fwd_outer_block(out, x, w, M, N, K, n0, n_rows, beta);
    else
        fwd_rows(out, x, w, M, N, K, n0, n_rows, beta, 0);
}

/* MR rows x 64 columns of dx (row stride K) from dy rows (stride N) and w rows [n0, n1). */
AVX512 INLINE void bwd_tile(float *dx, const float *dy, const void *w, int64_t N,
                            int64_t K, int64_t k0, int64_t n0, int64_t n1, float beta,
                            const int MR, const int BF16) {
    __mmask16 mk[4];
    #pragma GCC unroll 4
    for (int c = 0; c < 4; c++)
        mk[c] = lanes(K - k0 - 16 * c);
    __m512 acc[4][4];
    #pragma GCC unroll 4
    for (int i = 0; i < MR; i++)
        #pragma GCC unroll 4
        for (int c = 0; c < 4; c++)
            acc[i][c] = _mm512_setzero_ps();
    for (int64_t n = n0; n < n1; n++) {
        __m512 wv[4];
        #pragma GCC unroll 4
        for (int c = 0; c < 4; c++)
            wv[c] = load_w(w, n * K + k0 + 16 * c, mk[c], BF16);
        #pragma GCC unroll 4
        for (int i = 0; i < MR; i++) {
            const __m512 d = _mm512_set1_ps(dy[i * N + n]);
            #pragma GCC unroll 4
            for (int c = 0; c < 4; c++)
                acc[i][c] = _mm512_fmadd_ps(d, wv[c], acc[i][c]);
        }
    }
    #pragma GCC unroll 4
    for (int i = 0; i < MR; i++)
        #pragma GCC unroll 4
        for (int c = 0; c < 4; c++) {
            float *p = dx + i * K + k0 + 16 * c;
            __m512 v = acc[i][c];
            if (beta != 0.0f)
                v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(mk[c], p));
            _mm512_mask_storeu_ps(p, mk[c], v);
        }
}

AVX512 INLINE void bwd_cols(float *dx, const float *dy, const void *w, int64_t M, int64_t N,
                            int64_t K, int64_t k0, float beta, const int BF16) {
    /* w rows in blocks of 256: the block's 64 columns (32-64 KB) stay in cache while every
     * row block of dx passes over them; after the first block dx accumulates */
    for (int64_t n0 = 0; n0 < N; n0 += 256) {
        const int64_t n1 = N - n0 < 256 ? N : n0 + 256;
        const float b = n0 == 0 ? beta : 1.0f;
        for (int64_t m0 = 0; m0 < M; m0 += 4) {
            float *d = dx + m0 * K;
            const float *g = dy + m0 * N;
            switch (M - m0 >= 4 ? 4 : (int)(M - m0)) {
            case 1: bwd_tile(d, g, w, N, K, k0, n0, n1, b, 1, BF16); break;
            case 2: bwd_tile(d, g, w, N, K, k0, n0, n1, b, 2, BF16); break;
            case 3: bwd_tile(d, g, w, N, K, k0, n0, n1, b, 3, BF16); break;
            default: bwd_tile(d, g, w, N, K, k0, n0, n1, b, 4, BF16); break;
            }
        }
    }
}

AVX512 void cpu_bf16_bwd_block(float *dx, const float *dy, const uint16_t *w, int64_t M,
                               int64_t N, int64_t K, int64_t k0, float beta) {
    bwd_cols(dx, dy, w, M, N, K, k0, beta, 1);
}

AVX512 void cpu_f32_bwd_block(float *dx, const float *dy, const float *w, int64_t M,
                              int64_t N, int64_t K, int64_t k0, float beta) {
    bwd_cols(dx, dy, w, M, N, K, k0, beta, 0);
}

#else /* not x86-64 GCC: the simple twins run instead */
void cpu_f32_bwd_block(float *dx, const float *dy, const float *w, int64_t M, int64_t N,
                       int64_t K, int64_t k0, float beta) {
    (void)dx, (void)dy, (void)w, (void)M, (void)N, (void)K, (void)k0, (void)beta;
}
int cpu_avx512_usable(void) { return 0; }
void cpu_bf16_fwd_block(float *out, const float *x, const uint16_t *w, int64_t M, int64_t N,
                        int64_t K, int64_t n0, int nr, float beta) {
    (void)out, (void)x, (void)w, (void)M, (void)N, (void)K, (void)n0, (void)nr, (void)beta;
}
void cpu_f32_fwd_block(float *out, const float *x, const float *w, int64_t M, int64_t N,
                       int64_t K, int64_t n0, int nr, float beta) {
    (void)out, (void)x, (void)w, (void)M, (void)N, (void)K, (void)n0, (void)nr, (void)beta;
}
void cpu_bf16_bwd_block(float *dx, const float *dy, const uint16_t *w, int64_t M, int64_t N,
                        int64_t K, int64_t k0, float beta) {
    (void)dx, (void)dy, (void)w, (void)M, (void)N, (void)K, (void)k0, (void)beta;
}
#endif
