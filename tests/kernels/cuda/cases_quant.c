/* tests/kernels/cuda/cases_quant.c -- frozen weights in the block formats (issue 18) on
 * CUDA against the CPU backend: the same blocks (quantized by the CPU backend from bf16
 * values, or random K-format blocks) uploaded as they are to both, wmatmul_fwd (with
 * bias, accumulate), wmatmul_bwd and embed_fwd (the blocks as an embedding table)
 * compared at TOL_BF16, in both kernel families (the
 * dequantize-to-bf16-chunks + cuBLAS default and the shared-memory-tile simple twin); and
 * weight_upload's host quantizer giving the CPU backend's bytes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cuda/cuda_kernels.h"
#include "tests/kernels/cuda/harness.h"

static void put_half(unsigned char *p, float f) {
    const uint16_t h = f32_to_f16(f);
    memcpy(p, &h, 2);
}

/* n_bytes of blocks in format f for an (N, K) matrix: quantized from wf by the CPU
 * backend, or random K-format blocks with small scales (owned-after-return). */
static unsigned char *host_blocks(WeightFormat f, const float *wf, int64_t N, int64_t K) {
    const size_t n_bytes = h_cpu->weight_bytes(f, N, K), bb = weight_block_bytes(f);
    unsigned char *b = malloc(n_bytes);
    if (f != WEIGHT_Q4_K && f != WEIGHT_Q6_K) {
        h_cpu->weight_upload((Weight){b, f}, wf, DTYPE_F32, N, K); /* CPU memory is host */
        return b;
    }
    for (size_t i = 0; i < n_bytes; i++)
        b[i] = (unsigned char)(h_uniform(0.0f, 256.0f));
    for (size_t o = 0; o + bb <= n_bytes; o += bb) {
        if (f == WEIGHT_Q4_K) {
            put_half(b + o, h_uniform(0.003f, 0.004f));
            put_half(b + o + 2, h_uniform(0.0f, 0.002f));
        } else {
            put_half(b + o + 208, h_uniform(0.0001f, 0.0002f));
        }
    }
    return b;
}

static int one(WeightFormat f, int64_t M, int64_t N, int64_t K, int acc) {
    float *hx = h_rand(M * K, -1, 1), *hw = h_rand(N * K, -0.1f, 0.1f), *hb = h_rand(N, -1, 1);
    float *hy = h_rand(M * N, -1, 1), *hdx = h_rand(M * K, -1, 1);
    unsigned char *blocks = host_blocks(f, hw, N, K);
    const size_t n_bytes = h_cpu->weight_bytes(f, N, K);
    int fails = 0;
    if (h_gpu->weight_bytes(f, N, K) != n_bytes)
        fails += 1, fprintf(stderr, "FAIL: %s weight_bytes differ\n", weight_format_name(f));
    Err err;
    void *wc = h_cpu->alloc(n_bytes, &err), *wg = h_gpu->alloc(n_bytes, &err);
    h_cpu->weight_upload_blocks((Weight){wc, f}, blocks, N, K);
    h_gpu->weight_upload_blocks((Weight){wg, f}, blocks, N, K);
    Dual x = dual_new(BUF_ELEM, M * K, hx), b = dual_new(BUF_ELEM, N, hb);
    Dual y = dual_new(BUF_ELEM, M * N, hy), dy = dual_new(BUF_ELEM, M * N, hy);
    Dual dx = dual_new(BUF_ELEM, M * K, hdx);
    h_cpu->wmatmul_fwd(y.c, x.c, (Weight){wc, f}, b.c, M, N, K, acc);
    h_gpu->wmatmul_fwd(y.g, x.g, (Weight){wg, f}, b.g, M, N, K, acc);
    char label[128];
    snprintf(label, sizeof label, "wmatmul_fwd %s M=%lld N=%lld K=%lld acc=%d",
             weight_format_name(f), (long long)M, (long long)N, (long long)K, acc);
    fails += check(label, &y, -1, TOL_BF16);
    h_cpu->wmatmul_bwd(dx.c, dy.c, (Weight){wc, f}, M, N, K, acc);
    h_gpu->wmatmul_bwd(dx.g, dy.g, (Weight){wg, f}, M, N, K, acc);
    snprintf(label, sizeof label, "wmatmul_bwd %s M=%lld N=%lld K=%lld acc=%d",
             weight_format_name(f), (long long)M, (long long)N, (long long)K, acc);
    fails += check(label, &dx, -1, TOL_BF16);
    { /* the same blocks as an embedding table (N rows of K), ids in and out of range */
        int32_t *hid = h_rand_ids(M + 3, -1, (int32_t)N + 2);
        Dual id = dual_new(BUF_I32, M + 3, hid), e = dual_new(BUF_ELEM, (M + 3) * K, NULL);
        h_cpu->embed_fwd(e.c, id.c, (Weight){wc, f}, M + 3, K, 0, N);
        h_gpu->embed_fwd(e.g, id.g, (Weight){wg, f}, M + 3, K, 0, N);
        snprintf(label, sizeof label, "embed_fwd %s V=%lld D=%lld T=%lld",
                 weight_format_name(f), (long long)N, (long long)K, (long long)(M + 3));
        fails += check(label, &e, -1, TOL_BF16);
        dual_free(&id), dual_free(&e);
        free(hid);
    }
    if (f != WEIGHT_Q4_K && f != WEIGHT_Q6_K) { /* the CUDA upload quantizes alike */
        unsigned char *back = malloc(n_bytes);
        h_gpu->weight_upload((Weight){wg, f}, hw, DTYPE_F32, N, K);
        h_gpu->download_raw(back, wg, n_bytes);
        const int same = memcmp(back, blocks, n_bytes) == 0;
        printf("%s: weight_upload %s %lld x %lld: %s\n", same ? "ok" : "FAIL",
               weight_format_name(f), (long long)N, (long long)K,
               same ? "the CPU backend's bytes" : "bytes differ");
        fails += !same;
        free(back);
    }
    dual_free(&x), dual_free(&b), dual_free(&y), dual_free(&dy), dual_free(&dx);
    h_cpu->release(wc);
    h_gpu->release(wg);
    free(blocks), free(hx), free(hw), free(hb), free(hy), free(hdx);
    return fails;
}

static int cases_quant_family(void) {
    static const WeightFormat F[] = {WEIGHT_Q8_0, WEIGHT_Q4_0, WEIGHT_Q4_1,
                                     WEIGHT_Q4_K, WEIGHT_Q6_K, WEIGHT_NF4};
    static const int64_t cfg[][4] = {/* M, N, K, accumulate */
                                     {1, 7, 33, 0}, {5, 65, 300, 1}, {33, 130, 257, 0},
                                     {129, 576, 1536, 1}, {4, 4096, 14336, 0}};
    int fails = 0;
    for (size_t i = 0; i < sizeof F / sizeof F[0]; i++)
        for (size_t c = 0; c < sizeof cfg / sizeof cfg[0]; c++)
            fails += one(F[i], cfg[c][0], cfg[c][1], cfg[c][2], (int)cfg[c][3]);
    return fails;
}

int cases_quant(void) {
    const int was = cuda_kernels_simple(0);
    printf("-- block-format weights, fast kernels\n");
    int fails = cases_quant_family();
    cuda_kernels_simple(1);
    printf("-- block-format weights, simple kernels\n");
    fails += cases_quant_family();
    cuda_kernels_simple(was);
    return fails;
}
