/* tests/kernels/cuda/cases_dense.c -- test_ops_cuda cases for memory, matmul, LoRA, RMSNorm,
 * RoPE and the elementwise ops: CUDA against CPU on awkward sizes (1, 7, 33, 4097, rank 9
 * across the 8-wide rank chunks, head dim 6). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/kernels/cuda/harness.h"
#include "tests/testutil.h"

/* mem_info is cudaMemGetInfo: 0 < free <= total, and a 256 MiB cudaMalloc (alloc) takes
 * at least 255 MiB of the free memory until it is released (other processes on a shared
 * GPU may move it too, hence the 1 MiB slack and the 2 MiB granularity of the driver). */
static int case_mem_info(void) {
    Err err;
    size_t free0 = 0, total = 0, free1 = 0, t1 = 0;
    if (h_gpu->mem_info(&free0, &total, &err) != 0)
        return tu_fail("mem_info: %s", err.msg);
    int fails = tu_check(free0 > 0 && free0 <= total, "mem_info: free %zu, total %zu", free0,
                         total);
    const size_t n_bytes = (size_t)256 << 20;
    void *d = h_gpu->alloc(n_bytes, &err);
    if (d == NULL)
        return fails + tu_fail("alloc of 256 MiB: %s", err.msg);
    if (h_gpu->mem_info(&free1, &t1, &err) != 0)
        fails += tu_fail("mem_info after alloc: %s", err.msg);
    else
        fails += tu_check(t1 == total && free1 + n_bytes - ((size_t)1 << 20) <= free0,
                          "mem_info: free %zu before a 256 MiB alloc, %zu after", free0, free1);
    h_gpu->release(d);
    printf("%-4s mem_info: %.2f GiB free of %.2f GiB, %.1f MiB less after a 256 MiB alloc\n",
           fails == 0 ? "ok" : "FAIL", (double)free0 / (1 << 30), (double)total / (1 << 30),
           ((double)free0 - (double)free1) / (1 << 20));
    return fails;
}

/* Upload of each host dtype must equal host-side round-to-nearest-even to bf16. */
int cases_memory(void) {
    int fails = 0;
    const int64_t sizes[] = {1, 7, 4097};
    for (int s = 0; s < 3; s++) {
        const int64_t n = sizes[s];
        float *src = malloc((size_t)n * sizeof *src), *want = malloc((size_t)n * sizeof *want);
        uint16_t *h16 = malloc((size_t)n * 2), *b16 = malloc((size_t)n * 2);
        for (int64_t i = 0; i < n; i++) {
            src[i] = h_uniform(-300.0f, 300.0f); /* not bf16-representable */
            want[i] = bf16_to_f32(f32_to_bf16(src[i]));
            h16[i] = f32_to_f16(src[i]);
            b16[i] = f32_to_bf16(src[i]);
        }
        Err err;
        void *d = h_gpu->alloc((size_t)n * 2, &err);
        float *got = malloc((size_t)n * sizeof *got);
        char label[64];
        h_gpu->upload(d, src, DTYPE_F32, n);
        h_gpu->download(got, d, n);
        snprintf(label, sizeof label, "upload F32->bf16 n=%lld", (long long)n);
        fails += check_host(label, got, want, n, TOL_EXACT);
        h_gpu->upload(d, b16, DTYPE_BF16, n);
        h_gpu->download(got, d, n);
        snprintf(label, sizeof label, "upload BF16 n=%lld", (long long)n);
        fails += check_host(label, got, want, n, TOL_EXACT);
        for (int64_t i = 0; i < n; i++)
            want[i] = bf16_to_f32(f32_to_bf16(f16_to_f32(h16[i])));
        h_gpu->upload(d, h16, DTYPE_F16, n);
        h_gpu->download(got, d, n);
        snprintf(label, sizeof label, "upload F16->bf16 n=%lld", (long long)n);
        fails += check_host(label, got, want, n, TOL_EXACT);
        /* copy, then zero the source: the copy must keep the values. */
        void *d2 = h_gpu->alloc((size_t)n * 2, &err);
        h_gpu->copy(d2, d, (size_t)n * 2);
        h_gpu->zero(d, (size_t)n * 2);
        h_gpu->download(got, d2, n);
        fails += check_host("copy", got, want, n, TOL_EXACT);
        h_gpu->download(got, d, n);
        for (int64_t i = 0; i < n; i++)
            want[i] = 0.0f;
        fails += check_host("zero", got, want, n, TOL_EXACT);
        /* raw round trip of fp32 bits */
        void *d4 = h_gpu->alloc((size_t)n * 4, &err);
        h_gpu->upload_raw(d4, src, (size_t)n * 4);
        h_gpu->download_raw(got, d4, (size_t)n * 4);
        fails += check_host("upload_raw/download_raw", got, src, n, TOL_EXACT);
        h_gpu->release(d4);
        h_gpu->release(d2);
        h_gpu->release(d);
        free(src), free(want), free(h16), free(b16), free(got);
    }
    h_gpu->release(NULL);
    return fails + case_mem_info();
}

