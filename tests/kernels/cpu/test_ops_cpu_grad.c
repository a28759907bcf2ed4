/* tests/kernels/cpu/test_ops_cpu_grad.c -- every backward op of the CPU backend against
 * central finite differences. The objective is L = sum(r * out) with a fixed random r,
 * out computed by the double reference of kref.c (itself tied to the fp32 forward ops by
 * test_ops_cpu_fwd), so the analytic gradient of L is exactly what the backward op
 * computes when given dout = r. Differences are taken in double with step
 * h = 1e-5 max(1, |x|), so the numeric gradient is good to ~1e-9 and the tolerance only
 * has to absorb the fp32 rounding of the op: element-wise
 *     |analytic - numeric| <= 1e-5 max|numeric| + 1e-4 |numeric|
 * (the observed error is ~5e-7 of max|numeric|, so this leaves a 20x margin). Each check
 * also proves it can fail: the same gradient scaled by 1.001, or with its largest element
 * moved by 0.1% of the largest magnitude, must be rejected. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kernels/ops.h"
#include "tests/kernels/cpu/kref.h"
#include "tests/testutil.h"

#define FD_RTOL 1e-4
#define FD_ATOL_FRAC 1e-5 /* of max|numeric| */

/* An objective: L(inputs) in double; the inputs live in ctx and one of them is theta. */
typedef double (*ObjFn)(void *ctx);

static double dot_d(const double *a, const double *b, int64_t n) {
    double s = 0.0;
    for (int64_t i = 0; i < n; i++)
        s += a[i] * b[i];
    return s;
}

/* Elements outside |got - want| <= atol + rtol |want|, silently. */
static int64_t count_bad(const float *got, const float *want, int64_t n, double atol,
                         double rtol) {
    int64_t bad = 0;
    for (int64_t i = 0; i < n; i++)
        if (!(fabs((double)got[i] - want[i]) <= atol + rtol * fabs((double)want[i])))
            bad++;
    return bad;
}

/* Compares analytic (fp32, n) with central differences of f over theta (double, n,
 * restored on return). Returns the number of mismatches, or 1000000 when the check
 * would also have accepted a deliberately wrong gradient (a check that cannot fail). */
static int64_t fd_check(const char *label, const float *analytic, double *theta, int64_t n,
                        ObjFn f, void *ctx) {
    float *num = kalloc_f(n), *wrong = kalloc_f(n);
    double maxabs = 0.0;
    int64_t imax = 0;
    for (int64_t i = 0; i < n; i++) {
        double x0 = theta[i], h = 1e-5 * (fabs(x0) > 1.0 ? fabs(x0) : 1.0);
        theta[i] = x0 + h;
        double lp = f(ctx);
        theta[i] = x0 - h;
        double lm = f(ctx);
        theta[i] = x0;
        double g = (lp - lm) / (2.0 * h);
        num[i] = (float)g;
        if (fabs(g) > maxabs)
            maxabs = fabs(g), imax = i;
    }
    double atol = FD_ATOL_FRAC * maxabs + 1e-12;
    int64_t bad = tu_compare(label, analytic, num, n, atol, FD_RTOL);
    double max_err = 0.0;
    for (int64_t i = 0; i < n; i++)
        if (fabs((double)analytic[i] - num[i]) > max_err)
            max_err = fabs((double)analytic[i] - num[i]);
    for (int64_t i = 0; i < n; i++)
        wrong[i] = analytic[i] * 1.001f;
    int64_t bad_scaled = count_bad(wrong, num, n, atol, FD_RTOL);
    memcpy(wrong, analytic, (size_t)n * sizeof(float));
    wrong[imax] += (float)(1e-3 * maxabs);
    int64_t bad_one = count_bad(wrong, num, n, atol, FD_RTOL);
    printf("  %-20s n %4lld  max|g| %.2e  max err %.1e of it; wrong grads: x1.001 %lld bad, "
           "one off %lld bad\n",
           label, (long long)n, maxabs, max_err / (maxabs + 1e-30), (long long)bad_scaled,
           (long long)bad_one);
    if (bad_scaled == 0 || bad_one == 0) {
        printf("  %s: check cannot fail (scaled x1.001: %lld bad, one element off: %lld bad)\n",
               label, (long long)bad_scaled, (long long)bad_one);
        bad = 1000000;
    }
    free(num), free(wrong);
    return bad;
}

