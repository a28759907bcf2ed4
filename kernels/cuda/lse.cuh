/* kernels/cuda/lse.cuh -- the block-wide log-sum-exp of one bf16 logits row, shared by
 * the full cross-entropy (xent.cu) and the vocabulary-slice one (vocab_slice.cu): each
 * thread keeps an online (max, sum-exp) pair over its strided slice, then warps and the
 * block merge the pairs in a fixed order (reproducible). Private to kernels/cuda. */
#ifndef TLM_KERNELS_CUDA_LSE_CUH
#define TLM_KERNELS_CUDA_LSE_CUH

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

#endif
