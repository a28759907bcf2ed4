/* comm/comm.c -- the collective API: open/close, the MPI transport (CPU backend),
 * dispatch to NCCL (CUDA backend, comm_nccl.c), the time spent in collectives and the
 * job-wide abort. Argument checks and error messages: comm_check.c. */
#include "comm/comm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "comm/comm_check.h"
#include "io/base/log.h"

/* The one global state of comm/: the Comms currently open, so that comm_abort (the log
 * abort hook, which takes no argument) can ncclCommAbort them before MPI_Abort. Written
 * only by comm_open/comm_close on the FUNNELED thread. */
#define COMM_MAX_OPEN 8
static Comm *g_open[COMM_MAX_OPEN];

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int comm_rank(const Comm *c, CommGroup g) {
    return (unsigned)g < COMM_N_GROUPS ? c->rank[g] : 0;
}

int comm_size(const Comm *c, CommGroup g) {
    return (unsigned)g < COMM_N_GROUPS ? c->size[g] : 1;
}

CommType comm_elem_type(const Comm *c) {
    return c->ops->elem == DTYPE_BF16 ? COMM_BF16 : COMM_F32;
}

static int comm_uses_nccl(const Ops *ops) { return strcmp(ops->name, "cuda") == 0; }

/* c's group i becomes a duplicate of from that returns errors instead of aborting. */
static int dup_group(Comm *c, int i, MPI_Comm from, Err *err) {
    MPI_CHECK_GOTO(MPI_Comm_dup(from, &c->mpi[i]), err, fail);
    MPI_CHECK_GOTO(MPI_Comm_set_errhandler(c->mpi[i], MPI_ERRORS_RETURN), err, fail);
    MPI_CHECK_GOTO(MPI_Comm_rank(c->mpi[i], &c->rank[i]), err, fail);
    MPI_CHECK_GOTO(MPI_Comm_size(c->mpi[i], &c->size[i]), err, fail);
    return 0;
fail:
    return err_prefix(err, "duplicating the %s communicator: ",
                      comm_group_name((CommGroup)i));
}

int comm_open(const Grid *g, const Ops *ops, Comm **out, Err *err) {
    *out = NULL;
    if (!g->ready)
        return err_set(err, "the grid is not initialized (call grid_init first)");
    int slot = 0;
    while (slot < COMM_MAX_OPEN && g_open[slot] != NULL)
        slot++;
    if (slot == COMM_MAX_OPEN)
        return err_set(err, "%d Comms already open", COMM_MAX_OPEN);
    Comm *c = calloc(1, sizeof *c);
    if (c == NULL)
        return err_set(err, "out of memory");
    c->ops = ops;
    for (int i = 0; i < COMM_N_GROUPS; i++)
        c->mpi[i] = MPI_COMM_NULL;
    if (comm_timeout_from_env(&c->timeout_s, err) != 0)
        goto fail;
    const MPI_Comm from[COMM_N_GROUPS] = {g->world_comm, g->tp_comm, g->dp_comm};
    for (int i = 0; i < COMM_N_GROUPS; i++)
        if (dup_group(c, i, from[i], err) != 0)
            goto fail;
    if (comm_uses_nccl(ops)) {
#ifdef TLM_HAVE_CUDA
        if (comm_nccl_open(c, err) != 0) {
            err_prefix(err, "creating NCCL communicators: ");
            goto fail;
        }
        log_set_identity(g->rank, g->world, g->host, comm_nccl_device(c->nccl));
#else
        err_set(err, "backend %s needs NCCL, but this tlm was built without CUDA",
                ops->name);
        goto fail;
#endif
    }
    g_open[slot] = c;
    *out = c;
    return 0;
fail:
    comm_close(&c);
    return -1;
}

void comm_close(Comm **pc) {
    if (pc == NULL || *pc == NULL)
        return;
    Comm *c = *pc;
    for (int i = 0; i < COMM_MAX_OPEN; i++)
        if (g_open[i] == c)
            g_open[i] = NULL;
#ifdef TLM_HAVE_CUDA
    comm_nccl_close(c->nccl);
#endif
    int finalized = 0;
    MPI_Finalized(&finalized);
    for (int i = COMM_N_GROUPS - 1; i >= 0; i--)
        if (!finalized && c->mpi[i] != MPI_COMM_NULL)
            MPI_Comm_free(&c->mpi[i]);
    free(c);
    *pc = NULL;
}

_Noreturn void comm_abort(int status) {
    static volatile int aborting;
    if (!aborting) { /* a failure inside ncclCommAbort must not recurse */
        aborting = 1;
#ifdef TLM_HAVE_CUDA
        for (int i = 0; i < COMM_MAX_OPEN; i++)
            if (g_open[i] != NULL)
                comm_nccl_abort(g_open[i]->nccl);
#endif
    }
    int up = 0, down = 0;
    MPI_Initialized(&up);
    MPI_Finalized(&down);
    if (up && !down)
        MPI_Abort(MPI_COMM_WORLD, status == 0 ? 1 : status);
    exit(status == 0 ? 1 : status);
}

/* The _impl functions check the arguments, then run the collective on NCCL (CUDA
 * backend) or MPI; a transport error is prefixed with the call's name and sizes. */
