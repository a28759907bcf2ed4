/* launcher/bench/bench_peak.c -- the references a profile is read against (bench_profile.h):
 * each matmul shape run alone, a large square matmul, and the backend's copy bandwidth.
 * Buffers are allocated here on the backend and released before each function returns;
 * their contents are small constants (the time of a matmul does not depend on them; a
 * narrower weight format reads the same bytes as whatever finite values they spell). */
#include "launcher/bench/bench_profile.h"

#include <stdlib.h>
#include <time.h>

static double clock_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Three backend buffers for x, w and out of a matmul, elements of the backend type. */
typedef struct MatBufs {
    void *x, *w, *out;
} MatBufs;

static void bufs_free(const Ops *ops, MatBufs *b) {
    ops->release(b->x);
    ops->release(b->w);
    ops->release(b->out);
}

static int bufs_alloc(const Ops *ops, MatBufs *b, int64_t nx, int64_t nw, int64_t nout,
                      Err *err) {
    *b = (MatBufs){ops->alloc((size_t)nx * ops->elem_bytes, err),
                   ops->alloc((size_t)nw * ops->elem_bytes, err),
                   ops->alloc((size_t)nout * ops->elem_bytes, err)};
    if (b->x == NULL || b->w == NULL || b->out == NULL) {
        bufs_free(ops, b);
        return err_prefix(err, "matmul reference buffers: ");
    }
    /* small non-zero values, so no denormal or zero shortcut can skew a kernel */
    const int64_t n_max = nx > nw ? (nx > nout ? nx : nout) : (nw > nout ? nw : nout);
    float *h = malloc((size_t)n_max * sizeof *h);
    if (h == NULL) {
        bufs_free(ops, b);
        return err_set(err, "out of host memory for matmul reference buffers");
    }
    for (int64_t i = 0; i < n_max; i++)
        h[i] = 0.01f * (float)(i % 97 - 48);
    ops->upload(b->x, h, DTYPE_F32, nx);
    ops->upload(b->w, h, DTYPE_F32, nw);
    ops->upload(b->out, h, DTYPE_F32, nout);
    free(h);
    return 0;
}

/* Median seconds of one call of the shape's op: one warm-up, then calls until min_s has
 * passed (at least 3, at most 200). */
static double time_shape(const Ops *ops, const MatBufs *b, const ProfShape *s, double min_s) {
    double t[200];
    int n = 0;
    const double start = clock_s();
    for (int i = -1; i < 200 && (n < 3 || clock_s() - start < min_s); i++) {
        ops->sync();
        const double t0 = clock_s();
        const Weight w = {b->w, s->format};
        if (s->bwd)
            ops->wmatmul_bwd(b->out, b->x, w, s->M, s->N, s->K, 0);
        else
            ops->wmatmul_fwd(b->out, b->x, w, NULL, s->M, s->N, s->K, 0);
        ops->sync();
        if (i >= 0)
            t[n++] = clock_s() - t0;
    }
    qsort(t, (size_t)n, sizeof t[0], cmp_double);
    return t[n / 2];
}

int prof_shape_alone(OpsProfiler *p, ProfTally *t, double min_s, Err *err) {
    const Ops *ops = p->inner;
    int64_t nx = 1, nw = 1, nout = 1;
    for (int i = 0; i < t->n_shapes; i++) {
        const ProfShape *s = &t->shape[i];
        /* fwd reads x (M,K), writes out (M,N); bwd reads dy (M,N), writes dx (M,K) */
        const int64_t in = s->bwd ? s->M * s->N : s->M * s->K;
        const int64_t out = s->bwd ? s->M * s->K : s->M * s->N;
        nx = in > nx ? in : nx;
        nout = out > nout ? out : nout;
        nw = s->N * s->K > nw ? s->N * s->K : nw;
    }
    MatBufs b;
    if (bufs_alloc(ops, &b, nx, nw, nout, err) != 0)
        return -1;
    for (int i = 0; i < t->n_shapes; i++)
        t->shape[i].alone_s = time_shape(ops, &b, &t->shape[i], min_s);
    bufs_free(ops, &b);
    return 0;
}

int prof_matmul_peak(const Ops *ops, int64_t M, int64_t N, int64_t K, int bwd, double *s,
                     Err *err) {
    MatBufs b;
    if (bufs_alloc(ops, &b, M * K, N * K, M * N, err) != 0)
        return -1;
    const ProfShape shape = {.M = M, .N = N, .K = K, .bwd = bwd};
    *s = time_shape(ops, &b, &shape, 0.3);
    bufs_free(ops, &b);
    return 0;
}

/* A fixed kernel is tuned for some sizes and directions more than others (on the CPU the
 * backward runs near the FMA peak, the dot-product forward well below it), so no single
 * square is a ceiling: the best of n/2, n, 2n, forward and backward, is. */
int prof_matmul_best(const Ops *ops, int64_t n, ProfPeak *best, Err *err) {
    *best = (ProfPeak){0};
    for (int64_t m = n > 1 ? n / 2 : 1; m <= 2 * n; m *= 2)
        for (int bwd = 0; bwd < 2; bwd++) {
            double s = 0.0;
            if (prof_matmul_peak(ops, m, m, m, bwd, &s, err) != 0)
                return -1;
            const double flop_s = s > 0 ? 2.0 * (double)m * (double)m * (double)m / s : 0.0;
            if (flop_s > best->flop_s)
                *best = (ProfPeak){.flop_s = flop_s, .n = m, .bwd = bwd};
        }
    return 0;
}

int prof_read_bandwidth(const Ops *ops, size_t n_bytes, double *bytes_s, Err *err) {
    const int64_t n = (int64_t)(n_bytes / sizeof(float));
    MatBufs b;
    if (bufs_alloc(ops, &b, n, 1, 1, err) != 0)
        return err_prefix(err, "read bandwidth buffer: ");
    double t[7], sum = 0.0;
    ops->sumsq(&sum, b.x, n); /* warm-up */
    for (int i = 0; i < 7; i++) {
        ops->sync();
        const double t0 = clock_s();
        ops->sumsq(&sum, b.x, n);
        ops->sync();
        t[i] = clock_s() - t0;
    }
    qsort(t, 7, sizeof t[0], cmp_double);
    *bytes_s = (double)n * sizeof(float) / t[3];
    bufs_free(ops, &b);
    return 0;
}

int prof_copy_bandwidth(const Ops *ops, size_t n_bytes, double *bytes_s, Err *err) {
    void *src = ops->alloc(n_bytes, err), *dst = ops->alloc(n_bytes, err);
    if (src == NULL || dst == NULL) {
        ops->release(src);
        ops->release(dst);
        return err_prefix(err, "copy bandwidth buffers: ");
    }
    double t[7];
    ops->copy(dst, src, n_bytes); /* warm-up: first-touch page faults */
    for (int i = 0; i < 7; i++) {
        ops->sync();
        const double t0 = clock_s();
        ops->copy(dst, src, n_bytes);
        ops->sync();
        t[i] = clock_s() - t0;
    }
    qsort(t, 7, sizeof t[0], cmp_double);
    *bytes_s = 2.0 * (double)n_bytes / t[3];
    ops->release(src);
    ops->release(dst);
    return 0;
}
