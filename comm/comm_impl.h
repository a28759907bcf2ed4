/* comm/comm_impl.h -- private to comm/: the Comm struct and the NCCL half of the
 * collectives (comm_nccl.c, built only with CUDA), which comm.c calls and which calls
 * back into nothing of comm.c (the error macros and names: comm_check.h).
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
    double timeout_s;               /* the longest wait of one collective; 0: forever */
};

/* comm_wait.c. TLM_COMM_TIMEOUT (seconds, >= 0; 0 waits forever) or, unset, the default
 * into *timeout_s; a malformed value is an error naming it. */
int comm_timeout_from_env(double *timeout_s, Err *err);
/* Polls an MPI request of group g until it completes or c->timeout_s has passed (then an
 * error naming the group, the rank and TLM_COMM_TIMEOUT; the caller aborts the job). */
int comm_mpi_wait(const Comm *c, CommGroup g, MPI_Request *req, Err *err);
/* The timeout's error (shared with the NCCL wait); returns -1. */
int comm_timeout_fail(const Comm *c, CommGroup g, Err *err);

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

/* The NCCL collectives: device buffers, arguments already checked by comm.c, which also
 * prefixes any error with the call's name. Each enqueues on the comm stream and polls
 * until done. */
int comm_nccl_all_reduce(Comm *c, CommGroup g, void *buf, size_t count, CommType type,
                         CommOp op, Err *err);
int comm_nccl_all_gather(Comm *c, CommGroup g, const void *send, void *recv, size_t count,
                         CommType type, Err *err);
int comm_nccl_broadcast(Comm *c, CommGroup g, void *buf, size_t count, CommType type,
                        int root, Err *err);
#endif

#endif
