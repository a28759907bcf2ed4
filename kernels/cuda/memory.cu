/* kernels/cuda/memory.cu -- device memory: allocation, host <-> device copies with
 * conversion to and from bf16, device copies. Uploads convert on the host with io/base/dtype.h
 * (round to nearest even, as torch does) through a bounded (16 MiB) host staging buffer,
 * so loading a 70B shard never doubles host memory. Uploads and downloads synchronize the backend
 * stream before returning (the host buffer may be reused at once); zero and copy only
 * enqueue. */
#include "kernels/cuda/cuda_common.cuh"

#include <stdlib.h>

/* Elements converted per staging round: 8 Mi elements = 16 MiB of bf16. */
#define STAGE_ELEMS ((int64_t)8 << 20)

void *cuda_alloc(size_t n_bytes, Err *err) {
    void *p = NULL;
    /* A zero-byte request still yields a unique non-NULL pointer, so NULL means failure. */
    size_t bytes = n_bytes > 0 ? n_bytes : 1;
    CudaCtx *ctx = cuda_ctx();
    CUDA_CHECK_GOTO(cudaMalloc(&p, bytes), err, fail);
    CUDA_CHECK_GOTO(cudaMemsetAsync(p, 0, bytes, ctx->stream), err, fail);
    CUDA_CHECK_GOTO(cudaStreamSynchronize(ctx->stream), err, fail);
    return p;
fail:
    err_prefix(err, "cuda alloc of %zu bytes: ", n_bytes);
    if (p != NULL)
        cudaFree(p);
    return NULL;
}

void cuda_release(void *p) {
    if (p != NULL)
        CUDA_CHECK_FATAL(cudaFree(p));
}

void cuda_upload(void *dst, const void *src, DType src_type, int64_t n) {
    if (n <= 0)
        return;
    CudaCtx *ctx = cuda_ctx();
    if (src_type == DTYPE_BF16) {
        CUDA_CHECK_FATAL(cudaMemcpyAsync(dst, src, (size_t)n * 2, cudaMemcpyHostToDevice,
                                         ctx->stream));
        CUDA_CHECK_FATAL(cudaStreamSynchronize(ctx->stream));
        return;
    }
    if (src_type != DTYPE_F32 && src_type != DTYPE_F16)
        log_fatal("kernels/cuda: upload: cannot convert %s to bf16", dtype_name(src_type));
    int64_t chunk = n < STAGE_ELEMS ? n : STAGE_ELEMS;
    uint16_t *stage = NULL;
    stage = (uint16_t *)malloc((size_t)chunk * sizeof(uint16_t));
    if (stage == NULL)
        log_fatal("kernels/cuda: out of host memory for a %lld-element staging buffer",
                  (long long)chunk);
    for (int64_t at = 0; at < n; at += chunk) {
        int64_t m = n - at < chunk ? n - at : chunk;
        if (src_type == DTYPE_F32) {
            const float *s = (const float *)src + at;
            for (int64_t i = 0; i < m; i++)
                stage[i] = f32_to_bf16(s[i]);
        } else {
            const uint16_t *s = (const uint16_t *)src + at;
            for (int64_t i = 0; i < m; i++)
                stage[i] = f32_to_bf16(f16_to_f32(s[i]));
        }
        CUDA_CHECK_FATAL(cudaMemcpyAsync((uint16_t *)dst + at, stage, (size_t)m * 2,
                                         cudaMemcpyHostToDevice, ctx->stream));
        CUDA_CHECK_FATAL(cudaStreamSynchronize(ctx->stream)); /* stage is reused next round */
    }
    free(stage);
}

void cuda_upload_raw(void *dst, const void *src, size_t n_bytes) {
    if (n_bytes == 0)
        return;
    CudaCtx *ctx = cuda_ctx();
    CUDA_CHECK_FATAL(cudaMemcpyAsync(dst, src, n_bytes, cudaMemcpyHostToDevice, ctx->stream));
    CUDA_CHECK_FATAL(cudaStreamSynchronize(ctx->stream));
}

void cuda_download(float *dst, const void *src, int64_t n) {
    if (n <= 0)
        return;
    CudaCtx *ctx = cuda_ctx();
    int64_t chunk = n < STAGE_ELEMS ? n : STAGE_ELEMS;
    uint16_t *stage = NULL;
    stage = (uint16_t *)malloc((size_t)chunk * sizeof(uint16_t));
    if (stage == NULL)
        log_fatal("kernels/cuda: out of host memory for a %lld-element staging buffer",
                  (long long)chunk);
    for (int64_t at = 0; at < n; at += chunk) {
        int64_t m = n - at < chunk ? n - at : chunk;
        CUDA_CHECK_FATAL(cudaMemcpyAsync(stage, (const uint16_t *)src + at, (size_t)m * 2,
                                         cudaMemcpyDeviceToHost, ctx->stream));
        CUDA_CHECK_FATAL(cudaStreamSynchronize(ctx->stream));
        for (int64_t i = 0; i < m; i++)
            dst[at + i] = bf16_to_f32(stage[i]);
    }
    free(stage);
}

void cuda_download_raw(void *dst, const void *src, size_t n_bytes) {
    if (n_bytes == 0)
        return;
    CudaCtx *ctx = cuda_ctx();
    CUDA_CHECK_FATAL(cudaMemcpyAsync(dst, src, n_bytes, cudaMemcpyDeviceToHost, ctx->stream));
    CUDA_CHECK_FATAL(cudaStreamSynchronize(ctx->stream));
}

void cuda_zero(void *p, size_t n_bytes) {
    if (n_bytes == 0)
        return;
    CudaCtx *ctx = cuda_ctx();
    CUDA_CHECK_FATAL(cudaMemsetAsync(p, 0, n_bytes, ctx->stream));
    cuda_op_done(ctx, "zero");
}

void cuda_copy(void *dst, const void *src, size_t n_bytes) {
    if (n_bytes == 0)
        return;
    CudaCtx *ctx = cuda_ctx();
    CUDA_CHECK_FATAL(
        cudaMemcpyAsync(dst, src, n_bytes, cudaMemcpyDeviceToDevice, ctx->stream));
    cuda_op_done(ctx, "copy");
}

void cuda_sync(void) {
    CudaCtx *ctx = cuda_ctx();
    CUDA_CHECK_FATAL(cudaStreamSynchronize(ctx->stream));
}

int cuda_mem_info(size_t *free_bytes, size_t *total_bytes, Err *err) {
    size_t f = 0, t = 0;
    CUDA_CHECK(cudaMemGetInfo(&f, &t), err);
    *free_bytes = f;
    *total_bytes = t;
    return 0;
}
