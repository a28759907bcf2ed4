/* kernels/cuda/cuda_common.cuh -- private to kernels/cuda: the per-device context, the
 * op prototypes and the small device helpers (bf16 <-> fp32, warp/block reductions)
 * every op file shares. Not a public header: the rest of tlm sees only kernels/ops.h.
 *
 * Error policy: the Ops table returns void, so a failing CUDA/cuBLAS call inside an op
 * goes to log_fatal through CUDA_CHECK_FATAL / CUBLAS_CHECK_FATAL (cuda_check.h; the
 * launcher's abort hook stops every rank). Each op ends with cuda_op_done(name): it
 * checks cudaGetLastError() and, when the environment has TLM_CUDA_SYNC=1, synchronizes
 * the stream so an asynchronous fault is reported against the op that caused it. */
#ifndef TLM_KERNELS_CUDA_COMMON_CUH
#define TLM_KERNELS_CUDA_COMMON_CUH

#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <stdint.h>
#include <string.h>

#include "io/base/log.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/ops.h"

typedef __nv_bfloat16 bf16;

/* One captured step (graph.cu): its key, the scratch it captured (scratch_epoch) and
 * its executable graph, NULL while the key has been seen once only. */
typedef struct CudaGraph {
    uint64_t key;
    unsigned epoch;
    cudaGraphExec_t exec;
} CudaGraph;

#define CUDA_GRAPHS 64 /* keys kept per device: decode batch sizes of one run */
#define CUDA_BLAS_WORKSPACE ((size_t)32 << 20) /* cuBLAS's Hopper recommendation */

/* One device's state, created by ops_cuda() (context.cu) on first use of that device. */
typedef struct CudaCtx {
    int device;
    cudaStream_t stream;      /* every op enqueues here */
    cublasHandle_t blas;      /* bound to stream */
    double *d_partials;       /* device, CUDA_PARTIALS doubles: sumsq block partials */
    double *h_result;         /* pinned host, 1 double: sumsq result */
    int sync_each_op;         /* TLM_CUDA_SYNC=1 */
    int simple_kernels;       /* TLM_CUDA_KERNELS=simple: the reference twins only */
    void *d_scratch;          /* cuda_scratch(): grown on demand, freed with the process */
    size_t scratch_bytes;
    unsigned scratch_epoch;   /* bumped when d_scratch moves: older graphs read the old */
    void *d_blas_workspace;   /* cuBLAS's workspace, set once: a graph's GEMMs capture it */
    int graphs_off;           /* TLM_CUDA_GRAPHS=0 */
    CudaGraph graphs[CUDA_GRAPHS];
    int n_graphs;
    int in_step;              /* between graph_begin and graph_end */
    int step;                 /* in a step: its graphs[] index, -1 when it runs as is */
    int capturing;            /* the step's ops are being captured into graphs[step] */
} CudaCtx;

#define CUDA_PARTIALS 1024
#define CUDA_MAX_DEVICES 64

/* ---- context.cu */
/* Creates device's context (0 <= device < CUDA_MAX_DEVICES, already current) unless it
 * exists; on failure fills err, leaves nothing behind and returns -1. */
int cuda_ctx_open(int device, Err *err);

/* The context of the current device (cudaGetDevice); fatal when ops_cuda() was never
 * called for it. Cheap: one cudaGetDevice per op. */
CudaCtx *cuda_ctx(void);

/* ctx's device scratch of at least n_bytes, valid until the next call (a kernel's
 * temporary, e.g. flash-decoding's split states; ops_list.h's workspaces are the
 * callers'). Growing synchronizes the stream and reallocates: fatal on failure. */
void *cuda_scratch(CudaCtx *ctx, size_t n_bytes);

/* Checks the launches of op `name` (cudaGetLastError) and, under TLM_CUDA_SYNC=1,
 * synchronizes the stream; fatal on any error. */
void cuda_op_done(CudaCtx *ctx, const char *name);

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
 * cuda_<op> is declared from kernels/ops_list.h and implements that entry's contract
 * (shapes, ownership, accumulate-or-overwrite). All enqueue on the current device's
 * stream and return without synchronizing, except alloc, upload*, download* and sumsq,
 * which synchronize because the host reads or reuses their buffers at once. A failure is
 * fatal (log_fatal); alloc alone reports through Err. Files: memory.cu, matmul.cu,
 * lora.cu, rmsnorm.cu, rope.cu, elementwise.cu (swiglu, add, rows), attention_fwd.cu,
 * attention_bwd.cu, vocab.cu (embed, xent, argmax), entropy.cu, optim.cu, graph.cu
 * (pinned host memory, the asynchronous copies, step graphs). */
extern "C" {
#define OP(ret, op, params) ret cuda_##op params;
#include "kernels/ops_list.h"
#undef OP
}

#endif
