/* kernels/cuda/rmsnorm.cu -- RMSNorm over rows of D (HF LlamaRMSNorm), one block per
 * row, fp32 statistics. The forward rounds as HF does in bf16: the normalized row is
 * cast to bf16 before the weight multiplies it (`weight * hidden.to(input_dtype)`).
 * The backward is the exact gradient of the fp32 function:
 *   dx_i += r w_i g_i - x_i r^3 / D * sum_j g_j w_j x_j,   r = rsqrt(mean(x^2) + eps).
 * add_rmsnorm_fwd fuses the residual add into the forward (one read of each input, the
 * new residual written once, bf16-rounded before its statistics as add + rmsnorm_fwd
 * round it); rmsnorm_bwd_res keeps the residual gradient in fp32 and writes its bf16
 * copy in the same pass. TLM_CUDA_KERNELS=simple runs each as its unfused ops.
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

/* res_out and res, out and x may alias (ops_list.h): every thread reads and writes only
 * its own elements, x before out, so no restrict and no extra barrier. */
__global__ void add_rmsnorm_fwd_kernel(bf16 *res_out, bf16 *out, float *rstd, const bf16 *res,
                                       const bf16 *x, const bf16 *w, int64_t D, float eps) {
    __shared__ float scratch[32];
    const int64_t t = blockIdx.x;
    const bf16 *rr = res + t * D, *xr = x + t * D;
    bf16 *ro = res_out + t * D;
    float ss = 0.0f;
    for (int64_t i = threadIdx.x; i < D; i += blockDim.x) {
        const bf16 v = to_bf(ld_bf(rr, i) + ld_bf(xr, i));
        ro[i] = v;
        const float f = __bfloat162float(v);
        ss += f * f;
    }
    ss = block_sum(ss, scratch);
    const float r = rsqrtf(ss / (float)D + eps);
    if (threadIdx.x == 0)
        rstd[t] = r;
    bf16 *orow = out + t * D;
    for (int64_t i = threadIdx.x; i < D; i += blockDim.x) {
        const float normed = __bfloat162float(to_bf(ld_bf(ro, i) * r));
        orow[i] = to_bf(ld_bf(w, i) * normed);
    }
}

/* fused = 1: dres += g and its bf16 copy in one pass; 0 (the simple twin): dres += g
 * only, the copy left to f32_to_bf16_kernel. */
__global__ void rmsnorm_bwd_res_kernel(float *dres, bf16 *dres_elem, const bf16 *dout,
                                       const bf16 *x, const bf16 *w, const float *rstd,
                                       int64_t D, int fused) {
    __shared__ float scratch[32];
    const int64_t t = blockIdx.x;
    const bf16 *xr = x + t * D, *gr = dout + t * D;
    float dot = 0.0f;
    for (int64_t i = threadIdx.x; i < D; i += blockDim.x)
        dot += ld_bf(gr, i) * ld_bf(w, i) * ld_bf(xr, i);
    dot = block_sum(dot, scratch);
    const float r = rstd[t];
    const float c = dot * r * r * r / (float)D;
    float *dr = dres + t * D;
    bf16 *de = dres_elem != NULL ? dres_elem + t * D : NULL;
    for (int64_t i = threadIdx.x; i < D; i += blockDim.x) {
        const float d = dr[i] + (r * ld_bf(w, i) * ld_bf(gr, i) - ld_bf(xr, i) * c);
        dr[i] = d;
        if (fused && de != NULL)
            de[i] = to_bf(d);
    }
}

__global__ void f32_to_bf16_kernel(bf16 *dst, const float *src, int64_t n) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x)
        dst[i] = to_bf(src[i]);
}

void cuda_add_rmsnorm_fwd(void *res_out, void *out, float *rstd, const void *res,
                          const void *x, const void *w, int64_t T, int64_t D, float eps) {
    if (T <= 0 || D <= 0)
        return;
    CudaCtx *ctx = cuda_ctx();
    if (ctx->simple_kernels) { /* the unfused ops: the reference path */
        if (res_out != res)
            cuda_copy(res_out, res, (size_t)(T * D) * sizeof(bf16));
        cuda_add(res_out, x, T * D);
        cuda_rmsnorm_fwd(out, rstd, res_out, w, T, D, eps);
        return;
    }
    add_rmsnorm_fwd_kernel<<<(unsigned)cuda_int(T, "rmsnorm T"), RMS_THREADS, 0,
                             ctx->stream>>>((bf16 *)res_out, (bf16 *)out, rstd,
                                            (const bf16 *)res, (const bf16 *)x,
                                            (const bf16 *)w, D, eps);
    cuda_op_done(ctx, "add_rmsnorm_fwd");
}

void cuda_rmsnorm_bwd_res(float *dres, void *dres_elem, const void *dout, const void *x,
                          const void *w, const float *rstd, int64_t T, int64_t D) {
    if (T <= 0 || D <= 0)
        return;
    CudaCtx *ctx = cuda_ctx();
    const int fused = !ctx->simple_kernels;
    rmsnorm_bwd_res_kernel<<<(unsigned)cuda_int(T, "rmsnorm T"), RMS_THREADS, 0,
                             ctx->stream>>>(dres, (bf16 *)dres_elem, (const bf16 *)dout,
                                            (const bf16 *)x, (const bf16 *)w, rstd, D, fused);
    if (!fused && dres_elem != NULL)
        f32_to_bf16_kernel<<<cuda_grid(T * D, RMS_THREADS), RMS_THREADS, 0, ctx->stream>>>(
            (bf16 *)dres_elem, dres, T * D);
    cuda_op_done(ctx, "rmsnorm_bwd_res");
}
