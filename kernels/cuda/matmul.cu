/* kernels/cuda/matmul.cu -- dense layers against frozen (N,K) row-major weights (the
 * Hugging Face layout): out = x @ w^T (+ bias), dx = dy @ w. cublasGemmEx with bf16
 * operands, fp32 compute (CUBLAS_COMPUTE_32F) and bf16 results; accumulate is beta = 1.
 * The bias is added by a small kernel after the GEMM (one extra bf16 rounding; q/k/v
 * biases exist only in Qwen2). Enqueues on the backend stream; does not synchronize.
 *
 * Row-major (M,N) = col-major (N,M), so out^T (N,M) = w (K,N col-major)^T @ x^T (K,M):
 * one GEMM with op(A) = T on w and op(B) = N on x, no copies. */
#include "kernels/cuda/cuda_common.cuh"

/* out (M,N) += bias (N) broadcast over rows. */
__global__ void bias_add_kernel(bf16 *out, const bf16 *bias, int64_t M, int64_t N) {
    const int64_t total = M * N;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total;
         i += (int64_t)gridDim.x * blockDim.x)
        out[i] = to_bf(ld_bf(out, i) + ld_bf(bias, i % N));
}

void cuda_matmul_fwd(void *out, const void *x, const void *w, const void *bias, int64_t M,
                     int64_t N, int64_t K, int accumulate) {
    if (M <= 0 || N <= 0)
        return;
    CudaCtx *ctx = cuda_ctx();
    const float alpha = 1.0f, beta = accumulate ? 1.0f : 0.0f;
    const int m = cuda_int(N, "matmul_fwd N"), n = cuda_int(M, "matmul_fwd M"),
              k = cuda_int(K, "matmul_fwd K");
    if (k == 0) { /* x @ w^T of an empty contraction is 0 */
        if (!accumulate)
            CUDA_CHECK_FATAL(cudaMemsetAsync(out, 0, (size_t)(M * N) * 2, ctx->stream));
    } else {
        CUBLAS_CHECK_FATAL(cublasGemmEx(ctx->blas, CUBLAS_OP_T, CUBLAS_OP_N, m, n, k, &alpha,
                                        w, CUDA_R_16BF, k, x, CUDA_R_16BF, k, &beta, out,
                                        CUDA_R_16BF, m, CUBLAS_COMPUTE_32F,
                                        CUBLAS_GEMM_DEFAULT));
    }
    if (bias != NULL)
        bias_add_kernel<<<cuda_grid(M * N, 256), 256, 0, ctx->stream>>>(
            (bf16 *)out, (const bf16 *)bias, M, N);
    cuda_op_done(ctx, "matmul_fwd");
}

/* dx (M,K) (+)= dy (M,N) @ w (N,K); col-major: dx^T (K,M) = w^T (K,N) @ dy^T (N,M), where
 * w read col-major is already (K,N). */
void cuda_matmul_bwd(void *dx, const void *dy, const void *w, int64_t M, int64_t N,
                     int64_t K, int accumulate) {
    if (M <= 0 || K <= 0)
        return;
    CudaCtx *ctx = cuda_ctx();
    const float alpha = 1.0f, beta = accumulate ? 1.0f : 0.0f;
    const int m = cuda_int(K, "matmul_bwd K"), n = cuda_int(M, "matmul_bwd M"),
              k = cuda_int(N, "matmul_bwd N");
    if (k == 0) {
        if (!accumulate)
            CUDA_CHECK_FATAL(cudaMemsetAsync(dx, 0, (size_t)(M * K) * 2, ctx->stream));
    } else {
        CUBLAS_CHECK_FATAL(cublasGemmEx(ctx->blas, CUBLAS_OP_N, CUBLAS_OP_N, m, n, k, &alpha,
                                        w, CUDA_R_16BF, m, dy, CUDA_R_16BF, k, &beta, dx,
                                        CUDA_R_16BF, m, CUBLAS_COMPUTE_32F,
                                        CUBLAS_GEMM_DEFAULT));
    }
    cuda_op_done(ctx, "matmul_bwd");
}