int cases_matmul(void) {
    static const int64_t cfg[][5] = {/* M, N, K, bias, accumulate */
                                     {1, 1, 1, 0, 0},     {7, 33, 4097, 1, 0},
                                     {33, 4097, 65, 0, 1}, {129, 96, 256, 1, 1}};
    int fails = 0;
    for (int c = 0; c < 4; c++) {
        const int64_t M = cfg[c][0], N = cfg[c][1], K = cfg[c][2];
        const int has_bias = (int)cfg[c][3], acc = (int)cfg[c][4];
        float *hx = h_rand(M * K, -1, 1), *hw = h_rand(N * K, -1, 1), *hb = h_rand(N, -1, 1);
        float *hy = h_rand(M * N, -1, 1), *hdx = h_rand(M * K, -1, 1);
        Dual x = dual_new(BUF_ELEM, M * K, hx), w = dual_new(BUF_ELEM, N * K, hw);
        Dual b = dual_new(BUF_ELEM, N, hb), y = dual_new(BUF_ELEM, M * N, hy);
        Dual dx = dual_new(BUF_ELEM, M * K, hdx);
        h_cpu->matmul_fwd(y.c, x.c, w.c, has_bias ? b.c : NULL, M, N, K, acc);
        h_gpu->matmul_fwd(y.g, x.g, w.g, has_bias ? b.g : NULL, M, N, K, acc);
        char label[96];
        snprintf(label, sizeof label, "matmul_fwd M=%lld N=%lld K=%lld bias=%d acc=%d",
                 (long long)M, (long long)N, (long long)K, has_bias, acc);
        fails += check(label, &y, -1, TOL_BF16);
        /* dy = the random initial y */
        Dual dy = dual_new(BUF_ELEM, M * N, hy);
        h_cpu->matmul_bwd(dx.c, dy.c, w.c, M, N, K, acc);
        h_gpu->matmul_bwd(dx.g, dy.g, w.g, M, N, K, acc);
        snprintf(label, sizeof label, "matmul_bwd M=%lld N=%lld K=%lld acc=%d", (long long)M,
                 (long long)N, (long long)K, acc);
        fails += check(label, &dx, -1, TOL_BF16);
        dual_free(&x), dual_free(&w), dual_free(&b), dual_free(&y), dual_free(&dx);
        dual_free(&dy);
        free(hx), free(hw), free(hb), free(hy), free(hdx);
    }
    return fails;
}

