/* kernels/cpu/lora_rows.c -- multi-adapter LoRA on the CPU (kernels/ops_list.h
 * lora_rows_fwd / lora_rows_bwd), fp32. The op splits the rows into runs of one adapter
 * (a batched pass packs each task's rows together, so a run is a task's step) and puts
 * each run through lora_fwd / lora_bwd (BLAS): a task's rows get exactly the products a
 * pass of that task alone computes. The simple twins (cpu_simple.h) are plain loops in
 * row order, what the CUDA kernels and the op are tested against; tests/kernels checks
 * both equal lora_fwd / lora_bwd run one adapter's rows at a time. */
#include "kernels/cpu/cpu_ops.h"
#include "kernels/cpu/cpu_simple.h"

#include <string.h>

void cpu_lora_rows_fwd_simple(void *y, float *h, const void *x, const float *a,
                              const float *b, const int32_t *adapter, int32_t n_adapters,
                              float scale, int64_t M, int64_t N, int64_t K, int64_t R) {
    (void)n_adapters;
    float *Y = y;
    const float *X = x;
    for (int64_t m = 0; m < M; m++) {
        const float *A = a + (int64_t)adapter[m] * R * K, *B = b + (int64_t)adapter[m] * N * R;
        float *hm = h + m * R;
        for (int64_t r = 0; r < R; r++) {
            float s = 0.0f;
            for (int64_t k = 0; k < K; k++)
                s += X[m * K + k] * A[r * K + k];
            hm[r] = s;
        }
        for (int64_t n = 0; n < N; n++) {
            float s = 0.0f;
            for (int64_t r = 0; r < R; r++)
                s += B[n * R + r] * hm[r];
            Y[m * N + n] += scale * s;
        }
    }
}

void cpu_lora_rows_bwd_simple(float *da, float *db, void *dx, float *dh, const void *dy,
                              const void *x, const float *h, const float *a, const float *b,
                              const int32_t *adapter, int32_t n_adapters, float scale,
                              int64_t M, int64_t N, int64_t K, int64_t R) {
    (void)n_adapters;
    const float *DY = dy, *X = x;
    float *DX = dx;
    for (int64_t m = 0; m < M; m++) {
        const int64_t i = adapter[m];
        const float *A = a + i * R * K, *B = b + i * N * R;
        float *dA = da + i * R * K, *dB = db + i * N * R, *dhm = dh + m * R;
        for (int64_t r = 0; r < R; r++) {
            float s = 0.0f;
            for (int64_t n = 0; n < N; n++)
                s += DY[m * N + n] * B[n * R + r];
            dhm[r] = scale * s;
        }
        for (int64_t n = 0; n < N; n++)
            for (int64_t r = 0; r < R; r++)
                dB[n * R + r] += scale * DY[m * N + n] * h[m * R + r];
        for (int64_t r = 0; r < R; r++)
            for (int64_t k = 0; k < K; k++)
                dA[r * K + k] += dhm[r] * X[m * K + k];
        for (int64_t k = 0; k < K && DX != NULL; k++) {
            float s = 0.0f;
            for (int64_t r = 0; r < R; r++)
                s += dhm[r] * A[r * K + k];
            DX[m * K + k] += s;
        }
    }
}

/* The end of the run of rows with row m0's adapter. */
static int64_t run_end(const int32_t *adapter, int64_t m0, int64_t M) {
    int64_t m1 = m0 + 1;
    while (m1 < M && adapter[m1] == adapter[m0])
        m1++;
    return m1;
}

void cpu_lora_rows_fwd(void *y, float *h, const void *x, const float *a, const float *b,
                       const int32_t *adapter, int32_t n_adapters, float scale, int64_t M,
                       int64_t N, int64_t K, int64_t R) {
    (void)n_adapters;
    float *Y = y;
    const float *X = x;
    for (int64_t m0 = 0, m1; m0 < M; m0 = m1) {
        m1 = run_end(adapter, m0, M);
        const int64_t i = adapter[m0];
        cpu_lora_fwd(Y + m0 * N, h + m0 * R, X + m0 * K, a + i * R * K, b + i * N * R, scale,
                     m1 - m0, N, K, R);
    }
}

void cpu_lora_rows_bwd(float *da, float *db, void *dx, float *dh, const void *dy,
                       const void *x, const float *h, const float *a, const float *b,
                       const int32_t *adapter, int32_t n_adapters, float scale, int64_t M,
                       int64_t N, int64_t K, int64_t R) {
    (void)n_adapters;
    const float *DY = dy, *X = x;
    float *DX = dx;
    for (int64_t m0 = 0, m1; m0 < M; m0 = m1) {
        m1 = run_end(adapter, m0, M);
        const int64_t i = adapter[m0];
        cpu_lora_bwd(da + i * R * K, db + i * N * R, DX != NULL ? DX + m0 * K : NULL,
                     dh + m0 * R, DY + m0 * N, X + m0 * K, h + m0 * R, a + i * R * K,
                     b + i * N * R, scale, m1 - m0, N, K, R);
    }
}
