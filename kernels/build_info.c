/* kernels/build_info.c -- the backends compiled in (kernels/build_info.h). */
#include "kernels/build_info.h"

#include "kernels/ops.h"

#include <stdio.h>
#include <string.h>

#ifdef TLM_HAVE_CUDA
#include <cuda_runtime_api.h>

/* The runtime library only: no device, no context, and not the backend module. */
int kernels_cuda_runtime_version(void) {
    int v = 0;
    return cudaRuntimeGetVersion(&v) == cudaSuccess ? v : 0;
}
#else
int kernels_cuda_runtime_version(void) { return 0; }
#endif

void kernels_describe_backends(char *buf, size_t n_bytes) {
#ifdef TLM_HAVE_CUDA
    /* TLM_CUDA_ARCHS is CMAKE_CUDA_ARCHITECTURES as a string, e.g. "80 90" */
    char archs[128] = "";
    size_t n = 0;
    for (const char *a = TLM_CUDA_ARCHS; *a != '\0' && n + 8 < sizeof archs;) {
        const size_t len = strcspn(a, " ");
        n += (size_t)snprintf(archs + n, sizeof archs - n, "%ssm_%.*s", n ? " " : "", (int)len, a);
        a += len + (a[len] == ' ');
    }
    const int v = kernels_cuda_runtime_version();
    /* A module that does not load (moved, a cuBLAS missing from the library path) would
     * otherwise surface only when a GPU job starts: said here, where a bug report begins. */
    Err err = {0};
    const int loads = ops_cuda_load(&err) == 0;
    snprintf(buf, n_bytes, "cpu, cuda (%s, CUDA runtime %d.%d; %s%s)", archs, v / 1000,
             v % 1000 / 10, loads ? TLM_CUDA_MODULE " loads" : "", loads ? "" : err.msg);
#else
    snprintf(buf, n_bytes, "cpu (built without CUDA)");
#endif
}