int cases_lora(void) {
    static const int64_t cfg[][4] = {/* M, N, K, R */
                                     {1, 1, 1, 1}, {33, 4097, 65, 8}, {7, 33, 4097, 16},
                                     {100, 64, 48, 9},
                                     {2048, 1024, 4096, 8}}; /* Llama-3-8B's v_proj, T 2048 */
    const float scale = 2.0f;
    const char *sizes = getenv("TLM_OPS_TEST_SIZES");
    const int n_cfg = sizes != NULL && strcmp(sizes, "small") == 0 ? 4 : 5;
    int fails = 0;
    for (int c = 0; c < n_cfg; c++) {
        const int64_t M = cfg[c][0], N = cfg[c][1], K = cfg[c][2], R = cfg[c][3];
        const int with_dx = c != 3; /* the last case passes dx = NULL */
        float *hx = h_rand(M * K, -1, 1), *ha = h_rand(R * K, -0.5f, 0.5f);
        float *hb = h_rand(N * R, -0.5f, 0.5f), *hy = h_rand(M * N, -1, 1);
        float *hdy = h_rand(M * N, -1, 1), *hda = h_rand(R * K, -1, 1);
        float *hdb = h_rand(N * R, -1, 1), *hdx = h_rand(M * K, -1, 1);
        Dual x = dual_new(BUF_ELEM, M * K, hx), a = dual_new(BUF_F32, R * K, ha);
        Dual b = dual_new(BUF_F32, N * R, hb), y = dual_new(BUF_ELEM, M * N, hy);
        Dual h = dual_new(BUF_F32, M * R, NULL), dy = dual_new(BUF_ELEM, M * N, hdy);
        Dual da = dual_new(BUF_F32, R * K, hda), db = dual_new(BUF_F32, N * R, hdb);
        Dual dx = dual_new(BUF_ELEM, M * K, hdx), dh = dual_new(BUF_F32, M * R, NULL);
        char label[96];
        h_cpu->lora_fwd(y.c, h.c, x.c, a.c, b.c, scale, M, N, K, R);
        h_gpu->lora_fwd(y.g, h.g, x.g, a.g, b.g, scale, M, N, K, R);
        snprintf(label, sizeof label, "lora_fwd h M=%lld N=%lld K=%lld R=%lld", (long long)M,
                 (long long)N, (long long)K, (long long)R);
        fails += check(label, &h, -1, TOL_F32);
        fails += check("lora_fwd y", &y, -1, TOL_BF16);
        h_cpu->lora_bwd(da.c, db.c, with_dx ? dx.c : NULL, dh.c, dy.c, x.c, h.c, a.c, b.c,
                        scale, M, N, K, R);
        h_gpu->lora_bwd(da.g, db.g, with_dx ? dx.g : NULL, dh.g, dy.g, x.g, h.g, a.g, b.g,
                        scale, M, N, K, R);
        fails += check("lora_bwd dh", &dh, -1, TOL_F32);
        fails += check("lora_bwd da", &da, -1, TOL_F32);
        fails += check("lora_bwd db", &db, -1, TOL_F32);
        fails += check(with_dx ? "lora_bwd dx" : "lora_bwd dx untouched (NULL)", &dx, -1,
                       with_dx ? TOL_BF16 : TOL_EXACT);
        dual_free(&x), dual_free(&a), dual_free(&b), dual_free(&y), dual_free(&h);
        dual_free(&dy), dual_free(&da), dual_free(&db), dual_free(&dx), dual_free(&dh);
        free(hx), free(ha), free(hb), free(hy), free(hdy), free(hda), free(hdb), free(hdx);
    }
    return fails;
}

