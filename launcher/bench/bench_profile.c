/* launcher/bench/bench_profile.c -- the timing wrappers of an op table (see bench_profile.h).
 * Each wrapper forwards to the inner backend; only while a tally is on does it sync, read
 * the clock and charge the call. */
#include "launcher/bench/bench_profile.h"

#include <string.h>
#include <time.h>

/* The live profiler (see the header): op calls carry no context to find it otherwise. */
static OpsProfiler *g_prof;

static const struct { const char *name, *key; } k_groups[PROF_N_GROUPS] = {
    [PROF_MATMUL] = {"matmul (layers)", "matmul"},
    [PROF_LM_HEAD] = {"matmul (lm_head)", "lm_head"},
    [PROF_ATTN] = {"attention", "attention"},
    [PROF_ELEM] = {"norm/rope/swiglu/add", "elementwise"},
    [PROF_LORA] = {"LoRA", "lora"},
    [PROF_XENT] = {"embed/xent/argmax", "vocab"},
    [PROF_OPTIM] = {"optimizer", "optimizer"},
    [PROF_MEMORY] = {"copies/uploads", "memory"},
};

const char *prof_group_name(ProfGroup g) { return k_groups[g].name; }
const char *prof_group_key(ProfGroup g) { return k_groups[g].key; }

static double clock_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The clock after every op enqueued so far has finished. */
static double synced_now(const OpsProfiler *p) {
    p->inner->sync();
    return clock_s();
}

static ProfShape *find_shape(ProfTally *t, int bwd, int64_t M, int64_t N, int64_t K,
                             WeightFormat f) {
    for (int i = 0; i < t->n_shapes; i++) {
        ProfShape *s = &t->shape[i];
        if (s->bwd == bwd && s->M == M && s->N == N && s->K == K)
            return s;
    }
    if (t->n_shapes == PROF_MAX_SHAPES)
        return NULL;
    t->shape[t->n_shapes] = (ProfShape){.bwd = bwd, .M = M, .N = N, .K = K, .format = f,
                                        .w_elem_bytes = (double)g_prof->inner->weight_bytes(f, N, K) /
                                                        (double)(N * K > 0 ? N * K : 1)};
    return &t->shape[t->n_shapes++];
}

static void charge(ProfGroup g, double t0) {
    ProfTally *t = g_prof->on;
    t->group_s[g] += synced_now(g_prof) - t0;
    t->group_calls[g]++;
}

/* Runs `call` on the inner table (`in`), timed and charged to group g while a tally is on. */
#define PROFILED(g, call)                                                                  \
    do {                                                                                   \
        const Ops *in = g_prof->inner;                                                     \
        if (g_prof->on == NULL) {                                                          \
            call;                                                                          \
        } else {                                                                           \
            const double t0_ = synced_now(g_prof);                                         \
            call;                                                                          \
            charge(g, t0_);                                                                \
        }                                                                                  \
    } while (0)

static void charge_matmul(int bwd, int64_t M, int64_t N, int64_t K, WeightFormat f,
                          double t0) {
    const double dt = synced_now(g_prof) - t0;
    ProfTally *t = g_prof->on;
    const ProfGroup g = N == g_prof->vocab ? PROF_LM_HEAD : PROF_MATMUL;
    t->group_s[g] += dt;
    t->group_calls[g]++;
    ProfShape *s = find_shape(t, bwd, M, N, K, f);
    if (s != NULL) {
        s->calls++;
        s->s += dt;
    }
}

static void p_matmul_fwd(void *out, const void *x, const void *w, const void *bias, int64_t M,
                         int64_t N, int64_t K, int accumulate) {
    const Ops *in = g_prof->inner;
    if (g_prof->on == NULL) {
        in->matmul_fwd(out, x, w, bias, M, N, K, accumulate);
        return;
    }
    const double t0 = synced_now(g_prof);
    in->matmul_fwd(out, x, w, bias, M, N, K, accumulate);
    charge_matmul(0, M, N, K, WEIGHT_ELEM, t0);
}

static void p_matmul_bwd(void *dx, const void *dy, const void *w, int64_t M, int64_t N,
                         int64_t K, int accumulate) {
    const Ops *in = g_prof->inner;
    if (g_prof->on == NULL) {
        in->matmul_bwd(dx, dy, w, M, N, K, accumulate);
        return;
    }
    const double t0 = synced_now(g_prof);
    in->matmul_bwd(dx, dy, w, M, N, K, accumulate);
    charge_matmul(1, M, N, K, WEIGHT_ELEM, t0);
}

