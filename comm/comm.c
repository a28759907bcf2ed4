/* comm/comm.c -- the collective API: argument checks, the MPI transport (CPU backend),
 * dispatch to NCCL (CUDA backend, comm_nccl.c), and the job-wide abort. */
#include "comm/comm.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "comm/comm_impl.h"
#include "io/base/log.h"

/* The one global state of comm/: the Comms currently open, so that comm_abort (the log
 * abort hook, which takes no argument) can ncclCommAbort them before MPI_Abort. Written
 * only by comm_open/comm_close on the FUNNELED thread. */
#define COMM_MAX_OPEN 8
static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static Comm *g_open[COMM_MAX_OPEN];

int comm_mpi_fail(Err *err, const char *file, int line, const char *func, const char *what,
                  const char *call, int rc) {
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(rc, msg, &len) != MPI_SUCCESS)
        snprintf(msg, sizeof msg, "MPI error code %d", rc);
    return err_setf(err, file, line, func, "%s: %s [%s]", what, msg, call);
}

MPI_Datatype comm_mpi_type(CommType t) {
    switch (t) {
    case COMM_F32: return MPI_FLOAT;
    case COMM_F64: return MPI_DOUBLE;
    case COMM_I32: return MPI_INT32_T;
    case COMM_I64: return MPI_INT64_T;
    default: return MPI_DATATYPE_NULL;
    }
}

const char *comm_group_name(CommGroup g) {
    static const char *const names[COMM_N_GROUPS] = {"world", "tp", "dp"};
    return (unsigned)g < COMM_N_GROUPS ? names[g] : "bad-group";
}

const char *comm_type_name(CommType t) {
    static const char *const names[] = {"f32", "f64", "i32", "i64", "bf16"};
    return (unsigned)t <= COMM_BF16 ? names[t] : "bad-type";
}

const char *comm_op_name(CommOp op) {
    return op == COMM_SUM ? "sum" : op == COMM_MAX ? "max" : "bad-op";
}

size_t comm_type_bytes(CommType t) {
    static const size_t bytes[] = {4, 8, 4, 8, 2};
    return (unsigned)t <= COMM_BF16 ? bytes[t] : 0;
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
    const MPI_Comm from[COMM_N_GROUPS] = {g->world_comm, g->tp_comm, g->dp_comm};
    for (int i = 0; i < COMM_N_GROUPS; i++) {
        char what[64];
        snprintf(what, sizeof what, "duplicating the %s communicator", comm_group_name(i));
        MPI_CHECK_GOTO(MPI_Comm_dup(from[i], &c->mpi[i]), what, err, fail);
        MPI_CHECK_GOTO(MPI_Comm_set_errhandler(c->mpi[i], MPI_ERRORS_RETURN), what, err, fail);
        MPI_CHECK_GOTO(MPI_Comm_rank(c->mpi[i], &c->rank[i]), what, err, fail);
        MPI_CHECK_GOTO(MPI_Comm_size(c->mpi[i], &c->size[i]), what, err, fail);
    }
    if (comm_uses_nccl(ops)) {
#ifdef TLM_HAVE_CUDA
        if (comm_nccl_open(c, err) != 0)
            goto fail;
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

/* Validates the common arguments; fills what with "op(group r/n, count x type[, extra])". */
static int check_call(const Comm *c, CommGroup g, const void *buf, int64_t count,
                      CommType type, const char *op, const char *extra, char *what,
                      size_t what_bytes, Err *err) {
    int bad_group = (unsigned)g >= COMM_N_GROUPS;
    snprintf(what, what_bytes, "%s(%s %d/%d, %lld x %s%s%s)", op, comm_group_name(g),
             bad_group ? 0 : c->rank[g], bad_group ? 0 : c->size[g], (long long)count,
             comm_type_name(type), extra[0] ? ", " : "", extra);
    if (bad_group)
        return err_set(err, "%s: group %d is not COMM_WORLD, COMM_TP or COMM_DP", what,
                       (int)g);
    if (comm_type_bytes(type) == 0)
        return err_set(err, "%s: unknown element type %d", what, (int)type);
    if (count < 0)
        return err_set(err, "%s: negative count", what);
    if (count > 0 && buf == NULL)
        return err_set(err, "%s: NULL buffer", what);
    if (c->nccl == NULL && count > INT_MAX)
        return err_set(err, "%s: MPI counts stop at %d elements; split the buffer", what,
                       INT_MAX);
    if (c->nccl == NULL && type == COMM_BF16)
        return err_set(err, "%s: bf16 is only supported on the CUDA backend (NCCL)", what);
    return 0;
}

static int all_reduce_impl(Comm *c, CommGroup g, void *buf, int64_t count, CommType type, CommOp op,
                    Err *err) {
    char what[128];
    if (check_call(c, g, buf, count, type, "all_reduce", comm_op_name(op), what, sizeof what,
                   err) != 0)
        return -1;
    if (op != COMM_SUM && op != COMM_MAX)
        return err_set(err, "%s: unknown reduction %d", what, (int)op);
    if (count == 0)
        return 0;
#ifdef TLM_HAVE_CUDA
    if (c->nccl != NULL)
        return comm_nccl_all_reduce(c, g, buf, (size_t)count, type, op, what, err);
#endif
    MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, buf, (int)count, comm_mpi_type(type),
                            op == COMM_SUM ? MPI_SUM : MPI_MAX, c->mpi[g]),
              what, err);
    return 0;
}