static int rope_case(int64_t T, int64_t nh, int64_t HD) {
    const int64_t max_pos = 64, half = HD / 2;
    float *hcos = malloc((size_t)(max_pos * half) * sizeof(float));
    float *hsin = malloc((size_t)(max_pos * half) * sizeof(float));
    for (int64_t p = 0; p < max_pos; p++)
        for (int64_t i = 0; i < half; i++) {
            const double ang = (double)p * pow(10000.0, -2.0 * (double)i / (double)HD);
            hcos[p * half + i] = (float)cos(ang);
            hsin[p * half + i] = (float)sin(ang);
        }
    float *hx = h_rand(T * nh * HD, -2, 2);
    int32_t *hpos = h_rand_ids(T, 0, (int32_t)max_pos);
    Dual x = dual_new(BUF_ELEM, T * nh * HD, hx), pos = dual_new(BUF_I32, T, hpos);
    Dual cs = dual_new(BUF_F32, max_pos * half, hcos), sn = dual_new(BUF_F32, max_pos * half, hsin);
    char label[96];
    int fails = 0;
    h_cpu->rope_fwd(x.c, pos.c, cs.c, sn.c, T, nh, HD);
    h_gpu->rope_fwd(x.g, pos.g, cs.g, sn.g, T, nh, HD);
    snprintf(label, sizeof label, "rope_fwd T=%lld heads=%lld HD=%lld", (long long)T,
             (long long)nh, (long long)HD);
    fails += check(label, &x, -1, TOL_BF16);
    dual_set(&x, hx);
    h_cpu->rope_bwd(x.c, pos.c, cs.c, sn.c, T, nh, HD);
    h_gpu->rope_bwd(x.g, pos.g, cs.g, sn.g, T, nh, HD);
    fails += check("rope_bwd", &x, -1, TOL_BF16);
    dual_free(&x), dual_free(&pos), dual_free(&cs), dual_free(&sn);
    free(hcos), free(hsin), free(hx), free(hpos);
    return fails;
}

int cases_norm_rope(void) {
    static const int64_t cfg[][2] = {{1, 1}, {7, 4097}, {33, 64}, {5, 8192}}; /* T, D */
    int fails = 0;
    for (int c = 0; c < 4; c++) {
        const int64_t T = cfg[c][0], D = cfg[c][1];
        float *hx = h_rand(T * D, -2, 2), *hw = h_rand(D, 0.5f, 1.5f);
        float *hg = h_rand(T * D, -1, 1), *hdx = h_rand(T * D, -1, 1);
        Dual x = dual_new(BUF_ELEM, T * D, hx), w = dual_new(BUF_ELEM, D, hw);
        Dual out = dual_new(BUF_ELEM, T * D, NULL), rstd = dual_new(BUF_F32, T, NULL);
        Dual g = dual_new(BUF_ELEM, T * D, hg), dx = dual_new(BUF_ELEM, T * D, hdx);
        char label[96];
        h_cpu->rmsnorm_fwd(out.c, rstd.c, x.c, w.c, T, D, 1e-5f);
        h_gpu->rmsnorm_fwd(out.g, rstd.g, x.g, w.g, T, D, 1e-5f);
        snprintf(label, sizeof label, "rmsnorm_fwd T=%lld D=%lld", (long long)T, (long long)D);
        fails += check(label, &out, -1, TOL_BF16);
        fails += check("rmsnorm_fwd rstd", &rstd, -1, TOL_F32);
        h_cpu->rmsnorm_bwd(dx.c, g.c, x.c, w.c, rstd.c, T, D);
        h_gpu->rmsnorm_bwd(dx.g, g.g, x.g, w.g, rstd.g, T, D);
        fails += check("rmsnorm_bwd dx (accumulated)", &dx, -1, TOL_BF16);
        dual_free(&x), dual_free(&w), dual_free(&out), dual_free(&rstd), dual_free(&g);
        dual_free(&dx);
        free(hx), free(hw), free(hg), free(hdx);
    }
    fails += rope_case(33, 5, 16);
    fails += rope_case(7, 3, 128);
    fails += rope_case(1, 1, 6);
    return fails;
}

