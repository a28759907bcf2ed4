/* kernels/cuda/argmax.cu -- greedy decoding: the index of the largest logit of each row
 * (T,V), lowest index on ties and NaN counted as the largest value, as torch.argmax.
 * One block per row; each thread scans a strided slice, then the block reduces the
 * (value, index) pairs. Enqueues on the backend stream; does not synchronize. */
#include "kernels/cuda/cuda_common.cuh"

#define ARGMAX_THREADS 512

/* True when (v, i) should win over (bv, bi): larger, NaN over number, or equal and lower
 * index. */
__device__ __forceinline__ bool beats(float v, int64_t i, float bv, int64_t bi) {
    const bool vn = isnan(v), bn = isnan(bv);
    if (vn != bn)
        return vn;
    if (!vn && v != bv)
        return v > bv;
    return i < bi;
}

__global__ void argmax_kernel(int32_t *ids, const bf16 *logits, int64_t V) {
    __shared__ float sv[32];
    __shared__ int64_t si[32];
    const int64_t t = blockIdx.x;
    const bf16 *row = logits + t * V;
    float bv = -INFINITY;
    int64_t bi = INT64_MAX;
    for (int64_t i = threadIdx.x; i < V; i += blockDim.x) {
        const float v = ld_bf(row, i);
        if (beats(v, i, bv, bi)) {
            bv = v;
            bi = i;
        }
    }
    for (int o = 16; o > 0; o >>= 1) {
        const float v2 = __shfl_xor_sync(0xffffffffu, bv, o);
        const int64_t i2 = __shfl_xor_sync(0xffffffffu, bi, o);
        if (beats(v2, i2, bv, bi)) {
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
            if (beats(sv[w], si[w], bv, bi)) {
                bv = sv[w];
                bi = si[w];
            }
        ids[t] = (int32_t)bi;
    }
}

void cuda_argmax(int32_t *ids, const void *logits, int64_t T, int64_t V) {
    if (T <= 0)
        return;
    if (V <= 0 || V > INT32_MAX)
        log_fatal("kernels/cuda: argmax: vocabulary size %lld", (long long)V);
    CudaCtx *ctx = cuda_ctx();
    argmax_kernel<<<(unsigned)cuda_int(T, "argmax T"), ARGMAX_THREADS, 0, ctx->stream>>>(
        ids, (const bf16 *)logits, V);
    cuda_op_done(ctx, "argmax");
}
