/* kernels/cuda/vocab_slice.cu -- the vocabulary-parallel ops (DESIGN §3) on bf16: the
 * embedding lookup, cross-entropy statistics and backward, and argmax over this rank's
 * rows [v0, v0 + V) of the vocabulary, with global ids. The same block-per-row online
 * (max, sum-exp) reduction as xent.cu and the same tie rule as argmax.cu, so with v0 = 0
 * and the whole vocabulary they agree with those ops. The worker combines ranks over tp.
 * Enqueues on the backend stream; does not synchronize. */
#include "kernels/cuda/argmax.cuh"
#include "kernels/cuda/lse.cuh"

#define VS_THREADS 512
#define VS_EW_THREADS 256

__global__ void embed_slice_kernel(bf16 *out, const int32_t *ids, const bf16 *table,
                                   int64_t T, int64_t D, int64_t v0, int64_t V) {
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < T * D;
         i += (int64_t)gridDim.x * blockDim.x) {
        const int64_t t = i / D, d = i % D, r = (int64_t)ids[t] - v0;
        out[i] = (r >= 0 && r < V) ? table[r * D + d] : to_bf(0.0f);
    }
}

/* The target's column in this slice, or -1. */
__device__ __forceinline__ int64_t vs_col(int32_t target, int64_t V, int64_t v0) {
    const int64_t c = (int64_t)target - v0;
    return (target >= 0 && c >= 0 && c < V) ? c : -1;
}

__global__ void xent_slice_fwd_kernel(float *lse_out, float *tgt_out, const bf16 *logits,
                                      const int32_t *targets, int64_t V, int64_t v0) {
    const int64_t t = blockIdx.x;
    const bf16 *row = logits + t * V;
    const float lse = lse_row(row, V);
    if (threadIdx.x == 0) {
        lse_out[t] = lse;
        const int64_t c = vs_col(targets[t], V, v0);
        tgt_out[t] = c >= 0 ? ld_bf(row, c) : 0.0f;
    }
}

__global__ void xent_slice_bwd_kernel(bf16 *dlogits, const bf16 *logits, const float *lse,
                                      const int32_t *targets, const float *dloss, int64_t V,
                                      int64_t v0) {
    const int64_t t = blockIdx.x;
    const float d = dloss[t];
    const bf16 *row = logits + t * V;
    bf16 *drow = dlogits + t * V;
    if (targets[t] < 0 || d == 0.0f) {
        for (int64_t i = threadIdx.x; i < V; i += blockDim.x)
            drow[i] = to_bf(0.0f);
        return;
    }
    const int64_t c = vs_col(targets[t], V, v0);
    const float l = lse[t];
    for (int64_t i = threadIdx.x; i < V; i += blockDim.x) {
        const float p = expf(ld_bf(row, i) - l);
        drow[i] = to_bf(d * (p - (i == c ? 1.0f : 0.0f)));
    }
}

__global__ void argmax_slice_kernel(float *val, int32_t *ids, const bf16 *logits, int64_t V,
                                    int64_t v0) {
    float bv;
    int64_t bi;
    argmax_row(logits + blockIdx.x * V, V, &bv, &bi);
    if (threadIdx.x == 0) {
        val[blockIdx.x] = bv;
        ids[blockIdx.x] = (int32_t)(v0 + bi);
    }
}

void cuda_embed_slice_fwd(void *out, const int32_t *ids, const void *table, int64_t T,
                          int64_t D, int64_t v0, int64_t V) {
    if (T <= 0 || D <= 0)
        return;
    CudaCtx *ctx = cuda_ctx();
    embed_slice_kernel<<<cuda_grid(T * D, VS_EW_THREADS), VS_EW_THREADS, 0, ctx->stream>>>(
        (bf16 *)out, ids, (const bf16 *)table, T, D, v0, V);
    cuda_op_done(ctx, "embed_slice_fwd");
}

void cuda_xent_slice_fwd(float *lse, float *tgt, const void *logits, const int32_t *targets,
                         int64_t T, int64_t V, int64_t v0) {
    if (T <= 0)
        return;
    if (V <= 0)
        log_fatal("kernels/cuda: xent_slice_fwd: vocabulary slice of %lld", (long long)V);
    CudaCtx *ctx = cuda_ctx();
    xent_slice_fwd_kernel<<<(unsigned)cuda_int(T, "xent T"), VS_THREADS, 0, ctx->stream>>>(
        lse, tgt, (const bf16 *)logits, targets, V, v0);
    cuda_op_done(ctx, "xent_slice_fwd");
}

void cuda_xent_slice_bwd(void *dlogits, const void *logits, const float *lse,
                         const int32_t *targets, const float *dloss, int64_t T, int64_t V,
                         int64_t v0) {
    if (T <= 0 || V <= 0)
        return;
    CudaCtx *ctx = cuda_ctx();
    xent_slice_bwd_kernel<<<(unsigned)cuda_int(T, "xent T"), VS_THREADS, 0, ctx->stream>>>(
        (bf16 *)dlogits, (const bf16 *)logits, lse, targets, dloss, V, v0);
    cuda_op_done(ctx, "xent_slice_bwd");
}

void cuda_argmax_slice(float *val, int32_t *ids, const void *logits, int64_t T, int64_t V,
                       int64_t v0) {
    if (T <= 0)
        return;
    if (V <= 0 || v0 + V > INT32_MAX)
        log_fatal("kernels/cuda: argmax_slice: vocabulary slice %lld + %lld", (long long)v0,
                  (long long)V);
    CudaCtx *ctx = cuda_ctx();
    argmax_slice_kernel<<<(unsigned)cuda_int(T, "argmax T"), VS_THREADS, 0, ctx->stream>>>(
        val, ids, (const bf16 *)logits, V, v0);
    cuda_op_done(ctx, "argmax_slice");
}
