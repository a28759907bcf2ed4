/* kernels/cuda/attention.cuh -- private to attention_fwd.cu and attention_bwd.cu: the
 * tile shapes and the shared-memory helpers of the flash-style causal GQA kernels.
 *
 * Layout. q, out, dq: (Tq, H, HD); k, v, dk, dv: (rows, KVH, HD); query head h reads kv
 * head h / (H / KVH). A span (kernels/ops.h SeqSpan) maps its query rows to positions
 * pos0.. and its keys to rows kv_start + position. Keys are processed in tiles of
 * ATT_BK = 32 = one key per lane: a warp computes 32 scores at once (each lane a full
 * dot product against a K row held in shared memory), merges them into an online
 * softmax, and accumulates P @ V with the lane owning output dims lane, lane+32, ...
 * No T x T score matrix exists anywhere; the forward saves lse (natural log of the
 * scaled scores) and the backward recomputes P from it.
 *
 * Shared K/V tiles are bf16 with rows padded by 2 elements (ATT_PAD), which makes the
 * lane-per-key row reads hit 32 distinct banks. Scores are kept in log2 units
 * (scale * log2 e folded into q) so exp2f does the exponentials. */
#ifndef TLM_KERNELS_CUDA_ATTENTION_CUH
#define TLM_KERNELS_CUDA_ATTENTION_CUH

#include "kernels/cuda/cuda_common.cuh"

#define ATT_BK 32      /* keys per tile: one per lane */
#define ATT_BQ 16      /* query rows per block in the query-major kernels */
#define ATT_WARPS 4    /* warps per block in the query-major kernels */
#define ATT_PAD 2      /* bf16 elements of padding per shared K/V row */
#define ATT_MAX_HD 256 /* largest head dim the kernels take */
#define ATT_LOG2E 1.4426950408889634f
#define ATT_LN2 0.6931471805599453f

/* Dot product of an fp32 row (shared, broadcast to all lanes) with a padded bf16 K/V
 * row (shared), HD even. */
__device__ __forceinline__ float att_dot(const float *a, const bf16 *krow, int HD) {
    const __nv_bfloat162 *k2 = reinterpret_cast<const __nv_bfloat162 *>(krow);
    const float2 *a2 = reinterpret_cast<const float2 *>(a);
    float s = 0.0f;
    for (int e = 0; e < HD / 2; e++) {
        const float2 kv = __bfloat1622float2(k2[e]);
        const float2 av = a2[e];
        s += av.x * kv.x + av.y * kv.y;
    }
    return s;
}

/* Loads ATT_BK rows of kv head g at positions key0.. (rows kv_start + position) into the
 * padded shared tile; rows at or beyond n_keys become zeros. All threads of the block
 * (n_threads of them) take part; the caller synchronizes. */
__device__ __forceinline__ void att_load_tile(bf16 *tile, const bf16 *src, int64_t kv_start,
                                              int64_t key0, int64_t n_keys, int64_t KVH,
                                              int64_t g, int HD, int tid, int n_threads) {
    const int HDP = HD + ATT_PAD;
    for (int i = tid; i < ATT_BK * HD; i += n_threads) {
        const int j = i / HD, d = i % HD;
        const int64_t key = key0 + j;
        tile[j * HDP + d] =
            key < n_keys ? src[((kv_start + key) * KVH + g) * HD + d] : to_bf(0.0f);
    }
}

/* Bytes of dynamic shared memory for a padded K or V tile. */
static inline size_t att_tile_bytes(int64_t HD) {
    return (size_t)ATT_BK * (size_t)(HD + ATT_PAD) * sizeof(bf16);
}

/* Output dims per lane, rounded up to a template instance: 1, 2, 4 or 8. */
static inline int att_dims_per_lane(int64_t HD) {
    const int64_t n = (HD + 31) / 32;
    return n <= 1 ? 1 : n <= 2 ? 2 : n <= 4 ? 4 : 8;
}

/* Fatal unless the shapes fit the kernels. */
static inline void att_check(const char *op, int64_t H, int64_t KVH, int64_t HD) {
    if (HD <= 0 || HD % 2 != 0 || HD > ATT_MAX_HD)
        log_fatal("kernels/cuda: %s: head dim %lld unsupported (even, at most %d)", op,
                  (long long)HD, ATT_MAX_HD);
    if (KVH <= 0 || H % KVH != 0)
        log_fatal("kernels/cuda: %s: %lld heads do not divide into %lld kv heads", op,
                  (long long)H, (long long)KVH);
}

#endif
