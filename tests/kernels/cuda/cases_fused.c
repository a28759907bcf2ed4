/* tests/kernels/cuda/cases_fused.c -- test_ops_cuda cases for the fused ops
 * (add_rmsnorm_fwd, rmsnorm_bwd_res, rope_qk_fwd / rope_qk_bwd, swiglu_gu_*), CUDA
 * against CPU, run once per kernel family by main (fast: the fused kernels; simple: the
 * unfused ops they stand for; swiglu_gu_* has one kernel in both). Awkward sizes (D 1,
 * 4097, 8195; head dim 6; one kv head), the worker's aliasings (residual in place, norm
 * over its input), poisoned outputs, and Llama-3-8B sizes (T 2048, D 4096; H 32, KVH 8,
 * HD 128; F 14336) unless TLM_OPS_TEST_SIZES=small.
 * The CUDA residual is rounded to bf16 before its statistics (as add + rmsnorm_fwd
 * round it there), the CPU one is not: rstd is compared at TOL_BF16. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/kernels/cuda/harness.h"

static int add_norm_case(int64_t T, int64_t D) {
    const int64_t n = T * D;
    float *hres = h_rand(n, -2, 2), *hx = h_rand(n, -1, 1), *hw = h_rand(D, 0.5f, 1.5f);
    Dual res = dual_new(BUF_ELEM, n, hres), x = dual_new(BUF_ELEM, n, hx);
    Dual w = dual_new(BUF_ELEM, D, hw), ro = dual_new(BUF_ELEM, n, NULL);
    Dual out = dual_new(BUF_ELEM, n, NULL), rstd = dual_new(BUF_F32, T, NULL);
    dual_poison(&ro), dual_poison(&out), dual_poison(&rstd);
    char label[96];
    snprintf(label, sizeof label, "add_rmsnorm_fwd T=%lld D=%lld res_out", (long long)T,
             (long long)D);
    h_cpu->add_rmsnorm_fwd(ro.c, out.c, rstd.c, res.c, x.c, w.c, T, D, 1e-5f);
    h_gpu->add_rmsnorm_fwd(ro.g, out.g, rstd.g, res.g, x.g, w.g, T, D, 1e-5f);
    int fails = check(label, &ro, -1, TOL_BF16);
    fails += check("add_rmsnorm_fwd out", &out, -1, TOL_BF16);
    fails += check("add_rmsnorm_fwd rstd", &rstd, -1, TOL_BF16);
    /* in place: res_out = res, out = x (the inference residual stream) */
    dual_poison(&rstd);
    h_cpu->add_rmsnorm_fwd(res.c, x.c, rstd.c, res.c, x.c, w.c, T, D, 1e-5f);
    h_gpu->add_rmsnorm_fwd(res.g, x.g, rstd.g, res.g, x.g, w.g, T, D, 1e-5f);
    fails += check("add_rmsnorm_fwd in place: res", &res, -1, TOL_BF16);
    fails += check("add_rmsnorm_fwd in place: out over x", &x, -1, TOL_BF16);
    fails += check("add_rmsnorm_fwd in place: rstd", &rstd, -1, TOL_BF16);
    dual_free(&res), dual_free(&x), dual_free(&w), dual_free(&ro), dual_free(&out);
    dual_free(&rstd);
    free(hres), free(hx), free(hw);
    return fails;
}

/* dres fp32 accumulated, its bf16 copy overwritten (poisoned first), then NULL copy. */
static int bwd_res_case(int64_t T, int64_t D) {
    const int64_t n = T * D;
    float *hx = h_rand(n, -2, 2), *hw = h_rand(D, 0.5f, 1.5f), *hg = h_rand(n, -1, 1);
    float *hd = h_rand(n, -1, 1), *hr = malloc((size_t)T * sizeof(float));
    for (int64_t t = 0; t < T; t++)
        hr[t] = 0.5f + 0.25f * (float)(t % 5); /* any positive rstd: the op only uses it */
    Dual x = dual_new(BUF_ELEM, n, hx), w = dual_new(BUF_ELEM, D, hw);
    Dual g = dual_new(BUF_ELEM, n, hg), rstd = dual_new(BUF_F32, T, hr);
    Dual dres = dual_new(BUF_F32, n, hd), elem = dual_new(BUF_ELEM, n, NULL);
    dual_poison(&elem);
    char label[96];
    snprintf(label, sizeof label, "rmsnorm_bwd_res T=%lld D=%lld dres fp32 (accumulated)",
             (long long)T, (long long)D);
    h_cpu->rmsnorm_bwd_res(dres.c, elem.c, g.c, x.c, w.c, rstd.c, T, D);
    h_gpu->rmsnorm_bwd_res(dres.g, elem.g, g.g, x.g, w.g, rstd.g, T, D);
    int fails = check(label, &dres, -1, TOL_F32);
    fails += check("rmsnorm_bwd_res dres_elem", &elem, -1, TOL_BF16);
    h_cpu->rmsnorm_bwd_res(dres.c, NULL, g.c, x.c, w.c, rstd.c, T, D);
    h_gpu->rmsnorm_bwd_res(dres.g, NULL, g.g, x.g, w.g, rstd.g, T, D);
    fails += check("rmsnorm_bwd_res twice, no elem copy", &dres, -1, TOL_F32);
    dual_free(&x), dual_free(&w), dual_free(&g), dual_free(&rstd), dual_free(&dres);
    dual_free(&elem);
    free(hx), free(hw), free(hg), free(hd), free(hr);
    return fails;
}

