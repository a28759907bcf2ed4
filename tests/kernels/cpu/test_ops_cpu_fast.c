/* tests/kernels/cpu/test_ops_cpu_fast.c -- every fast CPU kernel against its simple twin
 * (kernels/cpu/cpu_simple.h) on awkward sizes (1, 7, 33, 4097, a 49152 vocabulary) and
 * awkward values: logits at realistic scale (|z| up to 30), rows of one huge value, an
 * all -inf row, ties for the argmax; bf16 weights and the few-row fp32 forward over
 * every block tail. The twins are independent of the fast code (libm,
 * double sums, scalar loops), so agreement to a few fp32 ulps shows the fast one right. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kernels/cpu/cpu_ops.h"
#include "kernels/cpu/cpu_simple.h"
#include "tests/testutil.h"

static uint64_t g_state = 0x1234567ull;

/* Uniform in [-a, a). */
static float urand(float a) {
    g_state = g_state * 6364136223846793005ull + 1442695040888963407ull;
    return a * (2.0f * (float)((g_state >> 40) * 0x1.0p-24) - 1.0f);
}

/* T rows of V logits: row 0 at scale 30, row 1 one huge value among small ones, row 2
 * all -inf (when T > 2), row 3 a tie of the max at two columns (when T > 3); the rest at
 * scale 8. */
static float *make_logits(int64_t T, int64_t V) {
    float *z = malloc((size_t)(T * V) * sizeof *z);
    for (int64_t t = 0; t < T; t++)
        for (int64_t j = 0; j < V; j++)
            z[t * V + j] = urand(t == 0 ? 30.0f : 8.0f);
    if (T > 1)
        z[V + V / 2] = 1000.0f;
    if (T > 2)
        for (int64_t j = 0; j < V; j++)
            z[2 * V + j] = -INFINITY;
    if (T > 3 && V > 2) {
        z[3 * V + 1] = 50.0f;
        z[3 * V + V - 1] = 50.0f;
    }
    return z;
}

/* Equal infinities (the all -inf row) agree, but tu_compare's |got - want| is NaN for
 * them: those pairs become 0 before the comparison. */
static void equal_infs_to_zero(float *a, float *b, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        if (isinf(a[i]) && a[i] == b[i])
            a[i] = b[i] = 0.0f;
}

static void check_vocab(int64_t T, int64_t V, int64_t v0) {
    float *z = make_logits(T, V);
    int32_t *tg = malloc((size_t)T * sizeof *tg);
    float *dloss = malloc((size_t)T * sizeof *dloss);
    for (int64_t t = 0; t < T; t++) {
        tg[t] = t == T - 1 ? -1 : (int32_t)(v0 + (t * 7919) % V); /* last row: no target */
        dloss[t] = t == 1 ? 0.0f : 0.5f + 0.1f * (float)t;        /* row 1: no gradient */
    }
    float *lse[2], *tgt[2], *dl[2], *val[2];
    int32_t *ids[2];
    for (int k = 0; k < 2; k++) {
        lse[k] = malloc((size_t)T * sizeof(float));
        tgt[k] = malloc((size_t)T * sizeof(float));
        val[k] = malloc((size_t)T * sizeof(float));
        ids[k] = malloc((size_t)T * sizeof(int32_t));
        dl[k] = malloc((size_t)(T * V) * sizeof(float));
        memcpy(dl[k], z, (size_t)(T * V) * sizeof(float)); /* in place, as the model runs */
    }
    cpu_xent_fwd(lse[0], tgt[0], z, tg, T, V, v0);
    cpu_xent_fwd_simple(lse[1], tgt[1], z, tg, T, V, v0);
    cpu_argmax(val[0], ids[0], z, T, V, v0);
    cpu_argmax_simple(val[1], ids[1], z, T, V, v0);
    /* the backward needs a finite lse: the -inf row gets dloss 0 there */
    if (T > 2)
        dloss[2] = 0.0f;
    cpu_xent_bwd(dl[0], dl[0], lse[1], tg, dloss, T, V, v0);
    cpu_xent_bwd_simple(dl[1], dl[1], lse[1], tg, dloss, T, V, v0);
    if (T > 2 && !isinf(lse[0][2]))
        tu_fail("the all -inf row: lse %g, expected -inf", lse[0][2]);
    const int64_t inf_bad = T > 2 && !isinf(lse[0][2]);
    equal_infs_to_zero(lse[0], lse[1], T);
    equal_infs_to_zero(tgt[0], tgt[1], T);
    equal_infs_to_zero(val[0], val[1], T);
    char label[64];
    snprintf(label, sizeof label, "xent lse T %lld V %lld", (long long)T, (long long)V);
    int64_t bad = inf_bad + tu_compare(label, lse[0], lse[1], T, 1e-6, 2e-7);
    bad += tu_compare("xent target logit", tgt[0], tgt[1], T, 0, 0);
    bad += tu_compare("xent dlogits", dl[0], dl[1], T * V, 1e-9, 1e-6);
    bad += tu_compare("argmax value", val[0], val[1], T, 0, 0);
    bad += tu_compare_i32("argmax id", ids[0], ids[1], T);
    for (int k = 0; k < 2; k++) {
        free(lse[k]);
        free(tgt[k]);
        free(val[k]);
        free(ids[k]);
        free(dl[k]);
    }
    free(z);
    free(tg);
    free(dloss);
    assert_int_equal(bad, 0);
}

