/* kernels/cuda/lora.cu -- LoRA adapters over the frozen layers: fp32 A (R,K) and B (N,R)
 * against bf16 activations. cuBLAS has no bf16 x fp32 GEMM, and R is small (8-64), so
 * three plain kernels cover every product, all fp32 math:
 *   row_dot     out (M,R)  = alpha * X (M,C) @ W^T    (h = x a^T, dh = scale dy b)
 *   col_reduce  out (C,R) += alpha * X^T @ Hm (M,R)    (da = dh^T x, db = scale dy^T h)
 *   lowrank_add Y (M,C)   += alpha * Hm (M,R) @ W^T   (y += scale h b^T, dx += dh a)
 * W and out are addressed through strides so A, B and their transposes need no copies.
 * col_reduce gives each output element to one thread and walks the rows in order: no
 * atomics, so gradients are bit-reproducible run to run. With many rows (a training
 * step's T) that leaves a few dozen blocks for a whole GPU, so the fast path splits the
 * rows into P chunks (grid C/128 x R/8 x P), writes the chunk sums to the context's
 * scratch and adds them in chunk order in a second kernel: still no atomics, a fixed
 * order, and P times the parallelism. TLM_CUDA_KERNELS=simple keeps the one-pass kernel.
 * Enqueues on the backend stream; does not synchronize. */
#include "kernels/cuda/cuda_common.cuh"

#define RC 8 /* rank values handled per pass (registers per thread) */

/* One block per row m: out[m*R + r] = alpha * sum_c X[m,c] * W[r*w_r + c*w_c]. */
__global__ void row_dot_kernel(float *out, const bf16 *X, const float *W, int64_t w_r,
                               int64_t w_c, float alpha, int64_t C, int64_t R) {
    __shared__ float scratch[32];
    const int64_t m = blockIdx.x;
    const bf16 *xrow = X + m * C;
    for (int64_t r0 = 0; r0 < R; r0 += RC) {
        float acc[RC];
#pragma unroll
        for (int j = 0; j < RC; j++)
            acc[j] = 0.0f;
        for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
            const float xv = ld_bf(xrow, c);
#pragma unroll
            for (int j = 0; j < RC; j++)
                if (r0 + j < R)
                    acc[j] += xv * W[(r0 + j) * w_r + c * w_c];
        }
#pragma unroll
        for (int j = 0; j < RC; j++) {
            if (r0 + j < R) { /* uniform over the block: block_sum may synchronize */
                const float s = block_sum(acc[j], scratch);
                if (threadIdx.x == 0)
                    out[m * R + r0 + j] = alpha * s;
            }
        }
    }
}

/* Thread per (column c, rank chunk): out[c*o_c + r*o_r] += alpha * sum_m X[m,c] Hm[m,r]. */
__global__ void col_reduce_kernel(float *out, int64_t o_c, int64_t o_r, const bf16 *X,
                                  const float *Hm, float alpha, int64_t M, int64_t C,
                                  int64_t R) {
    const int64_t c = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
    const int64_t r0 = (int64_t)blockIdx.y * RC;
    if (c >= C)
        return;
    float acc[RC];
#pragma unroll
    for (int j = 0; j < RC; j++)
        acc[j] = 0.0f;
    for (int64_t m = 0; m < M; m++) {
        const float xv = ld_bf(X, m * C + c);
        const float *hrow = Hm + m * R + r0;
#pragma unroll
        for (int j = 0; j < RC; j++)
            if (r0 + j < R)
                acc[j] += xv * hrow[j];
    }
#pragma unroll
    for (int j = 0; j < RC; j++)
        if (r0 + j < R)
            out[c * o_c + (r0 + j) * o_r] += alpha * acc[j];
}

/* The split-M form: part[(p*C + c)*R + r] = sum over rows [p*rows, (p+1)*rows) of
 * X[m,c] Hm[m,r]; grid (C/128, R/RC, P). */
__global__ void col_partial_kernel(float *part, const bf16 *X, const float *Hm, int64_t M,
                                   int64_t C, int64_t R, int64_t rows) {
    const int64_t c = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
    const int64_t r0 = (int64_t)blockIdx.y * RC, p = blockIdx.z;
    if (c >= C)
        return;
    const int64_t m0 = p * rows, m1 = min(M, m0 + rows);
    float acc[RC];
#pragma unroll
    for (int j = 0; j < RC; j++)
        acc[j] = 0.0f;
    for (int64_t m = m0; m < m1; m++) {
        const float xv = ld_bf(X, m * C + c);
        const float *hrow = Hm + m * R + r0;
#pragma unroll
        for (int j = 0; j < RC; j++)
            if (r0 + j < R)
                acc[j] += xv * hrow[j];
    }
    float *o = part + (p * C + c) * R + r0;
#pragma unroll
    for (int j = 0; j < RC; j++)
        if (r0 + j < R)
            o[j] = acc[j];
}

/* out[c*o_c + r*o_r] += alpha * sum_p part[(p*C + c)*R + r], p in order. */
__global__ void col_sum_kernel(float *out, int64_t o_c, int64_t o_r, const float *part,
                               float alpha, int64_t P, int64_t C, int64_t R) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < C * R;
         i += (int64_t)gridDim.x * blockDim.x) {
        const int64_t c = i / R, r = i % R;
        float s = 0.0f;
        for (int64_t p = 0; p < P; p++)
            s += part[(p * C + c) * R + r];
        out[c * o_c + r * o_r] += alpha * s;
    }
}

