/* comm/comm.h -- one collective API (all_reduce, all_gather, broadcast, barrier) over the
 * groups of a Grid: the world, my tp group, my dp group.
 * The backend decides the transport: with the CPU backend buffers are host memory and
 * collectives go through MPI; with the CUDA backend they are device memory and go through
 * NCCL (one communicator per group). It does not choose devices or decide when to stop:
 * it returns -1 with an Err naming the collective, group and sizes; comm_abort stops all.
 * Threading: FUNNELED -- every call of a rank comes from the thread that ran grid_init.
 * Every call is blocking and collective over its group: each member must make the same
 * calls in the same order with the same count, type, op and root. No wait is endless: a
 * collective still waiting after TLM_COMM_TIMEOUT seconds (default COMM_DEFAULT_TIMEOUT_S;
 * 0 waits forever) returns an error naming the group, so a dead or stuck peer ends the
 * job (the caller's log_fatal aborts every rank) on MPI and NCCL alike. */
#ifndef TLM_COMM_COMM_H
#define TLM_COMM_COMM_H

#include <stddef.h>
#include <stdint.h>

#include "comm/grid.h"
#include "io/base/err.h"
#include "kernels/ops.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The default of TLM_COMM_TIMEOUT, seconds: a dead peer ends the job within a minute
 * (this wait, then the abort). Ranks of a healthy job meet far sooner; one that may lag
 * longer (a slow shared file system at load time) needs a larger TLM_COMM_TIMEOUT. */
#define COMM_DEFAULT_TIMEOUT_S 45

typedef enum CommGroup { COMM_WORLD = 0, COMM_TP, COMM_DP, COMM_N_GROUPS } CommGroup;

/* COMM_BF16 exists for the CUDA backend's activations (NCCL); MPI refuses it. */
typedef enum CommType { COMM_F32 = 0, COMM_F64, COMM_I32, COMM_I64, COMM_BF16 } CommType;

typedef enum CommOp { COMM_SUM = 0, COMM_MAX } CommOp;

/* Opaque: the backend, the duplicated MPI communicators and, on CUDA, the NCCL ones. */
typedef struct Comm Comm;

/* Opens the collectives of grid g (borrowed; must stay initialized until comm_close) on
 * backend ops (borrowed, static). The world, tp and dp communicators are duplicated, so
 * comm traffic never matches other MPI traffic. CUDA backend: call after ops_cuda(dev)
 * (the current device is the one used); creates one NCCL communicator per group (the
 * ncclUniqueId made on group rank 0 and broadcast over MPI) and a stream, and adds
 * "gpuN" to the log identity. Collective over the world. *out: owned-after-return. */
int comm_open(const Grid *g, const Ops *ops, Comm **out, Err *err);

/* Destroys the NCCL communicators, stream and MPI duplicates in reverse order of creation
 * and sets *c to NULL. Accepts NULL or *c == NULL, so it is safe to call twice. */
void comm_close(Comm **c);

/* This rank's index in group g and the group's size (0 and 1 for a bad group). */
int comm_rank(const Comm *c, CommGroup g);
int comm_size(const Comm *c, CommGroup g);
/* Wall seconds this rank has spent inside collectives since comm_open, waiting for its
 * peers included: the communication share of a run (0 for c == NULL). */
double comm_busy_seconds(const Comm *c);
/* The longest wait of one collective, seconds (0: forever), from TLM_COMM_TIMEOUT. */
double comm_timeout_seconds(const Comm *c);

/* The CommType of the backend's `void *` elements (Ops.elem): F32 on CPU, BF16 on CUDA. */
CommType comm_elem_type(const Comm *c);

/* "world", "tp", "dp"; "f32" ...; "sum", "max"; bytes of one element. */
const char *comm_group_name(CommGroup g);
const char *comm_type_name(CommType t);
const char *comm_op_name(CommOp op);
size_t comm_type_bytes(CommType t);

/* In place: buf (count elements: host on CPU, device on CUDA) becomes the element-wise
 * op over the group. Blocks until the result is in buf. On CUDA it first waits for the
 * backend's stream (ops->sync), so results of earlier ops are what gets reduced. */
int comm_all_reduce(Comm *c, CommGroup g, void *buf, int64_t count, CommType type, CommOp op,
                    Err *err);

/* recv (size * count elements) receives every member's send (count elements) in group
 * rank order. In place when send == recv + rank * count elements. Host on CPU, device on
 * CUDA; blocking, like comm_all_reduce. */
int comm_all_gather(Comm *c, CommGroup g, const void *send, void *recv, int64_t count,
                    CommType type, Err *err);

/* buf (count elements) of the member with group rank `root` is copied to every member.
 * Host on CPU, device on CUDA; blocking, like comm_all_reduce. */
int comm_broadcast(Comm *c, CommGroup g, void *buf, int64_t count, CommType type, int root,
                   Err *err);

/* Returns once every member of g has entered the barrier (on CUDA, after its stream has
 * drained). */
int comm_barrier(Comm *c, CommGroup g, Err *err);

/* Stops the whole job: ncclCommAbort on every open NCCL communicator, then
 * MPI_Abort(MPI_COMM_WORLD, status), or exit(status) when MPI is not running. The log
 * abort hook; safe from any state after grid_init, including inside a failed collective.
 * Reads the one piece of global state of comm/: the list of open Comms. */
_Noreturn void comm_abort(int status);

#ifdef __cplusplus
}
#endif
#endif
