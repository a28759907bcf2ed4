/* kernels/cpu/matmul.c -- dense layers: the AVX-512 driver (wmatmul.c) where the CPU has
 * it, else OpenBLAS sgemm and a few-row loop (both kept as the references).
 * Weights are (out, in) as Hugging Face stores them (nn.Linear: y = x W^T + b), so the
 * forward multiplies by W transposed and the backward by W as is. Frozen weights: there
 * is no weight gradient. Decoding multiplies only a few rows (one per sequence) and is
 * bound by reading W: OpenBLAS 0.3.21's sgemm packs all of W on every such call (measured
 * 47% of batch-1 decode time), so M <= CPU_FEW_ROWS reads each weight row once and forms
 * its M dot products directly. Never call these from inside an OpenMP region. */
#include "kernels/cpu/cpu_ops.h"

#include <cblas.h>
#include <string.h>

#include "kernels/cpu/cpu_simple.h"
#include "kernels/cpu/matmul_avx512.h"
#include "kernels/cpu/wmatmul.h"

/* Fills (or adds) the bias into every row of out, so sgemm can then accumulate on top
 * with beta = 1: one pass over out instead of a second one after the product. */
static void put_bias(float *out, const float *bias, int64_t M, int64_t N, int accumulate) {
#pragma omp parallel for schedule(static) if (M * N >= CPU_PAR_MIN)
    for (int64_t m = 0; m < M; m++) {
        float *row = out + m * N;
        if (accumulate) {
            for (int64_t n = 0; n < N; n++)
                row[n] += bias[n];
        } else {
            memcpy(row, bias, (size_t)N * sizeof(float));
        }
    }
}

/* Rows of x up to which the forward skips sgemm (decode batches). */
#define CPU_FEW_ROWS 8

/* out (M,N) (+)= x (M,K) . w (N,K)^T for small M, threads over output columns: the
 * simple twin of few_rows_fwd (cpu_simple.h), and what runs without AVX-512. */
void cpu_matmul_few_rows_simple(float *out, const float *x, const float *w, int64_t M,
                                int64_t N, int64_t K, float beta) {
#pragma omp parallel for schedule(static) if (N * K >= CPU_PAR_MIN)
    for (int64_t n = 0; n < N; n++) {
        const float *wn = w + n * K;
        for (int64_t m = 0; m < M; m++) {
            const float *xm = x + m * K;
            float acc = 0.0f;
#pragma omp simd reduction(+ : acc)
            for (int64_t k = 0; k < K; k++)
                acc += xm[k] * wn[k];
            float *o = out + m * N + n;
            *o = beta != 0.0f ? *o + acc : acc;
        }
    }
}

/* With AVX-512 the one weight-matmul driver (wmatmul.c: blocks of 4 weight rows, 16
 * accumulators, the weight rows prefetched ahead, threads over 64-row slices of w; fp32 is
 * its own panel) runs every product: measured 1.4-1.9x OpenBLAS 0.3.21's sgemm on this
 * model family's shapes (M 128-512 x N 512-49152 x K 512-1376), level on two of them. */
static void few_rows_fwd(float *out, const float *x, const float *w, int64_t M, int64_t N,
                         int64_t K, float beta) {
    if (!cpu_avx512_usable()) {
        cpu_matmul_few_rows_simple(out, x, w, M, N, K, beta);
        return;
    }
    cpu_wmm_fwd(out, x, (Weight){(void *)w, WEIGHT_ELEM}, M, N, K, beta, 1);
}

void cpu_matmul_fwd(void *out, const void *x, const void *w, const void *bias, int64_t M,
                    int64_t N, int64_t K, int accumulate) {
    if (M <= 0 || N <= 0)
        return;
    float beta = accumulate ? 1.0f : 0.0f;
    if (bias != NULL) {
        put_bias(out, bias, M, N, accumulate);
        beta = 1.0f;
    }
    if (K <= 0) { /* empty product: BLAS rejects lda = 0, and the result is just beta*out */
        if (beta == 0.0f)
            memset(out, 0, (size_t)(M * N) * sizeof(float));
        return;
    }
    if (M <= CPU_FEW_ROWS || cpu_avx512_usable()) {
        few_rows_fwd(out, x, w, M, N, K, beta); /* with AVX-512 also the many-row case */
        return;
    }
    cpu_matmul_fwd_blas(out, x, w, M, N, K, beta);
}

void cpu_matmul_fwd_blas(float *out, const float *x, const float *w, int64_t M, int64_t N,
                         int64_t K, float beta) {
    /* out (M,N) = x (M,K) . w (N,K)^T */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (blasint)M, (blasint)N, (blasint)K,
                1.0f, x, (blasint)K, w, (blasint)K, beta, out, (blasint)N);
}

void cpu_matmul_bwd_blas(float *dx, const float *dy, const float *w, int64_t M, int64_t N,
                         int64_t K, float beta) {
    /* dx (M,K) = dy (M,N) . w (N,K) */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (blasint)M, (blasint)K, (blasint)N,
                1.0f, dy, (blasint)N, w, (blasint)K, beta, dx, (blasint)K);
}

void cpu_matmul_bwd(void *dx, const void *dy, const void *w, int64_t M, int64_t N, int64_t K,
                    int accumulate) {
    if (M <= 0 || K <= 0)
        return;
    if (N <= 0) {
        if (!accumulate)
            memset(dx, 0, (size_t)(M * K) * sizeof(float));
        return;
    }
    const float beta = accumulate ? 1.0f : 0.0f;
    if (!cpu_avx512_usable()) {
        cpu_matmul_bwd_blas(dx, dy, w, M, N, K, beta);
        return;
    }
    cpu_wmm_bwd(dx, dy, (Weight){(void *)w, WEIGHT_ELEM}, M, N, K, beta, 1);
}
