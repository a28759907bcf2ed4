/* kernels/cuda/rope.cu -- rotary position embedding in place on (T, n_heads, HD), HF
 * rotate_half layout (element i pairs with i + HD/2), from precomputed fp32 cos/sin
 * tables (max_pos, HD/2) (HF apply_rotary_pos_emb: q*cos + rotate_half(q)*sin).
 * The backward applies the inverse (transposed) rotation to the gradient.
 * One thread per (token, head, pair); fp32 math, one bf16 rounding per element.
 * rope_qk_* rotate q and k in one launch (one thread per pair of either; the simple
 * path, TLM_CUDA_KERNELS=simple, launches rope_kernel once for each).
 * Enqueues on the backend stream; does not synchronize. */
#include "kernels/cuda/cuda_common.cuh"

/* sign = +1: forward rotation; sign = -1: inverse rotation. */
__global__ void rope_kernel(bf16 *x, const int32_t *pos, const float *cos_t,
                            const float *sin_t, int64_t T, int64_t n_heads, int64_t HD,
                            float sign) {
    const int64_t half = HD / 2;
    const int64_t total = T * n_heads * half;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total;
         i += (int64_t)gridDim.x * blockDim.x) {
        const int64_t j = i % half, th = i / half; /* th = t * n_heads + head */
        const int64_t t = th / n_heads;
        const int64_t p = pos[t];
        const float c = cos_t[p * half + j], s = sign * sin_t[p * half + j];
        bf16 *row = x + th * HD;
        const float x1 = ld_bf(row, j), x2 = ld_bf(row, j + half);
        row[j] = to_bf(x1 * c - x2 * s);
        row[j + half] = to_bf(x2 * c + x1 * s);
    }
}

static void rope(const char *name, void *x, const int32_t *pos, const float *cos_t,
                 const float *sin_t, int64_t T, int64_t n_heads, int64_t HD, float sign) {
    if (T <= 0 || n_heads <= 0 || HD <= 0)
        return;
    if (HD % 2 != 0)
        log_fatal("kernels/cuda: %s: head dim %lld is odd", name, (long long)HD);
    CudaCtx *ctx = cuda_ctx();
    rope_kernel<<<cuda_grid(T * n_heads * (HD / 2), 256), 256, 0, ctx->stream>>>(
        (bf16 *)x, pos, cos_t, sin_t, T, n_heads, HD, sign);
    cuda_op_done(ctx, name);
}

void cuda_rope_fwd(void *x, const int32_t *pos, const float *cos, const float *sin, int64_t T,
                   int64_t n_heads, int64_t HD) {
    rope("rope_fwd", x, pos, cos, sin, T, n_heads, HD, 1.0f);
}

void cuda_rope_bwd(void *dx, const int32_t *pos, const float *cos, const float *sin,
                   int64_t T, int64_t n_heads, int64_t HD) {
    rope("rope_bwd", dx, pos, cos, sin, T, n_heads, HD, -1.0f);
}

/* Pairs [0, T H half) are q's, the rest k's; the same math as rope_kernel. */
__global__ void rope_qk_kernel(bf16 *q, bf16 *k, const int32_t *pos, const float *cos_t,
                               const float *sin_t, int64_t T, int64_t H, int64_t KVH,
                               int64_t HD, float sign) {
    const int64_t half = HD / 2, nq = T * H * half;
    const int64_t total = nq + T * KVH * half;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total;
         i += (int64_t)gridDim.x * blockDim.x) {
        const int is_q = i < nq;
        const int64_t li = is_q ? i : i - nq, n_heads = is_q ? H : KVH;
        const int64_t j = li % half, th = li / half;
        const int64_t p = pos[th / n_heads];
        const float c = cos_t[p * half + j], s = sign * sin_t[p * half + j];
        bf16 *row = (is_q ? q : k) + th * HD;
        const float x1 = ld_bf(row, j), x2 = ld_bf(row, j + half);
        row[j] = to_bf(x1 * c - x2 * s);
        row[j + half] = to_bf(x2 * c + x1 * s);
    }
}

static void rope_qk(const char *name, void *q, void *k, const int32_t *pos, const float *cos_t,
                    const float *sin_t, int64_t T, int64_t H, int64_t KVH, int64_t HD,
                    float sign) {
    CudaCtx *ctx = cuda_ctx();
    if (ctx->simple_kernels) { /* the unfused ops: the reference path */
        rope(name, q, pos, cos_t, sin_t, T, H, HD, sign);
        rope(name, k, pos, cos_t, sin_t, T, KVH, HD, sign);
        return;
    }
    if (T <= 0 || HD <= 0 || H + KVH <= 0)
        return;
    if (HD % 2 != 0)
        log_fatal("kernels/cuda: %s: head dim %lld is odd", name, (long long)HD);
    rope_qk_kernel<<<cuda_grid(T * (H + KVH) * (HD / 2), 256), 256, 0, ctx->stream>>>(
        (bf16 *)q, (bf16 *)k, pos, cos_t, sin_t, T, H, KVH, HD, sign);
    cuda_op_done(ctx, name);
}

void cuda_rope_qk_fwd(void *q, void *k, const int32_t *pos, const float *cos, const float *sin,
                      int64_t T, int64_t H, int64_t KVH, int64_t HD) {
    rope_qk("rope_qk_fwd", q, k, pos, cos, sin, T, H, KVH, HD, 1.0f);
}

void cuda_rope_qk_bwd(void *dq, void *dk, const int32_t *pos, const float *cos,
                      const float *sin, int64_t T, int64_t H, int64_t KVH, int64_t HD) {
    rope_qk("rope_qk_bwd", dq, dk, pos, cos, sin, T, H, KVH, HD, -1.0f);
}