static int all_reduce_impl(Comm *c, CommGroup g, void *buf, int64_t count, CommType type,
                           CommOp op, Err *err) {
    char what[128];
    if (comm_check_call(c, g, buf, count, type, "all_reduce", comm_op_name(op), what,
                        sizeof what, err) != 0)
        return -1;
    if (op != COMM_SUM && op != COMM_MAX)
        return err_set(err, "%s: unknown reduction %d", what, (int)op);
    if (count == 0)
        return 0;
#ifdef TLM_HAVE_CUDA
    if (c->nccl != NULL) {
        if (comm_nccl_all_reduce(c, g, buf, (size_t)count, type, op, err) != 0)
            goto fail;
        return 0;
    }
#endif
    MPI_Request req;
    MPI_CHECK_GOTO(MPI_Iallreduce(MPI_IN_PLACE, buf, (int)count, comm_mpi_type(type),
                                  op == COMM_SUM ? MPI_SUM : MPI_MAX, c->mpi[g], &req),
                   err, fail);
    if (comm_mpi_wait(c, g, &req, err) != 0)
        goto fail;
    return 0;
fail:
    return err_prefix(err, "%s: ", what);
}

static int all_gather_impl(Comm *c, CommGroup g, const void *send, void *recv,
                           int64_t count, CommType type, Err *err) {
    char what[128];
    if (comm_check_call(c, g, send, count, type, "all_gather", "", what, sizeof what,
                        err) != 0)
        return -1;
    if (count > 0 && recv == NULL)
        return err_set(err, "%s: NULL receive buffer", what);
    if (count == 0)
        return 0;
#ifdef TLM_HAVE_CUDA
    if (c->nccl != NULL) {
        if (comm_nccl_all_gather(c, g, send, recv, (size_t)count, type, err) != 0)
            goto fail;
        return 0;
    }
#endif
    const char *mine = (const char *)recv + (size_t)c->rank[g] * (size_t)count *
                                                comm_type_bytes(type);
    MPI_Datatype dt = comm_mpi_type(type);
    MPI_Request req;
    MPI_CHECK_GOTO(MPI_Iallgather(send == mine ? MPI_IN_PLACE : send, (int)count, dt, recv,
                                  (int)count, dt, c->mpi[g], &req),
                   err, fail);
    if (comm_mpi_wait(c, g, &req, err) != 0)
        goto fail;
    return 0;
fail:
    return err_prefix(err, "%s: ", what);
}

static int broadcast_impl(Comm *c, CommGroup g, void *buf, int64_t count, CommType type,
                          int root, Err *err) {
    char what[128], extra[32];
    snprintf(extra, sizeof extra, "root %d", root);
    if (comm_check_call(c, g, buf, count, type, "broadcast", extra, what, sizeof what,
                        err) != 0)
        return -1;
    if (root < 0 || root >= c->size[g])
        return err_set(err, "%s: root %d is not a rank of the %s group (size %d)", what, root,
                       comm_group_name(g), c->size[g]);
    if (count == 0)
        return 0;
#ifdef TLM_HAVE_CUDA
    if (c->nccl != NULL) {
        if (comm_nccl_broadcast(c, g, buf, (size_t)count, type, root, err) != 0)
            goto fail;
        return 0;
    }
#endif
    MPI_Request req;
    MPI_CHECK_GOTO(MPI_Ibcast(buf, (int)count, comm_mpi_type(type), root, c->mpi[g], &req),
                   err, fail);
    if (comm_mpi_wait(c, g, &req, err) != 0)
        goto fail;
    return 0;
fail:
    return err_prefix(err, "%s: ", what);
}

static int barrier_impl(Comm *c, CommGroup g, Err *err) {
    if ((unsigned)g >= COMM_N_GROUPS)
        return err_set(err, "barrier: group %d is not COMM_WORLD, COMM_TP or COMM_DP",
                       (int)g);
    if (c->nccl != NULL)
        c->ops->sync(); /* the device work before the barrier is part of "entered" */
    MPI_Request req;
    MPI_CHECK_GOTO(MPI_Ibarrier(c->mpi[g], &req), err, fail);
    if (comm_mpi_wait(c, g, &req, err) != 0)
        goto fail;
    return 0;
fail:
    return err_prefix(err, "barrier(%s %d/%d): ", comm_group_name(g), c->rank[g],
                      c->size[g]);
}

int comm_all_reduce(Comm *c, CommGroup g, void *buf, int64_t count, CommType type, CommOp op,
                    Err *err) {
    const double t0 = now_s();
    const int rc = all_reduce_impl(c, g, buf, count, type, op, err);
    if (c != NULL)
        c->busy_s += now_s() - t0;
    return rc;
}

int comm_all_gather(Comm *c, CommGroup g, const void *send, void *recv, int64_t count,
                    CommType type, Err *err) {
    const double t0 = now_s();
    const int rc = all_gather_impl(c, g, send, recv, count, type, err);
    if (c != NULL)
        c->busy_s += now_s() - t0;
    return rc;
}

int comm_broadcast(Comm *c, CommGroup g, void *buf, int64_t count, CommType type, int root,
                   Err *err) {
    const double t0 = now_s();
    const int rc = broadcast_impl(c, g, buf, count, type, root, err);
    if (c != NULL)
        c->busy_s += now_s() - t0;
    return rc;
}

int comm_barrier(Comm *c, CommGroup g, Err *err) {
    const double t0 = now_s();
    const int rc = barrier_impl(c, g, err);
    if (c != NULL)
        c->busy_s += now_s() - t0;
    return rc;
}

double comm_busy_seconds(const Comm *c) { return c != NULL ? c->busy_s : 0.0; }
double comm_timeout_seconds(const Comm *c) { return c != NULL ? c->timeout_s : 0.0; }
