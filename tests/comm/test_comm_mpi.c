/* tests/comm/test_comm_mpi.c -- every collective of comm/ on every group, type and op.
 * Usage: test_comm_mpi cpu|cuda TP  (under mpiexec -n N, or alone for a world of 1).
 * Data are small rank-dependent integers, so every sum and max is exact in f32; each rank
 * counts its wrong elements, the counts are summed over the world (with plain MPI, not
 * the code under test) and every rank gives the same verdict. With `cuda` the buffers are
 * device memory of the CUDA backend (NCCL path); without a GPU for every rank: exit 77. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "comm/comm.h"
#include "io/base/log.h"
#include "kernels/ops.h"
#include "tests/testutil.h"

typedef struct T {
    const Ops *ops;
    Comm *comm;
    int64_t n_checks, n_bad;
} T;

/* bf16 (NCCL only) holds these small integers exactly too. */
static const CommType k_types[] = {COMM_F32, COMM_F64, COMM_I32, COMM_I64, COMM_BF16};
static const int64_t k_counts[] = {1, 7, 4097};
#define N_OF(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* The element of group rank r at index i: small integers, some negative. */
static double value(int r, int64_t i) { return (double)((r + 1) * (int)(i % 7 + 1) - 2 * (r % 3)); }

static void put(CommType t, void *buf, int64_t i, double v) {
    switch (t) {
    case COMM_F32: ((float *)buf)[i] = (float)v; break;
    case COMM_F64: ((double *)buf)[i] = v; break;
    case COMM_I32: ((int32_t *)buf)[i] = (int32_t)v; break;
    case COMM_I64: ((int64_t *)buf)[i] = (int64_t)v; break;
    default: { /* bf16: the top half of the f32 bits (exact for small integers) */
        float f = (float)v;
        uint32_t bits;
        memcpy(&bits, &f, sizeof bits);
        ((uint16_t *)buf)[i] = (uint16_t)(bits >> 16);
    }
    }
}

static double get(CommType t, const void *buf, int64_t i) {
    switch (t) {
    case COMM_F32: return ((const float *)buf)[i];
    case COMM_F64: return ((const double *)buf)[i];
    case COMM_I32: return ((const int32_t *)buf)[i];
    case COMM_I64: return (double)((const int64_t *)buf)[i];
    default: {
        uint32_t bits = (uint32_t)((const uint16_t *)buf)[i] << 16;
        float f;
        memcpy(&f, &bits, sizeof f);
        return f;
    }
    }
}

/* Downloads n elements of d into host h and compares with want(i); logs the first 3. */
static void expect(T *x, const char *label, CommType t, const void *d, void *h, int64_t n,
                   double (*want)(int64_t i, const void *arg), const void *arg) {
    x->ops->download_raw(h, d, (size_t)n * comm_type_bytes(t));
    int64_t bad = 0;
    for (int64_t i = 0; i < n; i++) {
        double w = want(i, arg), got = get(t, h, i);
        if (got != w && bad++ < 3)
            log_error("%s [%lld]: got %g, want %g", label, (long long)i, got, w);
    }
    x->n_checks++;
    x->n_bad += bad;
}

typedef struct Red { int size; CommOp op; } Red;
static double want_reduce(int64_t i, const void *arg) {
    const Red *r = arg;
    double acc = value(0, i);
    for (int k = 1; k < r->size; k++)
        acc = r->op == COMM_SUM ? acc + value(k, i) : (value(k, i) > acc ? value(k, i) : acc);
    return acc;
}

typedef struct Blk { int64_t n; int root; } Blk;
static double want_gather(int64_t i, const void *arg) {
    const Blk *b = arg;
    return value((int)(i / b->n), i % b->n);
}
static double want_bcast(int64_t i, const void *arg) {
    return value(((const Blk *)arg)->root, i) + 100.0;
}

static void fail_call(T *x, const char *label, const Err *err) {
    log_error("%s: unexpected error: %s", label, err->msg);
    x->n_checks++;
    x->n_bad++;
}

