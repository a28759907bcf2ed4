/* tests/kernels/cuda/cases_llama.c -- test_ops_cuda cases at Llama-3-8B's sizes (T 2048,
 * D 4096, F 14336, H 32 x HD 128, V 128256) for the dense ops the awkward sizes of
 * cases_dense.c cover small: gate_proj forward and input gradient, RMSNorm, RoPE at
 * positions up to 8191, SwiGLU, cross-entropy and argmax over the whole vocabulary.
 * Outputs start poisoned (NaN) where the op overwrites. Skipped under
 * TLM_OPS_TEST_SIZES=small (the sanitizer runs). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/kernels/cuda/harness.h"

#define L_T 2048
#define L_D 4096
#define L_F 14336
#define L_H 32
#define L_HD 128
#define L_V 128256
#define L_MAX_POS 8192

/* gate_proj: y (T,F) = x (T,D) W^T (F,D); dx (T,D) = dy W. */
static int llama_matmul(void) {
    const int64_t M = L_T, N = L_F, K = L_D;
    float *hx = h_rand(M * K, -1, 1), *hw = h_rand(N * K, -0.05f, 0.05f);
    float *hdy = h_rand(M * N, -1, 1);
    Dual x = dual_new(BUF_ELEM, M * K, hx), w = dual_new(BUF_ELEM, N * K, hw);
    Dual y = dual_new(BUF_ELEM, M * N, NULL), dy = dual_new(BUF_ELEM, M * N, hdy);
    Dual dx = dual_new(BUF_ELEM, M * K, NULL);
    dual_poison(&y), dual_poison(&dx);
    h_cpu->matmul_fwd(y.c, x.c, w.c, NULL, M, N, K, 0);
    h_gpu->matmul_fwd(y.g, x.g, w.g, NULL, M, N, K, 0);
    int fails = check("matmul_fwd gate_proj T 2048 D 4096 -> F 14336", &y, -1, TOL_BF16);
    h_cpu->matmul_bwd(dx.c, dy.c, w.c, M, N, K, 0);
    h_gpu->matmul_bwd(dx.g, dy.g, w.g, M, N, K, 0);
    fails += check("matmul_bwd gate_proj dx", &dx, -1, TOL_BF16);
    dual_free(&x), dual_free(&w), dual_free(&y), dual_free(&dy), dual_free(&dx);
    free(hx), free(hw), free(hdy);
    return fails;
}

static int llama_norm_swiglu(void) {
    const int64_t T = L_T, D = L_D, n = (int64_t)L_T * L_F;
    float *hx = h_rand(T * D, -2, 2), *hw = h_rand(D, 0.5f, 1.5f), *hg = h_rand(T * D, -1, 1);
    Dual x = dual_new(BUF_ELEM, T * D, hx), w = dual_new(BUF_ELEM, D, hw);
    Dual out = dual_new(BUF_ELEM, T * D, NULL), rstd = dual_new(BUF_F32, T, NULL);
    Dual g = dual_new(BUF_ELEM, T * D, hg), dx = dual_new(BUF_ELEM, T * D, hg);
    dual_poison(&out), dual_poison(&rstd);
    h_cpu->rmsnorm_fwd(out.c, rstd.c, x.c, w.c, T, D, 1e-5f);
    h_gpu->rmsnorm_fwd(out.g, rstd.g, x.g, w.g, T, D, 1e-5f);
    int fails = check("rmsnorm_fwd T 2048 D 4096", &out, -1, TOL_BF16);
    fails += check("rmsnorm_fwd rstd", &rstd, -1, TOL_F32);
    h_cpu->rmsnorm_bwd(dx.c, g.c, x.c, w.c, rstd.c, T, D);
    h_gpu->rmsnorm_bwd(dx.g, g.g, x.g, w.g, rstd.g, T, D);
    fails += check("rmsnorm_bwd dx (accumulated)", &dx, -1, TOL_BF16);
    dual_free(&x), dual_free(&w), dual_free(&out), dual_free(&rstd), dual_free(&g);
    dual_free(&dx);
    free(hx), free(hw), free(hg);

    float *hgate = h_rand(n, -6, 6), *hup = h_rand(n, -2, 2), *hd = h_rand(n, -1, 1);
    Dual ga = dual_new(BUF_ELEM, n, hgate), up = dual_new(BUF_ELEM, n, hup);
    Dual d = dual_new(BUF_ELEM, n, hd), act = dual_new(BUF_ELEM, n, NULL);
    Dual dg = dual_new(BUF_ELEM, n, NULL), du = dual_new(BUF_ELEM, n, NULL);
    dual_poison(&act), dual_poison(&dg), dual_poison(&du);
    h_cpu->swiglu_fwd(act.c, ga.c, up.c, n);
    h_gpu->swiglu_fwd(act.g, ga.g, up.g, n);
    fails += check("swiglu_fwd T 2048 x F 14336", &act, -1, TOL_BF16);
    h_cpu->swiglu_bwd(dg.c, du.c, d.c, ga.c, up.c, n);
    h_gpu->swiglu_bwd(dg.g, du.g, d.g, ga.g, up.g, n);
    fails += check("swiglu_bwd dgate", &dg, -1, TOL_BF16);
    fails += check("swiglu_bwd dup", &du, -1, TOL_BF16);
    dual_free(&ga), dual_free(&up), dual_free(&d), dual_free(&act), dual_free(&dg);
    dual_free(&du);
    free(hgate), free(hup), free(hd);
    return fails;
}

