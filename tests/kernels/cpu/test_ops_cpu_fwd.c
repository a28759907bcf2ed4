/* tests/kernels/cpu/test_ops_cpu_fwd.c -- every forward op of the CPU backend against the
 * naive double references of kref.c, on awkward sizes (1, 7, 33, 4097), several spans of
 * different lengths (one of length 1), GQA (H=4, KVH=2) and MHA (H=KVH), and decode-style
 * spans reading a KV cache (pos0 > 0, kv_start != q_start). Inputs are uniform in [-1, 1),
 * so fp32 results should agree to a few ulps of the operands' scale: atol 1e-5, rtol 1e-4
 * unless a comment says why more. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kernels/ops.h"
#include "tests/kernels/cpu/kref.h"
#include "tests/testutil.h"

/* tu_compare of fp32 results against a double reference; returns the mismatch count. */
static int64_t cmp(const char *label, const float *got, const double *want, int64_t n,
                   double atol, double rtol) {
    float *w = kto_float(want, n);
    int64_t bad = tu_compare(label, got, w, n, atol, rtol);
    free(w);
    return bad;
}

static void test_memory(void **state) {
    (void)state;
    const Ops *ops = ops_cpu();
    Err err;
    assert_int_equal(ops->elem, DTYPE_F32);
    float *buf = ops->alloc(4097 * sizeof(float), &err);
    assert_non_null(buf);
    assert_int_equal((uintptr_t)buf % 64, 0);
    for (int i = 0; i < 4097; i++)
        assert_true(buf[i] == 0.0f);
    /* upload widens F32, F16 and BF16; values exactly representable in each */
    float src[4097];
    uint16_t h16[4097], b16[4097];
    for (int i = 0; i < 4097; i++) {
        src[i] = (float)(i % 97 - 48) * 0.125f;
        h16[i] = f32_to_f16(src[i]);
        b16[i] = f32_to_bf16(src[i]);
    }
    float back[4097];
    const void *srcs[3] = {src, h16, b16};
    const DType types[3] = {DTYPE_F32, DTYPE_F16, DTYPE_BF16};
    for (int t = 0; t < 3; t++) {
        ops->zero(buf, 4097 * sizeof(float));
        ops->upload(buf, srcs[t], types[t], 4097);
        ops->download(back, buf, 4097);
        assert_int_equal(tu_compare(dtype_name(types[t]), back, src, 4097, 0, 0), 0);
    }
    float *buf2 = ops->alloc(4097 * sizeof(float), &err);
    assert_non_null(buf2);
    ops->copy(buf2, buf, 4097 * sizeof(float));
    ops->download_raw(back, buf2, 4097 * sizeof(float));
    assert_int_equal(tu_compare("copy", back, src, 4097, 0, 0), 0);
    ops->upload_raw(buf2, src, 7 * sizeof(float));
    ops->zero(buf2, 7 * sizeof(float));
    assert_true(buf2[0] == 0.0f && buf2[6] == 0.0f && buf2[7] == src[7]);
    ops->sync();
    ops->release(buf2);
    ops->release(buf);
    ops->release(NULL);
    /* an impossible size fails with a message instead of crashing */
    err_clear(&err);
    assert_null(ops->alloc((size_t)-1 - 8, &err));
    assert_true(strstr(err.msg, "cpu alloc") != NULL);
}

