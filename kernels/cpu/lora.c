/* kernels/cpu/lora.c -- the LoRA path of a projection, y += scale * B (A x), fp32.
 * Matches PEFT's lora.Linear.forward with dropout 0: result += lora_B(lora_A(x)) * scaling,
 * with lora_A.weight = a (R,K) and lora_B.weight = b (N,R). Four thin sgemm calls; the
 * rank-R intermediate h = x a^T is kept by the caller for the backward. */
#include "kernels/cpu/cpu_ops.h"

#include <cblas.h>
#include <string.h>

void cpu_lora_fwd(void *y, float *h, const void *x, const float *a, const float *b,
                  float scale, int64_t M, int64_t N, int64_t K, int64_t R) {
    if (M <= 0 || R <= 0)
        return;
    /* h (M,R) = x (M,K) . a (R,K)^T */
    if (K > 0)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (blasint)M, (blasint)R,
                    (blasint)K, 1.0f, x, (blasint)K, a, (blasint)K, 0.0f, h, (blasint)R);
    else
        memset(h, 0, (size_t)(M * R) * sizeof(float));
    /* y (M,N) += scale * h (M,R) . b (N,R)^T */
    if (N > 0)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (blasint)M, (blasint)N,
                    (blasint)R, scale, h, (blasint)R, b, (blasint)R, 1.0f, y, (blasint)N);
}

void cpu_lora_bwd(float *da, float *db, void *dx, float *dh, const void *dy, const void *x,
                  const float *h, const float *a, const float *b, float scale, int64_t M,
                  int64_t N, int64_t K, int64_t R) {
    if (M <= 0 || R <= 0)
        return;
    /* dh (M,R) = scale * dy (M,N) . b (N,R): the gradient reaching h = x a^T. */
    if (N > 0)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (blasint)M, (blasint)R,
                    (blasint)N, scale, dy, (blasint)N, b, (blasint)R, 0.0f, dh, (blasint)R);
    else
        memset(dh, 0, (size_t)(M * R) * sizeof(float));
    /* db (N,R) += scale * dy (M,N)^T . h (M,R) */
    if (N > 0)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (blasint)N, (blasint)R,
                    (blasint)M, scale, dy, (blasint)N, h, (blasint)R, 1.0f, db, (blasint)R);
    if (K <= 0)
        return;
    /* da (R,K) += dh (M,R)^T . x (M,K) */
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (blasint)R, (blasint)K, (blasint)M,
                1.0f, dh, (blasint)R, x, (blasint)K, 1.0f, da, (blasint)K);
    /* dx (M,K) += dh (M,R) . a (R,K) */
    if (dx != NULL)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (blasint)M, (blasint)K,
                    (blasint)R, 1.0f, dh, (blasint)R, a, (blasint)K, 1.0f, dx, (blasint)K);
}