/* q of T 2048 rows at positions drawn from the whole table (rope_theta 500000). */
static int llama_rope(void) {
    const int64_t T = L_T, nh = L_H, HD = L_HD, half = HD / 2;
    float *hcos = malloc((size_t)(L_MAX_POS * half) * sizeof(float));
    float *hsin = malloc((size_t)(L_MAX_POS * half) * sizeof(float));
    for (int64_t p = 0; p < L_MAX_POS; p++)
        for (int64_t i = 0; i < half; i++) {
            const double ang = (double)p * pow(500000.0, -2.0 * (double)i / (double)HD);
            hcos[p * half + i] = (float)cos(ang);
            hsin[p * half + i] = (float)sin(ang);
        }
    float *hx = h_rand(T * nh * HD, -2, 2);
    int32_t *hpos = h_rand_ids(T, 0, L_MAX_POS);
    Dual x = dual_new(BUF_ELEM, T * nh * HD, hx), pos = dual_new(BUF_I32, T, hpos);
    Dual cs = dual_new(BUF_F32, L_MAX_POS * half, hcos);
    Dual sn = dual_new(BUF_F32, L_MAX_POS * half, hsin);
    h_cpu->rope_fwd(x.c, pos.c, cs.c, sn.c, T, nh, HD);
    h_gpu->rope_fwd(x.g, pos.g, cs.g, sn.g, T, nh, HD);
    int fails = check("rope_fwd T 2048 H 32 HD 128, pos < 8192", &x, -1, TOL_BF16);
    dual_set(&x, hx);
    h_cpu->rope_bwd(x.c, pos.c, cs.c, sn.c, T, nh, HD);
    h_gpu->rope_bwd(x.g, pos.g, cs.g, sn.g, T, nh, HD);
    fails += check("rope_bwd", &x, -1, TOL_BF16);
    dual_free(&x), dual_free(&pos), dual_free(&cs), dual_free(&sn);
    free(hcos), free(hsin), free(hx), free(hpos);
    return fails;
}

/* 64 rows of logits over the whole vocabulary: loss statistics, their gradient, argmax. */
static int llama_vocab(void) {
    const int64_t T = 64, V = L_V;
    float *hl = h_rand(T * V, -8, 8), *hdl = malloc((size_t)T * sizeof(float));
    int32_t *ht = h_rand_ids(T, 0, (int32_t)V);
    for (int64_t t = 0; t < T; t++)
        hdl[t] = 1.0f / (float)T;
    ht[5] = -1; /* an ignored row */
    Dual lg = dual_new(BUF_ELEM, T * V, hl), tg = dual_new(BUF_I32, T, ht);
    Dual lse = dual_new(BUF_F32, T, NULL), tl = dual_new(BUF_F32, T, NULL);
    Dual dl = dual_new(BUF_F32, T, hdl), ids = dual_new(BUF_I32, T, NULL);
    Dual val = dual_new(BUF_F32, T, NULL);
    dual_poison(&lse), dual_poison(&tl), dual_poison(&ids), dual_poison(&val);
    h_cpu->xent_fwd(lse.c, tl.c, lg.c, tg.c, T, V, 0);
    h_gpu->xent_fwd(lse.g, tl.g, lg.g, tg.g, T, V, 0);
    int fails = check("xent_fwd lse T 64 V 128256", &lse, -1, TOL_F32);
    fails += check("xent_fwd target logit", &tl, -1, TOL_EXACT);
    h_cpu->argmax(val.c, ids.c, lg.c, T, V, 0);
    h_gpu->argmax(val.g, ids.g, lg.g, T, V, 0);
    fails += check("argmax V 128256", &ids, -1, TOL_EXACT);
    fails += check("argmax values", &val, -1, TOL_EXACT);
    h_cpu->xent_bwd(lg.c, lg.c, lse.c, tg.c, dl.c, T, V, 0);
    h_gpu->xent_bwd(lg.g, lg.g, lse.g, tg.g, dl.g, T, V, 0);
    fails += check("xent_bwd dlogits (in place)", &lg, -1, TOL_BF16);
    dual_free(&lg), dual_free(&tg), dual_free(&lse), dual_free(&tl), dual_free(&dl);
    dual_free(&ids), dual_free(&val);
    free(hl), free(hdl), free(ht);
    return fails;
}

int cases_llama_dense(void) {
    const char *sizes = getenv("TLM_OPS_TEST_SIZES");
    if (sizes != NULL && strcmp(sizes, "small") == 0) {
        printf("skip the dense ops at Llama-3-8B sizes (TLM_OPS_TEST_SIZES=small)\n");
        return 0;
    }
    return llama_matmul() + llama_norm_swiglu() + llama_rope() + llama_vocab();
}
