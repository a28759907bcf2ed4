/* tests/kernels/cpu/test_ops_cpu_fused.c -- the fused CPU ops (kernels/ops_list.h:
 * add_rmsnorm_fwd, rmsnorm_bwd_res, rope_qk_fwd / rope_qk_bwd, swiglu_gu_*) against the
 * separate ops they replace, which are their reference: add + rmsnorm_fwd, rmsnorm_bwd (+
 * copy), rope_fwd / rope_bwd on q and on k; swiglu_gu_fwd / swiglu_gu_bwd against
 * swiglu_fwd / swiglu_bwd on the split halves of each [gate | up] row. Awkward sizes (D 1,
 * 4097, 8195; odd head counts, head dim 6) and the aliasings the worker uses (the residual
 * updated in place, the norm written over its input). Every output must match to <= 1e-6
 * norm-wise relative in fp32 (the same arithmetic: the errors printed are 0 unless the
 * fused path drifts). Exit status = failures. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/ops.h"
#include "tests/testutil.h"

#define TOL 1e-6

static uint64_t g_s = 0x2545F4914F6CDD1Dull;

static float *rnd(int64_t n, float lo, float hi) {
    float *v = malloc((size_t)(n > 0 ? n : 1) * sizeof *v);
    for (int64_t i = 0; i < n; i++) {
        g_s ^= g_s << 13, g_s ^= g_s >> 7, g_s ^= g_s << 17;
        v[i] = lo + (hi - lo) * (float)((g_s >> 11) * (1.0 / 9007199254740992.0));
    }
    return v;
}

static float *dup(const float *x, int64_t n) {
    float *v = malloc((size_t)(n > 0 ? n : 1) * sizeof *v);
    memcpy(v, x, (size_t)n * sizeof *v);
    return v;
}

static int same(const char *what, const char *op, int64_t a, int64_t b, const float *got,
                const float *want, int64_t n) {
    char label[128];
    snprintf(label, sizeof label, "%s (%lld, %lld) %s", op, (long long)a, (long long)b, what);
    double e = 0;
    const int f = tu_compare_norm(label, got, want, n, TOL, &e);
    if (f == 0 && e > 0)
        tu_note("%s: rel err %.3g", label, e);
    return f;
}

/* add_rmsnorm_fwd, separate (poisoned) outputs and then in place (res_out = res, out =
 * x: both then differ from what they held), against add + rmsnorm_fwd. */
static int add_norm_case(int64_t T, int64_t D) {
    const Ops *o = ops_cpu();
    const int64_t n = T * D;
    float *res = rnd(n, -2, 2), *x = rnd(n, -1, 1), *w = rnd(D, 0.5f, 1.5f);
    float *ref_res = dup(res, n), *ref_out = rnd(n, 0, 0), *ref_rstd = rnd(T, 0, 0);
    o->add(ref_res, x, n);
    o->rmsnorm_fwd(ref_out, ref_rstd, ref_res, w, T, D, 1e-5f);
    float *res_out = rnd(n, 9, 9), *out = rnd(n, 9, 9), *rstd = rnd(T, 9, 9);
    o->add_rmsnorm_fwd(res_out, out, rstd, res, x, w, T, D, 1e-5f);
    int f = same("res_out", "add_rmsnorm_fwd", T, D, res_out, ref_res, n);
    f += same("out", "add_rmsnorm_fwd", T, D, out, ref_out, n);
    f += same("rstd", "add_rmsnorm_fwd", T, D, rstd, ref_rstd, T);
    float *r2 = dup(res, n), *x2 = dup(x, n), *rstd2 = rnd(T, 9, 9);
    o->add_rmsnorm_fwd(r2, x2, rstd2, r2, x2, w, T, D, 1e-5f); /* the inference aliasing */
    f += same("res_out in place", "add_rmsnorm_fwd", T, D, r2, ref_res, n);
    f += same("out over x", "add_rmsnorm_fwd", T, D, x2, ref_out, n);
    f += same("rstd in place", "add_rmsnorm_fwd", T, D, rstd2, ref_rstd, T);
    free(res), free(x), free(w), free(ref_res), free(ref_out), free(ref_rstd);
    free(res_out), free(out), free(rstd), free(r2), free(x2), free(rstd2);
    return f;
}

/* rmsnorm_bwd_res into a separate elem copy and with dres_elem == dres, against
 * rmsnorm_bwd accumulating into the same starting gradient. */
static int bwd_res_case(int64_t T, int64_t D) {
    const Ops *o = ops_cpu();
    const int64_t n = T * D;
    float *x = rnd(n, -2, 2), *w = rnd(D, 0.5f, 1.5f), *g = rnd(n, -1, 1), *d0 = rnd(n, -1, 1);
    float *out = rnd(n, 0, 0), *rstd = rnd(T, 0, 0);
    o->rmsnorm_fwd(out, rstd, x, w, T, D, 1e-5f);
    float *ref = dup(d0, n);
    o->rmsnorm_bwd(ref, g, x, w, rstd, T, D);
    float *dres = dup(d0, n), *elem = rnd(n, 9, 9), *self = dup(d0, n);
    o->rmsnorm_bwd_res(dres, elem, g, x, w, rstd, T, D);
    o->rmsnorm_bwd_res(self, self, g, x, w, rstd, T, D);
    int f = same("dres", "rmsnorm_bwd_res", T, D, dres, ref, n);
    f += same("dres_elem", "rmsnorm_bwd_res", T, D, elem, ref, n);
    f += same("dres == dres_elem", "rmsnorm_bwd_res", T, D, self, ref, n);
    free(x), free(w), free(g), free(d0), free(out), free(rstd), free(ref), free(dres);
    free(elem), free(self);
    return f;
}

