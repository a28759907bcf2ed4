/* kernels/ops.c -- choosing a backend by name. */
#include "kernels/ops.h"

#include <string.h>

#ifndef TLM_HAVE_CUDA
const Ops *ops_cuda(int device, Err *err) {
    err_set(err, "backend cuda: this tlm was built without CUDA (configure with TLM_CUDA=ON "
                 "on a machine with nvcc)");
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

const Ops *ops_select(const char *name, int device, Err *err) {
    if (strcmp(name, "cpu") == 0)
        return ops_cpu();
    if (strcmp(name, "cuda") == 0)
        return ops_cuda(device, err);
    if (strcmp(name, "auto") == 0) {
        Err ignored;
        const Ops *cuda = ops_cuda(device, &ignored);
        return cuda != NULL ? cuda : ops_cpu();
    }
    err_set(err, "backend \"%s\": expected auto, cpu or cuda", name);
    return NULL;
}