static void p_wmatmul_fwd(void *out, const void *x, Weight w, const void *bias, int64_t M,
                          int64_t N, int64_t K, int accumulate) {
    const Ops *in = g_prof->inner;
    if (g_prof->on == NULL) {
        in->wmatmul_fwd(out, x, w, bias, M, N, K, accumulate);
        return;
    }
    const double t0 = synced_now(g_prof);
    in->wmatmul_fwd(out, x, w, bias, M, N, K, accumulate);
    charge_matmul(0, M, N, K, w.format, t0);
}

static void p_wmatmul_bwd(void *dx, const void *dy, Weight w, int64_t M, int64_t N, int64_t K,
                          int accumulate) {
    const Ops *in = g_prof->inner;
    if (g_prof->on == NULL) {
        in->wmatmul_bwd(dx, dy, w, M, N, K, accumulate);
        return;
    }
    const double t0 = synced_now(g_prof);
    in->wmatmul_bwd(dx, dy, w, M, N, K, accumulate);
    charge_matmul(1, M, N, K, w.format, t0);
}

static void p_weight_upload(Weight w, const void *src, DType src_type, int64_t rows,
                            int64_t cols) {
    PROFILED(PROF_MEMORY, in->weight_upload(w, src, src_type, rows, cols));
}
static void p_weight_upload_blocks(Weight w, const void *src, int64_t rows, int64_t cols) {
    PROFILED(PROF_MEMORY, in->weight_upload_blocks(w, src, rows, cols));
}

static void p_upload(void *dst, const void *src, DType src_type, int64_t n) {
    PROFILED(PROF_MEMORY, in->upload(dst, src, src_type, n));
}
static void p_upload_raw(void *dst, const void *src, size_t n_bytes) {
    PROFILED(PROF_MEMORY, in->upload_raw(dst, src, n_bytes));
}
static void p_download(float *dst, const void *src, int64_t n) {
    PROFILED(PROF_MEMORY, in->download(dst, src, n));
}
static void p_download_raw(void *dst, const void *src, size_t n_bytes) {
    PROFILED(PROF_MEMORY, in->download_raw(dst, src, n_bytes));
}
static void p_upload_async(void *dst, const void *src, size_t n_bytes) {
    PROFILED(PROF_MEMORY, in->upload_async(dst, src, n_bytes));
}
static void p_download_async(void *dst, const void *src, size_t n_bytes) {
    PROFILED(PROF_MEMORY, in->download_async(dst, src, n_bytes));
}
/* Graphs only between tallies: a tally syncs around every op, which a captured or
 * replayed step cannot do (and a replay would charge nothing). */