int cases_elementwise(void) {
    int fails = 0;
    const int64_t sizes[] = {1, 7, 3 * 4097};
    for (int s = 0; s < 3; s++) {
        const int64_t n = sizes[s];
        float *hg = h_rand(n, -6, 6), *hu = h_rand(n, -2, 2), *hd = h_rand(n, -1, 1);
        Dual g = dual_new(BUF_ELEM, n, hg), u = dual_new(BUF_ELEM, n, hu);
        Dual d = dual_new(BUF_ELEM, n, hd), out = dual_new(BUF_ELEM, n, NULL);
        Dual dg = dual_new(BUF_ELEM, n, NULL), du = dual_new(BUF_ELEM, n, NULL);
        char label[64];
        h_cpu->swiglu_fwd(out.c, g.c, u.c, n);
        h_gpu->swiglu_fwd(out.g, g.g, u.g, n);
        snprintf(label, sizeof label, "swiglu_fwd n=%lld", (long long)n);
        fails += check(label, &out, -1, TOL_BF16);
        h_cpu->swiglu_bwd(dg.c, du.c, d.c, g.c, u.c, n);
        h_gpu->swiglu_bwd(dg.g, du.g, d.g, g.g, u.g, n);
        fails += check("swiglu_bwd dgate", &dg, -1, TOL_BF16);
        fails += check("swiglu_bwd dup", &du, -1, TOL_BF16);
        h_cpu->add(u.c, d.c, n);
        h_gpu->add(u.g, d.g, n);
        fails += check("add", &u, -1, TOL_BF16);
        /* scale_rows over (rows, n / rows) of u, each row its own factor */
        const int64_t rows = n >= 7 ? 7 : 1;
        float *hs = h_rand(rows, -3, 3);
        Dual sc = dual_new(BUF_F32, rows, hs);
        h_cpu->scale_rows(u.c, sc.c, rows, n / rows);
        h_gpu->scale_rows(u.g, sc.g, rows, n / rows);
        fails += check("scale_rows", &u, -1, TOL_BF16);
        dual_free(&sc);
        free(hs);
        dual_free(&g), dual_free(&u), dual_free(&d), dual_free(&out), dual_free(&dg);
        dual_free(&du);
        free(hg), free(hu), free(hd);
    }
    /* embedding, scatter into distinct rows, gather with repeats: exact copies */
    const int64_t V = 50, D = 33, T = 7, R = 20;
    float *htab = h_rand(V * D, -1, 1), *hsrc = h_rand(T * D, -1, 1);
    int32_t *hids = h_rand_ids(T, 0, (int32_t)V);
    const int32_t hscat[7] = {3, 17, 0, 9, 19, 4, 11}, hgath[7] = {19, 0, 0, 5, 11, 19, 2};
    Dual tab = dual_new(BUF_ELEM, V * D, htab), ids = dual_new(BUF_I32, T, hids);
    Dual out = dual_new(BUF_ELEM, T * D, NULL), src = dual_new(BUF_ELEM, T * D, hsrc);
    Dual rows = dual_new(BUF_ELEM, R * D, NULL), scat = dual_new(BUF_I32, T, hscat);
    Dual gath = dual_new(BUF_I32, T, hgath);
    h_cpu->embed_fwd(out.c, ids.c, (Weight){tab.c, WEIGHT_ELEM}, T, D, 0, V); /* all of it */
    h_gpu->embed_fwd(out.g, ids.g, (Weight){tab.g, WEIGHT_ELEM}, T, D, 0, V);
    fails += check("embed_fwd T=7 D=33", &out, -1, TOL_EXACT);
    h_cpu->rows_scatter(rows.c, scat.c, src.c, T, D);
    h_gpu->rows_scatter(rows.g, scat.g, src.g, T, D);
    fails += check("rows_scatter", &rows, -1, TOL_EXACT);
    h_cpu->rows_gather(out.c, rows.c, gath.c, T, D);
    h_gpu->rows_gather(out.g, rows.g, gath.g, T, D);
    fails += check("rows_gather", &out, -1, TOL_EXACT);
    dual_free(&tab), dual_free(&ids), dual_free(&out), dual_free(&src), dual_free(&rows);
    dual_free(&scat), dual_free(&gath);
    free(htab), free(hsrc), free(hids);
    return fails;
}
