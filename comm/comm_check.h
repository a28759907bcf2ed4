/* comm/comm_check.h -- private to comm/: the MPI and NCCL forms of tlm's error-check
 * family (STYLE §3; kernels/cuda/cuda_check.h has CUDA and cuBLAS), and the argument
 * checks of a collective. Each X_CHECK wraps one library call; on failure it fills err
 * with file:line, the function, the call's text and the library's error string:
 *   X_CHECK(call, err)              fills err and returns -1 from the calling function;
 *   X_CHECK_GOTO(call, err, label)  fills err and jumps to label (cleanup first).
 * Callers add what they were doing with err_prefix. NCCL forms exist in CUDA builds only.
 * Threading as in comm.h (FUNNELED). */
#ifndef TLM_COMM_COMM_CHECK_H
#define TLM_COMM_COMM_CHECK_H

#include <mpi.h>
#ifdef TLM_HAVE_CUDA
#include <nccl.h>
#endif

#include "comm/comm_impl.h"

/* Fills err with "file:line func: call: <MPI error string>" for MPI return code rc;
 * returns -1. */
int comm_mpi_fail(Err *err, const char *file, int line, const char *func, const char *call,
                  int rc);

#define MPI_CHECK(call, err)                                                              \
    do {                                                                                  \
        const int mpi_rc_ = (call);                                                       \
        if (mpi_rc_ != MPI_SUCCESS)                                                       \
            return comm_mpi_fail((err), TLM_SRC_FILE, __LINE__, __func__, #call,          \
                                 mpi_rc_);                                                \
    } while (0)

#define MPI_CHECK_GOTO(call, err, label)                                                  \
    do {                                                                                  \
        const int mpi_rc_ = (call);                                                       \
        if (mpi_rc_ != MPI_SUCCESS) {                                                     \
            comm_mpi_fail((err), TLM_SRC_FILE, __LINE__, __func__, #call, mpi_rc_);       \
            goto label;                                                                   \
        }                                                                                 \
    } while (0)

#ifdef TLM_HAVE_CUDA
/* Fills err with "file:line func: call: <NCCL error string> (<ncclGetLastError>)" for
 * result r; returns -1. */
int comm_nccl_fail(Err *err, const char *file, int line, const char *func, const char *call,
                   ncclResult_t r);

#define NCCL_CHECK(call, err)                                                             \
    do {                                                                                  \
        const ncclResult_t nccl_rc_ = (call);                                             \
        if (nccl_rc_ != ncclSuccess)                                                      \
            return comm_nccl_fail((err), TLM_SRC_FILE, __LINE__, __func__, #call,         \
                                  nccl_rc_);                                              \
    } while (0)

#define NCCL_CHECK_GOTO(call, err, label)                                                 \
    do {                                                                                  \
        const ncclResult_t nccl_rc_ = (call);                                             \
        if (nccl_rc_ != ncclSuccess) {                                                    \
            comm_nccl_fail((err), TLM_SRC_FILE, __LINE__, __func__, #call, nccl_rc_);     \
            goto label;                                                                   \
        }                                                                                 \
    } while (0)
#endif

/* Element type of t for MPI (MPI_DATATYPE_NULL for bf16, which MPI lacks). */
MPI_Datatype comm_mpi_type(CommType t);

/* The common arguments of a collective op on group g of c: a known group and type, a
 * count >= 0, a buffer when count > 0, and what MPI can carry (int counts, no bf16) on
 * the CPU backend. Always writes the call's name, "op(group r/n, count x type[, extra])",
 * into what (what_bytes); on a bad argument fills err starting with it and returns -1.
 * c, buf, op, extra: borrowed. */
int comm_check_call(const Comm *c, CommGroup g, const void *buf, int64_t count,
                    CommType type, const char *op, const char *extra, char *what,
                    size_t what_bytes, Err *err);

#endif
