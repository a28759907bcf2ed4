/* kernels/cuda/backend.cu -- the CUDA backend's Ops table (generated from
 * kernels/ops_list.h) and ops_cuda(device): it checks and selects the device
 * (cudaSetDevice) and opens its context (context.cu) on first use. Ops carry no context
 * argument, so every op finds its context through the *current* device. Not
 * thread-safe for the first ops_cuda() call of a device; later calls only read. */
#include "kernels/cuda/cuda_common.cuh"

static const Ops cuda_ops_table = {
    .name = "cuda",
    .elem = DTYPE_BF16,
    .elem_bytes = 2,
#define OP(ret, op, params) .op = cuda_##op,
#include "kernels/ops_list.h"
#undef OP
};

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
    if (cuda_ctx_open(device, err) != 0) {
        err_prefix(err, "backend cuda: device %d: ", device);
        return NULL;
    }
    return &cuda_ops_table;
}

extern "C" int ops_cuda_device_count(void) {
    int n_devices = 0;
    if (cudaGetDeviceCount(&n_devices) != cudaSuccess) {
        cudaGetLastError(); /* no driver or no device: not an error for a caller that asks */
        return 0;
    }
    return n_devices;
}

extern "C" int ops_cuda_bus_id(int device, char *buf, size_t n_bytes) {
    if (n_bytes > 0)
        buf[0] = '\0';
    if (n_bytes == 0 || cudaDeviceGetPCIBusId(buf, (int)n_bytes, device) != cudaSuccess) {
        cudaGetLastError();
        if (n_bytes > 0)
            buf[0] = '\0';
        return -1;
    }
    return 0;
}