static int p_graph_begin(uint64_t key) {
    g_prof->step_inner = g_prof->on == NULL;
    return g_prof->step_inner ? g_prof->inner->graph_begin(key) : 0;
}
static void p_graph_end(void) {
    if (g_prof->step_inner)
        g_prof->inner->graph_end();
    g_prof->step_inner = 0;
}
static void p_zero(void *p, size_t n_bytes) { PROFILED(PROF_MEMORY, in->zero(p, n_bytes)); }
static void p_copy(void *dst, const void *src, size_t n_bytes) {
    PROFILED(PROF_MEMORY, in->copy(dst, src, n_bytes));
}
static void p_lora_fwd(void *y, float *h, const void *x, const float *a, const float *b,
                       float scale, int64_t M, int64_t N, int64_t K, int64_t R) {
    PROFILED(PROF_LORA, in->lora_fwd(y, h, x, a, b, scale, M, N, K, R));
}
static void p_lora_bwd(float *da, float *db, void *dx, float *dh, const void *dy,
                       const void *x, const float *h, const float *a, const float *b,
                       float scale, int64_t M, int64_t N, int64_t K, int64_t R) {
    PROFILED(PROF_LORA, in->lora_bwd(da, db, dx, dh, dy, x, h, a, b, scale, M, N, K, R));
}
static void p_lora_rows_fwd(void *y, float *h, const void *x, const float *a, const float *b,
                            const int32_t *adapter, int32_t n_adapters, float scale, int64_t M,
                            int64_t N, int64_t K, int64_t R) {
    PROFILED(PROF_LORA, in->lora_rows_fwd(y, h, x, a, b, adapter, n_adapters, scale, M, N, K, R));
}
static void p_lora_rows_bwd(float *da, float *db, void *dx, float *dh, const void *dy,
                            const void *x, const float *h, const float *a, const float *b,
                            const int32_t *adapter, int32_t n_adapters, float scale, int64_t M,
                            int64_t N, int64_t K, int64_t R) {
    PROFILED(PROF_LORA, in->lora_rows_bwd(da, db, dx, dh, dy, x, h, a, b, adapter, n_adapters,
                                          scale, M, N, K, R));
}
static void p_rmsnorm_fwd(void *out, float *rstd, const void *x, const void *w, int64_t T,
                          int64_t D, float eps) {
    PROFILED(PROF_ELEM, in->rmsnorm_fwd(out, rstd, x, w, T, D, eps));
}
static void p_rmsnorm_bwd(void *dx, const void *dout, const void *x, const void *w,
                          const float *rstd, int64_t T, int64_t D) {
    PROFILED(PROF_ELEM, in->rmsnorm_bwd(dx, dout, x, w, rstd, T, D));
}
static void p_rope_fwd(void *x, const int32_t *pos, const float *cos, const float *sin,
                       int64_t T, int64_t n_heads, int64_t HD) {
    PROFILED(PROF_ELEM, in->rope_fwd(x, pos, cos, sin, T, n_heads, HD));
}
static void p_rope_bwd(void *dx, const int32_t *pos, const float *cos, const float *sin,
                       int64_t T, int64_t n_heads, int64_t HD) {
    PROFILED(PROF_ELEM, in->rope_bwd(dx, pos, cos, sin, T, n_heads, HD));
}
static void p_swiglu_fwd(void *out, const void *gate, const void *up, int64_t n) {
    PROFILED(PROF_ELEM, in->swiglu_fwd(out, gate, up, n));
}
static void p_swiglu_bwd(void *dgate, void *dup, const void *dout, const void *gate,
                         const void *up, int64_t n) {
    PROFILED(PROF_ELEM, in->swiglu_bwd(dgate, dup, dout, gate, up, n));
}
static void p_add(void *y, const void *x, int64_t n) { PROFILED(PROF_ELEM, in->add(y, x, n)); }
static void p_rows_scatter(void *dst, const int32_t *idx, const void *src, int64_t n_rows,
                           int64_t row_elems) {
    PROFILED(PROF_MEMORY, in->rows_scatter(dst, idx, src, n_rows, row_elems));
}
static void p_rows_gather(void *dst, const void *src, const int32_t *idx, int64_t n_rows,
                          int64_t row_elems) {
    PROFILED(PROF_MEMORY, in->rows_gather(dst, src, idx, n_rows, row_elems));
}
static void p_attn_fwd(void *out, float *lse, const void *q, const void *k, const void *v,
                       const SeqSpan *spans, int32_t n_spans, int64_t Tq, int64_t H,
                       int64_t KVH, int64_t HD) {
    PROFILED(PROF_ATTN, in->attn_fwd(out, lse, q, k, v, spans, n_spans, Tq, H, KVH, HD));
}
static void p_attn_bwd(void *dq, void *dk, void *dv, const void *dout, const void *q,
                       const void *k, const void *v, const void *out, const float *lse,
                       const SeqSpan *spans, int32_t n_spans, int64_t Tq, int64_t H,
                       int64_t KVH, int64_t HD) {
    PROFILED(PROF_ATTN, in->attn_bwd(dq, dk, dv, dout, q, k, v, out, lse, spans, n_spans, Tq,
                                     H, KVH, HD));
}
static void p_embed_fwd(void *out, const int32_t *ids, Weight table, int64_t T,
                        int64_t D, int64_t v0, int64_t V) {
    PROFILED(PROF_XENT, in->embed_fwd(out, ids, table, T, D, v0, V));
}
static void p_xent_fwd(float *lse, float *tgt, const void *logits, const int32_t *targets,
                       int64_t T, int64_t V, int64_t v0) {
    PROFILED(PROF_XENT, in->xent_fwd(lse, tgt, logits, targets, T, V, v0));
}
static void p_xent_bwd(void *dlogits, const void *logits, const float *lse,
                       const int32_t *targets, const float *dloss, int64_t T, int64_t V,
                       int64_t v0) {
    PROFILED(PROF_XENT, in->xent_bwd(dlogits, logits, lse, targets, dloss, T, V, v0));
}
static void p_argmax(float *val, int32_t *ids, const void *logits, int64_t T, int64_t V,
                     int64_t v0) {
    PROFILED(PROF_XENT, in->argmax(val, ids, logits, T, V, v0));
    if (g_prof->on != NULL && g_prof->drop_first_token) { /* the prefill pass ends here */
        *g_prof->on = g_prof->at_begin;
        g_prof->drop_first_token = 0;
        g_prof->t_begin = synced_now(g_prof);
    }
}
static void p_entropy_fwd(float *ent, float *lse, const void *logits, const int32_t *mask,
                          float extra, int64_t T, int64_t V) {
    PROFILED(PROF_XENT, in->entropy_fwd(ent, lse, logits, mask, extra, T, V));
}
static void p_entropy_bwd(void *dlogits, const void *logits, const float *lse,
                          const float *ent, const float *dent, float extra, int radial,
                          int64_t T, int64_t V) {
    PROFILED(PROF_XENT, in->entropy_bwd(dlogits, logits, lse, ent, dent, extra, radial, T, V));
}
static void p_sumsq(double *out, const float *x, int64_t n) {
    PROFILED(PROF_OPTIM, in->sumsq(out, x, n));
}
static void p_scale(float *x, float s, int64_t n) { PROFILED(PROF_OPTIM, in->scale(x, s, n)); }
static void p_adamw(float *p, const float *g, float *m, float *v, int64_t n, double lr,
                    double beta1, double beta2, double eps, double weight_decay, int64_t t) {
    PROFILED(PROF_OPTIM, in->adamw(p, g, m, v, n, lr, beta1, beta2, eps, weight_decay, t));
}

