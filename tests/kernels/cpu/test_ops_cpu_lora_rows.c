/* tests/kernels/cpu/test_ops_cpu_lora_rows.c -- the multi-adapter LoRA ops (lora_rows_fwd /
 * lora_rows_bwd, kernels/ops_list.h) against lora_fwd / lora_bwd run one adapter at a
 * time: the rows of each adapter gathered, put through that adapter alone, scattered back.
 * Rows interleave the adapters or come in runs of one adapter (what a batched pass packs),
 * one adapter gets no row, and one case passes dx = NULL. Checks h, y, dh, da, db, dx
 * within 1e-5 norm-wise relative (loops against BLAS: only the summation order differs),
 * the same of the simple twin (kernels/cpu/cpu_simple.h, plain loops), that the unused
 * adapter's gradients stay as they were, and that with runs the op is bit-equal to
 * lora_fwd / lora_bwd over each run. Exit status = failures. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu/cpu_simple.h"
#include "kernels/ops.h"
#include "tests/testutil.h"

static uint64_t g_s = 0x9E3779B97F4A7C15ull;

static float *rnd(int64_t n, float lo, float hi) {
    float *v = malloc((size_t)(n > 0 ? n : 1) * sizeof *v);
    for (int64_t i = 0; i < n; i++) {
        g_s ^= g_s << 13, g_s ^= g_s >> 7, g_s ^= g_s << 17;
        v[i] = lo + (hi - lo) * (float)((g_s >> 11) * (1.0 / 9007199254740992.0));
    }
    return v;
}

static float *copy(const float *x, int64_t n) {
    float *v = malloc((size_t)(n > 0 ? n : 1) * sizeof *v);
    memcpy(v, x, (size_t)n * sizeof *v);
    return v;
}

static int close_to(const char *what, int c, const float *got, const float *want, int64_t n) {
    const double e = tu_rel_norm_err(got, want, n);
    return e <= 1e-5 ? 0 : tu_fail("case %d %s: norm-wise rel err %.3g > 1e-5", c, what, e);
}

static void rows_fwd_simple(void *y, float *h, const void *x, const float *a, const float *b,
                            const int32_t *ad, int32_t n_ad, float scale, int64_t M, int64_t N,
                            int64_t K, int64_t R) {
    cpu_lora_rows_fwd_simple(y, h, x, a, b, ad, n_ad, scale, M, N, K, R);
}

static void rows_bwd_simple(float *da, float *db, void *dx, float *dh, const void *dy,
                            const void *x, const float *h, const float *a, const float *b,
                            const int32_t *ad, int32_t n_ad, float scale, int64_t M, int64_t N,
                            int64_t K, int64_t R) {
    cpu_lora_rows_bwd_simple(da, db, dx, dh, dy, x, h, a, b, ad, n_ad, scale, M, N, K, R);
}

/* One case: M rows over n_ad adapters (adapter n_ad - 1 unused), interleaved or (runs)
 * in runs of one adapter; simple: the simple twin instead of the op. */
