/* comm/comm_impl.h -- private to comm/: the Comm struct, the MPI/NCCL error macros and
 * the NCCL half of the collectives (comm_nccl.c, built only with CUDA).
 * Nothing outside comm/ includes this file. Threading as in comm.h (FUNNELED). */
#ifndef TLM_COMM_COMM_IMPL_H
#define TLM_COMM_COMM_IMPL_H

#include <mpi.h>

#include "comm/comm.h"

typedef struct CommNccl CommNccl; /* comm_nccl.c */

struct Comm {
    const Ops *ops;                 /* borrowed backend table */
    MPI_Comm mpi[COMM_N_GROUPS];    /* duplicates of the grid's world/tp/dp comms */
    int rank[COMM_N_GROUPS];        /* my rank in each group */
    int size[COMM_N_GROUPS];        /* each group's size */
    CommNccl *nccl;                 /* NULL on the CPU backend */
    double busy_s;                  /* wall seconds inside collectives (comm_busy_seconds) */
};

/* Fills err with "what: <MPI error string> [call]" at file:line func; returns -1. */
int comm_mpi_fail(Err *err, const char *file, int line, const char *func, const char *what,
                  const char *call, int rc);

/* MPI_CHECK(call, what, err): on failure fill err (naming `what`, e.g. the collective)
 * and return -1 from the calling function. _GOTO jumps to a cleanup label instead. */
#define MPI_CHECK(call, what, err)                                                        \
    do {                                                                                  \
        int mpi_rc_ = (call);                                                             \
        if (mpi_rc_ != MPI_SUCCESS)                                                       \
            return comm_mpi_fail((err), TLM_SRC_FILE, __LINE__, __func__, (what), #call,  \
                                 mpi_rc_);                                                \
    } while (0)

#define MPI_CHECK_GOTO(call, what, err, label)                                            \
    do {                                                                                  \
        int mpi_rc_ = (call);                                                             \
        if (mpi_rc_ != MPI_SUCCESS) {                                                     \
            comm_mpi_fail((err), TLM_SRC_FILE, __LINE__, __func__, (what), #call,         \
                          mpi_rc_);                                                       \
            goto label;                                                                   \
        }                                                                                 \
    } while (0)

/* Element type of t for MPI (MPI_DATATYPE_NULL for bf16, which MPI lacks). */
MPI_Datatype comm_mpi_type(CommType t);

#ifdef TLM_HAVE_CUDA
/* Creates the stream and one NCCL communicator per group of c (whose MPI fields are
 * set) on the current CUDA device. Collective over the world. */
int comm_nccl_open(Comm *c, Err *err);
/* Destroys the communicators (ncclCommDestroy) and the stream; accepts NULL. */
void comm_nccl_close(CommNccl *n);
/* ncclCommAbort on every communicator; no waiting, for the abort path. */
void comm_nccl_abort(CommNccl *n);
/* The CUDA device the communicators live on. */
int comm_nccl_device(const CommNccl *n);

/* The NCCL collectives: device buffers, counts already validated by comm.c; `what`
 * names the call for messages. Each enqueues on the comm stream and polls until done. */
int comm_nccl_all_reduce(Comm *c, CommGroup g, void *buf, size_t count, CommType type,
                         CommOp op, const char *what, Err *err);
int comm_nccl_all_gather(Comm *c, CommGroup g, const void *send, void *recv, size_t count,
                         CommType type, const char *what, Err *err);
int comm_nccl_broadcast(Comm *c, CommGroup g, void *buf, size_t count, CommType type,
                        int root, const char *what, Err *err);
#endif

#endif
