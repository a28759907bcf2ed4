/* kernels/cuda/cuda_common.cuh -- private to kernels/cuda: the per-device context, the
 * error macros and the small device helpers (bf16 <-> fp32, warp/block reductions) every
 * op file shares. Not a public header: the rest of tlm sees only kernels/ops.h.
 *
 * Error policy: the Ops table returns void, so a failing CUDA/cuBLAS call inside an op
 * goes to log_fatal (which calls the launcher's abort hook so every rank stops). Each op
 * ends with cuda_op_done(name): it checks cudaGetLastError() and, when the environment
 * has TLM_CUDA_SYNC=1, synchronizes the stream so an asynchronous fault is reported
 * against the op that caused it. */
#ifndef TLM_KERNELS_CUDA_COMMON_CUH
#define TLM_KERNELS_CUDA_COMMON_CUH

#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <stdint.h>
#include <string.h>

#include "io/base/log.h"
#include "kernels/ops.h"

typedef __nv_bfloat16 bf16;

/* One device's state, created by ops_cuda() on first use of that device. */
typedef struct CudaCtx {
    int device;
    cudaStream_t stream;      /* every op enqueues here */
    cublasHandle_t blas;      /* bound to stream */
    cublasLtHandle_t lt;      /* reserved for fused epilogues */
    double *d_partials;       /* device, CUDA_PARTIALS doubles: sumsq block partials */
    double *h_result;         /* pinned host, 1 double: sumsq result */
    int sync_each_op;         /* TLM_CUDA_SYNC=1 */
} CudaCtx;

#define CUDA_PARTIALS 1024

/* The context of the current device (cudaGetDevice); fatal when ops_cuda() was never
 * called for it. Cheap: one cudaGetDevice per op. */
CudaCtx *cuda_ctx(void);

/* Checks the launches of op `name` (cudaGetLastError) and, under TLM_CUDA_SYNC=1,
 * synchronizes the stream; fatal on any error. */
void cuda_op_done(CudaCtx *ctx, const char *name);

/* Repository-relative spelling of a source path (nvcc has no -fmacro-prefix-map). */
static inline const char *cuda_src(const char *file) {
    const char *p = strstr(file, "kernels/cuda/");
    return p != NULL ? p : file;
}

#define CUDA_CHECK(call)                                                                  \
    do {                                                                                  \
        cudaError_t e_ = (call);                                                          \
        if (e_ != cudaSuccess)                                                            \
            log_fatal("%s:%d: %s: %s (%s)", cuda_src(__FILE__), __LINE__, #call,         \
                      cudaGetErrorString(e_), cudaGetErrorName(e_));                      \
    } while (0)

#define CUBLAS_CHECK(call)                                                                \
    do {                                                                                  \
        cublasStatus_t s_ = (call);                                                       \
        if (s_ != CUBLAS_STATUS_SUCCESS)                                                  \
            log_fatal("%s:%d: %s: %s (%s)", cuda_src(__FILE__), __LINE__, #call,         \
                      cublasGetStatusString(s_), cublasGetStatusName(s_));                \
    } while (0)

/* Variants for functions that report through Err instead of stopping: on failure fill
 * err and jump to label. */
#define CUDA_CHECK_GOTO(call, err, label)                                                 \
    do {                                                                                  \
        cudaError_t e_ = (call);                                                          \
        if (e_ != cudaSuccess) {                                                          \
            err_setf((err), cuda_src(__FILE__), __LINE__, __func__, "%s: %s (%s)", #call, \
                     cudaGetErrorString(e_), cudaGetErrorName(e_));                       \
            goto label;                                                                   \
        }                                                                                 \
    } while (0)

#define CUBLAS_CHECK_GOTO(call, err, label)                                               \
    do {                                                                                  \
        cublasStatus_t s_ = (call);                                                       \
        if (s_ != CUBLAS_STATUS_SUCCESS) {                                                \
            err_setf((err), cuda_src(__FILE__), __LINE__, __func__, "%s: %s", #call,      \
                     cublasGetStatusString(s_));                                          \
            goto label;                                                                   \
        }                                                                                 \
    } while (0)

/* Grid size for n elements at `threads` per block, capped so a grid-stride loop covers
 * the rest (grid-stride loops below use 64-bit indices). */
static inline unsigned cuda_grid(int64_t n, int threads) {
    int64_t b = (n + threads - 1) / threads;
    if (b < 1)
        b = 1;
    return (unsigned)(b > 65535 * 16 ? 65535 * 16 : b);
}

/* Fatal when a size does not fit the int a library or a grid dimension takes. */
static inline int cuda_int(int64_t v, const char *what) {
    if (v < 0 || v > INT32_MAX)
        log_fatal("kernels/cuda: %s = %lld does not fit in int", what, (long long)v);
    return (int)v;
}

__device__ __forceinline__ float ld_bf(const bf16 *p, int64_t i) { return __bfloat162float(p[i]); }
__device__ __forceinline__ bf16 to_bf(float f) { return __float2bfloat16_rn(f); }

__device__ __forceinline__ float warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1)
        v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

__device__ __forceinline__ float warp_max(float v) {
    for (int o = 16; o > 0; o >>= 1)
        v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

/* Sum over the block (blockDim.x a multiple of 32, at most 1024); every thread gets the
 * result. `scratch` is 32 floats of shared memory; the call synchronizes the block and
 * may be repeated with the same scratch. */
__device__ __forceinline__ float block_sum(float v, float *scratch) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int n_warps = (int)(blockDim.x >> 5);
    v = warp_sum(v);
    __syncthreads(); /* scratch may still be read by a previous call */
    if (lane == 0)
        scratch[warp] = v;
    __syncthreads();
    v = lane < n_warps ? scratch[lane] : 0.0f;
    return warp_sum(v);
}