/* analytic - base: the part a backward op added into a prefilled buffer. */
static float *minus(const float *acc, const float *base, int64_t n) {
    float *d = kalloc_f(n);
    for (int64_t i = 0; i < n; i++)
        d[i] = acc[i] - base[i];
    return d;
}

/* ---- matmul and LoRA ---------------------------------------------------------------- */

typedef struct LinCtx {
    double *x, *w, *a, *b, *r, *out;
    int64_t M, N, K, R;
    double scale;
} LinCtx;

static double obj_matmul(void *p) {
    LinCtx *c = p;
    ref_matmul(c->out, c->x, c->w, NULL, c->M, c->N, c->K);
    return dot_d(c->r, c->out, c->M * c->N);
}

static double obj_lora(void *p) {
    LinCtx *c = p;
    memset(c->out, 0, sizeof(double) * (size_t)(c->M * c->N));
    ref_lora(c->out, c->x, c->a, c->b, c->scale, c->M, c->N, c->K, c->R);
    return dot_d(c->r, c->out, c->M * c->N);
}

static void test_matmul_bwd(void **state) {
    (void)state;
    const Ops *ops = ops_cpu();
    KRng rng = {11};
    enum { M = 7, N = 5, K = 9 };
    float x[M * K], w[N * K], r[M * N], dx[M * K], base[M * K];
    kfill(x, M * K, &rng, -1, 1);
    kfill(w, N * K, &rng, -1, 1);
    kfill(r, M * N, &rng, -1, 1);
    kfill(base, M * K, &rng, -1, 1);
    LinCtx c = {.x = kto_double(x, M * K), .w = kto_double(w, N * K),
                .r = kto_double(r, M * N), .out = kalloc_d(M * N), .M = M, .N = N, .K = K};
    const float zero[M * K] = {0};
    for (int acc = 0; acc < 2; acc++) {
        memcpy(dx, base, sizeof dx); /* overwritten when acc == 0, added to otherwise */
        ops->matmul_bwd(dx, r, w, M, N, K, acc);
        float *got = minus(dx, acc ? base : zero, M * K);
        const char *label = acc ? "matmul_bwd dx (+=)" : "matmul_bwd dx (=)";
        assert_int_equal(fd_check(label, got, c.x, M * K, obj_matmul, &c), 0);
        free(got);
    }
    free(c.x), free(c.w), free(c.r), free(c.out);
}