/* Uploads host h (n elements of t) to a fresh backend buffer. */
static void *to_backend(T *x, const void *h, size_t n_bytes) {
    Err err;
    void *d = x->ops->alloc(n_bytes, &err);
    if (d == NULL)
        log_fatal("alloc %zu bytes: %s", n_bytes, err.msg);
    x->ops->upload_raw(d, h, n_bytes);
    return d;
}

static void run_group(T *x, CommGroup g) {
    const int size = comm_size(x->comm, g), me = comm_rank(x->comm, g);
    char label[160];
    Err err;
    for (int ti = 0; ti < N_OF(k_types); ti++) {
        const CommType t = k_types[ti];
        if (t == COMM_BF16 && comm_elem_type(x->comm) != COMM_BF16)
            continue; /* MPI has no bf16; run_refusals checks the refusal */
        const size_t eb = comm_type_bytes(t);
        for (int ci = 0; ci < N_OF(k_counts); ci++) {
            const int64_t n = k_counts[ci];
            char *h = malloc((size_t)size * (size_t)n * eb);
            for (int op = COMM_SUM; op <= COMM_MAX; op++) {
                for (int64_t i = 0; i < n; i++)
                    put(t, h, i, value(me, i));
                void *d = to_backend(x, h, (size_t)n * eb);
                snprintf(label, sizeof label, "all_reduce(%s, %lld x %s, %s)",
                         comm_group_name(g), (long long)n, comm_type_name(t),
                         comm_op_name((CommOp)op));
                Red red = {size, (CommOp)op};
                if (comm_all_reduce(x->comm, g, d, n, t, (CommOp)op, &err) != 0)
                    fail_call(x, label, &err);
                else
                    expect(x, label, t, d, h, n, want_reduce, &red);
                x->ops->release(d);
            }
            for (int in_place = 0; in_place <= 1; in_place++) {
                memset(h, 0, (size_t)size * (size_t)n * eb);
                for (int64_t i = 0; i < n; i++)
                    put(t, h, (int64_t)me * n + i, value(me, i));
                void *d_recv = to_backend(x, h, (size_t)size * (size_t)n * eb);
                void *d_send = in_place ? (char *)d_recv + (size_t)me * (size_t)n * eb
                                        : to_backend(x, h + (size_t)me * (size_t)n * eb,
                                                     (size_t)n * eb);
                snprintf(label, sizeof label, "all_gather(%s, %lld x %s%s)", comm_group_name(g),
                         (long long)n, comm_type_name(t), in_place ? ", in place" : "");
                Blk blk = {n, 0};
                if (comm_all_gather(x->comm, g, d_send, d_recv, n, t, &err) != 0)
                    fail_call(x, label, &err);
                else
                    expect(x, label, t, d_recv, h, (int64_t)size * n, want_gather, &blk);
                if (!in_place)
                    x->ops->release(d_send);
                x->ops->release(d_recv);
            }
            for (int root = 0; root < size; root++) {
                for (int64_t i = 0; i < n; i++)
                    put(t, h, i, me == root ? value(root, i) + 100.0 : -1.0);
                void *d = to_backend(x, h, (size_t)n * eb);
                snprintf(label, sizeof label, "broadcast(%s, %lld x %s, root %d)",
                         comm_group_name(g), (long long)n, comm_type_name(t), root);
                Blk blk = {n, root};
                if (comm_broadcast(x->comm, g, d, n, t, root, &err) != 0)
                    fail_call(x, label, &err);
                else
                    expect(x, label, t, d, h, n, want_bcast, &blk);
                x->ops->release(d);
            }
            free(h);
        }
    }
    snprintf(label, sizeof label, "barrier(%s)", comm_group_name(g));
    if (comm_barrier(x->comm, g, &err) != 0)
        fail_call(x, label, &err);
}

/* Bad arguments fail locally (no communication) with a message naming the call. */
static void expect_refused(T *x, int rc, const Err *err, const char *needle) {
    x->n_checks++;
    if (rc == 0 || strstr(err->msg, needle) == NULL) {
        log_error("expected an error containing \"%s\", got rc %d: %s", needle, rc,
                  rc ? err->msg : "(none)");
        x->n_bad++;
    }
}