static void test_vocab(void **state) {
    (void)state;
    const int64_t Vs[] = {1, 7, 33, 4097, 49152};
    for (size_t i = 0; i < sizeof Vs / sizeof Vs[0]; i++) {
        check_vocab(1, Vs[i], 0);
        check_vocab(6, Vs[i], 0);
        check_vocab(5, Vs[i], 1000); /* a vocabulary slice: global ids from v0 */
    }
}

/* bf16 weights: wmatmul_fwd / wmatmul_bwd (AVX-512 blocks where the CPU has them) against
 * the one-element-at-a-time twins, over tails of every block size (M, N by 4; K by 16,
 * the backward's columns by 64), overwrite, accumulate and bias. Same products, other
 * summation order: agreement to fp32 rounding of K-term sums. */
static int64_t check_bf16(int64_t M, int64_t N, int64_t K) {
    float *x = malloc((size_t)(M * K) * sizeof *x), *wf = malloc((size_t)(N * K) * sizeof *wf);
    float *dy = malloc((size_t)(M * N) * sizeof *dy), *bias = malloc((size_t)N * sizeof *bias);
    uint16_t *w = malloc((size_t)(N * K) * sizeof *w);
    float *out[2], *dx[2];
    for (int k = 0; k < 2; k++) {
        out[k] = malloc((size_t)(M * N) * sizeof(float));
        dx[k] = malloc((size_t)(M * K) * sizeof(float));
    }
    for (int64_t i = 0; i < M * K; i++)
        x[i] = urand(1.0f);
    for (int64_t i = 0; i < N * K; i++)
        wf[i] = urand(0.1f);
    for (int64_t i = 0; i < M * N; i++)
        dy[i] = urand(1.0f);
    for (int64_t i = 0; i < N; i++)
        bias[i] = urand(1.0f);
    cpu_weight_upload((Weight){w, WEIGHT_BF16}, wf, DTYPE_F32, N, K);
    const Weight wb = {w, WEIGHT_BF16};
    const double tol = 1e-6 * (double)K + 1e-6;
    int64_t bad = 0;
    char label[96];
    for (int mode = 0; mode < 3; mode++) { /* overwrite, accumulate, bias + accumulate */
        for (int k = 0; k < 2; k++) {
            for (int64_t i = 0; i < M * N; i++)
                out[k][i] = 0.5f;
            for (int64_t i = 0; i < M * K; i++)
                dx[k][i] = -0.25f;
        }
        const int acc = mode > 0;
        cpu_wmatmul_fwd(out[0], x, wb, mode == 2 ? bias : NULL, M, N, K, acc);
        for (int64_t i = 0; mode == 2 && i < M * N; i++)
            out[1][i] += bias[i % N];
        cpu_wmatmul_fwd_simple(out[1], x, wb, M, N, K, mode == 2 || acc ? 1.0f : 0.0f);
        cpu_wmatmul_bwd(dx[0], dy, wb, M, N, K, acc);
        cpu_wmatmul_bwd_simple(dx[1], dy, wb, M, N, K, acc ? 1.0f : 0.0f);
        snprintf(label, sizeof label, "bf16 fwd M %lld N %lld K %lld mode %d", (long long)M,
                 (long long)N, (long long)K, mode);
        bad += tu_compare(label, out[0], out[1], M * N, tol, 1e-5);
        snprintf(label, sizeof label, "bf16 bwd M %lld N %lld K %lld mode %d", (long long)M,
                 (long long)N, (long long)K, mode);
        bad += tu_compare(label, dx[0], dx[1], M * K, tol, 1e-5);
    }
    /* the weights really are bf16: the twin on the widened weights equals fp32 math on
     * the rounded values */
    for (int64_t i = 0; i < N * K; i++)
        if (fabsf(wf[i] - (float)bf16_to_f32(w[i])) > 0.004f * fabsf(wf[i]))
            bad += tu_fail("weight %lld: %g rounded to bf16 %g", (long long)i, wf[i],
                           bf16_to_f32(w[i]));
    for (int k = 0; k < 2; k++) {
        free(out[k]);
        free(dx[k]);
    }
    free(x);
    free(wf);
    free(dy);
    free(bias);
    free(w);
    return bad;
}

