/* kernels/cuda/context.cu -- the CUDA backend's per-device contexts: on the first
 * cuda_ctx_open() of a device, its stream, cuBLAS handle and a small
 * scratch area; cuda_ctx() finds the current device's for every op, and cuda_op_done()
 * checks each op's launches. Ops carry no context argument, so a process driving
 * several GPUs must cudaSetDevice (or call ops_cuda again) before calling ops for
 * another one. Contexts live until the process exits. Not thread-safe for the first
 * open of a device; later calls only read. */
#include "kernels/cuda/cuda_common.cuh"
#include "kernels/cuda/cuda_kernels.h"

#include <stdio.h>
#include <stdlib.h>

/* The one mutable global of the backend: the per-device contexts, filled by
 * cuda_ctx_open(). ready[d] != 0 means ctx[d] is fully initialized. */
static struct {
    int ready[CUDA_MAX_DEVICES];
    CudaCtx ctx[CUDA_MAX_DEVICES];
} g_cuda;

/* Creates ctx's stream, cuBLAS handle and scratch on the current device; on failure fills
 * err, destroys what was made and returns -1. (No cuBLASLt handle: Llama's linear layers
 * have no bias, so no epilogue has anything to fuse.) */
static int ctx_create(CudaCtx *c, int device, Err *err) {
    memset(c, 0, sizeof *c);
    c->device = device;
    const char *sync_env = getenv("TLM_CUDA_SYNC");
    c->sync_each_op = sync_env != NULL && strcmp(sync_env, "1") == 0;
    const char *kernels_env = getenv("TLM_CUDA_KERNELS");
    c->simple_kernels = kernels_env != NULL && strcmp(kernels_env, "simple") == 0;
    const char *graphs_env = getenv("TLM_CUDA_GRAPHS");
    c->graphs_off = graphs_env != NULL && strcmp(graphs_env, "0") == 0;
    c->step = -1;
    CUDA_CHECK_GOTO(cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking), err, fail);
    CUBLAS_CHECK_GOTO(cublasCreate(&c->blas), err, fail);
    CUBLAS_CHECK_GOTO(cublasSetStream(c->blas, c->stream), err, fail);
    /* a workspace of our own, after SetStream (which resets it): cuBLAS then never
     * allocates one itself, and a captured GEMM's workspace pointer stays valid */
    CUDA_CHECK_GOTO(cudaMalloc(&c->d_blas_workspace, CUDA_BLAS_WORKSPACE), err, fail);
    CUBLAS_CHECK_GOTO(cublasSetWorkspace(c->blas, c->d_blas_workspace, CUDA_BLAS_WORKSPACE),
                      err, fail);
    /* Results must not depend on timing: no atomics-based cuBLAS reductions. */
    CUBLAS_CHECK_GOTO(cublasSetAtomicsMode(c->blas, CUBLAS_ATOMICS_NOT_ALLOWED), err, fail);
    CUDA_CHECK_GOTO(cudaMalloc((void **)&c->d_partials, CUDA_PARTIALS * sizeof(double)), err,
                    fail);
    CUDA_CHECK_GOTO(cudaMallocHost((void **)&c->h_result, sizeof(double)), err, fail);
    return 0;
fail:
    if (c->h_result != NULL)
        cudaFreeHost(c->h_result);
    if (c->d_partials != NULL)
        cudaFree(c->d_partials);
    if (c->d_blas_workspace != NULL)
        cudaFree(c->d_blas_workspace);
    if (c->blas != NULL)
        cublasDestroy(c->blas);
    if (c->stream != NULL)
        cudaStreamDestroy(c->stream);
    memset(c, 0, sizeof *c);
    return -1;
}

int cuda_ctx_open(int device, Err *err) {
    if (g_cuda.ready[device])
        return 0;
    if (ctx_create(&g_cuda.ctx[device], device, err) != 0)
        return -1;
    g_cuda.ready[device] = 1;
    return 0;
}

CudaCtx *cuda_ctx(void) {
    int device = -1;
    CUDA_CHECK_FATAL(cudaGetDevice(&device));
    if (device < 0 || device >= CUDA_MAX_DEVICES || !g_cuda.ready[device])
        log_fatal("kernels/cuda: an op ran on device %d before ops_cuda(%d) set it up", device,
                  device);
    return &g_cuda.ctx[device];
}

void cuda_op_done(CudaCtx *ctx, const char *name) {
    cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess)
        log_fatal("kernels/cuda: op %s: kernel launch failed: %s (%s)", name,
                  cudaGetErrorString(e), cudaGetErrorName(e));
    if (ctx->sync_each_op) {
        e = cudaStreamSynchronize(ctx->stream);
        if (e != cudaSuccess)
            log_fatal("kernels/cuda: op %s: failed on device %d (TLM_CUDA_SYNC=1): %s (%s)",
                      name, ctx->device, cudaGetErrorString(e), cudaGetErrorName(e));
    }
}

extern "C" void cuda_describe(char *buf, size_t n_bytes) {
    int device = 0;
    cudaDeviceProp prop;
    char bus[32] = "?";
    if (cudaGetDevice(&device) != cudaSuccess ||
        cudaGetDeviceProperties(&prop, device) != cudaSuccess) {
        snprintf(buf, n_bytes, "CUDA device (properties unavailable)");
        return;
    }
    cudaDeviceGetPCIBusId(bus, (int)sizeof bus, device);
    snprintf(buf, n_bytes, "CUDA device %d: %s, sm_%d%d, %.1f GiB, PCI %s", device, prop.name,
             prop.major, prop.minor, (double)prop.totalGlobalMem / (1024.0 * 1024.0 * 1024.0),
             bus);
}

extern "C" int cuda_kernels_simple(int simple) {
    CudaCtx *ctx = cuda_ctx();
    const int was = ctx->simple_kernels;
    ctx->simple_kernels = simple != 0;
    return was;
}

void *cuda_scratch(CudaCtx *ctx, size_t n_bytes) {
    if (n_bytes <= ctx->scratch_bytes)
        return ctx->d_scratch;
    const size_t grown = n_bytes + n_bytes / 2;
    if (ctx->capturing) /* graph.cu runs a key once before capturing it, so only a step
                         * that differs from its first run gets here */
        log_fatal("kernels/cuda: a captured step (graph key %llu) needed %zu bytes of "
                  "scratch, more than its first run; its key must name its shape "
                  "(TLM_CUDA_GRAPHS=0 runs without graphs)",
                  (unsigned long long)ctx->graphs[ctx->step].key, n_bytes);
    CUDA_CHECK_FATAL(cudaStreamSynchronize(ctx->stream)); /* kernels may still read it */
    if (ctx->d_scratch != NULL)
        CUDA_CHECK_FATAL(cudaFree(ctx->d_scratch));
    ctx->d_scratch = NULL;
    ctx->scratch_bytes = 0;
    CUDA_CHECK_FATAL(cudaMalloc(&ctx->d_scratch, grown));
    ctx->scratch_bytes = grown;
    ctx->scratch_epoch++; /* graphs captured with the old scratch are stale (graph.cu) */
    return ctx->d_scratch;
}