static int rope_qk_case(int64_t T, int64_t H, int64_t KVH, int64_t HD, int64_t max_pos,
                        double theta) {
    const int64_t half = HD / 2, nq = T * H * HD, nk = T * KVH * HD;
    float *hcos = malloc((size_t)(max_pos * half) * sizeof(float));
    float *hsin = malloc((size_t)(max_pos * half) * sizeof(float));
    for (int64_t p = 0; p < max_pos; p++)
        for (int64_t i = 0; i < half; i++) {
            const double ang = (double)p * pow(theta, -2.0 * (double)i / (double)HD);
            hcos[p * half + i] = (float)cos(ang);
            hsin[p * half + i] = (float)sin(ang);
        }
    float *hq = h_rand(nq, -2, 2), *hk = h_rand(nk, -2, 2);
    int32_t *hpos = h_rand_ids(T, 0, (int32_t)max_pos);
    Dual q = dual_new(BUF_ELEM, nq, hq), k = dual_new(BUF_ELEM, nk, hk);
    Dual pos = dual_new(BUF_I32, T, hpos);
    Dual cs = dual_new(BUF_F32, max_pos * half, hcos), sn = dual_new(BUF_F32, max_pos * half, hsin);
    char label[96];
    snprintf(label, sizeof label, "rope_qk_fwd T=%lld H=%lld KVH=%lld HD=%lld q", (long long)T,
             (long long)H, (long long)KVH, (long long)HD);
    h_cpu->rope_qk_fwd(q.c, k.c, pos.c, cs.c, sn.c, T, H, KVH, HD);
    h_gpu->rope_qk_fwd(q.g, k.g, pos.g, cs.g, sn.g, T, H, KVH, HD);
    int fails = check(label, &q, -1, TOL_BF16);
    fails += check("rope_qk_fwd k", &k, -1, TOL_BF16);
    dual_set(&q, hq), dual_set(&k, hk);
    h_cpu->rope_qk_bwd(q.c, k.c, pos.c, cs.c, sn.c, T, H, KVH, HD);
    h_gpu->rope_qk_bwd(q.g, k.g, pos.g, cs.g, sn.g, T, H, KVH, HD);
    fails += check("rope_qk_bwd dq", &q, -1, TOL_BF16);
    fails += check("rope_qk_bwd dk", &k, -1, TOL_BF16);
    dual_free(&q), dual_free(&k), dual_free(&pos), dual_free(&cs), dual_free(&sn);
    free(hcos), free(hsin), free(hq), free(hk), free(hpos);
    return fails;
}

/* [gate | up] rows (T, 2F): out and dgu (poisoned first) against the CPU's. */
static int swiglu_gu_case(int64_t T, int64_t F) {
    float *hgu = h_rand(2 * T * F, -6, 6), *hd = h_rand(T * F, -1, 1);
    Dual gu = dual_new(BUF_ELEM, 2 * T * F, hgu), d = dual_new(BUF_ELEM, T * F, hd);
    Dual out = dual_new(BUF_ELEM, T * F, NULL), dgu = dual_new(BUF_ELEM, 2 * T * F, NULL);
    dual_poison(&out), dual_poison(&dgu);
    char label[96];
    snprintf(label, sizeof label, "swiglu_gu_fwd T=%lld F=%lld", (long long)T, (long long)F);
    h_cpu->swiglu_gu_fwd(out.c, gu.c, T, F);
    h_gpu->swiglu_gu_fwd(out.g, gu.g, T, F);
    int fails = check(label, &out, -1, TOL_BF16);
    h_cpu->swiglu_gu_bwd(dgu.c, d.c, gu.c, T, F);
    h_gpu->swiglu_gu_bwd(dgu.g, d.g, gu.g, T, F);
    fails += check("swiglu_gu_bwd dgu", &dgu, -1, TOL_BF16);
    dual_free(&gu), dual_free(&d), dual_free(&out), dual_free(&dgu);
    free(hgu), free(hd);
    return fails;
}

int cases_fused(void) {
    static const int64_t norm[][2] = {{1, 1}, {7, 4097}, {33, 64}, {3, 8195}};
    int fails = 0;
    for (int c = 0; c < 4; c++) {
        fails += add_norm_case(norm[c][0], norm[c][1]);
        fails += bwd_res_case(norm[c][0], norm[c][1]);
    }
    fails += rope_qk_case(1, 1, 1, 6, 64, 10000.0);
    fails += rope_qk_case(33, 5, 1, 16, 64, 10000.0);
    fails += rope_qk_case(7, 3, 3, 128, 64, 10000.0);
    fails += swiglu_gu_case(1, 1);
    fails += swiglu_gu_case(7, 4097);
    const char *sizes = getenv("TLM_OPS_TEST_SIZES");
    if (sizes != NULL && strcmp(sizes, "small") == 0) {
        printf("skip the fused ops at Llama-3-8B sizes (TLM_OPS_TEST_SIZES=small)\n");
        return fails;
    }
    fails += add_norm_case(2048, 4096);
    fails += bwd_res_case(2048, 4096);
    fails += rope_qk_case(2048, 32, 8, 128, 8192, 500000.0);
    fails += swiglu_gu_case(2048, 14336);
    return fails;
}
