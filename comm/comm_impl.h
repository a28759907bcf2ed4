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
};

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