/* The few-row fp32 forward (decode: M <= 8) against its twin, with a bias and accumulate. */
static int64_t check_few_rows(int64_t M, int64_t N, int64_t K) {
    float *x = malloc((size_t)(M * K) * sizeof *x), *w = malloc((size_t)(N * K) * sizeof *w);
    float *bias = malloc((size_t)N * sizeof *bias), *out[2];
    for (int k = 0; k < 2; k++)
        out[k] = malloc((size_t)(M * N) * sizeof(float));
    for (int64_t i = 0; i < M * K; i++)
        x[i] = urand(1.0f);
    for (int64_t i = 0; i < N * K; i++)
        w[i] = urand(0.1f);
    for (int64_t i = 0; i < N; i++)
        bias[i] = urand(1.0f);
    int64_t bad = 0;
    char label[96];
    for (int mode = 0; mode < 3; mode++) { /* overwrite, accumulate, bias */
        for (int k = 0; k < 2; k++)
            for (int64_t i = 0; i < M * N; i++)
                out[k][i] = 0.5f;
        cpu_matmul_fwd(out[0], x, w, mode == 2 ? bias : NULL, M, N, K, mode == 1);
        if (mode == 2)
            for (int64_t i = 0; i < M * N; i++)
                out[1][i] = bias[i % N];
        cpu_matmul_few_rows_simple(out[1], x, w, M, N, K, mode > 0 ? 1.0f : 0.0f);
        snprintf(label, sizeof label, "few rows M %lld N %lld K %lld mode %d", (long long)M,
                 (long long)N, (long long)K, mode);
        bad += tu_compare(label, out[0], out[1], M * N, 1e-6 * (double)K + 1e-6, 1e-5);
    }
    free(x);
    free(w);
    free(bias);
    free(out[0]);
    free(out[1]);
    return bad;
}

/* The many-row fp32 matmul_fwd / matmul_bwd (AVX-512 blocks: the forward as dot products
 * below CPU_OUTER_MIN_ROWS rows, as an outer product from there) against OpenBLAS sgemm. */
