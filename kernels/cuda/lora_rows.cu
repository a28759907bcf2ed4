/* kernels/cuda/lora_rows.cu -- multi-adapter LoRA (kernels/ops_list.h lora_rows_fwd /
 * lora_rows_bwd): bf16 activations, fp32 adapters stacked a (n_adapters,R,K), b
 * (n_adapters,N,R), each row through adapter[m] (backend int32). The kernels of lora.cu
 * with the adapter looked up per row:
 *   rows_dot      out (M,R)  = alpha * X (M,C) @ W_i^T      (h, dh)
 *   rows_reduce   out_i (C,R) += alpha * X^T @ Hm over the rows of adapter i (da, db):
 *                 one thread per (column, rank chunk, adapter) walking the rows in order,
 *                 no atomics, bit-reproducible
 *   rows_lowrank  Y (M,C)   += alpha * Hm @ W_i^T           (y, dx)
 * Tested against the CPU reference (kernels/cpu/lora_rows.c) in tests/kernels.
 * Enqueues on the backend stream; does not synchronize. */
#include "kernels/cuda/cuda_common.cuh"

#define RCR 8 /* rank values per pass (registers per thread) */

/* One block per row m: out[m*R + r] = alpha * sum_c X[m,c] * W_i[r*w_r + c*w_c]. */
__global__ void lora_rows_dot_kernel(float *out, const bf16 *X, const float *W,
                                     int64_t w_stride, const int32_t *adapter, int64_t w_r,
                                     int64_t w_c, float alpha, int64_t C, int64_t R) {
    __shared__ float scratch[32];
    const int64_t m = blockIdx.x;
    const bf16 *xrow = X + m * C;
    const float *Wi = W + (int64_t)adapter[m] * w_stride;
    for (int64_t r0 = 0; r0 < R; r0 += RCR) {
        float acc[RCR];
#pragma unroll
        for (int j = 0; j < RCR; j++)
            acc[j] = 0.0f;
        for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
            const float xv = ld_bf(xrow, c);
#pragma unroll
            for (int j = 0; j < RCR; j++)
                if (r0 + j < R)
                    acc[j] += xv * Wi[(r0 + j) * w_r + c * w_c];
        }
#pragma unroll
        for (int j = 0; j < RCR; j++) {
            if (r0 + j < R) { /* uniform over the block: block_sum may synchronize */
                const float s = block_sum(acc[j], scratch);
                if (threadIdx.x == 0)
                    out[m * R + r0 + j] = alpha * s;
            }
        }
    }
}

/* Thread per (c, rank chunk, adapter i): out_i[c*o_c + r*o_r] += alpha * sum over rows m
 * of adapter i of X[m,c] Hm[m,r]. */
__global__ void lora_rows_reduce_kernel(float *out, int64_t out_stride, int64_t o_c,
                                        int64_t o_r, const bf16 *X, const float *Hm,
                                        const int32_t *adapter, float alpha, int64_t M,
                                        int64_t C, int64_t R) {
    const int64_t c = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
    const int64_t r0 = (int64_t)blockIdx.y * RCR;
    const int32_t i = (int32_t)blockIdx.z;
    if (c >= C)
        return;
    float acc[RCR];
#pragma unroll
    for (int j = 0; j < RCR; j++)
        acc[j] = 0.0f;
    for (int64_t m = 0; m < M; m++) {
        if (adapter[m] != i)
            continue;
        const float xv = ld_bf(X, m * C + c);
        const float *hrow = Hm + m * R + r0;
#pragma unroll
        for (int j = 0; j < RCR; j++)
            if (r0 + j < R)
                acc[j] += xv * hrow[j];
    }
    float *oi = out + (int64_t)i * out_stride;
#pragma unroll
    for (int j = 0; j < RCR; j++)
        if (r0 + j < R)
            oi[c * o_c + (r0 + j) * o_r] += alpha * acc[j];
}

