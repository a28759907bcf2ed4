/* tests/worker/model/tptest.c -- world-reduced errors and tp-vs-reference comparisons (tptest.h).
 * The CPU backend's buffers are host memory, so reductions of host doubles go straight
 * through comm (MPI). */
#include "tests/worker/model/tptest.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/testutil.h"
#include "tests/worker/wtest.h"

double tp_max(Comm *c, double x) {
    Err err = {{0}};
    if (isnan(x))
        x = INFINITY; /* NaN must not vanish in the max */
    tu_check_rc(comm_all_reduce(c, COMM_WORLD, &x, 1, COMM_F64, COMM_MAX, &err),
                "all_reduce max", err.msg);
    return x;
}

int tp_sum_int(Comm *c, int n) {
    Err err = {{0}};
    int32_t v = n;
    tu_check_rc(comm_all_reduce(c, COMM_WORLD, &v, 1, COMM_I32, COMM_SUM, &err),
                "all_reduce sum", err.msg);
    return v;
}

/* The harness's line, prefixed with the case name, on world rank 0 only. */
__attribute__((format(printf, 3, 0)))
static void rank0_line(const TpCase *tc, int fail, const char *fmt, va_list ap) {
    if (tc->world_rank != 0)
        return;
    char msg[1024];
    vsnprintf(msg, sizeof msg, fmt, ap);
    if (fail)
        tu_fail("%s %s", tc->name, msg);
    else
        tu_note("%s %s", tc->name, msg);
    fflush(stdout);
}

void tp_note(const TpCase *tc, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    rank0_line(tc, 0, fmt, ap);
    va_end(ap);
}

int tp_fail(const TpCase *tc, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    rank0_line(tc, 1, fmt, ap);
    va_end(ap);
    return 1;
}

double tp_logits_err(const TpCase *tc) {
    int64_t T, T_ref, v0, Vl;
    const void *d = model_logits(tc->m, &T), *d_ref = model_logits(tc->ref, &T_ref);
    model_vocab_range(tc->m, &v0, &Vl);
    const int64_t V = model_config(tc->m)->vocab_size;
    float *got = malloc((size_t)(T * Vl) * 4), *want = malloc((size_t)(T * V) * 4);
    model_ops(tc->m)->download(got, d, T * Vl);
    model_ops(tc->ref)->download(want, d_ref, T * V);
    double md = T == T_ref ? 0 : INFINITY, mw = 0;
    for (int64_t t = 0; t < T && T == T_ref; t++)
        for (int64_t j = 0; j < Vl; j++) {
            const double g = got[t * Vl + j], w = want[t * V + v0 + j];
            md = fabs(g - w) > md || isnan(g) ? fabs(g - w) : md;
            mw = fabs(w) > mw ? fabs(w) : mw;
        }
    free(got);
    free(want);
    md = tp_max(tc->comm, md);
    mw = tp_max(tc->comm, mw);
    return mw > 0 ? md / mw : md;
}

/* Norm-wise error of each A and B of the full layouts got / want (same adapter shape):
 * the worst tensor's, and (when whole != NULL) the whole adapter's. */
static double full_err(const Lora *shape, const float *got, const float *want, double *whole) {
    double worst = 0;
    const int64_t R = shape->cfg.rank;
    for (int64_t i = 0; i < shape->n_layers * LORA_N_TARGETS; i++) {
        const LoraView *v = &shape->views[i];
        if (v->a == NULL)
            continue;
        const int64_t na = R * v->n_in_full, nb = v->n_out_full * R, o = v->full_off;
        const double ea = tu_rel_norm_err(got + o, want + o, na);
        const double eb = tu_rel_norm_err(got + o + na, want + o + na, nb);
        worst = ea > worst || isnan(ea) ? ea : worst;
        worst = eb > worst || isnan(eb) ? eb : worst;
    }
    if (whole != NULL)
        *whole = tu_rel_norm_err(got, want, shape->n_full);
    return worst;
}

double tp_adapter_err(const TpCase *tc, Lora *l, Lora *ref, LoraPart part, double *whole) {
    Err err = {{0}};
    float *got = malloc((size_t)l->n_full * 4), *want = malloc((size_t)ref->n_full * 4);
    tu_check_rc(lora_gather(l, part, got, &err), "lora_gather", err.msg);
    tu_check_rc(lora_gather(ref, part, want, &err), "lora_gather (tp = 1)", err.msg);
    double w = INFINITY;
    const double e = l->n_full == ref->n_full ? full_err(ref, got, want, &w) : INFINITY;
    free(got);
    free(want);
    if (whole != NULL)
        *whole = tp_max(tc->comm, w);
    return tp_max(tc->comm, e);
}

double tp_adapter_golden_err(const TpCase *tc, Lora *l, LoraPart part, const char *prefix) {
    Err err = {{0}};
    float *got = malloc((size_t)l->n_full * 4), *want = malloc((size_t)l->n_full * 4);
    tu_check_rc(lora_gather(l, part, got, &err), "lora_gather", err.msg);
    char key[256], name[320];
    const int64_t R = l->cfg.rank;
    for (int64_t layer = 0; layer < l->n_layers; layer++)
        for (int t = 0; t < LORA_N_TARGETS; t++) {
            const LoraView *v = lora_view(l, layer, (LoraTarget)t);
            if (v == NULL)
                continue;
            for (int is_b = 0; is_b < 2; is_b++) {
                const int64_t n = is_b ? v->n_out_full * R : R * v->n_in_full;
                lora_key(key, sizeof key, layer, (LoraTarget)t, is_b);
                snprintf(name, sizeof name, "%s%s", prefix, key);
                float *w = wt_get_f32(tc->golden, name, n, NULL);
                memcpy(want + v->full_off + (is_b ? R * v->n_in_full : 0), w, (size_t)n * 4);
                free(w);
            }
        }
    const double e = full_err(l, got, want, NULL);
    free(got);
    free(want);
    return tp_max(tc->comm, e);
}

int tp_dp_identical(const TpCase *tc, const Lora *l) {
    Err err = {{0}};
    float *p = malloc((size_t)l->n_params * 4);
    l->ops->download_raw(p, l->params, (size_t)l->n_params * 4);
    uint64_t h = 1469598103934665603ull; /* FNV-1a over the bytes of this rank's slice */
    const unsigned char *b = (const unsigned char *)p;
    for (size_t i = 0; i < (size_t)l->n_params * 4; i++)
        h = (h ^ b[i]) * 1099511628211ull;
    free(p);
    const int dp = comm_size(tc->comm, COMM_DP);
    int64_t *all = calloc((size_t)dp, sizeof *all);
    int64_t mine = (int64_t)h;
    tu_check_rc(comm_all_gather(tc->comm, COMM_DP, &mine, all, 1, COMM_I64, &err),
                "all_gather checksum", err.msg);
    int same = 1;
    for (int r = 0; r < dp; r++)
        same &= all[r] == all[0];
    free(all);
    return tp_sum_int(tc->comm, !same) == 0;
}