static void run_refusals(T *x) {
    Err err;
    float buf[4] = {0};
    void *d = to_backend(x, buf, sizeof buf);
    expect_refused(x, comm_all_reduce(x->comm, COMM_TP, d, -1, COMM_F32, COMM_SUM, &err), &err,
                   "all_reduce(tp ");
    expect_refused(x, comm_broadcast(x->comm, COMM_DP, d, 4, COMM_F32, 99, &err), &err,
                   "root 99 is not a rank of the dp group");
    expect_refused(x, comm_all_reduce(x->comm, (CommGroup)7, d, 4, COMM_F32, COMM_SUM, &err),
                   &err, "group 7");
    expect_refused(x, comm_all_gather(x->comm, COMM_WORLD, d, NULL, 4, COMM_F32, &err), &err,
                   "NULL receive buffer");
    if (strcmp(x->ops->name, "cpu") == 0)
        expect_refused(x, comm_all_reduce(x->comm, COMM_WORLD, d, 4, COMM_BF16, COMM_SUM, &err),
                       &err, "bf16");
    x->ops->release(d);
}

int main(int argc, char **argv) {
    const char *backend = argc > 1 ? argv[1] : "cpu";
    const int tp = argc > 2 ? atoi(argv[2]) : 1;
    Grid grid;
    Err err;
    if (grid_init(&argc, &argv, tp, &grid, &err) != 0)
        log_fatal("%s", err.msg);
    T x = {0};
    int skip = 0;
    if (strcmp(backend, "cuda") == 0) {
        x.ops = ops_cuda(grid.local_rank, &err);
        skip = x.ops == NULL;
        if (skip)
            log_warn("no GPU for local rank %d: %s", grid.local_rank, err.msg);
    } else {
        x.ops = ops_cpu();
    }
    int any_skip = skip;
    MPI_Allreduce(&skip, &any_skip, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    if (any_skip) {
        grid_free(&grid);
        tu_skip("the cuda backend needs one GPU per rank");
    }
    if (comm_open(&grid, x.ops, &x.comm, &err) != 0)
        log_fatal("%s", err.msg);
    x.n_checks++;
    if (comm_rank(x.comm, COMM_TP) != grid.tp_rank || comm_rank(x.comm, COMM_DP) != grid.dp_rank ||
        comm_size(x.comm, COMM_WORLD) != grid.world || comm_size(x.comm, COMM_TP) != tp ||
        comm_elem_type(x.comm) != (x.ops->elem == DTYPE_BF16 ? COMM_BF16 : COMM_F32)) {
        log_error("group ranks/sizes or the element type disagree with the grid/backend");
        x.n_bad++;
    }
    /* no wait is endless by default (tests run without TLM_COMM_TIMEOUT set) */
    x.n_checks++;
    if (getenv("TLM_COMM_TIMEOUT") == NULL &&
        comm_timeout_seconds(x.comm) != COMM_DEFAULT_TIMEOUT_S) {
        log_error("collective timeout %g s, expected the default %d s",
                  comm_timeout_seconds(x.comm), COMM_DEFAULT_TIMEOUT_S);
        x.n_bad++;
    }
    for (int g = 0; g < COMM_N_GROUPS; g++)
        run_group(&x, (CommGroup)g);
    run_refusals(&x);

    long long counts[2] = {x.n_checks, x.n_bad}, total[2] = {0, 0};
    MPI_Allreduce(counts, total, 2, MPI_LONG_LONG, MPI_SUM, MPI_COMM_WORLD);
    int status = total[1] != 0; /* world-summed: every rank gives the same verdict */
    if (grid.rank == 0) {
        printf("test_comm_mpi %s world=%d tp=%d dp=%d: %lld checks, %lld wrong elements\n",
               x.ops->name, grid.world, grid.tp, grid.dp, total[0], total[1]);
        status = tu_report(total[1]);
    }
    comm_close(&x.comm);
    comm_close(&x.comm); /* safe twice */
    grid_free(&grid);
    grid_free(&grid);
    return status;
}