static void check_matmul(int64_t M, int64_t N, int64_t K, int with_bias, int accumulate,
                         KRng *rng) {
    const Ops *ops = ops_cpu();
    float *x = kalloc_f(M * K), *w = kalloc_f(N * K), *b = kalloc_f(N), *out = kalloc_f(M * N);
    float *dy = kalloc_f(M * N), *dx = kalloc_f(M * K);
    kfill(x, M * K, rng, -1, 1);
    kfill(w, N * K, rng, -1, 1);
    kfill(b, N, rng, -1, 1);
    kfill(out, M * N, rng, -1, 1);
    kfill(dy, M * N, rng, -1, 1);
    kfill(dx, M * K, rng, -1, 1);
    double *xd = kto_double(x, M * K), *wd = kto_double(w, N * K), *bd = kto_double(b, N);
    double *want = kalloc_d(M * N), *want_dx = kalloc_d(M * K);
    ref_matmul(want, xd, wd, with_bias ? bd : NULL, M, N, K);
    for (int64_t i = 0; accumulate && i < M * N; i++)
        want[i] += out[i];
    /* the backward product dx = dy w is the same reference with w transposed */
    for (int64_t m = 0; m < M; m++)
        for (int64_t k = 0; k < K; k++) {
            double s = accumulate ? dx[m * K + k] : 0.0;
            for (int64_t n = 0; n < N; n++)
                s += (double)dy[m * N + n] * wd[n * K + k];
            want_dx[m * K + k] = s;
        }
    ops->matmul_fwd(out, x, w, with_bias ? b : NULL, M, N, K, accumulate);
    ops->matmul_bwd(dx, dy, w, M, N, K, accumulate);
    /* sums of up to 4097 products of magnitude ~1: allow sqrt(K) ulps of the row scale */
    assert_int_equal(cmp("matmul_fwd", out, want, M * N, 2e-5, 1e-4), 0);
    assert_int_equal(cmp("matmul_bwd", dx, want_dx, M * K, 2e-5, 1e-4), 0);
    free(x), free(w), free(b), free(out), free(dy), free(dx);
    free(xd), free(wd), free(bd), free(want), free(want_dx);
}

static void test_matmul(void **state) {
    (void)state;
    KRng rng = {1};
    const int64_t sz[][3] = {{1, 1, 1}, {7, 33, 1}, {1, 7, 33}, {33, 7, 7}, {7, 4097, 33},
                             {3, 5, 4097}};
    for (size_t i = 0; i < sizeof sz / sizeof sz[0]; i++)
        for (int bias = 0; bias < 2; bias++)
            for (int acc = 0; acc < 2; acc++)
                check_matmul(sz[i][0], sz[i][1], sz[i][2], bias, acc, &rng);
}

static void test_lora_fwd(void **state) {
    (void)state;
    const Ops *ops = ops_cpu();
    KRng rng = {2};
    const int64_t sz[][4] = {{1, 1, 1, 1}, {7, 33, 9, 8}, {33, 7, 4097, 3}, {5, 4097, 7, 16}};
    for (size_t c = 0; c < sizeof sz / sizeof sz[0]; c++) {
        int64_t M = sz[c][0], N = sz[c][1], K = sz[c][2], R = sz[c][3];
        float *x = kalloc_f(M * K), *a = kalloc_f(R * K), *b = kalloc_f(N * R);
        float *y = kalloc_f(M * N), *h = kalloc_f(M * R);
        kfill(x, M * K, &rng, -1, 1);
        kfill(a, R * K, &rng, -1, 1);
        kfill(b, N * R, &rng, -1, 1);
        kfill(y, M * N, &rng, -1, 1);
        double *xd = kto_double(x, M * K), *ad = kto_double(a, R * K);
        double *bd = kto_double(b, N * R), *want = kto_double(y, M * N), *hw = kalloc_d(M * R);
        ref_lora(want, xd, ad, bd, 2.0, M, N, K, R);
        ref_matmul(hw, xd, ad, NULL, M, R, K);
        ops->lora_fwd(y, h, x, a, b, 2.0f, M, N, K, R);
        assert_int_equal(cmp("lora_fwd y", y, want, M * N, 1e-4, 1e-4), 0);
        assert_int_equal(cmp("lora_fwd h", h, hw, M * R, 1e-4, 1e-4), 0);
        free(x), free(a), free(b), free(y), free(h);
        free(xd), free(ad), free(bd), free(want), free(hw);
    }
}

