/* kernels/cuda/argmax.cuh -- the block-wide (value, index) maximum of one logits row,
 * shared by the full-vocabulary argmax (argmax.cu) and the vocabulary-slice one
 * (vocab_slice.cu). torch.argmax's order: larger wins, NaN beats any number, and on equal
 * values the lower index wins. Private to kernels/cuda. */
#ifndef TLM_KERNELS_CUDA_ARGMAX_CUH
#define TLM_KERNELS_CUDA_ARGMAX_CUH

#include "kernels/cuda/cuda_common.cuh"

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
 * result is valid in thread 0 only. Each thread scans a strided slice, then warps and the
 * block reduce the pairs. */
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

#endif
