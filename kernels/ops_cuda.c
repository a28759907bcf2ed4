/* kernels/ops_cuda.c -- the CUDA backend as the rest of tlm sees it (kernels/ops.h):
 * ops_cuda() loads the backend module, libtlm_kernels_cuda.so, on first use, so that a
 * run on the CPU never maps cuBLAS; the device count and bus ids need only the CUDA
 * runtime. Without CUDA in the build, each says so. */
#include "kernels/ops.h"

#include <string.h>

#ifdef TLM_HAVE_CUDA
#include <cuda_runtime_api.h>
#include <dlfcn.h>

#include "kernels/cuda/cuda_backend.h"

/* Looked up once and kept: the CUDA libraries do not support being unloaded. Not
 * thread-safe for the first call, as the module's own first open of a device is not. */
static const Ops *(*g_backend_open)(int, Err *);

int ops_cuda_load(Err *err) {
    if (g_backend_open != NULL)
        return 0;
    /* By name: the program's RPATH (build/lib in a build tree, $ORIGIN/../lib in the GPU
     * kit) or LD_LIBRARY_PATH finds it beside libtlm_io_base.so. */
    void *module = dlopen(TLM_CUDA_MODULE, RTLD_NOW | RTLD_LOCAL);
    if (module == NULL)
        return err_set(err, "backend cuda: cannot load the CUDA backend module %s (it is "
                            "built beside libtlm_io_base.so): %s", TLM_CUDA_MODULE, dlerror());
    void *sym = dlsym(module, CUDA_BACKEND_OPEN_SYMBOL);
    if (sym == NULL)
        return err_set(err, "backend cuda: %s has no %s: %s", TLM_CUDA_MODULE,
                       CUDA_BACKEND_OPEN_SYMBOL, dlerror());
    /* POSIX guarantees a function pointer converts through void * (dlsym's contract) */
    memcpy(&g_backend_open, &sym, sizeof sym);
    return 0;
}

const Ops *ops_cuda(int device, Err *err) {
    /* asked before loading, so that a machine without a GPU never maps cuBLAS */
    int n_devices = 0;
    const cudaError_t e = cudaGetDeviceCount(&n_devices);
    if (e != cudaSuccess || n_devices == 0) {
        err_set(err, "backend cuda: no usable CUDA device (%s)",
                e != cudaSuccess ? cudaGetErrorString(e) : "device count is 0");
        cudaGetLastError(); /* clear the error so later calls start clean */
        return NULL;
    }
    if (ops_cuda_load(err) != 0)
        return NULL;
    return g_backend_open(device, err);
}

int ops_cuda_device_count(void) {
    int n_devices = 0;
    if (cudaGetDeviceCount(&n_devices) != cudaSuccess) {
        cudaGetLastError(); /* no driver or no device: not an error for a caller that asks */
        return 0;
    }
    return n_devices;
}

int ops_cuda_bus_id(int device, char *buf, size_t n_bytes) {
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

#else

int ops_cuda_load(Err *err) {
    return err_set(err, "backend cuda: this tlm was built without CUDA (configure with "
                        "TLM_CUDA=ON on a machine with nvcc)");
}

const Ops *ops_cuda(int device, Err *err) {
    (void)device;
    ops_cuda_load(err);
    return NULL;
}

int ops_cuda_device_count(void) { return 0; }

int ops_cuda_bus_id(int device, char *buf, size_t n_bytes) {
    (void)device;
    if (n_bytes > 0)
        buf[0] = '\0';
    return -1;
}

#endif