static void test_rmsnorm_fwd(void **state) {
    (void)state;
    const Ops *ops = ops_cpu();
    KRng rng = {3};
    const int64_t sz[][2] = {{1, 1}, {7, 33}, {3, 4097}, {33, 7}};
    for (size_t c = 0; c < sizeof sz / sizeof sz[0]; c++) {
        int64_t T = sz[c][0], D = sz[c][1];
        float *x = kalloc_f(T * D), *w = kalloc_f(D), *out = kalloc_f(T * D), *rstd = kalloc_f(T);
        kfill(x, T * D, &rng, -1, 1);
        kfill(w, D, &rng, 0.5, 1.5);
        x[0] *= 100.0f; /* one large row value: the mean must not lose the rest */
        double *xd = kto_double(x, T * D), *wd = kto_double(w, D), *want = kalloc_d(T * D);
        ref_rmsnorm(want, xd, wd, T, D, 1e-5);
        ops->rmsnorm_fwd(out, rstd, x, w, T, D, 1e-5f);
        assert_int_equal(cmp("rmsnorm_fwd", out, want, T * D, 1e-5, 1e-5), 0);
        double *want_r = kalloc_d(T);
        for (int64_t t = 0; t < T; t++) {
            double ss = 0.0;
            for (int64_t i = 0; i < D; i++)
                ss += xd[t * D + i] * xd[t * D + i];
            want_r[t] = 1.0 / sqrt(ss / (double)D + 1e-5);
        }
        assert_int_equal(cmp("rmsnorm_fwd rstd", rstd, want_r, T, 0, 1e-6), 0);
        free(xd), free(want), free(want_r), free(wd);
        free(x), free(w), free(out), free(rstd);
    }
}

static void test_rope_fwd(void **state) {
    (void)state;
    const Ops *ops = ops_cpu();
    KRng rng = {4};
    enum { MAXP = 600 };
    const int64_t sz[][3] = {{1, 1, 2}, {7, 3, 8}, {33, 4, 64}, {5, 2, 128}};
    for (size_t c = 0; c < sizeof sz / sizeof sz[0]; c++) {
        int64_t T = sz[c][0], nh = sz[c][1], HD = sz[c][2], n = T * nh * HD;
        float *cos_t = kalloc_f(MAXP * HD / 2), *sin_t = kalloc_f(MAXP * HD / 2);
        ref_rope_tables(cos_t, sin_t, MAXP, HD, 10000.0);
        int32_t *pos = malloc((size_t)T * sizeof(int32_t));
        for (int64_t t = 0; t < T; t++)
            pos[t] = (int32_t)((t * 37 + 5) % MAXP); /* out of order, as packed spans are */
        float *x = kalloc_f(n), *x0 = kalloc_f(n);
        kfill(x, n, &rng, -1, 1);
        memcpy(x0, x, (size_t)n * sizeof(float));
        double *want = kto_double(x, n);
        ref_rope(want, pos, cos_t, sin_t, T, nh, HD);
        ops->rope_fwd(x, pos, cos_t, sin_t, T, nh, HD);
        assert_int_equal(cmp("rope_fwd", x, want, n, 1e-6, 1e-5), 0);
        /* rope_bwd is the inverse rotation: it must undo the forward */
        ops->rope_bwd(x, pos, cos_t, sin_t, T, nh, HD);
        assert_int_equal(tu_compare("rope_bwd(rope_fwd(x))", x, x0, n, 1e-6, 1e-5), 0);
        free(cos_t), free(sin_t), free(pos), free(x), free(x0), free(want);
    }
}

static void test_elementwise(void **state) {
    (void)state;
    const Ops *ops = ops_cpu();
    KRng rng = {5};
    const int64_t ns[] = {1, 7, 33, 4097, 70001};
    for (size_t c = 0; c < sizeof ns / sizeof ns[0]; c++) {
        int64_t n = ns[c];
        float *g = kalloc_f(n), *u = kalloc_f(n), *out = kalloc_f(n), *y = kalloc_f(n);
        kfill(g, n, &rng, -8, 8);
        kfill(u, n, &rng, -1, 1);
        kfill(y, n, &rng, -1, 1);
        g[0] = -100.0f; /* exp(-g) overflows: silu must be -0, not NaN */
        double *gd = kto_double(g, n), *ud = kto_double(u, n), *want = kalloc_d(n);
        ref_swiglu(want, gd, ud, n);
        ops->swiglu_fwd(out, g, u, n);
        assert_int_equal(cmp("swiglu_fwd", out, want, n, 1e-6, 1e-5), 0);
        for (int64_t i = 0; i < n; i++)
            want[i] = (double)y[i] + ud[i];
        ops->add(y, u, n);
        assert_int_equal(cmp("add", y, want, n, 0, 1e-7), 0);
        /* scale_rows: y as (M, n / M), row m times s[m]; the tail past M * N untouched */
        const int64_t M = n >= 7 ? 7 : 1, N = n / M;
        float s[7];
        kfill(s, M, &rng, -3, 3);
        for (int64_t i = 0; i < n; i++)
            want[i] = i < M * N ? (double)y[i] * s[i / N] : (double)y[i];
        ops->scale_rows(y, s, M, N);
        assert_int_equal(cmp("scale_rows", y, want, n, 0, 1e-7), 0);
        free(g), free(u), free(out), free(y), free(gd), free(ud), free(want);
    }
}

