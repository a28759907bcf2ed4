/* kernels/cuda/rmsnorm.cu -- RMSNorm over rows of D (HF LlamaRMSNorm), one block per
 * row, fp32 statistics. The forward rounds as HF does in bf16: the normalized row is
 * cast to bf16 before the weight multiplies it (`weight * hidden.to(input_dtype)`).
 * The backward is the exact gradient of the fp32 function:
 *   dx_i += r w_i g_i - x_i r^3 / D * sum_j g_j w_j x_j,   r = rsqrt(mean(x^2) + eps).
 * Enqueues on the backend stream; does not synchronize. */
#include "kernels/cuda/cuda_common.cuh"

#define RMS_THREADS 256

__global__ void rmsnorm_fwd_kernel(bf16 *out, float *rstd, const bf16 *x, const bf16 *w,
                                   int64_t D, float eps) {
    __shared__ float scratch[32];
    const int64_t t = blockIdx.x;
    const bf16 *xr = x + t * D;
    float ss = 0.0f;
    for (int64_t i = threadIdx.x; i < D; i += blockDim.x) {
        const float v = ld_bf(xr, i);
        ss += v * v;
    }
    ss = block_sum(ss, scratch);
    const float r = rsqrtf(ss / (float)D + eps);
    if (threadIdx.x == 0 && rstd != NULL)
        rstd[t] = r;
    bf16 *orow = out + t * D;
    for (int64_t i = threadIdx.x; i < D; i += blockDim.x) {
        const float normed = __bfloat162float(to_bf(ld_bf(xr, i) * r));
        orow[i] = to_bf(ld_bf(w, i) * normed);
    }
}

__global__ void rmsnorm_bwd_kernel(bf16 *dx, const bf16 *dout, const bf16 *x, const bf16 *w,
                                   const float *rstd, int64_t D) {
    __shared__ float scratch[32];
    const int64_t t = blockIdx.x;
    const bf16 *xr = x + t * D, *gr = dout + t * D;
    float dot = 0.0f;
    for (int64_t i = threadIdx.x; i < D; i += blockDim.x)
        dot += ld_bf(gr, i) * ld_bf(w, i) * ld_bf(xr, i);
    dot = block_sum(dot, scratch);
    const float r = rstd[t];
    const float c = dot * r * r * r / (float)D;
    bf16 *dr = dx + t * D;
    for (int64_t i = threadIdx.x; i < D; i += blockDim.x) {
        const float g = r * ld_bf(w, i) * ld_bf(gr, i) - ld_bf(xr, i) * c;
        dr[i] = to_bf(ld_bf(dr, i) + g);
    }
}

void cuda_rmsnorm_fwd(void *out, float *rstd, const void *x, const void *w, int64_t T,
                      int64_t D, float eps) {
    if (T <= 0 || D <= 0)
        return;
    CudaCtx *ctx = cuda_ctx();
    rmsnorm_fwd_kernel<<<(unsigned)cuda_int(T, "rmsnorm T"), RMS_THREADS, 0, ctx->stream>>>(
        (bf16 *)out, rstd, (const bf16 *)x, (const bf16 *)w, D, eps);
    cuda_op_done(ctx, "rmsnorm_fwd");
}

void cuda_rmsnorm_bwd(void *dx, const void *dout, const void *x, const void *w,
                      const float *rstd, int64_t T, int64_t D) {
    if (T <= 0 || D <= 0)
        return;
    CudaCtx *ctx = cuda_ctx();
    rmsnorm_bwd_kernel<<<(unsigned)cuda_int(T, "rmsnorm T"), RMS_THREADS, 0, ctx->stream>>>(
        (bf16 *)dx, (const bf16 *)dout, (const bf16 *)x, (const bf16 *)w, rstd, D);
    cuda_op_done(ctx, "rmsnorm_bwd");
}