static void test_lora_bwd(void **state) {
    (void)state;
    const Ops *ops = ops_cpu();
    KRng rng = {12};
    enum { M = 7, N = 6, K = 9, R = 3 };
    float x[M * K], a[R * K], b[N * R], r[M * N], y[M * N], h[M * R], dh[M * R];
    float da[R * K], db[N * R], dx[M * K], da0[R * K], db0[N * R], dx0[M * K];
    kfill(x, M * K, &rng, -1, 1);
    kfill(a, R * K, &rng, -1, 1);
    kfill(b, N * R, &rng, -1, 1); /* nonzero B, unlike PEFT's init, so da is not 0 */
    kfill(r, M * N, &rng, -1, 1);
    kfill(y, M * N, &rng, -1, 1);
    kfill(da0, R * K, &rng, -1, 1);
    kfill(db0, N * R, &rng, -1, 1);
    kfill(dx0, M * K, &rng, -1, 1);
    memcpy(da, da0, sizeof da), memcpy(db, db0, sizeof db), memcpy(dx, dx0, sizeof dx);
    ops->lora_fwd(y, h, x, a, b, 2.0f, M, N, K, R);
    ops->lora_bwd(da, db, dx, dh, r, x, h, a, b, 2.0f, M, N, K, R);
    LinCtx c = {.x = kto_double(x, M * K), .a = kto_double(a, R * K),
                .b = kto_double(b, N * R), .r = kto_double(r, M * N), .out = kalloc_d(M * N),
                .M = M, .N = N, .K = K, .R = R, .scale = 2.0};
    float *gx = minus(dx, dx0, M * K), *ga = minus(da, da0, R * K), *gb = minus(db, db0, N * R);
    assert_int_equal(fd_check("lora_bwd dx (+=)", gx, c.x, M * K, obj_lora, &c), 0);
    assert_int_equal(fd_check("lora_bwd da (+=)", ga, c.a, R * K, obj_lora, &c), 0);
    assert_int_equal(fd_check("lora_bwd db (+=)", gb, c.b, N * R, obj_lora, &c), 0);
    /* dx == NULL (the first projection of a frozen input) leaves da, db the same */
    memcpy(da, da0, sizeof da), memcpy(db, db0, sizeof db);
    float da1[R * K], db1[N * R];
    memcpy(da1, da0, sizeof da1), memcpy(db1, db0, sizeof db1);
    ops->lora_bwd(da1, db1, NULL, dh, r, x, h, a, b, 2.0f, M, N, K, R);
    float *ga1 = minus(da1, da0, R * K), *gb1 = minus(db1, db0, N * R);
    assert_int_equal(tu_compare("lora_bwd da (dx NULL)", ga1, ga, R * K, 0, 0), 0);
    assert_int_equal(tu_compare("lora_bwd db (dx NULL)", gb1, gb, N * R, 0, 0), 0);
    free(gx), free(ga), free(gb), free(ga1), free(gb1);
    free(c.x), free(c.a), free(c.b), free(c.r), free(c.out);
}

/* ---- rmsnorm, rope, swiglu ---------------------------------------------------------- */

typedef struct RowCtx {
    double *x, *w, *g, *u, *r, *out;
    const int32_t *pos;
    const float *cos_t, *sin_t;
    int64_t T, D, nh, HD, n;
} RowCtx;

static double obj_rmsnorm(void *p) {
    RowCtx *c = p;
    ref_rmsnorm(c->out, c->x, c->w, c->T, c->D, 1e-5);
    return dot_d(c->r, c->out, c->T * c->D);
}

static double obj_rope(void *p) {
    RowCtx *c = p;
    memcpy(c->out, c->x, sizeof(double) * (size_t)c->n);
    ref_rope(c->out, c->pos, c->cos_t, c->sin_t, c->T, c->nh, c->HD);
    return dot_d(c->r, c->out, c->n);
}

static double obj_swiglu(void *p) {
    RowCtx *c = p;
    ref_swiglu(c->out, c->g, c->u, c->n);
    return dot_d(c->r, c->out, c->n);
}

static void test_rmsnorm_bwd(void **state) {
    (void)state;
    const Ops *ops = ops_cpu();
    KRng rng = {13};
    enum { T = 3, D = 33 };
    float x[T * D], w[D], r[T * D], out[T * D], rstd[T], dx[T * D], base[T * D];
    kfill(x, T * D, &rng, -1, 1);
    kfill(w, D, &rng, 0.5, 1.5);
    kfill(r, T * D, &rng, -1, 1);
    kfill(base, T * D, &rng, -1, 1);
    memcpy(dx, base, sizeof dx);
    ops->rmsnorm_fwd(out, rstd, x, w, T, D, 1e-5f);
    ops->rmsnorm_bwd(dx, r, x, w, rstd, T, D);
    RowCtx c = {.x = kto_double(x, T * D), .w = kto_double(w, D), .r = kto_double(r, T * D),
                .out = kalloc_d(T * D), .T = T, .D = D};
    float *got = minus(dx, base, T * D);
    assert_int_equal(fd_check("rmsnorm_bwd dx (+=)", got, c.x, T * D, obj_rmsnorm, &c), 0);
    free(got), free(c.x), free(c.w), free(c.r), free(c.out);
}