/* Y[m,c] += alpha * sum_r Hm[m,r] * W[c*w_c + r*w_r], one bf16 rounding per element. */
__global__ void lowrank_add_kernel(bf16 *Y, const float *Hm, const float *W, int64_t w_c,
                                   int64_t w_r, float alpha, int64_t M, int64_t C,
                                   int64_t R) {
    const int64_t total = M * C;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total;
         i += (int64_t)gridDim.x * blockDim.x) {
        const int64_t m = i / C, c = i % C;
        float s = 0.0f;
        for (int64_t r = 0; r < R; r++)
            s += Hm[m * R + r] * W[c * w_c + r * w_r];
        Y[i] = to_bf(ld_bf(Y, i) + alpha * s);
    }
}

static void row_dot(CudaCtx *ctx, float *out, const bf16 *X, const float *W, int64_t w_r,
                    int64_t w_c, float alpha, int64_t M, int64_t C, int64_t R) {
    row_dot_kernel<<<(unsigned)cuda_int(M, "lora M"), 128, 0, ctx->stream>>>(out, X, W, w_r,
                                                                               w_c, alpha, C, R);
}

#define COL_SPLIT_ROWS 32                    /* rows per chunk, at least */
#define COL_SPLIT_MAX 64                     /* chunks, at most */
#define COL_SPLIT_BYTES ((size_t)32 << 20)   /* scratch for the chunk sums, at most */

static void col_reduce(CudaCtx *ctx, float *out, int64_t o_c, int64_t o_r, const bf16 *X,
                       const float *Hm, float alpha, int64_t M, int64_t C, int64_t R) {
    const size_t per_chunk = (size_t)(C * R) * sizeof(float);
    int64_t P = min((int64_t)COL_SPLIT_MAX, M / COL_SPLIT_ROWS);
    P = min(P, (int64_t)(COL_SPLIT_BYTES / (per_chunk > 0 ? per_chunk : 1)));
    if (!ctx->simple_kernels && P >= 2) {
        const int64_t rows = (M + P - 1) / P;
        P = (M + rows - 1) / rows; /* no empty chunk */
        float *part = (float *)cuda_scratch(ctx, (size_t)P * per_chunk);
        const dim3 grid((unsigned)((C + 127) / 128), (unsigned)((R + RC - 1) / RC), (unsigned)P);
        col_partial_kernel<<<grid, 128, 0, ctx->stream>>>(part, X, Hm, M, C, R, rows);
        col_sum_kernel<<<cuda_grid(C * R, 256), 256, 0, ctx->stream>>>(out, o_c, o_r, part,
                                                                        alpha, P, C, R);
        return;
    }
    const dim3 grid((unsigned)((C + 127) / 128), (unsigned)((R + RC - 1) / RC));
    col_reduce_kernel<<<grid, 128, 0, ctx->stream>>>(out, o_c, o_r, X, Hm, alpha, M, C, R);
}

static void lowrank_add(CudaCtx *ctx, bf16 *Y, const float *Hm, const float *W, int64_t w_c,
                        int64_t w_r, float alpha, int64_t M, int64_t C, int64_t R) {
    lowrank_add_kernel<<<cuda_grid(M * C, 256), 256, 0, ctx->stream>>>(Y, Hm, W, w_c, w_r,
                                                                        alpha, M, C, R);
}

void cuda_lora_fwd(void *y, float *h, const void *x, const float *a, const float *b,
                   float scale, int64_t M, int64_t N, int64_t K, int64_t R) {
    if (M <= 0 || R <= 0)
        return;
    CudaCtx *ctx = cuda_ctx();
    /* h (M,R) = x (M,K) @ a^T: a[r*K + k]. */
    row_dot(ctx, h, (const bf16 *)x, a, K, 1, 1.0f, M, K, R);
    /* y (M,N) += scale * h @ b^T: b[n*R + r]. */
    if (N > 0)
        lowrank_add(ctx, (bf16 *)y, h, b, R, 1, scale, M, N, R);
    cuda_op_done(ctx, "lora_fwd");
}

void cuda_lora_bwd(float *da, float *db, void *dx, float *dh, const void *dy, const void *x,
                   const float *h, const float *a, const float *b, float scale, int64_t M,
                   int64_t N, int64_t K, int64_t R) {
    if (M <= 0 || R <= 0)
        return;
    CudaCtx *ctx = cuda_ctx();
    /* dh (M,R) = scale * dy (M,N) @ b (N,R): W(r, n) = b[n*R + r]. */
    row_dot(ctx, dh, (const bf16 *)dy, b, 1, R, scale, M, N, R);
    /* da (R,K) += dh^T @ x: out[r*K + k]. */
    if (K > 0)
        col_reduce(ctx, da, 1, K, (const bf16 *)x, dh, 1.0f, M, K, R);
    /* db (N,R) += scale * dy^T @ h: out[n*R + r]. */
    if (N > 0)
        col_reduce(ctx, db, R, 1, (const bf16 *)dy, h, scale, M, N, R);
    /* dx (M,K) += dh @ a: W(k, r) = a[r*K + k]. */
    if (dx != NULL && K > 0)
        lowrank_add(ctx, (bf16 *)dx, dh, a, 1, K, 1.0f, M, K, R);
    cuda_op_done(ctx, "lora_bwd");
}