static int64_t check_many_rows(int64_t M, int64_t N, int64_t K) {
    float *x = malloc((size_t)(M * K) * sizeof *x), *w = malloc((size_t)(N * K) * sizeof *w);
    float *dy = malloc((size_t)(M * N) * sizeof *dy), *o[2], *d[2];
    for (int k = 0; k < 2; k++) {
        o[k] = malloc((size_t)(M * N) * sizeof(float));
        d[k] = malloc((size_t)(M * K) * sizeof(float));
    }
    for (int64_t i = 0; i < M * K; i++)
        x[i] = urand(1.0f);
    for (int64_t i = 0; i < N * K; i++)
        w[i] = urand(0.1f);
    for (int64_t i = 0; i < M * N; i++)
        dy[i] = urand(1.0f);
    int64_t bad = 0;
    for (int acc = 0; acc < 2; acc++) {
        for (int k = 0; k < 2; k++) {
            for (int64_t i = 0; i < M * N; i++)
                o[k][i] = 0.5f;
            for (int64_t i = 0; i < M * K; i++)
                d[k][i] = -0.25f;
        }
        cpu_matmul_fwd(o[0], x, w, NULL, M, N, K, acc);
        cpu_matmul_fwd_blas(o[1], x, w, M, N, K, (float)acc);
        cpu_matmul_bwd(d[0], dy, w, M, N, K, acc);
        cpu_matmul_bwd_blas(d[1], dy, w, M, N, K, (float)acc);
        char label[96];
        snprintf(label, sizeof label, "matmul fwd M %lld N %lld K %lld acc %d", (long long)M,
                 (long long)N, (long long)K, acc);
        bad += tu_compare(label, o[0], o[1], M * N, 1e-6 * (double)K + 1e-6, 1e-5);
        snprintf(label, sizeof label, "matmul bwd M %lld N %lld K %lld acc %d", (long long)M,
                 (long long)N, (long long)K, acc);
        bad += tu_compare(label, d[0], d[1], M * K, 1e-6 * (double)N + 1e-6, 1e-5);
    }
    for (int k = 0; k < 2; k++) {
        free(o[k]);
        free(d[k]);
    }
    free(x);
    free(w);
    free(dy);
    return bad;
}

static void test_many_rows(void **state) {
    (void)state;
    /* M from 16 runs the outer-product forward (CPU_OUTER_MIN_ROWS): 16 and 130 its edge
     * and a row tail; K 300 crosses its 256-column panels with a tail of 44 */
    const int64_t Ms[] = {9, 13, 16, 130}, Ns[] = {1, 7, 65, 300};
    const int64_t Ks[] = {1, 17, 64, 129, 300};
    int64_t bad = 0;
    for (size_t a = 0; a < sizeof Ms / sizeof Ms[0]; a++)
        for (size_t b = 0; b < sizeof Ns / sizeof Ns[0]; b++)
            for (size_t c = 0; c < sizeof Ks / sizeof Ks[0]; c++)
                bad += check_many_rows(Ms[a], Ns[b], Ks[c]);
    bad += check_many_rows(128, 1536, 576); /* a SmolLM2 layer's shape */
    assert_int_equal(bad, 0);
}

static void test_few_rows(void **state) {
    (void)state;
    const int64_t Ms[] = {1, 2, 3, 4, 5, 8}, Ns[] = {1, 3, 4, 7, 33}, Ks[] = {1, 15, 16, 17, 200};
    int64_t bad = 0;
    for (size_t a = 0; a < sizeof Ms / sizeof Ms[0]; a++)
        for (size_t b = 0; b < sizeof Ns / sizeof Ns[0]; b++)
            for (size_t c = 0; c < sizeof Ks / sizeof Ks[0]; c++)
                bad += check_few_rows(Ms[a], Ns[b], Ks[c]);
    bad += check_few_rows(4, 4099, 576); /* threaded, a tail block */
    assert_int_equal(bad, 0);
}

static void test_bf16(void **state) {
    (void)state;
    const int64_t Ms[] = {1, 3, 4, 5, 8, 130}, Ns[] = {1, 3, 4, 7, 33};
    const int64_t Ks[] = {1, 15, 16, 17, 65, 200};
    int64_t bad = 0;
    for (size_t a = 0; a < sizeof Ms / sizeof Ms[0]; a++)
        for (size_t b = 0; b < sizeof Ns / sizeof Ns[0]; b++)
            for (size_t c = 0; c < sizeof Ks / sizeof Ks[0]; c++)
                bad += check_bf16(Ms[a], Ns[b], Ks[c]);
    bad += check_bf16(4, 1376, 576); /* a real layer's shape, threaded */
    bad += check_bf16(130, 576, 1536);
    bad += check_bf16(17, 65, 300); /* the outer-product forward: row, column, panel tails */
    assert_int_equal(bad, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vocab),
        cmocka_unit_test(test_bf16),
        cmocka_unit_test(test_few_rows),
        cmocka_unit_test(test_many_rows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
