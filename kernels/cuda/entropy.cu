/* kernels/cuda/entropy.cu -- entropy of each row's (extended) softmax over bf16 logits
 * (T,V) and its gradient, fused per row (one block per row, fp32 math), with the Ops
 * contract of kernels/ops.h and the same formulas as kernels/cpu/entropy.c:
 *   M = max(row, extra), s = sum exp(w - M), u = sum exp(w - M)(w - M),
 *   lse = M + log s, H = log s - u / s;   dH/dz_j = -q_j (log q_j + H).
 * The forward reads the row twice (max, then the sums; the row stays in L2) and writes
 * two floats; the backward reads it once more (twice with radial != 0: the dot product
 * with z must be complete before any element is overwritten) and writes the bf16
 * gradient over the logits in place. Masked rows and rows with dent 0 exit at once, so a
 * mask over a few generated positions costs little. Enqueues on the backend stream;
 * does not synchronize. */
#include "kernels/cuda/cuda_common.cuh"

#define ENT_THREADS 512

/* Max over the block; every thread gets it. scratch: 32 floats of shared memory. */
__device__ __forceinline__ float block_max(float v, float *scratch) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int n_warps = (int)(blockDim.x >> 5);
    v = warp_max(v);
    __syncthreads();
    if (lane == 0)
        scratch[warp] = v;
    __syncthreads();
    v = lane < n_warps ? scratch[lane] : -INFINITY;
    return warp_max(v);
}

/* e = exp(d) and its contribution e * d, 0 for d = -inf (0 * -inf would be NaN). */
__device__ __forceinline__ void ent_term(float d, float &s, float &u) {
    const float e = expf(d);
    s += e;
    u += e > 0.0f ? e * d : 0.0f;
}

__global__ void entropy_fwd_kernel(float *ent, float *lse, const bf16 *logits,
                                   const int32_t *mask, float extra, int64_t V) {
    __shared__ float scratch[32];
    const int64_t t = blockIdx.x;
    if (mask[t] == 0) {
        if (threadIdx.x == 0)
            ent[t] = lse[t] = 0.0f;
        return;
    }
    const bf16 *row = logits + t * V;
    float mx = extra;
    for (int64_t i = threadIdx.x; i < V; i += blockDim.x)
        mx = fmaxf(mx, ld_bf(row, i));
    mx = block_max(mx, scratch);
    if (mx == -INFINITY) { /* an all -inf row: no distribution */
        if (threadIdx.x == 0) {
            ent[t] = 0.0f;
            lse[t] = -INFINITY;
        }
        return;
    }
    float s = 0.0f, u = 0.0f;
    for (int64_t i = threadIdx.x; i < V; i += blockDim.x)
        ent_term(ld_bf(row, i) - mx, s, u);
    s = block_sum(s, scratch);
    u = block_sum(u, scratch);
    if (threadIdx.x == 0) {
        if (extra != -INFINITY)
            ent_term(extra - mx, s, u);
        lse[t] = mx + logf(s);
        ent[t] = logf(s) - u / s;
    }
}

__device__ __forceinline__ float ent_grad(float z, float l, float h, float d) {
    const float lq = z - l;
    return -d * expf(lq) * (lq + h);
}

__global__ void entropy_bwd_kernel(bf16 *dlogits, const bf16 *logits, const float *lse,
                                   const float *ent, const float *dent, int radial,
                                   int64_t V) {
    __shared__ float scratch[32];
    const int64_t t = blockIdx.x;
    const float d = dent[t], l = lse[t], h = ent[t];
    const bf16 *row = logits + t * V;
    bf16 *drow = dlogits + t * V;
    if (d == 0.0f || l == -INFINITY) { /* uniform over the block: no barrier skipped */
        for (int64_t i = threadIdx.x; i < V; i += blockDim.x)
            drow[i] = to_bf(0.0f);
        return;
    }
    float coef = 0.0f;
    if (radial) {
        float gz = 0.0f, zz = 0.0f;
        for (int64_t i = threadIdx.x; i < V; i += blockDim.x) {
            const float z = ld_bf(row, i);
            gz += ent_grad(z, l, h, d) * z;
            zz += z * z;
        }
        gz = block_sum(gz, scratch); /* synchronizes: every read precedes any write */
        zz = block_sum(zz, scratch);
        coef = zz > 0.0f ? gz / zz : 0.0f;
    }
    for (int64_t i = threadIdx.x; i < V; i += blockDim.x) {
        const float z = ld_bf(row, i);
        drow[i] = to_bf(ent_grad(z, l, h, d) - coef * z);
    }
}

void cuda_entropy_fwd(float *ent, float *lse, const void *logits, const int32_t *mask,
                      float extra, int64_t T, int64_t V) {
    if (T <= 0)
        return;
    if (V <= 0)
        log_fatal("kernels/cuda: entropy_fwd: vocabulary size %lld", (long long)V);
    CudaCtx *ctx = cuda_ctx();
    entropy_fwd_kernel<<<(unsigned)cuda_int(T, "entropy T"), ENT_THREADS, 0, ctx->stream>>>(
        ent, lse, (const bf16 *)logits, mask, extra, V);
    cuda_op_done(ctx, "entropy_fwd");
}

void cuda_entropy_bwd(void *dlogits, const void *logits, const float *lse, const float *ent,
                      const float *dent, float extra, int radial, int64_t T, int64_t V) {
    (void)extra; /* enters through lse and ent */
    if (T <= 0 || V <= 0)
        return;
    CudaCtx *ctx = cuda_ctx();
    entropy_bwd_kernel<<<(unsigned)cuda_int(T, "entropy T"), ENT_THREADS, 0, ctx->stream>>>(
        (bf16 *)dlogits, (const bf16 *)logits, lse, ent, dent, radial, V);
    cuda_op_done(ctx, "entropy_bwd");
}
