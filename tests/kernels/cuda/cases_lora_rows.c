/* tests/kernels/cuda/cases_lora_rows.c -- the multi-adapter LoRA ops (lora_rows_fwd /
 * lora_rows_bwd, kernels/cuda/lora_rows.cu) against the CPU reference
 * (kernels/cpu/lora_rows.c, itself checked against lora_fwd one adapter at a time by
 * test_ops_cpu_lora_rows): rows interleaving 3 adapters of 4 (one unused), with and
 * without dx. */
#include <stdio.h>
#include <stdlib.h>

#include "tests/kernels/cuda/harness.h"

int cases_lora_rows(void) {
    static const int64_t cfg[][4] = {/* M, N, K, R */
                                     {1, 1, 1, 1}, {33, 576, 65, 8}, {40, 33, 1024, 16}};
    const int32_t n_ad = 4;
    const float scale = 2.0f;
    int fails = 0;
    for (int c = 0; c < 3; c++) {
        const int64_t M = cfg[c][0], N = cfg[c][1], K = cfg[c][2], R = cfg[c][3];
        const int with_dx = c != 2;
        int32_t *had = h_rand_ids(M, 0, n_ad - 1);
        float *hx = h_rand(M * K, -1, 1), *ha = h_rand(n_ad * R * K, -0.5f, 0.5f);
        float *hb = h_rand(n_ad * N * R, -0.5f, 0.5f), *hy = h_rand(M * N, -1, 1);
        float *hdy = h_rand(M * N, -1, 1), *hda = h_rand(n_ad * R * K, -1, 1);
        float *hdb = h_rand(n_ad * N * R, -1, 1), *hdx = h_rand(M * K, -1, 1);
        Dual ad = dual_new(BUF_I32, M, had), x = dual_new(BUF_ELEM, M * K, hx);
        Dual a = dual_new(BUF_F32, n_ad * R * K, ha), b = dual_new(BUF_F32, n_ad * N * R, hb);
        Dual y = dual_new(BUF_ELEM, M * N, hy), h = dual_new(BUF_F32, M * R, NULL);
        Dual dy = dual_new(BUF_ELEM, M * N, hdy), da = dual_new(BUF_F32, n_ad * R * K, hda);
        Dual db = dual_new(BUF_F32, n_ad * N * R, hdb), dx = dual_new(BUF_ELEM, M * K, hdx);
        Dual dh = dual_new(BUF_F32, M * R, NULL);
        char label[96];
        h_cpu->lora_rows_fwd(y.c, h.c, x.c, a.c, b.c, ad.c, n_ad, scale, M, N, K, R);
        h_gpu->lora_rows_fwd(y.g, h.g, x.g, a.g, b.g, ad.g, n_ad, scale, M, N, K, R);
        snprintf(label, sizeof label, "lora_rows_fwd h M=%lld N=%lld K=%lld R=%lld",
                 (long long)M, (long long)N, (long long)K, (long long)R);
        fails += check(label, &h, -1, TOL_F32);
        fails += check("lora_rows_fwd y", &y, -1, TOL_BF16);
        h_cpu->lora_rows_bwd(da.c, db.c, with_dx ? dx.c : NULL, dh.c, dy.c, x.c, h.c, a.c, b.c,
                             ad.c, n_ad, scale, M, N, K, R);
        h_gpu->lora_rows_bwd(da.g, db.g, with_dx ? dx.g : NULL, dh.g, dy.g, x.g, h.g, a.g, b.g,
                             ad.g, n_ad, scale, M, N, K, R);
        fails += check("lora_rows_bwd dh", &dh, -1, TOL_F32);
        fails += check("lora_rows_bwd da", &da, -1, TOL_F32);
        fails += check("lora_rows_bwd db", &db, -1, TOL_F32);
        fails += check(with_dx ? "lora_rows_bwd dx" : "lora_rows_bwd dx untouched (NULL)", &dx,
                       -1, with_dx ? TOL_BF16 : TOL_EXACT);
        dual_free(&ad), dual_free(&x), dual_free(&a), dual_free(&b), dual_free(&y);
        dual_free(&h), dual_free(&dy), dual_free(&da), dual_free(&db), dual_free(&dx);
        dual_free(&dh);
        free(had), free(hx), free(ha), free(hb), free(hy), free(hdy), free(hda), free(hdb);
        free(hdx);
    }
    return fails;
}
