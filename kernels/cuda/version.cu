/* kernels/cuda/version.cu -- the CUDA runtime's version for kernels/build_info.h. Asks the
 * runtime library only: no device, no context. */
#include <cuda_runtime.h>

#include "kernels/build_info.h"

extern "C" int kernels_cuda_runtime_version(void) {
    int v = 0;
    return cudaRuntimeGetVersion(&v) == cudaSuccess ? v : 0;
}