/* ---- the op implementations, one group per file; backend.cu puts them in the table.
 * Each implements the Ops entry of the same name with the contract kernels/ops.h states
 * (shapes, ownership, accumulate-or-overwrite). All enqueue on the current device's
 * stream and return without synchronizing, except alloc, upload*, download* and sumsq,
 * which synchronize because the host reads or reuses their buffers at once. A failure is
 * fatal (log_fatal); alloc alone reports through Err. */
/* memory.cu */
void *cuda_alloc(size_t n_bytes, Err *err);
void cuda_release(void *p);
void cuda_upload(void *dst, const void *src, DType src_type, int64_t n);
void cuda_upload_raw(void *dst, const void *src, size_t n_bytes);
void cuda_download(float *dst, const void *src, int64_t n);
void cuda_download_raw(void *dst, const void *src, size_t n_bytes);
void cuda_zero(void *p, size_t n_bytes);
void cuda_copy(void *dst, const void *src, size_t n_bytes);
void cuda_sync(void);
/* matmul.cu */
void cuda_matmul_fwd(void *out, const void *x, const void *w, const void *bias, int64_t M,
                     int64_t N, int64_t K, int accumulate);
void cuda_matmul_bwd(void *dx, const void *dy, const void *w, int64_t M, int64_t N,
                     int64_t K, int accumulate);
/* lora.cu */
void cuda_lora_fwd(void *y, float *h, const void *x, const float *a, const float *b,
                   float scale, int64_t M, int64_t N, int64_t K, int64_t R);
void cuda_lora_bwd(float *da, float *db, void *dx, float *dh, const void *dy, const void *x,
                   const float *h, const float *a, const float *b, float scale, int64_t M,
                   int64_t N, int64_t K, int64_t R);
/* rmsnorm.cu */
void cuda_rmsnorm_fwd(void *out, float *rstd, const void *x, const void *w, int64_t T,
                      int64_t D, float eps);
void cuda_rmsnorm_bwd(void *dx, const void *dout, const void *x, const void *w,
                      const float *rstd, int64_t T, int64_t D);
/* rope.cu */
void cuda_rope_fwd(void *x, const int32_t *pos, const float *cos, const float *sin, int64_t T,
                   int64_t n_heads, int64_t HD);
void cuda_rope_bwd(void *dx, const int32_t *pos, const float *cos, const float *sin,
                   int64_t T, int64_t n_heads, int64_t HD);
/* elementwise.cu */
void cuda_swiglu_fwd(void *out, const void *gate, const void *up, int64_t n);
void cuda_swiglu_bwd(void *dgate, void *dup, const void *dout, const void *gate,
                     const void *up, int64_t n);
void cuda_add(void *y, const void *x, int64_t n);
void cuda_embed_fwd(void *out, const int32_t *ids, const void *table, int64_t T, int64_t D);
void cuda_rows_scatter(void *dst, const int32_t *idx, const void *src, int64_t n_rows,
                       int64_t row_elems);
void cuda_rows_gather(void *dst, const void *src, const int32_t *idx, int64_t n_rows,
                      int64_t row_elems);
/* attention_fwd.cu, attention_bwd.cu */
void cuda_attn_fwd(void *out, float *lse, const void *q, const void *k, const void *v,
                   const SeqSpan *spans, int32_t n_spans, int64_t Tq, int64_t H, int64_t KVH,
                   int64_t HD);
void cuda_attn_bwd(void *dq, void *dk, void *dv, const void *dout, const void *q,
                   const void *k, const void *v, const void *out, const float *lse,
                   const SeqSpan *spans, int32_t n_spans, int64_t Tq, int64_t H, int64_t KVH,
                   int64_t HD);
/* xent.cu */
void cuda_xent_fwd(float *loss, float *lse, const void *logits, const int32_t *targets,
                   int64_t T, int64_t V);
void cuda_xent_bwd(void *dlogits, const void *logits, const float *lse,
                   const int32_t *targets, const float *dloss, int64_t T, int64_t V);
/* argmax.cu */
void cuda_argmax(int32_t *ids, const void *logits, int64_t T, int64_t V);
/* vocab_slice.cu: the vocabulary-parallel ops (this rank's rows [v0, v0 + V)) */
void cuda_embed_slice_fwd(void *out, const int32_t *ids, const void *table, int64_t T,
                          int64_t D, int64_t v0, int64_t V);
void cuda_xent_slice_fwd(float *lse, float *tgt, const void *logits, const int32_t *targets,
                         int64_t T, int64_t V, int64_t v0);
void cuda_xent_slice_bwd(void *dlogits, const void *logits, const float *lse,
                         const int32_t *targets, const float *dloss, int64_t T, int64_t V,
                         int64_t v0);
void cuda_argmax_slice(float *val, int32_t *ids, const void *logits, int64_t T, int64_t V,
                       int64_t v0);
/* entropy.cu */
void cuda_entropy_fwd(float *ent, float *lse, const void *logits, const int32_t *mask,
                      float extra, int64_t T, int64_t V);
void cuda_entropy_bwd(void *dlogits, const void *logits, const float *lse, const float *ent,
                      const float *dent, float extra, int radial, int64_t T, int64_t V);
/* optim.cu */
void cuda_sumsq(double *out, const float *x, int64_t n);
void cuda_scale(float *x, float s, int64_t n);
void cuda_adamw(float *p, const float *g, float *m, float *v, int64_t n, double lr,
                double beta1, double beta2, double eps, double weight_decay, int64_t t);

#endif
