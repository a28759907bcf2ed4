/* tests/kernels/cpu/test_ops_cpu_adamw.c -- the CPU optimizer primitives against double
 * references: several AdamW steps (with and without weight decay) against the
 * torch.optim.AdamW formula evaluated in double, sumsq against a double sum, scale, and
 * the gradient clipping that the worker builds from them (torch.nn.utils.clip_grad_norm_:
 * coef = max_norm / (norm + 1e-6), applied only when coef < 1). */
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
#include "tests/testutil.h"

enum { N = 4097 };

/* xorshift in [-1, 1): the test needs no more than reproducible noise. */
static float noise(uint64_t *s) {
    *s ^= *s << 13, *s ^= *s >> 7, *s ^= *s << 17;
    return (float)((double)(*s >> 11) / 4503599627370496.0 - 1.0);
}

/* One torch.optim.AdamW step in double (torch/optim/adamw.py, _single_tensor_adamw). */
static void ref_adamw(double *p, const float *g, double *m, double *v, int64_t n, double lr,
                      double b1, double b2, double eps, double wd, int64_t t) {
    double bc1 = 1.0 - pow(b1, (double)t), bc2 = 1.0 - pow(b2, (double)t);
    for (int64_t i = 0; i < n; i++) {
        p[i] *= 1.0 - lr * wd;
        m[i] = b1 * m[i] + (1.0 - b1) * g[i];
        v[i] = b2 * v[i] + (1.0 - b2) * (double)g[i] * g[i];
        p[i] -= lr / bc1 * m[i] / (sqrt(v[i]) / sqrt(bc2) + eps);
    }
}

/* lr_d, wd_d: the decimals as a Python job holds them (ops.h carries doubles). */
static void run_adamw(double lr_d, double wd_d, uint64_t seed) {
    const Ops *ops = ops_cpu();
    static float p[N], p0[N], g[N], m[N], v[N], pf[N];
    static double pd[N], md[N], vd[N];
    for (int i = 0; i < N; i++) {
        p0[i] = p[i] = noise(&seed);
        pd[i] = p[i];
        m[i] = v[i] = 0.0f;
        md[i] = vd[i] = 0.0;
    }
    for (int64_t t = 1; t <= 5; t++) {
        for (int i = 0; i < N; i++) /* gradients over 6 decades, some exactly 0 */
            g[i] = i % 11 == 0 ? 0.0f : noise(&seed) * powf(10.0f, (float)(i % 7) - 5.0f);
        ops->adamw(p, g, m, v, N, lr_d, 0.9, 0.999, 1e-8, wd_d, t);
        ref_adamw(pd, g, md, vd, N, lr_d, 0.9, 0.999, 1e-8, wd_d, t);
    }
    for (int i = 0; i < N; i++)
        pf[i] = (float)pd[i];
    /* p moves by ~lr per step whatever the gradient's scale: compare at lr scale */
    assert_int_equal(tu_compare("adamw p", p, pf, N, 1e-5 * lr_d, 1e-6), 0);
    /* moments: fp32 rounding is relative to each element's gradient scale s, which the
     * lerp's cancellation (m + w (g - m)) exposes: |err| <= 1e-6 s (m), 1e-6 s^2 (v) */
    int64_t bad = 0;
    for (int i = 0; i < N; i++) {
        double sc = pow(10.0, (double)(i % 7) - 5.0);
        if (!(fabs(m[i] - md[i]) <= 1e-6 * sc + 1e-5 * fabs(md[i])) ||
            !(fabs(v[i] - vd[i]) <= 1e-6 * sc * sc + 1e-5 * fabs(vd[i]))) {
            if (bad++ < 5)
                printf("  adamw [%d]: m %.9g want %.9g, v %.9g want %.9g\n", i, m[i], md[i],
                       v[i], vd[i]);
        }
    }
    assert_int_equal(bad, 0);
    /* the parameters did move (about lr per step): a no-op adamw fails here */
    int64_t moved = 0;
    for (int i = 0; i < N; i++)
        moved += fabsf(p[i] - p0[i]) > lr_d;
    assert_true(moved > N / 2);
}

static void test_adamw(void **state) {
    (void)state;
    run_adamw(5e-5, 0.0, 1);  /* the job default: lr 5e-5, no weight decay */
    run_adamw(1e-3, 0.1, 2);  /* decoupled weight decay */
    run_adamw(1e-6, 0.01, 3); /* the paper's rate for reasoning sets */
}

static void test_sumsq_scale_clip(void **state) {
    (void)state;
    const Ops *ops = ops_cpu();
    static float g[70001];
    uint64_t seed = 9;
    const int64_t ns[] = {1, 7, 4097, 70001};
    for (size_t c = 0; c < sizeof ns / sizeof ns[0]; c++) {
        int64_t n = ns[c];
        double want = 0.0, got = -1.0;
        for (int64_t i = 0; i < n; i++) {
            g[i] = noise(&seed) * 3.0f;
            want += (double)g[i] * g[i];
        }
        ops->sumsq(&got, g, n);
        assert_true(fabs(got - want) <= 1e-12 * want);
        /* clip_grad_norm_(max_norm = 1): scale by max_norm / (norm + 1e-6) when < 1 */
        double coef = 1.0 / (sqrt(got) + 1e-6);
        if (coef < 1.0)
            ops->scale(g, (float)coef, n);
        double after = 0.0;
        ops->sumsq(&after, g, n);
        assert_true(fabs(sqrt(after) - (coef < 1.0 ? 1.0 : sqrt(want))) < 1e-5);
    }
    /* a gradient already inside the ball is left alone by the clip */
    float small[3] = {0.1f, -0.2f, 0.3f};
    double ss = 0.0;
    ops->sumsq(&ss, small, 3);
    assert_true(fabs(ss - (0.01 + 0.04 + 0.09)) < 1e-7);
    assert_true(1.0 / (sqrt(ss) + 1e-6) >= 1.0);
    ops->scale(small, 0.5f, 3);
    assert_true(small[0] == 0.05f && small[1] == -0.1f && small[2] == 0.15f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_adamw),
        cmocka_unit_test(test_sumsq_scale_clip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
