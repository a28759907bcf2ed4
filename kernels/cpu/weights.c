/* kernels/cpu/weights.c -- frozen weights in a storage format (kernels/ops.h WeightFormat):
 * fp32 (WEIGHT_ELEM, the reference: straight to matmul.c) or bf16 (WEIGHT_BF16: half the
 * bytes; widened to fp32 inside the matmul, fp32 activations and accumulation). bf16 runs
 * the AVX-512 blocks of matmul_avx512.c over threads where the CPU has them, else the simple
 * twins below (also the reference the blocks are tested against). Threads split the
 * forward by weight rows (each reads a 4-row slice of W once for every x row) and the
 * backward by 64-column slices of dx: no two threads write one output. */
#include "kernels/cpu/cpu_ops.h"

#include <string.h>

#include "kernels/cpu/matmul_avx512.h"
#include "kernels/cpu/cpu_simple.h"

size_t cpu_weight_bytes(WeightFormat f, int64_t n) {
    switch (f) {
    case WEIGHT_ELEM: return (size_t)n * sizeof(float);
    case WEIGHT_BF16: return (size_t)n * sizeof(uint16_t);
    }
    return 0;
}

void cpu_weight_upload(Weight w, const void *src, DType src_type, int64_t n) {
    if (w.format == WEIGHT_ELEM) {
        cpu_upload(w.data, src, src_type, n);
        return;
    }
    uint16_t *d = w.data;
    if (src_type == DTYPE_BF16) {
        memcpy(d, src, (size_t)n * sizeof *d);
        return;
    }
    const size_t esz = dtype_bytes(src_type);
#pragma omp parallel for schedule(static) if (n >= CPU_PAR_MIN)
    for (int64_t i = 0; i < n; i++) {
        float f;
        dtype_to_f32(&f, (const char *)src + (size_t)i * esz, src_type, 1);
        d[i] = f32_to_bf16(f);
    }
}

static float bf16_bits_to_f32(uint16_t h) {
    const uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

void cpu_bf16_matmul_fwd_simple(float *out, const float *x, const uint16_t *w, int64_t M,
                                int64_t N, int64_t K, float beta) {
#pragma omp parallel for schedule(static) if (N * K >= CPU_PAR_MIN)
    for (int64_t n = 0; n < N; n++)
        for (int64_t m = 0; m < M; m++) {
            float acc = 0.0f;
            for (int64_t k = 0; k < K; k++)
                acc += x[m * K + k] * bf16_bits_to_f32(w[n * K + k]);
            float *o = out + m * N + n;
            *o = beta != 0.0f ? *o + acc : acc;
        }
}

void cpu_bf16_matmul_bwd_simple(float *dx, const float *dy, const uint16_t *w, int64_t M,
                                int64_t N, int64_t K, float beta) {
#pragma omp parallel for schedule(static) if (M * K >= CPU_PAR_MIN)
    for (int64_t m = 0; m < M; m++) {
        float *d = dx + m * K;
        if (beta == 0.0f)
            memset(d, 0, (size_t)K * sizeof *d);
        for (int64_t n = 0; n < N; n++) {
            const float g = dy[m * N + n];
            for (int64_t k = 0; k < K; k++)
                d[k] += g * bf16_bits_to_f32(w[n * K + k]);
        }
    }
}

static void bf16_fwd(float *out, const float *x, const uint16_t *w, int64_t M, int64_t N,
                     int64_t K, float beta) {
    if (!cpu_avx512_usable()) {
        cpu_bf16_matmul_fwd_simple(out, x, w, M, N, K, beta);
        return;
    }
    const int64_t n_blocks = (N + CPU_FWD_ROWS - 1) / CPU_FWD_ROWS;
#pragma omp parallel for schedule(static) if (N * K >= CPU_PAR_MIN)
    for (int64_t b = 0; b < n_blocks; b++) {
        const int64_t n0 = CPU_FWD_ROWS * b;
        const int rows = N - n0 >= CPU_FWD_ROWS ? CPU_FWD_ROWS : (int)(N - n0);
        cpu_bf16_fwd_block(out, x, w, M, N, K, n0, rows, beta);
    }
}

static void bf16_bwd(float *dx, const float *dy, const uint16_t *w, int64_t M, int64_t N,
                     int64_t K, float beta) {
    if (!cpu_avx512_usable()) {
        cpu_bf16_matmul_bwd_simple(dx, dy, w, M, N, K, beta);
        return;
    }
    const int64_t k_blocks = (K + CPU_BF16_BWD_COLS - 1) / CPU_BF16_BWD_COLS;
#pragma omp parallel for schedule(static) if (M * K >= CPU_PAR_MIN)
    for (int64_t b = 0; b < k_blocks; b++)
        cpu_bf16_bwd_block(dx, dy, w, M, N, K, CPU_BF16_BWD_COLS * b, beta);
}

void cpu_wmatmul_fwd(void *out, const void *x, Weight w, const void *bias, int64_t M,
                     int64_t N, int64_t K, int accumulate) {
    if (w.format == WEIGHT_ELEM) {
        cpu_matmul_fwd(out, x, w.data, bias, M, N, K, accumulate);
        return;
    }
    if (M <= 0 || N <= 0)
        return;
    float *o = out;
    float beta = accumulate ? 1.0f : 0.0f;
    if (bias != NULL) { /* bias first, then the product accumulates on top */
        const float *b = bias;
        for (int64_t m = 0; m < M; m++)
            for (int64_t n = 0; n < N; n++)
                o[m * N + n] = (accumulate ? o[m * N + n] : 0.0f) + b[n];
        beta = 1.0f;
    }
    if (K <= 0) {
        if (beta == 0.0f)
            memset(o, 0, (size_t)(M * N) * sizeof *o);
        return;
    }
    bf16_fwd(o, x, w.data, M, N, K, beta);
}

void cpu_wmatmul_bwd(void *dx, const void *dy, Weight w, int64_t M, int64_t N, int64_t K,
                     int accumulate) {
    if (w.format == WEIGHT_ELEM) {
        cpu_matmul_bwd(dx, dy, w.data, M, N, K, accumulate);
        return;
    }
    if (M <= 0 || K <= 0)
        return;
    if (N <= 0) {
        if (!accumulate)
            memset(dx, 0, (size_t)(M * K) * sizeof(float));
        return;
    }
    bf16_bwd(dx, dy, w.data, M, N, K, accumulate ? 1.0f : 0.0f);
}
