/* kernels/build_info.h -- what the kernels library was built with, for `tlm --version`:
 * the backends compiled in (cpu always; cuda with its GPU architectures and the CUDA
 * runtime's version, which needs no GPU) and the CPU backend's BLAS (kernels/cpu/blas.h).
 * Queries; the first loads the CUDA backend module, so call it from one thread. */
#ifndef TLM_KERNELS_BUILD_INFO_H
#define TLM_KERNELS_BUILD_INFO_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Writes e.g. "cpu, cuda (sm_80 sm_90, CUDA runtime 13.0; libtlm_kernels_cuda.so loads)",
 * with the loader's reason in place of "loads" when the backend module does not, or "cpu
 * (built without CUDA)" into buf (NUL-terminated, truncated to n_bytes). */
void kernels_describe_backends(char *buf, size_t n_bytes);

/* The CUDA runtime version as CUDA encodes it (1000 * major + 10 * minor); 0 in a build
 * without CUDA. Asks the runtime library only (no device, no backend module). */
int kernels_cuda_runtime_version(void);

#ifdef __cplusplus
}
#endif

#endif