static void test_rope_bwd(void **state) {
    (void)state;
    const Ops *ops = ops_cpu();
    KRng rng = {14};
    enum { T = 5, NH = 3, HD = 8, N = T * NH * HD, MAXP = 64 };
    float cos_t[MAXP * HD / 2], sin_t[MAXP * HD / 2], x[N], r[N];
    ref_rope_tables(cos_t, sin_t, MAXP, HD, 10000.0);
    const int32_t pos[T] = {0, 1, 17, 63, 2};
    kfill(x, N, &rng, -1, 1);
    kfill(r, N, &rng, -1, 1);
    RowCtx c = {.x = kto_double(x, N), .r = kto_double(r, N), .out = kalloc_d(N), .pos = pos,
                .cos_t = cos_t, .sin_t = sin_t, .T = T, .nh = NH, .HD = HD, .n = N};
    ops->rope_bwd(r, pos, cos_t, sin_t, T, NH, HD); /* in place: r becomes dx */
    assert_int_equal(fd_check("rope_bwd dx", r, c.x, N, obj_rope, &c), 0);
    free(c.x), free(c.r), free(c.out);
}

static void test_swiglu_bwd(void **state) {
    (void)state;
    const Ops *ops = ops_cpu();
    KRng rng = {15};
    enum { N = 33 };
    float g[N], u[N], r[N], dg[N], du[N];
    kfill(g, N, &rng, -6, 6);
    kfill(u, N, &rng, -1, 1);
    kfill(r, N, &rng, -1, 1);
    ops->swiglu_bwd(dg, du, r, g, u, N);
    RowCtx c = {.g = kto_double(g, N), .u = kto_double(u, N), .r = kto_double(r, N),
                .out = kalloc_d(N), .n = N};
    assert_int_equal(fd_check("swiglu_bwd dgate", dg, c.g, N, obj_swiglu, &c), 0);
    assert_int_equal(fd_check("swiglu_bwd dup", du, c.u, N, obj_swiglu, &c), 0);
    free(c.g), free(c.u), free(c.r), free(c.out);
}

/* ---- attention ---------------------------------------------------------------------- */

typedef struct AttnCtx {
    double *q, *k, *v, *r, *out;
    const SeqSpan *spans;
    int32_t n_spans;
    int64_t Tq, H, KVH, HD;
} AttnCtx;

static double obj_attn(void *p) {
    AttnCtx *c = p;
    ref_attn(c->out, NULL, c->q, c->k, c->v, c->spans, c->n_spans, c->H, c->KVH, c->HD);
    return dot_d(c->r, c->out, c->Tq * c->H * c->HD);
}

static void check_attn_bwd(const char *label, const SeqSpan *spans, int32_t n_spans,
                           int64_t Tq, int64_t kv_rows, int64_t H, int64_t KVH, int64_t HD,
                           KRng *rng) {
    const Ops *ops = ops_cpu();
    int64_t nq = Tq * H * HD, nkv = kv_rows * KVH * HD;
    float *q = kalloc_f(nq), *k = kalloc_f(nkv), *v = kalloc_f(nkv), *r = kalloc_f(nq);
    float *out = kalloc_f(nq), *lse = kalloc_f(Tq * H), *dq = kalloc_f(nq);
    float *dk = kalloc_f(nkv), *dv = kalloc_f(nkv), *dk0 = kalloc_f(nkv), *dv0 = kalloc_f(nkv);
    kfill(q, nq, rng, -2, 2);
    kfill(k, nkv, rng, -2, 2);
    kfill(v, nkv, rng, -1, 1);
    kfill(r, nq, rng, -1, 1);
    kfill(dq, nq, rng, -1, 1); /* garbage: dq is overwritten */
    kfill(dk0, nkv, rng, -1, 1);
    kfill(dv0, nkv, rng, -1, 1);
    memcpy(dk, dk0, sizeof(float) * (size_t)nkv);
    memcpy(dv, dv0, sizeof(float) * (size_t)nkv);
    ops->attn_fwd(out, lse, q, k, v, spans, n_spans, Tq, H, KVH, HD);
    ops->attn_bwd(dq, dk, dv, r, q, k, v, out, lse, spans, n_spans, Tq, H, KVH, HD);
    AttnCtx c = {kto_double(q, nq), kto_double(k, nkv), kto_double(v, nkv), kto_double(r, nq),
                 kalloc_d(nq), spans, n_spans, Tq, H, KVH, HD};
    float *gk = minus(dk, dk0, nkv), *gv = minus(dv, dv0, nkv);
    char name[64];
    printf(" %s (H %lld, KVH %lld, HD %lld):\n", label, (long long)H, (long long)KVH,
           (long long)HD);
    snprintf(name, sizeof name, "attn_bwd dq");
    assert_int_equal(fd_check(name, dq, c.q, nq, obj_attn, &c), 0);
    snprintf(name, sizeof name, "attn_bwd dk (+=)");
    assert_int_equal(fd_check(name, gk, c.k, nkv, obj_attn, &c), 0);
    snprintf(name, sizeof name, "attn_bwd dv (+=)");
    assert_int_equal(fd_check(name, gv, c.v, nkv, obj_attn, &c), 0);
    free(q), free(k), free(v), free(r), free(out), free(lse), free(dq), free(dk), free(dv);
    free(dk0), free(dv0), free(gk), free(gv), free(c.q), free(c.k), free(c.v), free(c.r),
        free(c.out);
}

