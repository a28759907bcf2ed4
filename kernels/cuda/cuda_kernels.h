/* kernels/cuda/cuda_kernels.h -- which CUDA kernel family the ops run: the fast ones
 * (tensor cores, the default) or their simple twins, the reference they are tested
 * against. TLM_CUDA_KERNELS=simple picks the twins for the whole process when a device's
 * context is made; tests flip it per device in between to run both paths. C header. */
#ifndef TLM_KERNELS_CUDA_CUDA_KERNELS_H
#define TLM_KERNELS_CUDA_CUDA_KERNELS_H

#ifdef __cplusplus
extern "C" {
#endif

/* simple != 0: the current device's ops use the simple kernels from now on. The device's
 * context must exist (ops_cuda was called). Returns the previous setting. */
int cuda_kernels_simple(int simple);

#ifdef __cplusplus
}
#endif
#endif
