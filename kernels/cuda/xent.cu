/* kernels/cuda/xent.cu -- fused cross-entropy over bf16 logits (T,V). One block per row;
 * each thread keeps an online (max, sum-exp) pair over its strided slice of the
 * vocabulary and the block merges the pairs, so no fp32 copy of the logits ever exists
 * and the row is read once for the forward. The backward recomputes softmax from the
 * saved lse and writes the bf16 gradient over the logits in place (dlogits may alias
 * logits: each element is read then written by the same thread).
 * Enqueues on the backend stream; does not synchronize. */
#include "kernels/cuda/lse.cuh"

#define XENT_THREADS 512

__global__ void xent_fwd_kernel(float *loss, float *lse_out, const bf16 *logits,
                                const int32_t *targets, int64_t V) {
    const int64_t t = blockIdx.x;
    const bf16 *row = logits + t * V;
    const float lse = lse_row(row, V);
    if (threadIdx.x == 0) {
        lse_out[t] = lse;
        const int32_t tg = targets[t];
        loss[t] = tg >= 0 ? lse - ld_bf(row, tg) : 0.0f;
    }
}

__global__ void xent_bwd_kernel(bf16 *dlogits, const bf16 *logits, const float *lse,
                                const int32_t *targets, const float *dloss, int64_t V) {
    const int64_t t = blockIdx.x;
    const int32_t tg = targets[t];
    const float d = dloss[t];
    const bf16 *row = logits + t * V;
    bf16 *drow = dlogits + t * V;
    if (tg < 0 || d == 0.0f) {
        for (int64_t i = threadIdx.x; i < V; i += blockDim.x)
            drow[i] = to_bf(0.0f);
        return;
    }
    const float l = lse[t];
    for (int64_t i = threadIdx.x; i < V; i += blockDim.x) {
        const float p = expf(ld_bf(row, i) - l);
        drow[i] = to_bf(d * (p - (i == tg ? 1.0f : 0.0f)));
    }
}

void cuda_xent_fwd(float *loss, float *lse, const void *logits, const int32_t *targets,
                   int64_t T, int64_t V) {
    if (T <= 0)
        return;
    if (V <= 0)
        log_fatal("kernels/cuda: xent_fwd: vocabulary size %lld", (long long)V);
    CudaCtx *ctx = cuda_ctx();
    xent_fwd_kernel<<<(unsigned)cuda_int(T, "xent T"), XENT_THREADS, 0, ctx->stream>>>(
        loss, lse, (const bf16 *)logits, targets, V);
    cuda_op_done(ctx, "xent_fwd");
}

void cuda_xent_bwd(void *dlogits, const void *logits, const float *lse,
                   const int32_t *targets, const float *dloss, int64_t T, int64_t V) {
    if (T <= 0 || V <= 0)
        return;
    CudaCtx *ctx = cuda_ctx();
    xent_bwd_kernel<<<(unsigned)cuda_int(T, "xent T"), XENT_THREADS, 0, ctx->stream>>>(
        (bf16 *)dlogits, (const bf16 *)logits, lse, targets, dloss, V);
    cuda_op_done(ctx, "xent_bwd");
}
