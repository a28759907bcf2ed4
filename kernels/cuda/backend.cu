/* kernels/cuda/backend.cu -- the CUDA backend's Ops table and its per-device context.
 * ops_cuda(device) selects the device (cudaSetDevice) and, on the first call for that
 * device, creates its stream, cuBLAS and cuBLASLt handles and a small scratch area.
 * Ops carry no context argument, so every op finds its context through the *current*
 * device: a process driving several GPUs must cudaSetDevice (or call ops_cuda again)
 * before calling ops for another one. Contexts live until the process exits.
 * Not thread-safe for the first ops_cuda() call of a device; later calls only read. */
#include "kernels/cuda/cuda_common.cuh"

#include <stdlib.h>

#define CUDA_MAX_DEVICES 64

/* The one mutable global of the backend: the per-device contexts, filled by ops_cuda().
 * ready[d] != 0 means ctx[d] is fully initialized. */
static struct {
    int ready[CUDA_MAX_DEVICES];
    CudaCtx ctx[CUDA_MAX_DEVICES];
} g_cuda;

static const Ops cuda_ops_table = {
    .name = "cuda",
    .elem = DTYPE_BF16,
    .elem_bytes = 2,
#define OP(ret, op, params) .op = cuda_##op,
#include "kernels/ops_list.h"
#undef OP
};

/* Creates ctx's stream, handles and scratch on the current device; on failure fills err,
 * destroys what was made and returns -1. */
static int ctx_create(CudaCtx *c, int device, Err *err) {
    memset(c, 0, sizeof *c);
    c->device = device;
    const char *sync_env = getenv("TLM_CUDA_SYNC");
    c->sync_each_op = sync_env != NULL && strcmp(sync_env, "1") == 0;
    CUDA_CHECK_GOTO(cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking), err, fail);
    CUBLAS_CHECK_GOTO(cublasCreate(&c->blas), err, fail);
    CUBLAS_CHECK_GOTO(cublasSetStream(c->blas, c->stream), err, fail);
    /* Results must not depend on timing: no atomics-based cuBLAS reductions. */
    CUBLAS_CHECK_GOTO(cublasSetAtomicsMode(c->blas, CUBLAS_ATOMICS_NOT_ALLOWED), err, fail);
    CUBLAS_CHECK_GOTO(cublasLtCreate(&c->lt), err, fail);
    CUDA_CHECK_GOTO(cudaMalloc((void **)&c->d_partials, CUDA_PARTIALS * sizeof(double)), err,
                    fail);
    CUDA_CHECK_GOTO(cudaMallocHost((void **)&c->h_result, sizeof(double)), err, fail);
    return 0;
fail:
    if (c->h_result != NULL)
        cudaFreeHost(c->h_result);
    if (c->d_partials != NULL)
        cudaFree(c->d_partials);
    if (c->lt != NULL)
        cublasLtDestroy(c->lt);
    if (c->blas != NULL)
        cublasDestroy(c->blas);
    if (c->stream != NULL)
        cudaStreamDestroy(c->stream);
    memset(c, 0, sizeof *c);
    return -1;
}

extern "C" const Ops *ops_cuda(int device, Err *err) {
    int n_devices = 0;
    cudaError_t e = cudaGetDeviceCount(&n_devices);
    if (e != cudaSuccess || n_devices == 0) {
        err_set(err, "backend cuda: no usable CUDA device (%s)",
                e != cudaSuccess ? cudaGetErrorString(e) : "device count is 0");
        cudaGetLastError(); /* clear the sticky-free error so later calls start clean */
        return NULL;
    }
    if (device < 0 || device >= n_devices || device >= CUDA_MAX_DEVICES) {
        err_set(err, "backend cuda: device %d does not exist (%d visible)", device, n_devices);
        return NULL;
    }
    e = cudaSetDevice(device);
    if (e != cudaSuccess) {
        err_set(err, "backend cuda: cudaSetDevice(%d): %s", device, cudaGetErrorString(e));
        return NULL;
    }
    if (!g_cuda.ready[device]) {
        if (ctx_create(&g_cuda.ctx[device], device, err) != 0) {
            err_prefix(err, "backend cuda: device %d: ", device);
            return NULL;
        }
        g_cuda.ready[device] = 1;
    }
    return &cuda_ops_table;
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
