/* kernels/cpu/matmul_avx512.c -- the AVX-512 panel kernels of matmul_avx512.h. A forward tile
 * holds up to 4 x rows by 4 panel rows in 16 accumulators (8 loads per 16 FMAs, K tails
 * by masks); a backward tile owns up to 64 columns of dx and passes every 4-row block of
 * dx over the panel's rows while they are in cache.
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

/* MR x NR outputs at out (row stride ldo): kn columns of MR rows of x (stride ldx) times
 * NR rows of w (fp32, stride ldw). */
AVX512 INLINE void fwd_tile(float *out, int64_t ldo, const float *x, int64_t ldx,
                            const float *w, int64_t ldw, int64_t kn, float beta, const int MR,
                            const int NR) {
    __m512 acc[4][4];
    #pragma GCC unroll 4
    for (int i = 0; i < MR; i++)
        #pragma GCC unroll 4
        for (int j = 0; j < NR; j++)
            acc[i][j] = _mm512_setzero_ps();
    for (int64_t k = 0; k < kn; k += 16) {
        const __mmask16 mk = lanes(kn - k);
        __m512 wv[4];
        #pragma GCC unroll 4
        for (int j = 0; j < NR; j++) {
            /* the rows 8 ahead, at this column: a block's 4 rows are short interleaved
             * streams (1 KB at K 512) the hardware prefetchers barely learn; a prefetch
             * never faults, so past the last row it is harmless */
            _mm_prefetch((const char *)(w + (j + 8) * ldw + k), _MM_HINT_T0);
            wv[j] = _mm512_maskz_loadu_ps(mk, w + j * ldw + k);
        }
        #pragma GCC unroll 4
        for (int i = 0; i < MR; i++) {
            const __m512 xv = _mm512_maskz_loadu_ps(mk, x + i * ldx + k);
            #pragma GCC unroll 4
            for (int j = 0; j < NR; j++)
                acc[i][j] = _mm512_fmadd_ps(xv, wv[j], acc[i][j]);
        }
    }
    #pragma GCC unroll 4
    for (int i = 0; i < MR; i++)
        #pragma GCC unroll 4
        for (int j = 0; j < NR; j++) {
            float *o = out + i * ldo + j;
            const float s = _mm512_reduce_add_ps(acc[i][j]);
            *o = beta != 0.0f ? *o + s : s;
        }
}

/* One fwd_tile per (MR, NR) pair, so each is compiled with its accumulators in registers. */
AVX512 INLINE void fwd_tile_any(float *out, int64_t ldo, const float *x, int64_t ldx,
                                const float *w, int64_t ldw, int64_t kn, float beta, int mr,
                                int nr) {
#define FWD_CASE(MR)                                                                       \
    case MR:                                                                               \
        if (nr == 4)                                                                       \
            fwd_tile(out, ldo, x, ldx, w, ldw, kn, beta, MR, 4);                           \
        else                                                                               \
            for (int j = 0; j < nr; j++)                                                   \
                fwd_tile(out + j, ldo, x, ldx, w + j * ldw, ldw, kn, beta, MR, 1);         \
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

/* 4-row blocks of x outermost (they stay in L1) over the 4-row blocks of the panel (it
 * stays in L2). */
AVX512 void cpu_avx512_fwd_panel(float *out, int64_t ldo, const float *x, int64_t ldx,
                                 const float *w, int64_t ldw, int64_t M, int n_rows,
                                 int64_t kn, float beta) {
    for (int64_t m0 = 0; m0 < M; m0 += 4) {
        const int mr = M - m0 >= 4 ? 4 : (int)(M - m0);
        for (int n = 0; n < n_rows; n += 4) {
            const int nr = n_rows - n >= 4 ? 4 : n_rows - n;
            fwd_tile_any(out + m0 * ldo + n, ldo, x + m0 * ldx, ldx, w + n * ldw, ldw, kn,
                         beta, mr, nr);
        }
    }
}

/* MR rows x kc (<= 64) columns of dx (row stride ldx) from dy rows (stride ldy) and
 * n_rows rows of w (stride ldw). */
AVX512 INLINE void bwd_tile(float *dx, int64_t ldx, const float *dy, int64_t ldy,
                            const float *w, int64_t ldw, int64_t n_rows, int64_t kc,
                            float beta, const int MR) {
    __mmask16 mk[4];
    #pragma GCC unroll 4
    for (int c = 0; c < 4; c++)
        mk[c] = lanes(kc - 16 * c);
    __m512 acc[4][4];
    #pragma GCC unroll 4
    for (int i = 0; i < MR; i++)
        #pragma GCC unroll 4
        for (int c = 0; c < 4; c++)
            acc[i][c] = _mm512_setzero_ps();
    for (int64_t n = 0; n < n_rows; n++) {
        __m512 wv[4];
        #pragma GCC unroll 4
        for (int c = 0; c < 4; c++)
            wv[c] = _mm512_maskz_loadu_ps(mk[c], w + n * ldw + 16 * c);
        #pragma GCC unroll 4
        for (int i = 0; i < MR; i++) {
            const __m512 d = _mm512_set1_ps(dy[i * ldy + n]);
            #pragma GCC unroll 4
            for (int c = 0; c < 4; c++)
                acc[i][c] = _mm512_fmadd_ps(d, wv[c], acc[i][c]);
        }
    }
    #pragma GCC unroll 4
    for (int i = 0; i < MR; i++)
        #pragma GCC unroll 4
        for (int c = 0; c < 4; c++) {
            float *p = dx + i * ldx + 16 * c;
            __m512 v = acc[i][c];
            if (beta != 0.0f)
                v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(mk[c], p));
            _mm512_mask_storeu_ps(p, mk[c], v);
        }
}

AVX512 void cpu_avx512_bwd_panel(float *dx, int64_t ldx, const float *dy, int64_t ldy,
                                 const float *w, int64_t ldw, int64_t M, int64_t n_rows,
                                 int64_t kc, float beta) {
    for (int64_t m0 = 0; m0 < M; m0 += 4) {
        float *d = dx + m0 * ldx;
        const float *g = dy + m0 * ldy;
        switch (M - m0 >= 4 ? 4 : (int)(M - m0)) {
        case 1: bwd_tile(d, ldx, g, ldy, w, ldw, n_rows, kc, beta, 1); break;
        case 2: bwd_tile(d, ldx, g, ldy, w, ldw, n_rows, kc, beta, 2); break;
        case 3: bwd_tile(d, ldx, g, ldy, w, ldw, n_rows, kc, beta, 3); break;
        default: bwd_tile(d, ldx, g, ldy, w, ldw, n_rows, kc, beta, 4); break;
        }
    }
}

#else /* not x86-64 GCC: the plain-C panel kernels run instead */
int cpu_avx512_usable(void) { return 0; }
void cpu_avx512_fwd_panel(float *out, int64_t ldo, const float *x, int64_t ldx,
                          const float *w, int64_t ldw, int64_t M, int n_rows, int64_t kn,
                          float beta) {
    (void)out, (void)ldo, (void)x, (void)ldx, (void)w, (void)ldw, (void)M, (void)n_rows,
        (void)kn, (void)beta;
}
void cpu_avx512_bwd_panel(float *dx, int64_t ldx, const float *dy, int64_t ldy,
                          const float *w, int64_t ldw, int64_t M, int64_t n_rows, int64_t kc,
                          float beta) {
    (void)dx, (void)ldx, (void)dy, (void)ldy, (void)w, (void)ldw, (void)M, (void)n_rows,
        (void)kc, (void)beta;
}
#endif