static int run_case(int c, int64_t M, int64_t N, int64_t K, int64_t R, int32_t n_ad, int with_dx,
                    int runs, int simple) {
    const Ops *o = ops_cpu();
    Ops op = *o;
    if (simple) {
        op.lora_rows_fwd = rows_fwd_simple;
        op.lora_rows_bwd = rows_bwd_simple;
    }
    const float scale = 1.7f;
    int32_t *ad = malloc((size_t)M * sizeof *ad);
    for (int64_t m = 0; m < M; m++) /* the last adapter unused */
        ad[m] = runs ? (int32_t)((m * (n_ad - 1)) / M)
                     : (int32_t)((m * 7 + m / 3) % (n_ad - 1));
    float *x = rnd(M * K, -1, 1), *a = rnd(n_ad * R * K, -.5f, .5f), *b = rnd(n_ad * N * R, -.5f, .5f);
    float *y0 = rnd(M * N, -1, 1), *dy = rnd(M * N, -1, 1), *dx0 = rnd(M * K, -1, 1);
    float *da0 = rnd(n_ad * R * K, -1, 1), *db0 = rnd(n_ad * N * R, -1, 1);
    /* the batched pass */
    float *y = copy(y0, M * N), *h = rnd(M * R, 0, 0), *dh = rnd(M * R, 0, 0);
    float *da = copy(da0, n_ad * R * K), *db = copy(db0, n_ad * N * R), *dx = copy(dx0, M * K);
    op.lora_rows_fwd(y, h, x, a, b, ad, n_ad, scale, M, N, K, R);
    op.lora_rows_bwd(da, db, with_dx ? dx : NULL, dh, dy, x, h, a, b, ad, n_ad, scale, M, N,
                       K, R);
    /* one adapter at a time */
    float *wy = copy(y0, M * N), *wh = rnd(M * R, 0, 0), *wdh = rnd(M * R, 0, 0);
    float *wda = copy(da0, n_ad * R * K), *wdb = copy(db0, n_ad * N * R), *wdx = copy(dx0, M * K);
    float *gx = rnd(M * K, 0, 0), *gy = rnd(M * N, 0, 0), *gdy = rnd(M * N, 0, 0);
    float *gdx = rnd(M * K, 0, 0), *gh = rnd(M * R, 0, 0), *gdh = rnd(M * R, 0, 0);
    int64_t *rows = malloc((size_t)M * sizeof *rows);
    for (int32_t i = 0; i < n_ad; i++) {
        int64_t n = 0;
        for (int64_t m = 0; m < M; m++)
            if (ad[m] == i)
                rows[n++] = m;
        if (n == 0)
            continue;
        for (int64_t j = 0; j < n; j++) {
            memcpy(gx + j * K, x + rows[j] * K, (size_t)K * 4);
            memcpy(gy + j * N, wy + rows[j] * N, (size_t)N * 4);
            memcpy(gdy + j * N, dy + rows[j] * N, (size_t)N * 4);
            memcpy(gdx + j * K, wdx + rows[j] * K, (size_t)K * 4);
        }
        const float *ai = a + i * R * K, *bi = b + i * N * R;
        o->lora_fwd(gy, gh, gx, ai, bi, scale, n, N, K, R);
        o->lora_bwd(wda + i * R * K, wdb + i * N * R, with_dx ? gdx : NULL, gdh, gdy, gx, gh,
                    ai, bi, scale, n, N, K, R);
        for (int64_t j = 0; j < n; j++) {
            memcpy(wy + rows[j] * N, gy + j * N, (size_t)N * 4);
            memcpy(wh + rows[j] * R, gh + j * R, (size_t)R * 4);
            memcpy(wdh + rows[j] * R, gdh + j * R, (size_t)R * 4);
            memcpy(wdx + rows[j] * K, gdx + j * K, (size_t)K * 4);
        }
    }
    int fails = close_to("h", c, h, wh, M * R) + close_to("y", c, y, wy, M * N);
    fails += close_to("dh", c, dh, wdh, M * R) + close_to("da", c, da, wda, n_ad * R * K);
    fails += close_to("db", c, db, wdb, n_ad * N * R) + close_to("dx", c, dx, wdx, M * K);
    const int64_t last = (int64_t)(n_ad - 1);
    if (memcmp(da + last * R * K, da0 + last * R * K, (size_t)(R * K) * 4) != 0 ||
        memcmp(db + last * N * R, db0 + last * N * R, (size_t)(N * R) * 4) != 0)
        fails += tu_fail("case %d: the adapter without rows got a gradient", c);
    if (runs && !simple &&
        (memcmp(y, wy, (size_t)(M * N) * 4) != 0 || memcmp(da, wda, (size_t)(n_ad * R * K) * 4) ||
         memcmp(db, wdb, (size_t)(n_ad * N * R) * 4) || memcmp(dx, wdx, (size_t)(M * K) * 4)))
        fails += tu_fail("case %d: runs of one adapter are not bit-equal to lora_fwd/bwd", c);
    if (!with_dx && memcmp(dx, dx0, (size_t)(M * K) * 4) != 0)
        fails += tu_fail("case %d: dx changed with dx = NULL", c);
    if (fails == 0)
        tu_note("case %d: M %lld N %lld K %lld R %lld, %d adapters%s%s: equal to one adapter "
                "at a time", c, (long long)M, (long long)N, (long long)K, (long long)R, n_ad,
                runs ? " in runs" : "", simple ? ", simple twin" : "");
    free(ad), free(x), free(a), free(b), free(y0), free(dy), free(dx0), free(da0), free(db0);
    free(y), free(h), free(dh), free(da), free(db), free(dx), free(wy), free(wh), free(wdh);
    free(wda), free(wdb), free(wdx), free(gx), free(gy), free(gdy), free(gdx), free(gh);
    free(gdh), free(rows);
    return fails;
}

int main(void) {
    int fails = 0, c = 0;
    for (int simple = 0; simple < 2; simple++)
        for (int runs = 0; runs < 2; runs++) {
            fails += run_case(c++, 1, 1, 1, 1, 2, 1, runs, simple);
            fails += run_case(c++, 13, 40, 24, 8, 4, 1, runs, simple);
            fails += run_case(c++, 37, 64, 96, 16, 5, 1, runs, simple);
            fails += run_case(c++, 20, 33, 17, 9, 3, 0, runs, simple);
        }
    return tu_report(fails);
}
