/* kernels/cuda/cuda_check.h -- the CUDA runtime and cuBLAS forms of tlm's error-check
 * family (STYLE §3; comm/comm_check.h has MPI and NCCL). Each X_CHECK wraps one library
 * call; on failure it reports file:line, the function, the call's text and the library's
 * error string and name:
 *   X_CHECK(call, err)              fills err and returns -1 from the calling function;
 *   X_CHECK_GOTO(call, err, label)  fills err and jumps to label (cleanup first);
 *   X_CHECK_FATAL(call)             log_fatal (the launcher's abort hook stops every
 *                                   rank): only for the ops, which return void.
 * A C header: .c files (comm/comm_nccl.c) and .cu files include it alike. */
#ifndef TLM_KERNELS_CUDA_CUDA_CHECK_H
#define TLM_KERNELS_CUDA_CUDA_CHECK_H

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <string.h>

#include "io/base/err.h"
#include "io/base/log.h"

/* The repository-relative spelling of a source path: C files get it from CMake's
 * -fmacro-prefix-map, nvcc has no such flag, so paths under kernels/cuda are cut here. */
static inline const char *cuda_check_src(const char *file) {
    const char *p = strstr(file, "kernels/cuda/");
    return p != NULL ? p : file;
}

/* Fill err with "file:line func: call: <string> (<name>)"; return -1. */
static inline int cuda_check_fail(Err *err, const char *file, int line, const char *func,
                                  const char *call, cudaError_t e) {
    return err_setf(err, cuda_check_src(file), line, func, "%s: %s (%s)", call,
                    cudaGetErrorString(e), cudaGetErrorName(e));
}

static inline int cublas_check_fail(Err *err, const char *file, int line, const char *func,
                                    const char *call, cublasStatus_t s) {
    return err_setf(err, cuda_check_src(file), line, func, "%s: %s (%s)", call,
                    cublasGetStatusString(s), cublasGetStatusName(s));
}

#define CUDA_CHECK(call, err)                                                             \
    do {                                                                                  \
        const cudaError_t cuda_rc_ = (call);                                              \
        if (cuda_rc_ != cudaSuccess)                                                      \
            return cuda_check_fail((err), TLM_SRC_FILE, __LINE__, __func__, #call,        \
                                   cuda_rc_);                                             \
    } while (0)

#define CUDA_CHECK_GOTO(call, err, label)                                                 \
    do {                                                                                  \
        const cudaError_t cuda_rc_ = (call);                                              \
        if (cuda_rc_ != cudaSuccess) {                                                    \
            cuda_check_fail((err), TLM_SRC_FILE, __LINE__, __func__, #call, cuda_rc_);    \
            goto label;                                                                   \
        }                                                                                 \
    } while (0)

#define CUDA_CHECK_FATAL(call)                                                            \
    do {                                                                                  \
        const cudaError_t cuda_rc_ = (call);                                              \
        if (cuda_rc_ != cudaSuccess) {                                                    \
            Err cuda_err_;                                                                \
            cuda_check_fail(&cuda_err_, TLM_SRC_FILE, __LINE__, __func__, #call,          \
                            cuda_rc_);                                                    \
            log_fatal("%s", cuda_err_.msg);                                               \
        }                                                                                 \
    } while (0)

#define CUBLAS_CHECK(call, err)                                                           \
    do {                                                                                  \
        const cublasStatus_t blas_rc_ = (call);                                           \
        if (blas_rc_ != CUBLAS_STATUS_SUCCESS)                                            \
            return cublas_check_fail((err), TLM_SRC_FILE, __LINE__, __func__, #call,      \
                                     blas_rc_);                                           \
    } while (0)

#define CUBLAS_CHECK_GOTO(call, err, label)                                               \
    do {                                                                                  \
        const cublasStatus_t blas_rc_ = (call);                                           \
        if (blas_rc_ != CUBLAS_STATUS_SUCCESS) {                                          \
            cublas_check_fail((err), TLM_SRC_FILE, __LINE__, __func__, #call, blas_rc_);  \
            goto label;                                                                   \
        }                                                                                 \
    } while (0)

#define CUBLAS_CHECK_FATAL(call)                                                          \
    do {                                                                                  \
        const cublasStatus_t blas_rc_ = (call);                                           \
        if (blas_rc_ != CUBLAS_STATUS_SUCCESS) {                                          \
            Err blas_err_;                                                                \
            cublas_check_fail(&blas_err_, TLM_SRC_FILE, __LINE__, __func__, #call,        \
                              blas_rc_);                                                  \
            log_fatal("%s", blas_err_.msg);                                               \
        }                                                                                 \
    } while (0)

#endif
