/* comm/comm_nccl.c -- the NCCL transport of comm/ (CUDA backend; built only with CUDA).
 * One NCCL communicator per group, all on the device current at comm_open. Collectives
 * run on a stream of comm/'s own: ops.h exposes no stream, so each call first drains the
 * backend's stream (ops->sync) and then polls its own until done. Polling checks
 * ncclCommGetAsyncError, so a failed peer or network becomes an error, not a hang, and
 * stops after the Comm's timeout (TLM_COMM_TIMEOUT, default COMM_DEFAULT_TIMEOUT_S: a
 * peer that died without NCCL noticing, or hangs, leaves the others' kernels spinning
 * forever otherwise). Errors come back
 * without the collective's name: comm.c, the only caller, prefixes it. */
#include <cuda_runtime.h>
#include <nccl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "comm/comm_check.h"
#include "kernels/cuda/cuda_check.h"

struct CommNccl {
    int device;                         /* CUDA device of every communicator */
    cudaStream_t stream;                /* where comm/ enqueues its collectives */
    ncclComm_t comm[COMM_N_GROUPS];     /* NULL until created */
};

static ncclDataType_t nccl_type(CommType t) {
    switch (t) {
    case COMM_F32: return ncclFloat32;
    case COMM_F64: return ncclFloat64;
    case COMM_I32: return ncclInt32;
    case COMM_I64: return ncclInt64;
    default: return ncclBfloat16;
    }
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Blocks until the comm stream is idle, polling the communicator for asynchronous
 * errors (a peer that died or a broken connection) and the optional timeout. */
static int nccl_wait(const Comm *c, CommGroup g, Err *err) {
    CommNccl *n = c->nccl;
    ncclComm_t comm = n->comm[g];
    const double start = now_s();
    for (long spin = 0;; spin++) {
        cudaError_t e = cudaStreamQuery(n->stream);
        if (e == cudaSuccess)
            return 0;
        if (e != cudaErrorNotReady)
            return err_set(err, "device %d failed while waiting: %s: %s", n->device,
                           cudaGetErrorName(e), cudaGetErrorString(e));
        ncclResult_t async = ncclSuccess;
        ncclResult_t r = ncclCommGetAsyncError(comm, &async);
        if (r != ncclSuccess)
            async = r;
        if (async != ncclSuccess && async != ncclInProgress) {
            comm_nccl_fail(err, TLM_SRC_FILE, __LINE__, __func__,
                           "ncclCommGetAsyncError while waiting (a peer may have failed)",
                           async);
            /* NCCL's rule after an asynchronous error: abort the communicator. */
            ncclCommAbort(comm);
            n->comm[g] = NULL;
            return -1;
        }
        if (c->timeout_s > 0 && now_s() - start > c->timeout_s) {
            /* the kernel still spins on the peer: abort the communicator to free it */
            ncclCommAbort(comm);
            n->comm[g] = NULL;
            return comm_timeout_fail(c, g, err);
        }
        if (spin > 1000) { /* after ~1000 fast polls, back off to 50 us naps */
            struct timespec nap = {0, 50000};
            nanosleep(&nap, NULL);
        }
    }
}

/* Sets the device, drains the backend's stream (so the buffer holds what earlier ops
 * wrote) and returns group g's communicator in *comm. */
static int nccl_begin(Comm *c, CommGroup g, ncclComm_t *comm, Err *err) {
    CUDA_CHECK(cudaSetDevice(c->nccl->device), err);
    c->ops->sync();
    *comm = c->nccl->comm[g];
    if (*comm == NULL)
        return err_set(err, "the %s communicator was aborted after an earlier failure",
                       comm_group_name(g));
    return 0;
}

int comm_nccl_open(Comm *c, Err *err) {
    CommNccl *n = calloc(1, sizeof *n);
    if (n == NULL)
        return err_set(err, "out of memory");
    c->nccl = n; /* comm_close releases a partial one */
    CUDA_CHECK(cudaGetDevice(&n->device), err);
    CUDA_CHECK(cudaStreamCreateWithFlags(&n->stream, cudaStreamNonBlocking), err);

    for (int g = 0; g < COMM_N_GROUPS; g++) {
        /* Group rank 0 makes the id; a failure there is broadcast too, so the other
         * members report it instead of waiting in ncclCommInitRank. */
        struct {
            int ok;
            ncclUniqueId id;
        } msg;
        memset(&msg, 0, sizeof msg);
        if (c->rank[g] == 0)
            msg.ok = ncclGetUniqueId(&msg.id) == ncclSuccess;
        MPI_CHECK(MPI_Bcast(&msg, (int)sizeof msg, MPI_BYTE, 0, c->mpi[g]), err);
        if (!msg.ok)
            return err_set(err, "%s group: rank 0 could not create the NCCL unique id",
                           comm_group_name((CommGroup)g));
        NCCL_CHECK(ncclCommInitRank(&n->comm[g], c->size[g], msg.id, c->rank[g]), err);
    }
    return 0;
}

void comm_nccl_close(CommNccl *n) {
    if (n == NULL)
        return;
    if (n->device >= 0)
        cudaSetDevice(n->device);
    for (int g = COMM_N_GROUPS - 1; g >= 0; g--)
        if (n->comm[g] != NULL)
            ncclCommDestroy(n->comm[g]);
    if (n->stream != NULL)
        cudaStreamDestroy(n->stream);
    free(n);
}

void comm_nccl_abort(CommNccl *n) {
    if (n == NULL)
        return;
    for (int g = COMM_N_GROUPS - 1; g >= 0; g--) {
        if (n->comm[g] != NULL)
            ncclCommAbort(n->comm[g]);
        n->comm[g] = NULL;
    }
}

int comm_nccl_device(const CommNccl *n) { return n->device; }

int comm_nccl_all_reduce(Comm *c, CommGroup g, void *buf, size_t count, CommType type,
                         CommOp op, Err *err) {
    ncclComm_t comm = NULL;
    if (nccl_begin(c, g, &comm, err) != 0)
        return -1;
    const ncclRedOp_t nop = op == COMM_MAX ? ncclMax : ncclSum;
    NCCL_CHECK(ncclAllReduce(buf, buf, count, nccl_type(type), nop, comm, c->nccl->stream),
               err);
    return nccl_wait(c, g, err);
}

int comm_nccl_all_gather(Comm *c, CommGroup g, const void *send, void *recv, size_t count,
                         CommType type, Err *err) {
    ncclComm_t comm = NULL;
    if (nccl_begin(c, g, &comm, err) != 0)
        return -1;
    /* NCCL is in place by itself when send == recv + rank * count elements. */
    NCCL_CHECK(ncclAllGather(send, recv, count, nccl_type(type), comm, c->nccl->stream), err);
    return nccl_wait(c, g, err);
}

int comm_nccl_broadcast(Comm *c, CommGroup g, void *buf, size_t count, CommType type,
                        int root, Err *err) {
    ncclComm_t comm = NULL;
    if (nccl_begin(c, g, &comm, err) != 0)
        return -1;
    NCCL_CHECK(ncclBroadcast(buf, buf, count, nccl_type(type), root, comm, c->nccl->stream),
               err);
    return nccl_wait(c, g, err);
}
