/* kernels/cuda/argmax.cu -- greedy decoding: the index of the largest logit of each row
 * (T,V), lowest index on ties and NaN counted as the largest value, as torch.argmax.
 * One block per row; each thread scans a strided slice, then the block reduces the
 * (value, index) pairs. Enqueues on the backend stream; does not synchronize. */
#include "kernels/cuda/argmax.cuh"

#define ARGMAX_THREADS 512

__global__ void argmax_kernel(int32_t *ids, const bf16 *logits, int64_t V) {
    float bv;
    int64_t bi;
    argmax_row(logits + blockIdx.x * V, V, &bv, &bi);
    if (threadIdx.x == 0)
        ids[blockIdx.x] = (int32_t)bi;
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