/* rope_qk_fwd / rope_qk_bwd against rope_fwd / rope_bwd on q (T, H, HD), k (T, KVH, HD). */
static int rope_case(int64_t T, int64_t H, int64_t KVH, int64_t HD) {
    const Ops *o = ops_cpu();
    const int64_t max_pos = 97, half = HD / 2, nq = T * H * HD, nk = T * KVH * HD;
    float *cs = rnd(max_pos * half, -1, 1), *sn = rnd(max_pos * half, -1, 1);
    int32_t *pos = malloc((size_t)T * sizeof *pos);
    for (int64_t t = 0; t < T; t++)
        pos[t] = (int32_t)((t * 37 + 11) % max_pos);
    float *q = rnd(nq, -2, 2), *k = rnd(nk, -2, 2);
    int f = 0;
    for (int dir = 0; dir < 2; dir++) {
        float *rq = dup(q, nq), *rk = dup(k, nk), *fq = dup(q, nq), *fk = dup(k, nk);
        if (dir == 0) {
            o->rope_fwd(rq, pos, cs, sn, T, H, HD);
            o->rope_fwd(rk, pos, cs, sn, T, KVH, HD);
            o->rope_qk_fwd(fq, fk, pos, cs, sn, T, H, KVH, HD);
        } else {
            o->rope_bwd(rq, pos, cs, sn, T, H, HD);
            o->rope_bwd(rk, pos, cs, sn, T, KVH, HD);
            o->rope_qk_bwd(fq, fk, pos, cs, sn, T, H, KVH, HD);
        }
        const char *op = dir == 0 ? "rope_qk_fwd" : "rope_qk_bwd";
        f += same("q", op, T, H * 1000 + KVH, fq, rq, nq);
        f += same("k", op, T, H * 1000 + KVH, fk, rk, nk);
        if (tu_rel_norm_err(q, rq, nq) == 0)
            f += tu_fail("%s: the reference rotated nothing", op);
        free(rq), free(rk), free(fq), free(fk);
    }
    free(cs), free(sn), free(pos), free(q), free(k);
    return f;
}

/* swiglu_gu_fwd / swiglu_gu_bwd on [gate | up] rows against swiglu_fwd / swiglu_bwd on
 * the split halves. */
static int swiglu_case(int64_t T, int64_t F) {
    const Ops *o = ops_cpu();
    const int64_t n = T * F;
    float *gu = rnd(2 * n, -6, 6), *d = rnd(n, -1, 1), *g = rnd(n, 0, 0), *u = rnd(n, 0, 0);
    for (int64_t t = 0; t < T; t++) {
        memcpy(g + t * F, gu + t * 2 * F, (size_t)F * sizeof(float));
        memcpy(u + t * F, gu + t * 2 * F + F, (size_t)F * sizeof(float));
    }
    float *ref = rnd(n, 0, 0), *rdg = rnd(n, 0, 0), *rdu = rnd(n, 0, 0);
    o->swiglu_fwd(ref, g, u, n);
    o->swiglu_bwd(rdg, rdu, d, g, u, n);
    float *out = rnd(n, 9, 9), *dgu = rnd(2 * n, 9, 9), *dg = rnd(n, 0, 0), *du = rnd(n, 0, 0);
    o->swiglu_gu_fwd(out, gu, T, F);
    o->swiglu_gu_bwd(dgu, d, gu, T, F);
    for (int64_t t = 0; t < T; t++) {
        memcpy(dg + t * F, dgu + t * 2 * F, (size_t)F * sizeof(float));
        memcpy(du + t * F, dgu + t * 2 * F + F, (size_t)F * sizeof(float));
    }
    int f = same("out", "swiglu_gu_fwd", T, F, out, ref, n);
    f += same("dgate", "swiglu_gu_bwd", T, F, dg, rdg, n);
    f += same("dup", "swiglu_gu_bwd", T, F, du, rdu, n);
    free(gu), free(d), free(g), free(u), free(ref), free(rdg), free(rdu), free(out);
    free(dgu), free(dg), free(du);
    return f;
}

int main(void) {
    static const int64_t norm[][2] = {{1, 1}, {7, 4097}, {33, 64}, {3, 8195}, {1, 4096}};
    int f = 0;
    for (size_t c = 0; c < sizeof norm / sizeof norm[0]; c++) {
        f += add_norm_case(norm[c][0], norm[c][1]);
        f += bwd_res_case(norm[c][0], norm[c][1]);
    }
    f += rope_case(1, 1, 1, 6);
    f += rope_case(33, 5, 1, 16);
    f += rope_case(7, 32, 8, 128);
    f += rope_case(300, 3, 3, 6); /* above the threading cut */
    f += swiglu_case(1, 1);
    f += swiglu_case(7, 33);
    f += swiglu_case(5, 14339); /* above the threading cut */
    if (f == 0)
        tu_note("add_rmsnorm_fwd, rmsnorm_bwd_res, rope_qk_fwd/bwd, swiglu_gu_fwd/bwd equal "
                "their separate ops");
    return tu_report(f);
}
