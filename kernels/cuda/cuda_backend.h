/* kernels/cuda/cuda_backend.h -- the one entry point of the CUDA backend module
 * (libtlm_kernels_cuda.so), which kernels/ops_cuda.c looks up by name after dlopen. C
 * header. */
#ifndef TLM_KERNELS_CUDA_CUDA_BACKEND_H
#define TLM_KERNELS_CUDA_CUDA_BACKEND_H

#include "kernels/ops.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CUDA_BACKEND_OPEN_SYMBOL "cuda_backend_open"

/* ops_cuda(device, err) once the module is loaded: checks and selects the device and
 * opens its context on first use; NULL with err filled when it cannot. */
const Ops *cuda_backend_open(int device, Err *err);

#ifdef __cplusplus
}
#endif
#endif