const Ops *prof_open(OpsProfiler *p, const Ops *inner, int64_t vocab) {
    *p = (OpsProfiler){.table = *inner, .inner = inner, .vocab = vocab};
    Ops *o = &p->table;
    o->upload = p_upload;
    o->upload_raw = p_upload_raw;
    o->download = p_download;
    o->download_raw = p_download_raw;
    o->upload_async = p_upload_async;
    o->download_async = p_download_async;
    o->graph_begin = p_graph_begin;
    o->graph_end = p_graph_end;
    o->zero = p_zero;
    o->copy = p_copy;
    o->matmul_fwd = p_matmul_fwd;
    o->matmul_bwd = p_matmul_bwd;
    o->wmatmul_fwd = p_wmatmul_fwd;
    o->wmatmul_bwd = p_wmatmul_bwd;
    o->weight_upload = p_weight_upload;
    o->weight_upload_blocks = p_weight_upload_blocks;
    o->lora_fwd = p_lora_fwd;
    o->lora_bwd = p_lora_bwd;
    o->lora_rows_fwd = p_lora_rows_fwd;
    o->lora_rows_bwd = p_lora_rows_bwd;
    o->rmsnorm_fwd = p_rmsnorm_fwd;
    o->rmsnorm_bwd = p_rmsnorm_bwd;
    o->rope_fwd = p_rope_fwd;
    o->rope_bwd = p_rope_bwd;
    o->swiglu_fwd = p_swiglu_fwd;
    o->swiglu_bwd = p_swiglu_bwd;
    o->add = p_add;
    o->rows_scatter = p_rows_scatter;
    o->rows_gather = p_rows_gather;
    o->attn_fwd = p_attn_fwd;
    o->attn_bwd = p_attn_bwd;
    o->embed_fwd = p_embed_fwd;
    o->xent_fwd = p_xent_fwd;
    o->xent_bwd = p_xent_bwd;
    o->argmax = p_argmax;
    o->entropy_fwd = p_entropy_fwd;
    o->entropy_bwd = p_entropy_bwd;
    o->sumsq = p_sumsq;
    o->scale = p_scale;
    o->adamw = p_adamw;
    g_prof = p;
    return o;
}

void prof_begin(OpsProfiler *p, ProfTally *t) {
    p->on = t;
    p->drop_first_token = 0;
    p->t_begin = synced_now(p);
}

void prof_begin_decode(OpsProfiler *p, ProfTally *t) {
    p->at_begin = *t;
    prof_begin(p, t);
    p->drop_first_token = 1;
}

void prof_end(OpsProfiler *p) {
    if (p->on == NULL)
        return;
    p->on->wall_s += synced_now(p) - p->t_begin;
    p->on->runs++;
    p->on = NULL;
    p->drop_first_token = 0;
}

void prof_diff(ProfTally *out, const ProfTally *a, const ProfTally *b, double n) {
    *out = (ProfTally){.wall_s = (a->wall_s - b->wall_s) / n, .runs = 1};
    for (int g = 0; g < PROF_N_GROUPS; g++) {
        out->group_s[g] = (a->group_s[g] - b->group_s[g]) / n;
        out->group_calls[g] = (int64_t)((double)(a->group_calls[g] - b->group_calls[g]) / n);
    }
    for (int i = 0; i < a->n_shapes; i++) {
        ProfShape s = a->shape[i];
        for (int j = 0; j < b->n_shapes; j++) {
            const ProfShape *o = &b->shape[j];
            if (o->bwd == s.bwd && o->M == s.M && o->N == s.N && o->K == s.K &&
                o->format == s.format) {
                s.calls -= o->calls;
                s.s -= o->s;
            }
        }
        if (s.calls > 0) {
            s.calls = (int64_t)((double)s.calls / n + 0.5);
            s.s /= n;
            out->shape[out->n_shapes++] = s;
        }
    }
}