static int all_gather_impl(Comm *c, CommGroup g, const void *send, void *recv, int64_t count,
                    CommType type, Err *err) {
    char what[128];
    if (check_call(c, g, send, count, type, "all_gather", "", what, sizeof what, err) != 0)
        return -1;
    if (count > 0 && recv == NULL)
        return err_set(err, "%s: NULL receive buffer", what);
    if (count == 0)
        return 0;
#ifdef TLM_HAVE_CUDA
    if (c->nccl != NULL)
        return comm_nccl_all_gather(c, g, send, recv, (size_t)count, type, what, err);
#endif
    const char *mine = (const char *)recv + (size_t)c->rank[g] * (size_t)count *
                                                comm_type_bytes(type);
    MPI_Datatype dt = comm_mpi_type(type);
    MPI_CHECK(MPI_Allgather(send == mine ? MPI_IN_PLACE : send, (int)count, dt, recv,
                            (int)count, dt, c->mpi[g]),
              what, err);
    return 0;
}

static int broadcast_impl(Comm *c, CommGroup g, void *buf, int64_t count, CommType type, int root,
                   Err *err) {
    char what[128], extra[32];
    snprintf(extra, sizeof extra, "root %d", root);
    if (check_call(c, g, buf, count, type, "broadcast", extra, what, sizeof what, err) != 0)
        return -1;
    if (root < 0 || root >= c->size[g])
        return err_set(err, "%s: root %d is not a rank of the %s group (size %d)", what, root,
                       comm_group_name(g), c->size[g]);
    if (count == 0)
        return 0;
#ifdef TLM_HAVE_CUDA
    if (c->nccl != NULL)
        return comm_nccl_broadcast(c, g, buf, (size_t)count, type, root, what, err);
#endif
    MPI_CHECK(MPI_Bcast(buf, (int)count, comm_mpi_type(type), root, c->mpi[g]), what, err);
    return 0;
}

static int barrier_impl(Comm *c, CommGroup g, Err *err) {
    char what[64];
    if ((unsigned)g >= COMM_N_GROUPS)
        return err_set(err, "barrier: group %d is not COMM_WORLD, COMM_TP or COMM_DP",
                       (int)g);
    snprintf(what, sizeof what, "barrier(%s %d/%d)", comm_group_name(g), c->rank[g],
             c->size[g]);
    if (c->nccl != NULL)
        c->ops->sync(); /* the device work before the barrier is part of "entered" */
    MPI_CHECK(MPI_Barrier(c->mpi[g]), what, err);
    return 0;
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
