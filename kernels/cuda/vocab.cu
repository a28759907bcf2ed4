/* kernels/cuda/vocab.cu -- the ops over a vocabulary range [v0, v0 + V) (DESIGN §3) on
 * bf16, with global ids: fused cross-entropy statistics and backward, greedy argmax (the
 * embedding lookup is weights.cu's: it decodes a table in a block format). The whole vocabulary is the range [0, vocab_size); under tp the worker
 * combines the ranks (worker/model/model_tp.c). Cross-entropy: one block per row; each
 * thread keeps an online (max, sum-exp) pair over its strided part of the row and the
 * block merges the pairs in a fixed order (reproducible), so no fp32 copy of the logits
 * exists and the row is read once. The backward recomputes softmax from the saved lse
 * and writes the bf16 gradient over the logits in place (dlogits may alias logits: each
 * element is read then written by the same thread). Argmax: torch.argmax's order, NaN
 * counted as the largest value. Enqueues on the backend stream; does not synchronize. */
#include "kernels/cuda/cuda_common.cuh"

/* Merges (m2, s2) into (m, s): the sum-exp of the union, relative to the new max. */
__device__ __forceinline__ void lse_merge(float &m, float &s, float m2, float s2) {
    if (m2 == -INFINITY)
        return;
    if (m == -INFINITY) {
        m = m2;
        s = s2;
        return;
    }
    const float mx = fmaxf(m, m2);
    s = s * expf(m - mx) + s2 * expf(m2 - mx);
    m = mx;
}

/* log(sum(exp(row))) over V entries (blockDim.x a multiple of 32, <= 1024); -inf for an
 * empty row. Valid in thread 0 only. */
__device__ __forceinline__ float lse_row(const bf16 *row, int64_t V) {
    __shared__ float sm[32], ss[32];
    float m = -INFINITY, s = 0.0f;
    for (int64_t i = threadIdx.x; i < V; i += blockDim.x) {
        const float z = ld_bf(row, i);
        if (z > m) {
            s = s * expf(m - z) + 1.0f; /* expf(-inf) = 0 on the first element */
            m = z;
        } else {
            s += expf(z - m);
        }
    }
    for (int o = 16; o > 0; o >>= 1) {
        const float m2 = __shfl_xor_sync(0xffffffffu, m, o);
        const float s2 = __shfl_xor_sync(0xffffffffu, s, o);
        lse_merge(m, s, m2, s2);
    }
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    if (lane == 0) {
        sm[warp] = m;
        ss[warp] = s;
    }
    __syncthreads();
    float bm = -INFINITY, bs = 0.0f;
    if (threadIdx.x == 0)
        for (int w = 0; w < (int)(blockDim.x >> 5); w++)
            lse_merge(bm, bs, sm[w], ss[w]);
    return bm == -INFINITY ? bm : bm + logf(bs);
}

/* True when (v, i) should win over (bv, bi). */
__device__ __forceinline__ bool argmax_beats(float v, int64_t i, float bv, int64_t bi) {
    const bool vn = isnan(v), bn = isnan(bv);
    if (vn != bn)
        return vn;
    if (!vn && v != bv)
        return v > bv;
    return i < bi;
}

/* The winner of row (V) across the block (blockDim.x a multiple of 32, <= 1024); the
 * result is valid in thread 0 only. Each thread scans a strided part of the row, then
 * warps and the block reduce the pairs. */
__device__ __forceinline__ void argmax_row(const bf16 *row, int64_t V, float *best_v,
                                           int64_t *best_i) {
    __shared__ float sv[32];
    __shared__ int64_t si[32];
    float bv = -INFINITY;
    int64_t bi = INT64_MAX;
    for (int64_t i = threadIdx.x; i < V; i += blockDim.x) {
        const float v = ld_bf(row, i);
        if (argmax_beats(v, i, bv, bi)) {
            bv = v;
            bi = i;
        }
    }
    for (int o = 16; o > 0; o >>= 1) {
        const float v2 = __shfl_xor_sync(0xffffffffu, bv, o);
        const int64_t i2 = __shfl_xor_sync(0xffffffffu, bi, o);
        if (argmax_beats(v2, i2, bv, bi)) {
            bv = v2;
            bi = i2;
        }
    }
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    if (lane == 0) {
        sv[warp] = bv;
        si[warp] = bi;
    }
    __syncthreads();
    if (threadIdx.x == 0) {
        for (int w = 1; w < (int)(blockDim.x >> 5); w++)
            if (argmax_beats(sv[w], si[w], bv, bi)) {
                bv = sv[w];
                bi = si[w];
            }
        *best_v = bv;
        *best_i = bi;
    }
}

