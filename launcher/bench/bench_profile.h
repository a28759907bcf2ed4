/* launcher/bench/bench_profile.h -- where a benchmark's time goes, op by op.
 * A profiler wraps a backend's op table: the model is opened on the wrapped table, and
 * while a tally is active every op call is timed (the backend synchronized before and
 * after, so asynchronous CUDA work is charged to the op that enqueued it) and charged to
 * its group; matmuls are also tallied per shape (fwd/bwd, M, N, K) so their GFLOP/s can
 * be set against the same op run alone on that shape (prof_shape_alone); matmul_fwd/bwd
 * and wmatmul_fwd/bwd (weights in a storage format) are counted alike. Ops without a
 * wrapper (alloc, release, sync, describe, any op added later) pass straight through
 * uncounted: their time shows up as host time. Not part of the engine. Op calls carry no
 * context, so the wrappers find the profiler through one file-static pointer: at most
 * one profiler exists at a time, and it is not thread-safe. */
#ifndef TLM_LAUNCHER_BENCH_PROFILE_H
#define TLM_LAUNCHER_BENCH_PROFILE_H

#include <stdint.h>

#include "io/base/err.h"
#include "kernels/ops.h"

/* Op groups, in print order. */
typedef enum ProfGroup {
    PROF_MATMUL,  /* matmul_fwd/bwd with the decoder layers' frozen weights */
    PROF_LM_HEAD, /* matmul_fwd/bwd whose N is the vocabulary (the lm_head) */
    PROF_ATTN,    /* attn_fwd/bwd */
    PROF_ELEM,    /* rmsnorm, rope, swiglu, add (fwd and bwd) */
    PROF_LORA,    /* lora_fwd/bwd */
    PROF_XENT,    /* embed_fwd, xent_fwd/bwd, argmax, entropy_fwd/bwd */
    PROF_OPTIM,   /* sumsq, scale, adamw */
    PROF_MEMORY,  /* upload, download, zero, copy, rows_scatter/gather */
    PROF_N_GROUPS
} ProfGroup;

/* Display name of a group ("matmul (layers)", ...), static storage. */
const char *prof_group_name(ProfGroup g);

/* Short JSON key of a group ("matmul", "lm_head", ...), static storage. */
const char *prof_group_key(ProfGroup g);

#define PROF_MAX_SHAPES 32

/* One matmul shape: matmul_fwd (bwd 0: out (M,N) = x (M,K) w^T) or matmul_bwd (bwd 1:
 * dx (M,K) = dy (M,N) w), its calls and seconds in the tally, and alone_s, the median
 * seconds of one call of the same op on the same shape repeated alone (0 until measured). */
typedef struct ProfShape {
    int bwd;
    int64_t M, N, K;
    WeightFormat format;      /* of w: wmatmul calls in their format, matmul calls elem */
    double w_elem_bytes;      /* bytes per element of w in that format */
    int64_t calls;
    double s, alone_s;
} ProfShape;

/* What one or more profiled runs spent, summed. Plain data; zero it to start. */
typedef struct ProfTally {
    double group_s[PROF_N_GROUPS];
    int64_t group_calls[PROF_N_GROUPS];
    double wall_s;            /* wall time of the profiled runs (prof_begin .. prof_end) */
    int64_t runs;             /* how many runs the sums cover */
    ProfShape shape[PROF_MAX_SHAPES];
    int n_shapes;             /* shapes beyond PROF_MAX_SHAPES are timed but not listed */
} ProfTally;

typedef struct OpsProfiler {
    Ops table;                /* the wrapped table the model is opened on */
    const Ops *inner;         /* borrowed: the backend measured */
    int64_t vocab;            /* N of lm_head matmuls (this rank's vocabulary) */
    ProfTally *on;            /* borrowed: the active tally, NULL between runs */
    double t_begin;
    int drop_first_token;     /* prof_begin_decode: the run so far is dropped at its first
                               * argmax (then cleared) */
    ProfTally at_begin;       /* the active tally as prof_begin found it */
    int step_inner;           /* the current graph step went to inner: no tally was on
                               * (a tallied step runs op by op, each op timed alone) */
} OpsProfiler;

/* Makes p's table wrap inner (borrowed, outlives p) and returns it. vocab tells lm_head
 * matmuls from the layers'. Only one profiler may be live at a time. */
const Ops *prof_open(OpsProfiler *p, const Ops *inner, int64_t vocab);

/* Starts charging op calls to t (borrowed until prof_end) and its wall clock. */
void prof_begin(OpsProfiler *p, ProfTally *t);

/* prof_begin for one generation whose decode steps alone are wanted: at the run's first
 * argmax (the prefill pass's, which ends the first token) the tally is put back as it
 * was here and the clock restarts, so t gains only the passes after the first token
 * (and the first token's ids download). Measured directly rather than as N tokens minus
 * one: a difference of two timed runs went negative under load on small models. */
void prof_begin_decode(OpsProfiler *p, ProfTally *t);

/* Stops charging; adds the wall time since prof_begin and one run to the tally. */
void prof_end(OpsProfiler *p);

/* out = (a - b) / n per field: the profile of what a did beyond b (e.g. N decode steps
 * minus one), per unit. Shapes are matched by (bwd, M, N, K); b's shapes missing from a
 * are ignored. */
void prof_diff(ProfTally *out, const ProfTally *a, const ProfTally *b, double n);

/* Measures alone_s for every shape of t: the inner op on its own buffers (allocated here
 * on the backend, released before return), one warm-up call, then the median of enough
 * calls to fill about min_s seconds. Errors: a failed allocation. */
int prof_shape_alone(OpsProfiler *p, ProfTally *t, double min_s, Err *err);

/* Copy bandwidth of the backend in bytes/s (read + write, so 2 x n_bytes per copy): the
 * median of several copies of n_bytes (larger than any cache) backend -> backend.
 * Errors: a failed allocation. */
int prof_copy_bandwidth(const Ops *ops, size_t n_bytes, double *bytes_s, Err *err);

/* Median seconds of one wmatmul_fwd (bwd 0) or wmatmul_bwd (bwd 1) of M x N x K, alone.
 * Errors: a failed allocation. */
int prof_matmul_peak(const Ops *ops, int64_t M, int64_t N, int64_t K, int bwd, double *s,
                     Err *err);

/* The fastest square matmul of the backend: which one and its FLOP/s. */
typedef struct ProfPeak {
    double flop_s;
    int64_t n;
    int bwd;
} ProfPeak;

/* best = the fastest of the n/2, n and 2n cubes, forward and backward (each timed as
 * prof_matmul_peak). Errors: a failed allocation. */
int prof_matmul_best(const Ops *ops, int64_t n, ProfPeak *best, Err *err);

/* Streaming-read bandwidth of the backend in bytes/s: the median of several sumsq passes
 * over n_bytes of fp32 (larger than any cache), the access pattern of a decode step's
 * weight reads. Errors: a failed allocation. */
int prof_read_bandwidth(const Ops *ops, size_t n_bytes, double *bytes_s, Err *err);

#endif
