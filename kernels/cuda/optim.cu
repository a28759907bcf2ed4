/* kernels/cuda/optim.cu -- fp32 optimizer ops on the LoRA block: sum of squares (for
 * gradient clipping, accumulated in double), scaling, and the AdamW step.
 * sumsq reduces in two fixed-shape passes (per-block partials into the context's
 * scratch, then one block in index order), so the norm is bit-reproducible; it
 * synchronizes to hand the result to the host. scale and adamw only enqueue.
 * AdamW follows torch.optim.AdamW (single-tensor path, capturable=False): decoupled
 * decay p *= 1 - lr*wd; m.lerp_(g, 1-b1); v = v*b2 + (1-b2) g^2;
 * p -= (lr / bc1) * m / (sqrt(v) / sqrt(bc2) + eps), with bc_i = 1 - b_i^t computed on
 * the host in double, as Python does. */
#include "kernels/cuda/cuda_common.cuh"

#include <math.h>

#define SUMSQ_THREADS 256

__global__ void sumsq_partial_kernel(double *partials, const float *x, int64_t n) {
    __shared__ double scratch[SUMSQ_THREADS];
    double acc = 0.0;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x) {
        const double v = (double)x[i];
        acc += v * v;
    }
    scratch[threadIdx.x] = acc;
    __syncthreads();
    for (int s = SUMSQ_THREADS / 2; s > 0; s >>= 1) {
        if ((int)threadIdx.x < s)
            scratch[threadIdx.x] += scratch[threadIdx.x + s];
        __syncthreads();
    }
    if (threadIdx.x == 0)
        partials[blockIdx.x] = scratch[0];
}

/* One thread sums the partials in index order: at most CUDA_PARTIALS additions. */
__global__ void sumsq_final_kernel(double *partials, int n_partials) {
    double acc = 0.0;
    for (int i = 0; i < n_partials; i++)
        acc += partials[i];
    partials[0] = acc;
}

__global__ void scale_kernel(float *x, float s, int64_t n) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x)
        x[i] *= s;
}

__global__ void adamw_kernel(float *p, const float *g, float *m, float *v, int64_t n,
                             float decay, float w1, float beta2, float one_minus_b2,
                             float step_size, float bc2_sqrt, float eps) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x) {
        const float gi = g[i];
        float pi = p[i] * decay;
        /* torch lerp with weight < 0.5: self + weight * (end - self). */
        const float mi = w1 < 0.5f ? m[i] + w1 * (gi - m[i]) : gi - (gi - m[i]) * (1.0f - w1);
        const float vi = v[i] * beta2 + one_minus_b2 * gi * gi;
        const float denom = sqrtf(vi) / bc2_sqrt + eps;
        pi = pi - step_size * (mi / denom);
        p[i] = pi;
        m[i] = mi;
        v[i] = vi;
    }
}

void cuda_sumsq(double *out, const float *x, int64_t n) {
    CudaCtx *ctx = cuda_ctx();
    if (n <= 0) {
        *out = 0.0;
        return;
    }
    unsigned blocks = cuda_grid(n, SUMSQ_THREADS);
    if (blocks > CUDA_PARTIALS)
        blocks = CUDA_PARTIALS;
    sumsq_partial_kernel<<<blocks, SUMSQ_THREADS, 0, ctx->stream>>>(ctx->d_partials, x, n);
    sumsq_final_kernel<<<1, 1, 0, ctx->stream>>>(ctx->d_partials, (int)blocks);
    cuda_op_done(ctx, "sumsq");
    CUDA_CHECK_FATAL(cudaMemcpyAsync(ctx->h_result, ctx->d_partials, sizeof(double),
                                     cudaMemcpyDeviceToHost, ctx->stream));
    CUDA_CHECK_FATAL(cudaStreamSynchronize(ctx->stream));
    *out = *ctx->h_result;
}

void cuda_scale(float *x, float s, int64_t n) {
    if (n <= 0)
        return;
    CudaCtx *ctx = cuda_ctx();
    scale_kernel<<<cuda_grid(n, 256), 256, 0, ctx->stream>>>(x, s, n);
    cuda_op_done(ctx, "scale");
}

void cuda_adamw(float *p, const float *g, float *m, float *v, int64_t n, double lr,
                double beta1, double beta2, double eps, double weight_decay, int64_t t) {
    if (n <= 0)
        return;
    if (t < 1)
        log_fatal("kernels/cuda: adamw: step %lld (steps count from 1)", (long long)t);
    CudaCtx *ctx = cuda_ctx();
    const double bc1 = 1.0 - pow(beta1, (double)t);
    const double bc2 = 1.0 - pow(beta2, (double)t);
    const float decay = (float)(1.0 - lr * weight_decay);
    const float w1 = (float)(1.0 - beta1);
    const float one_minus_b2 = (float)(1.0 - beta2);
    const float step_size = (float)(lr / bc1);
    const float bc2_sqrt = (float)sqrt(bc2);
    adamw_kernel<<<cuda_grid(n, 256), 256, 0, ctx->stream>>>(p, g, m, v, n, decay, w1,
                                                              (float)beta2, one_minus_b2,
                                                              step_size, bc2_sqrt, (float)eps);
    cuda_op_done(ctx, "adamw");
}