#define VOCAB_ROW_THREADS 512 /* one block per logits row */

/* The target's column in this range, or -1. */
__device__ __forceinline__ int64_t range_col(int32_t target, int64_t V, int64_t v0) {
    const int64_t c = (int64_t)target - v0;
    return (target >= 0 && c >= 0 && c < V) ? c : -1;
}

__global__ void xent_fwd_kernel(float *lse_out, float *tgt_out, const bf16 *logits,
                                const int32_t *targets, int64_t V, int64_t v0) {
    const int64_t t = blockIdx.x;
    const bf16 *row = logits + t * V;
    const float lse = lse_row(row, V);
    if (threadIdx.x == 0) {
        lse_out[t] = lse;
        const int64_t c = range_col(targets[t], V, v0);
        tgt_out[t] = c >= 0 ? ld_bf(row, c) : 0.0f;
    }
}

__global__ void xent_bwd_kernel(bf16 *dlogits, const bf16 *logits, const float *lse,
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
    const int64_t c = range_col(targets[t], V, v0);
    const float l = lse[t];
    for (int64_t i = threadIdx.x; i < V; i += blockDim.x) {
        const float p = expf(ld_bf(row, i) - l);
        drow[i] = to_bf(d * (p - (i == c ? 1.0f : 0.0f)));
    }
}

__global__ void argmax_kernel(float *val, int32_t *ids, const bf16 *logits, int64_t V,
                              int64_t v0) {
    float bv;
    int64_t bi;
    argmax_row(logits + blockIdx.x * V, V, &bv, &bi);
    if (threadIdx.x == 0) {
        val[blockIdx.x] = bv;
        ids[blockIdx.x] = (int32_t)(v0 + bi);
    }
}


void cuda_xent_fwd(float *lse, float *tgt, const void *logits, const int32_t *targets,
                   int64_t T, int64_t V, int64_t v0) {
    if (T <= 0)
        return;
    if (V <= 0)
        log_fatal("kernels/cuda: xent_fwd: vocabulary range of %lld", (long long)V);
    CudaCtx *ctx = cuda_ctx();
    xent_fwd_kernel<<<(unsigned)cuda_int(T, "xent T"), VOCAB_ROW_THREADS, 0, ctx->stream>>>(
        lse, tgt, (const bf16 *)logits, targets, V, v0);
    cuda_op_done(ctx, "xent_fwd");
}

void cuda_xent_bwd(void *dlogits, const void *logits, const float *lse,
                   const int32_t *targets, const float *dloss, int64_t T, int64_t V,
                   int64_t v0) {
    if (T <= 0 || V <= 0)
        return;
    CudaCtx *ctx = cuda_ctx();
    xent_bwd_kernel<<<(unsigned)cuda_int(T, "xent T"), VOCAB_ROW_THREADS, 0, ctx->stream>>>(
        (bf16 *)dlogits, (const bf16 *)logits, lse, targets, dloss, V, v0);
    cuda_op_done(ctx, "xent_bwd");
}

void cuda_argmax(float *val, int32_t *ids, const void *logits, int64_t T, int64_t V,
                 int64_t v0) {
    if (T <= 0)
        return;
    if (V <= 0 || v0 + V > INT32_MAX)
        log_fatal("kernels/cuda: argmax: vocabulary range %lld + %lld", (long long)v0,
                  (long long)V);
    CudaCtx *ctx = cuda_ctx();
    argmax_kernel<<<(unsigned)cuda_int(T, "argmax T"), VOCAB_ROW_THREADS, 0, ctx->stream>>>(
        val, ids, (const bf16 *)logits, V, v0);
    cuda_op_done(ctx, "argmax");
}