static void test_rows(void **state) {
    (void)state;
    const Ops *ops = ops_cpu();
    KRng rng = {6};
    enum { V = 33, D = 4097, T = 7 };
    float *table = kalloc_f(V * D), *out = kalloc_f(T * D), *back = kalloc_f(T * D);
    float *cache = kalloc_f(V * D);
    kfill(table, V * D, &rng, -1, 1);
    memset(cache, 0, sizeof(float) * V * D);
    const int32_t ids[T] = {5, 0, 32, 5, 17, 1, 31};
    const int32_t slots[T] = {3, 9, 0, 32, 1, 2, 30};
    ops->embed_fwd(out, ids, (Weight){table, WEIGHT_ELEM}, T, D, 0, V); /* the whole vocabulary */
    for (int t = 0; t < T; t++)
        assert_memory_equal(out + t * D, table + ids[t] * D, D * sizeof(float));
    ops->rows_scatter(cache, slots, out, T, D);
    for (int t = 0; t < T; t++)
        assert_memory_equal(cache + slots[t] * D, out + t * D, D * sizeof(float));
    ops->rows_gather(back, cache, slots, T, D);
    assert_memory_equal(back, out, sizeof(float) * T * D);
    free(table), free(out), free(back), free(cache);
}

/* Runs attn_fwd (with and without lse) on random q, k, v and compares with ref_attn. */
static void check_attn(const char *label, const SeqSpan *spans, int32_t n_spans, int64_t Tq,
                       int64_t kv_rows, int64_t H, int64_t KVH, int64_t HD, KRng *rng) {
    const Ops *ops = ops_cpu();
    int64_t nq = Tq * H * HD, nkv = kv_rows * KVH * HD;
    float *q = kalloc_f(nq), *k = kalloc_f(nkv), *v = kalloc_f(nkv);
    float *out = kalloc_f(nq), *out2 = kalloc_f(nq), *lse = kalloc_f(Tq * H);
    kfill(q, nq, rng, -2, 2); /* scores up to ~4 sqrt(HD): a peaked softmax */
    kfill(k, nkv, rng, -2, 2);
    kfill(v, nkv, rng, -1, 1);
    double *qd = kto_double(q, nq), *kd = kto_double(k, nkv), *vd = kto_double(v, nkv);
    double *want = kalloc_d(nq), *want_lse = kalloc_d(Tq * H);
    ref_attn(want, want_lse, qd, kd, vd, spans, n_spans, H, KVH, HD);
    ops->attn_fwd(out, lse, q, k, v, spans, n_spans, Tq, H, KVH, HD);
    ops->attn_fwd(out2, NULL, q, k, v, spans, n_spans, Tq, H, KVH, HD);
    printf("attn %s: Tq %lld H %lld KVH %lld HD %lld\n", label, (long long)Tq, (long long)H,
           (long long)KVH, (long long)HD);
    assert_int_equal(cmp("attn_fwd out", out, want, nq, 1e-5, 1e-4), 0);
    assert_int_equal(cmp("attn_fwd lse", lse, want_lse, Tq * H, 1e-5, 1e-5), 0);
    assert_memory_equal(out, out2, sizeof(float) * (size_t)nq);
    free(q), free(k), free(v), free(out), free(out2), free(lse);
    free(qd), free(kd), free(vd), free(want), free(want_lse);
}

