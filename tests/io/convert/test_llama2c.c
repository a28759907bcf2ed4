/* tests/io/convert/test_llama2c.c -- llama2.c checkpoints on synthetic files: tensor carving
 * (untied classifier included), the RoPE row permutation checked numerically (llama2.c's
 * interleaved rotation against HF's half rotation gives the same attention scores), and
 * truncated / foreign files refused with the file and the tensor named. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "io/convert/convert_util.h"
#include "io/convert/llama2c.h"
#include "io/model/model_config.h"
#include "io/model/safetensors.h"
#include "tests/testutil.h"

enum { D = 16, F = 24, L = 2, H = 4, KVH = 2, V = 10, S = 8, HD = D / H };

/* Tensor sizes in file order; element k of the file body holds the value k. */
static int64_t body_floats(int untied) {
    return (int64_t)V * D + L * D + L * D * D + 2 * L * KVH * HD * D + L * D * D + L * D +
           3 * L * F * D + D + 2 * S * HD / 2 + (untied ? V * D : 0);
}

static const char *write_l2c(const char *name, int untied, int64_t drop_floats) {
    const char *path = tu_path(tu_tmp_dir(), name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    int32_t h[7] = {D, F, L, H, KVH, untied ? -V : V, S};
    fwrite(h, sizeof h, 1, f);
    for (int64_t k = 0; k < body_floats(untied) - drop_floats; k++) {
        float v = (float)k;
        fwrite(&v, sizeof v, 1, f);
    }
    fclose(f);
    return path;
}

static void test_untied_layout(void **state) {
    Err err = {{0}};
    L2cModel *m = l2c_open(write_l2c("l2c_untied.bin", 1, 0), &err);
    if (m == NULL)
        printf("  %s\n", err.msg);
    assert_non_null(m);
    const L2cConfig *c = l2c_config(m);
    const L2cWeights *w = l2c_weights(m);
    assert_int_equal(c->vocab_size, V);
    assert_int_equal(c->shared_classifier, 0);
    assert_int_equal(c->head_dim, HD);
    assert_true(w->token_embedding[0] == 0.0f);
    assert_true(w->rms_att[0] == (float)(V * D));
    /* wcls sits after rms_final and both freq_cis tables */
    assert_true(w->wcls[0] == (float)(body_floats(1) - V * D));
    const char *dir = tu_path(tu_tmp_dir(), "l2c_untied_hf");
    mkdir(dir, 0777);
    assert_int_equal(l2c_write_safetensors(m, dir, &err), 0);
    assert_int_equal(l2c_write_configs(m, dir, &err), 0);
    StDir *sd = st_dir_open(dir, &err);
    assert_non_null(sd);
    StTensor t;
    int64_t vd[2] = {V, D};
    assert_int_equal(st_dir_get(sd, "lm_head.weight", 2, vd, &t, &err), 0);
    assert_memory_equal(t.data, w->wcls, sizeof(float) * V * D);
    st_dir_close(sd);
    ModelConfig cfg;
    assert_int_equal(cfg_load(dir, &cfg, &err), 0);
    assert_int_equal(cfg.tie_embeddings, 0);
    l2c_close(m);
}

/* llama2.c run.c: rotate pairs (2i, 2i+1) of each head by pos * theta^(-2i/HD). */
static void rope_interleaved(float *v, int n_heads, int pos) {
    for (int h = 0; h < n_heads; h++)
        for (int i = 0; i < HD / 2; i++) {
            double a = pos * pow(10000.0, -2.0 * i / HD), c = cos(a), s = sin(a);
            float *p = v + h * HD + 2 * i;
            float x = p[0], y = p[1];
            p[0] = (float)(x * c - y * s);
            p[1] = (float)(x * s + y * c);
        }
}

/* HF modeling_llama.py apply_rotary_pos_emb: pairs (i, i + HD/2) via rotate_half. */
static void rope_halves(float *v, int n_heads, int pos) {
    for (int h = 0; h < n_heads; h++)
        for (int i = 0; i < HD / 2; i++) {
            double a = pos * pow(10000.0, -2.0 * i / HD), c = cos(a), s = sin(a);
            float *p = v + h * HD;
            float x = p[i], y = p[i + HD / 2];
            p[i] = (float)(x * c - y * s);
            p[i + HD / 2] = (float)(y * c + x * s);
        }
}

static void matvec(const float *w, const float *x, float *y, int rows) {
    for (int r = 0; r < rows; r++) {
        double acc = 0;
        for (int k = 0; k < D; k++)
            acc += (double)w[r * D + k] * x[k];
        y[r] = (float)acc;
    }
}

static void test_permutation_preserves_attention(void **state) {
    float wq[H * HD * D], wk[H * HD * D], pq[H * HD * D], pk[H * HD * D], xq[D], xk[D];
    srand(7);
    for (int i = 0; i < H * HD * D; i++) {
        wq[i] = (float)rand() / RAND_MAX - 0.5f;
        wk[i] = (float)rand() / RAND_MAX - 0.5f;
    }
    for (int i = 0; i < D; i++) {
        xq[i] = (float)rand() / RAND_MAX - 0.5f;
        xk[i] = (float)rand() / RAND_MAX - 0.5f;
    }
    conv_rope_rows_to_halves(wq, pq, H, HD, D);
    conv_rope_rows_to_halves(wk, pk, H, HD, D);
    float q1[H * HD], k1[H * HD], q2[H * HD], k2[H * HD];
    matvec(wq, xq, q1, H * HD);
    matvec(wk, xk, k1, H * HD);
    matvec(pq, xq, q2, H * HD);
    matvec(pk, xk, k2, H * HD);
    rope_interleaved(q1, H, 5);
    rope_interleaved(k1, H, 2);
    rope_halves(q2, H, 5);
    rope_halves(k2, H, 2);
    float s1[H], s2[H];
    for (int h = 0; h < H; h++) {
        double a = 0, b = 0;
        for (int i = 0; i < HD; i++) {
            a += (double)q1[h * HD + i] * k1[h * HD + i];
            b += (double)q2[h * HD + i] * k2[h * HD + i];
        }
        s1[h] = (float)a;
        s2[h] = (float)b;
        for (int i = 0; i < HD / 2; i++) { /* the rotated vectors are the same, reordered */
            assert_true(fabsf(q2[h * HD + i] - q1[h * HD + 2 * i]) < 1e-5f);
            assert_true(fabsf(q2[h * HD + HD / 2 + i] - q1[h * HD + 2 * i + 1]) < 1e-5f);
        }
    }
    assert_int_equal(tu_compare("qk scores", s2, s1, H, 1e-5, 1e-5), 0);
}

static void expect_refused(const char *path, const char *needle) {
    Err err = {{0}};
    assert_null(l2c_open(path, &err));
    printf("  refused: %s\n", err.msg);
    assert_non_null(strstr(err.msg, path));
    assert_non_null(strstr(err.msg, needle));
}

static void test_bad_files(void **state) {
    expect_refused(write_l2c("l2c_cut_wcls.bin", 1, 3), "tensor wcls");
    const int64_t w2_at = (int64_t)V * D + L * D + L * D * D + 2 * L * KVH * HD * D +
                          L * D * D + L * D + L * F * D;
    expect_refused(write_l2c("l2c_cut_w2.bin", 0, body_floats(0) - (w2_at + 10)), "tensor w2");
    const char *extra = write_l2c("l2c_extra.bin", 0, -5);
    expect_refused(extra, "20 bytes after the last tensor");
    const char *magic = tu_path(tu_tmp_dir(), "l2c_v1.bin");
    FILE *f = fopen(magic, "wb");
    int32_t h[8] = {0x616b3432, 1, D, F, L, H, KVH, V};
    fwrite(h, sizeof h, 1, f);
    fclose(f);
    expect_refused(magic, "version 1");
    f = fopen(magic, "wb");
    int32_t bad[7] = {D, F, L, 3, KVH, V, S};
    fwrite(bad, sizeof bad, 1, f);
    fclose(f);
    expect_refused(magic, "n_heads 3");
    expect_refused(tu_path(tu_tmp_dir(), "l2c_missing.bin"), "cannot open");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_untied_layout),
        cmocka_unit_test(test_permutation_preserves_attention),
        cmocka_unit_test(test_bad_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
