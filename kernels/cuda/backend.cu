/* kernels/cuda/backend.cu -- the CUDA backend's Ops table (generated from
 * kernels/ops_list.h) and the module's entry point cuda_backend_open(device), which
 * ops_cuda() calls (kernels/ops_cuda.c): it checks and selects the device
 * (cudaSetDevice) and opens its context (context.cu) on first use. Ops carry no context
 * argument, so every op finds its context through the *current* device. Not
 * thread-safe for the first ops_cuda() call of a device; later calls only read. */
#include "kernels/cuda/cuda_backend.h"
#include "kernels/cuda/cuda_common.cuh"

static const Ops cuda_ops_table = {
    .name = "cuda",
    .elem = DTYPE_BF16,
    .elem_bytes = 2,
#define OP(ret, op, params) .op = cuda_##op,
#include "kernels/ops_list.h"
#undef OP
};

extern "C" const Ops *cuda_backend_open(int device, Err *err) {
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
    if (cuda_ctx_open(device, err) != 0) {
        err_prefix(err, "backend cuda: device %d: ", device);
        return NULL;
    }
    return &cuda_ops_table;
}