/* Y[m,c] += alpha * sum_r Hm[m,r] * W_i[c*w_c + r*w_r], one bf16 rounding per element. */
__global__ void lora_rows_lowrank_kernel(bf16 *Y, const float *Hm, const float *W,
                                         int64_t w_stride, const int32_t *adapter,
                                         int64_t w_c, int64_t w_r, float alpha, int64_t M,
                                         int64_t C, int64_t R) {
    const int64_t total = M * C;
    for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < total;
         e += (int64_t)gridDim.x * blockDim.x) {
        const int64_t m = e / C, c = e % C;
        const float *Wi = W + (int64_t)adapter[m] * w_stride;
        float s = 0.0f;
        for (int64_t r = 0; r < R; r++)
            s += Hm[m * R + r] * Wi[c * w_c + r * w_r];
        Y[e] = to_bf(ld_bf(Y, e) + alpha * s);
    }
}

static void rows_dot(CudaCtx *ctx, float *out, const bf16 *X, const float *W, int64_t w_stride,
                     const int32_t *adapter, int64_t w_r, int64_t w_c, float alpha, int64_t M,
                     int64_t C, int64_t R) {
    lora_rows_dot_kernel<<<(unsigned)cuda_int(M, "lora_rows M"), 128, 0, ctx->stream>>>(
        out, X, W, w_stride, adapter, w_r, w_c, alpha, C, R);
}

static void rows_reduce(CudaCtx *ctx, float *out, int64_t out_stride, int64_t o_c, int64_t o_r,
                        const bf16 *X, const float *Hm, const int32_t *adapter,
                        int32_t n_adapters, float alpha, int64_t M, int64_t C, int64_t R) {
    const dim3 grid((unsigned)((C + 127) / 128), (unsigned)((R + RCR - 1) / RCR),
                    (unsigned)n_adapters);
    lora_rows_reduce_kernel<<<grid, 128, 0, ctx->stream>>>(out, out_stride, o_c, o_r, X, Hm,
                                                           adapter, alpha, M, C, R);
}

static void rows_lowrank(CudaCtx *ctx, bf16 *Y, const float *Hm, const float *W,
                         int64_t w_stride, const int32_t *adapter, int64_t w_c, int64_t w_r,
                         float alpha, int64_t M, int64_t C, int64_t R) {
    lora_rows_lowrank_kernel<<<cuda_grid(M * C, 256), 256, 0, ctx->stream>>>(
        Y, Hm, W, w_stride, adapter, w_c, w_r, alpha, M, C, R);
}

void cuda_lora_rows_fwd(void *y, float *h, const void *x, const float *a, const float *b,
                        const int32_t *adapter, int32_t n_adapters, float scale, int64_t M,
                        int64_t N, int64_t K, int64_t R) {
    (void)n_adapters;
    if (M <= 0 || R <= 0)
        return;
    CudaCtx *ctx = cuda_ctx();
    rows_dot(ctx, h, (const bf16 *)x, a, R * K, adapter, K, 1, 1.0f, M, K, R);
    if (N > 0)
        rows_lowrank(ctx, (bf16 *)y, h, b, N * R, adapter, R, 1, scale, M, N, R);
    cuda_op_done(ctx, "lora_rows_fwd");
}

void cuda_lora_rows_bwd(float *da, float *db, void *dx, float *dh, const void *dy,
                        const void *x, const float *h, const float *a, const float *b,
                        const int32_t *adapter, int32_t n_adapters, float scale, int64_t M,
                        int64_t N, int64_t K, int64_t R) {
    if (M <= 0 || R <= 0 || n_adapters <= 0)
        return;
    CudaCtx *ctx = cuda_ctx();
    /* dh (M,R) = scale * dy @ b_i: W(r, n) = b_i[n*R + r] */
    rows_dot(ctx, dh, (const bf16 *)dy, b, N * R, adapter, 1, R, scale, M, N, R);
    if (K > 0) /* da_i (R,K) += dh^T x: out[r*K + k] */
        rows_reduce(ctx, da, R * K, 1, K, (const bf16 *)x, dh, adapter, n_adapters, 1.0f, M, K,
                    R);
    if (N > 0) /* db_i (N,R) += scale dy^T h: out[n*R + r] */
        rows_reduce(ctx, db, N * R, R, 1, (const bf16 *)dy, h, adapter, n_adapters, scale, M,
                    N, R);
    if (dx != NULL && K > 0) /* dx += dh a_i: W(k, r) = a_i[r*K + k] */
        rows_lowrank(ctx, (bf16 *)dx, dh, a, R * K, adapter, 1, K, 1.0f, M, K, R);
    cuda_op_done(ctx, "lora_rows_bwd");
}