static void test_attn_fwd(void **state) {
    (void)state;
    KRng rng = {7};
    /* a packed training batch: spans of 7, 1, 0 and 33 tokens (k/v packed like q) */
    const SeqSpan packed[] = {{0, 7, 0, 0}, {7, 1, 0, 7}, {8, 0, 0, 8}, {8, 33, 0, 8}};
    check_attn("packed GQA", packed, 4, 41, 41, 4, 2, 16, &rng);
    check_attn("packed MHA", packed, 4, 41, 41, 4, 4, 8, &rng);
    check_attn("packed H=KVH=1 HD=1", packed, 4, 41, 41, 1, 1, 1, &rng);
    /* decoding out of a KV cache with slots of 128 rows: one new token after 40 cached,
     * a 2-token chunk after 5, and a fresh 1-token prompt; q rows are packed */
    const SeqSpan decode[] = {{0, 1, 40, 128}, {1, 2, 5, 0}, {3, 1, 0, 256}};
    check_attn("decode GQA", decode, 3, 4, 384, 4, 2, 16, &rng);
    check_attn("decode MHA", decode, 3, 4, 384, 2, 2, 64, &rng);
    /* a long prompt crossing many key tiles, Llama head size, 4 heads per kv head */
    const SeqSpan longs[] = {{0, 300, 0, 0}, {300, 97, 0, 300}};
    check_attn("long HD=128", longs, 2, 397, 397, 8, 2, 128, &rng);
}

static void test_xent_argmax(void **state) {
    (void)state;
    const Ops *ops = ops_cpu();
    KRng rng = {8};
    const int64_t sz[][2] = {{1, 1}, {7, 33}, {5, 4097}, {2, 70001}};
    for (size_t c = 0; c < sizeof sz / sizeof sz[0]; c++) {
        int64_t T = sz[c][0], V = sz[c][1];
        float *lg = kalloc_f(T * V), *loss = kalloc_f(T), *lse = kalloc_f(T);
        float *tgt = kalloc_f(T), *val = kalloc_f(T);
        int32_t *tg = malloc((size_t)T * sizeof(int32_t)), *ids = malloc((size_t)T * 4);
        kfill(lg, T * V, &rng, -10, 10);
        for (int64_t t = 0; t < T; t++)
            tg[t] = (t % 3 == 2) ? -100 : (int32_t)((t * 7919) % V); /* -100: HF ignore */
        double *lgd = kto_double(lg, T * V), *want = kalloc_d(T), *want_lse = kalloc_d(T);
        ref_xent(want, want_lse, lgd, tg, T, V);
        ops->xent_fwd(lse, tgt, lg, tg, T, V, 0); /* the whole vocabulary */
        for (int64_t t = 0; t < T; t++) /* the loss the statistics give (ops_list.h) */
            loss[t] = tg[t] >= 0 ? lse[t] - tgt[t] : 0.0f;
        assert_int_equal(cmp("xent_fwd loss", loss, want, T, 1e-5, 1e-5), 0);
        assert_int_equal(cmp("xent_fwd lse", lse, want_lse, T, 1e-5, 1e-6), 0);
        /* argmax: a tie between two maxima resolves to the lower index */
        for (int64_t t = 0; t < T; t++) {
            int64_t i1 = (t * 13) % V, i2 = (t * 13 + 5) % V;
            lg[t * V + i1] = 50.0f;
            lg[t * V + i2] = 50.0f;
        }
        ops->argmax(val, ids, lg, T, V, 0);
        for (int64_t t = 0; t < T; t++) {
            int64_t i1 = (t * 13) % V, i2 = (t * 13 + 5) % V;
            assert_int_equal(ids[t], i1 < i2 ? i1 : i2);
            assert_true(val[t] == 50.0f);
        }
        free(lg), free(loss), free(lse), free(tgt), free(val), free(tg), free(ids), free(lgd),
            free(want), free(want_lse);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_memory),      cmocka_unit_test(test_matmul),
        cmocka_unit_test(test_lora_fwd),    cmocka_unit_test(test_rmsnorm_fwd),
        cmocka_unit_test(test_rope_fwd),    cmocka_unit_test(test_elementwise),
        cmocka_unit_test(test_rows),        cmocka_unit_test(test_attn_fwd),
        cmocka_unit_test(test_xent_argmax),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