static void test_attn_bwd(void **state) {
    (void)state;
    KRng rng = {16};
    /* packed spans of 5, 1 and 9 tokens */
    const SeqSpan packed[] = {{0, 5, 0, 0}, {5, 1, 0, 5}, {6, 9, 0, 6}};
    check_attn_bwd("packed GQA", packed, 3, 15, 15, 4, 2, 8, &rng);
    check_attn_bwd("packed MHA", packed, 3, 15, 15, 2, 2, 8, &rng);
    /* a 40-token span crosses the 32-key tile; a 3-token chunk after 4 cached keys reads
     * kv rows 50..56 while its queries are rows 40..42 */
    const SeqSpan mixed[] = {{0, 40, 0, 0}, {40, 3, 4, 50}};
    check_attn_bwd("long + cached GQA", mixed, 2, 43, 57, 4, 2, 4, &rng);
}

/* ---- cross-entropy ------------------------------------------------------------------ */

typedef struct XentCtx {
    double *logits, *dloss, *loss;
    const int32_t *targets;
    int64_t T, V;
} XentCtx;

static double obj_xent(void *p) {
    XentCtx *c = p;
    ref_xent(c->loss, NULL, c->logits, c->targets, c->T, c->V);
    return dot_d(c->dloss, c->loss, c->T);
}

static void test_xent_bwd(void **state) {
    (void)state;
    const Ops *ops = ops_cpu();
    KRng rng = {17};
    enum { T = 5, V = 33 };
    float lg[T * V], dl[T * V], tgt[T], lse[T], dloss[T];
    const int32_t tg[T] = {3, -100, 32, 0, 7}; /* row 1 ignored */
    kfill(lg, T * V, &rng, -4, 4);
    kfill(dloss, T, &rng, 0.1, 1);
    dloss[4] = 0.0f; /* a row with zero weight (an unselected sample) */
    ops->xent_fwd(lse, tgt, lg, tg, T, V, 0); /* the whole vocabulary */
    ops->xent_bwd(dl, lg, lse, tg, dloss, T, V, 0);
    XentCtx c = {kto_double(lg, T * V), kto_double(dloss, T), kalloc_d(T), tg, T, V};
    assert_int_equal(fd_check("xent_bwd dlogits", dl, c.logits, T * V, obj_xent, &c), 0);
    /* in place: dlogits aliasing logits gives the same bits */
    ops->xent_bwd(lg, lg, lse, tg, dloss, T, V, 0);
    assert_memory_equal(lg, dl, sizeof lg);
    free(c.logits), free(c.dloss), free(c.loss);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matmul_bwd),  cmocka_unit_test(test_lora_bwd),
        cmocka_unit_test(test_rmsnorm_bwd), cmocka_unit_test(test_rope_bwd),
        cmocka_unit_test(test_swiglu_bwd),  cmocka_unit_test(test_attn_bwd),
        cmocka_unit_test(test_xent_bwd),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
