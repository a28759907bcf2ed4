/* tests/kernels/cpu/test_ops_cpu_quant.c -- frozen weights in the block formats (issue 18):
 * Q8_0, Q4_0, Q4_1, Q4_K, Q6_K and NF4, plus fp32 and bf16 through the same driver.
 * For each format and awkward sizes (rows and columns not multiples of the block, M on
 * both sides of the outer-product threshold, shapes big enough to thread):
 *  - the panels the driver multiplies (AVX-512 decoders where the CPU has them) are
 *    bit-identical to io/base/quant.c's quant_dequantize of the same rows;
 *  - wmatmul_fwd (Y = X W^T, with overwrite, accumulate and bias) and wmatmul_bwd
 *    (dX = dY W, overwrite and accumulate) equal the whole matrix dequantized by
 *    quant_dequantize and multiplied by OpenBLAS sgemm: norm-wise <= 1e-5, elementwise
 *    to fp32 rounding of K-term sums; the plain-C panel kernels and the simple twins too;
 *  - embed_fwd and its simple twin look rows of such a table up (a GGUF's embedding kept
 *    in its blocks) bit-identical to the same reference, a vocabulary slice too;
 *  - NF4 byte-identical to bitsandbytes' quantize_4bit (a golden, tests/ref);
 *  - the quantizers are what their formats promise: Q8_0 within half a step of the
 *    block's scale, NF4 the nearest of its 16 levels times the block's absmax, a zero
 *    block all zeros, and the padded tail of a row decodes to 0. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "io/base/quant.h"
#include "io/model/safetensors.h"
#include "kernels/cpu/cpu_ops.h"
#include "kernels/cpu/cpu_simple.h"
#include "kernels/cpu/matmul_avx512.h"
#include "kernels/cpu/wmatmul.h"
#include "kernels/cpu/wpanel.h"
#include "tests/testutil.h"

static uint64_t g_state = 0x9e3779b97f4a7c15ull;

static uint32_t urand_u32(void) {
    g_state = g_state * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(g_state >> 32);
}

/* Uniform in [-a, a). */
static float urand(float a) {
    return a * (2.0f * (float)((urand_u32() >> 8) * 0x1.0p-24) - 1.0f);
}

static const WeightFormat FORMATS[] = {WEIGHT_ELEM, WEIGHT_BF16, WEIGHT_Q8_0, WEIGHT_Q4_0,
                                       WEIGHT_Q4_1, WEIGHT_Q4_K, WEIGHT_Q6_K, WEIGHT_NF4};

static void put_half(unsigned char *p, float f) {
    const uint16_t h = f32_to_f16(f);
    memcpy(p, &h, 2);
}

/* Random K-format blocks: random codes and sub-block scales, small positive d and dmin
 * (Q6_K: d at the end), so weights stay near +-0.1. */
static void random_k_blocks(WeightFormat f, unsigned char *p, int64_t n_blocks) {
    const size_t bb = weight_block_bytes(f);
    for (int64_t b = 0; b < n_blocks; b++, p += bb) {
        for (size_t i = 0; i < bb; i++)
            p[i] = (unsigned char)urand_u32();
        if (f == WEIGHT_Q4_K) {
            put_half(p, 0.003f + 0.001f * fabsf(urand(1.0f)));
            put_half(p + 2, 0.002f * fabsf(urand(1.0f)));
        } else { /* Q6_K */
            put_half(p + 208, 0.0001f + 0.0001f * fabsf(urand(1.0f)));
        }
    }
}

/* A (N, K) weight in format f from random floats wf (fp32 and the encodable formats) or
 * random blocks (K formats); owned by the caller. */
static void *make_weight(WeightFormat f, const float *wf, int64_t N, int64_t K) {
    void *w = calloc(1, cpu_weight_bytes(f, N, K) + 64);
    if (f == WEIGHT_Q4_K || f == WEIGHT_Q6_K)
        random_k_blocks(f, w, N * (int64_t)(weight_row_bytes(f, K) / weight_block_bytes(f)));
    else
        cpu_weight_upload((Weight){w, f}, wf, DTYPE_F32, N, K);
    return w;
}

/* The reference: every row decoded by io/base (quant_dequantize, quant_nf4_dequantize,
 * bf16_to_f32), the first K of its padded columns kept. */
static float *dequantized(WeightFormat f, const void *w, const float *wf, int64_t N,
                          int64_t K) {
    float *d = malloc((size_t)(N * K) * sizeof *d);
    if (f == WEIGHT_ELEM) {
        memcpy(d, wf, (size_t)(N * K) * sizeof *d);
        return d;
    }
    if (f == WEIGHT_BF16) {
        for (int64_t i = 0; i < N * K; i++)
            d[i] = bf16_to_f32(((const uint16_t *)w)[i]);
        return d;
    }
    const int64_t be = weight_block_elems(f), padded = (K + be - 1) / be * be;
    const size_t rb = weight_row_bytes(f, K);
    float *row = malloc((size_t)padded * sizeof *row);
    for (int64_t n = 0; n < N; n++) {
        const unsigned char *src = (const unsigned char *)w + (size_t)n * rb;
        if (f == WEIGHT_NF4)
            quant_nf4_dequantize(src, row, padded);
        else
            quant_dequantize((uint32_t)weight_ggml_type(f), src, row, padded);
        memcpy(d + n * K, row, (size_t)K * sizeof *d);
    }
    free(row);
    return d;
}

/* Every panel piece the forward and the backward driver ask for, against the reference
 * bit for bit. */
static int64_t check_panels(WeightFormat f, const void *w, const float *ref, int64_t N,
                            int64_t K, int fast) {
    const WPanelFn fn = cpu_wpanel_fn(f, fast);
    const int64_t be = weight_block_elems(f), step = be > 64 ? be : 64;
    float *panel = malloc((size_t)(16 * cpu_wpanel_ld(f, K)) * sizeof *panel);
    int64_t bad = 0;
    for (int64_t n0 = 0; n0 < N && bad == 0; n0 += 16) {
        const int rows = N - n0 < 16 ? (int)(N - n0) : 16;
        for (int64_t k0 = 0; k0 < K && bad == 0; k0 += step) {
            const int64_t kn = K - k0 < step ? K - k0 : step;
            int64_t ld = 0;
            const float *p = fn(w, K, n0, rows, k0, kn, panel, &ld);
            for (int r = 0; r < rows; r++)
                for (int64_t k = 0; k < kn; k++) {
                    const float got = p[r * ld + k], want = ref[(n0 + r) * K + k0 + k];
                    if (memcmp(&got, &want, sizeof got) != 0 && bad++ < 3)
                        tu_fail("%s panel (fast %d) N %lld K %lld at [%lld, %lld]: %.9g, "
                                "quant_dequantize %.9g", weight_format_name(f), fast,
                                (long long)N, (long long)K, (long long)(n0 + r),
                                (long long)(k0 + k), got, want);
                }
            /* a padded tail block decodes to zeros (the encoders pad with 0; Q4_1 has no
             * exact 0, its min-offset grid; the kernels never read the pad anyway) */
            const int64_t pad = cpu_wpanel_ld(f, kn) - kn;
            if (p == panel && pad > 0 && f != WEIGHT_Q4_K && f != WEIGHT_Q6_K && f != WEIGHT_Q4_1 &&
                k0 + kn == K)
                for (int r = 0; r < rows; r++)
                    for (int64_t k = kn; k < kn + pad; k++)
                        if (p[r * ld + k] != 0.0f && bad++ < 3)
                            tu_fail("%s: padded column %lld of row %lld decodes to %g",
                                    weight_format_name(f), (long long)(k0 + k),
                                    (long long)(n0 + r), p[r * ld + k]);
        }
    }
    free(panel);
    return bad;
}

/* embed_fwd (fast where the CPU has AVX-512) and its simple twin over the table w: each
 * looked-up row bit-identical to the reference, ids outside the range zero; the whole
 * vocabulary and a slice [v0, N) whose table starts at row v0's bytes. */
static int64_t check_embed(WeightFormat f, const void *w, const float *ref, int64_t N,
                           int64_t K) {
    enum { T = 6 };
    const int64_t v0s[2] = {0, N / 3};
    const int32_t ids[T] = {0, (int32_t)(N - 1), (int32_t)(N / 2), (int32_t)N, -1,
                            (int32_t)(N / 3)};
    float *out = malloc((size_t)(T * K) * sizeof *out);
    int64_t bad = 0;
    for (int s = 0; s < 2; s++)
        for (int simple = 0; simple < 2; simple++) {
            const int64_t v0 = v0s[s], V = N - v0;
            const Weight tab = {(unsigned char *)w + cpu_weight_bytes(f, v0, K), f};
            for (int64_t i = 0; i < T * K; i++)
                out[i] = 7.0f; /* every element must be written */
            if (simple)
                cpu_embed_fwd_simple(out, ids, tab, T, K, v0, V);
            else
                cpu_embed_fwd(out, ids, tab, T, K, v0, V);
            for (int t = 0; t < T; t++)
                for (int64_t k = 0; k < K; k++) {
                    const int in = ids[t] >= v0 && ids[t] < N;
                    const float got = out[t * K + k], want = in ? ref[ids[t] * K + k] : 0.0f;
                    if (memcmp(&got, &want, sizeof got) != 0 && bad++ < 3)
                        tu_fail("%s embed_fwd%s N %lld K %lld v0 %lld id %d col %lld: %.9g, "
                                "expected %.9g", weight_format_name(f), simple ? " simple" : "",
                                (long long)N, (long long)K, (long long)v0, ids[t],
                                (long long)k, got, want);
                }
        }
    free(out);
    return bad;
}

typedef struct Bufs {
    float *x, *dy, *bias, *out, *ref_out, *dx, *ref_dx;
} Bufs;

static int64_t compare(const char *what, WeightFormat f, int64_t M, int64_t N, int64_t K,
                       int mode, const float *got, const float *want, int64_t n) {
    char label[128];
    snprintf(label, sizeof label, "%s %s M %lld N %lld K %lld mode %d",
             weight_format_name(f), what, (long long)M, (long long)N, (long long)K, mode);
    double err = 0.0;
    int64_t bad = tu_compare_norm(label, got, want, n, 1e-5, &err);
    if (bad == 0)
        bad += tu_compare(label, got, want, n, 1e-6 * (double)K + 1e-6, 1e-5);
    return bad;
}

/* mode 0 overwrite, 1 accumulate, 2 bias + accumulate; which 0 the op (fast where the CPU
 * has AVX-512), 1 the driver with the plain-C kernels, 2 the simple twins. */
static int64_t check_products(WeightFormat f, Weight w, const float *ref, Bufs *b, int64_t M,
                              int64_t N, int64_t K) {
    int64_t bad = 0;
    for (int mode = 0; mode < 3; mode++)
        for (int which = 0; which < 3; which++) {
            for (int64_t i = 0; i < M * N; i++)
                b->out[i] = b->ref_out[i] = 0.5f;
            for (int64_t i = 0; i < M * K; i++)
                b->dx[i] = b->ref_dx[i] = -0.25f;
            const int acc = mode > 0;
            const float beta = acc || mode == 2 ? 1.0f : 0.0f;
            if (which == 0) {
                cpu_wmatmul_fwd(b->out, b->x, w, mode == 2 ? b->bias : NULL, M, N, K, acc);
                cpu_wmatmul_bwd(b->dx, b->dy, w, M, N, K, acc);
            } else {
                for (int64_t i = 0; mode == 2 && i < M * N; i++)
                    b->out[i] += b->bias[i % N];
                if (which == 1) {
                    cpu_wmm_fwd(b->out, b->x, w, M, N, K, beta, 0);
                    cpu_wmm_bwd(b->dx, b->dy, w, M, N, K, acc ? 1.0f : 0.0f, 0);
                } else {
                    cpu_wmatmul_fwd_simple(b->out, b->x, w, M, N, K, beta);
                    cpu_wmatmul_bwd_simple(b->dx, b->dy, w, M, N, K, acc ? 1.0f : 0.0f);
                }
            }
            for (int64_t i = 0; mode == 2 && i < M * N; i++)
                b->ref_out[i] += b->bias[i % N];
            cpu_matmul_fwd_blas(b->ref_out, b->x, ref, M, N, K, beta);
            cpu_matmul_bwd_blas(b->ref_dx, b->dy, ref, M, N, K, acc ? 1.0f : 0.0f);
            static const char *const NAMES[3][2] = {
                {"fwd", "bwd"}, {"fwd (C kernels)", "bwd (C kernels)"},
                {"fwd (simple)", "bwd (simple)"}};
            bad += compare(NAMES[which][0], f, M, N, K, mode, b->out, b->ref_out, M * N);
            bad += compare(NAMES[which][1], f, M, N, K, mode, b->dx, b->ref_dx, M * K);
        }
    return bad;
}

static int64_t check_format(WeightFormat f, int64_t M, int64_t N, int64_t K) {
    Bufs b;
    b.x = malloc((size_t)(M * K) * sizeof(float));
    b.dy = malloc((size_t)(M * N) * sizeof(float));
    b.bias = malloc((size_t)N * sizeof(float));
    b.out = malloc((size_t)(M * N) * sizeof(float));
    b.ref_out = malloc((size_t)(M * N) * sizeof(float));
    b.dx = malloc((size_t)(M * K) * sizeof(float));
    b.ref_dx = malloc((size_t)(M * K) * sizeof(float));
    float *wf = malloc((size_t)(N * K) * sizeof *wf);
    for (int64_t i = 0; i < M * K; i++)
        b.x[i] = urand(1.0f);
    for (int64_t i = 0; i < M * N; i++)
        b.dy[i] = urand(1.0f);
    for (int64_t i = 0; i < N; i++)
        b.bias[i] = urand(1.0f);
    for (int64_t i = 0; i < N * K; i++)
        wf[i] = urand(0.1f);
    void *wd = make_weight(f, wf, N, K);
    float *ref = dequantized(f, wd, wf, N, K);
    int64_t bad = check_panels(f, wd, ref, N, K, 0);
    if (cpu_avx512_usable())
        bad += check_panels(f, wd, ref, N, K, 1);
    bad += check_products(f, (Weight){wd, f}, ref, &b, M, N, K);
    bad += check_embed(f, wd, ref, N, K);
    free(ref);
    free(wd);
    free(wf);
    free(b.x), free(b.dy), free(b.bias), free(b.out), free(b.ref_out), free(b.dx),
        free(b.ref_dx);
    return bad;
}

static void test_formats(void **state) {
    (void)state;
    /* M 1-4 decode (M <= 2 takes 8 weight rows at a time, then 4, then 1: N 77 = 64 + 8
     * + 4 + 1 runs all three), 16+ the outer-product forward; N not a multiple of 4, 16
     * or 64 rows; K not a multiple of 16, 32, 64 or 256 (padded tail blocks), and a
     * 64-row slice crossing 256-column panels */
    const int64_t shapes[][3] = {{1, 7, 33}, {1, 77, 100}, {2, 29, 65}, {3, 65, 100},
                                 {4, 130, 257}, {17, 70, 300}, {16, 64, 512}, {2, 1, 1}};
    int64_t bad = 0;
    for (size_t i = 0; i < sizeof FORMATS / sizeof FORMATS[0]; i++)
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
            bad += check_format(FORMATS[i], shapes[s][0], shapes[s][1], shapes[s][2]);
    /* real layer shapes, threaded: SmolLM2's q_proj decode and a training batch's up_proj */
    for (size_t i = 2; i < sizeof FORMATS / sizeof FORMATS[0]; i++) {
        bad += check_format(FORMATS[i], 4, 576, 576);
        bad += check_format(FORMATS[i], 40, 1536, 576);
    }
    assert_int_equal(bad, 0);
}

/* Q8_0: each element within half a quantization step (d / 2, plus d's fp16 rounding) of
 * its float; NF4: the nearest level times the block's absmax; zeros stay zeros. */
static void test_quantizers(void **state) {
    (void)state;
    enum { N = 8, K = 256 };
    float wf[N * K], d[N * K];
    for (int i = 0; i < N * K; i++)
        wf[i] = i < K ? 0.0f : urand(0.1f) * (float)(i / K); /* row 0 all zeros */
    unsigned char q8[N * K / 32 * sizeof(QuantBlockQ8_0)], nf4[N * K / 64 * sizeof(QuantBlockNF4)];
    cpu_weight_upload((Weight){q8, WEIGHT_Q8_0}, wf, DTYPE_F32, N, K);
    cpu_weight_upload((Weight){nf4, WEIGHT_NF4}, wf, DTYPE_F32, N, K);
    int64_t bad = 0;
    quant_dequantize(QUANT_Q8_0, q8, d, N * K);
    for (int b = 0; b < N * K / 32; b++) {
        float amax = 0.0f;
        for (int i = 0; i < 32; i++)
            amax = fmaxf(amax, fabsf(wf[32 * b + i]));
        const float step = amax / 127.0f;
        for (int i = 0; i < 32; i++) {
            const int e = 32 * b + i;
            if (fabsf(d[e] - wf[e]) > 0.5f * step + 0.001f * amax && bad++ < 3)
                tu_fail("q8_0 element %d: %g decodes to %g (step %g)", e, wf[e], d[e], step);
        }
    }
    quant_nf4_dequantize(nf4, d, N * K);
    const float *lv = quant_nf4_levels();
    for (int b = 0; b < N * K / 64; b++) {
        float amax = 0.0f;
        for (int i = 0; i < 64; i++)
            amax = fmaxf(amax, fabsf(wf[64 * b + i]));
        for (int i = 0; i < 64; i++) {
            const int e = 64 * b + i;
            float best = 0.0f, best_err = INFINITY;
            for (int l = 0; l < 16; l++)
                if (fabsf(lv[l] * amax - wf[e]) < best_err) {
                    best_err = fabsf(lv[l] * amax - wf[e]);
                    best = lv[l] * amax;
                }
            if (fabsf(d[e] - best) > 1e-6f * amax && bad++ < 3)
                tu_fail("nf4 element %d: %g decodes to %g, the nearest level is %g", e, wf[e],
                        d[e], best);
        }
    }
    for (int i = 0; i < K; i++)
        if (d[i] != 0.0f && bad++ < 3)
            tu_fail("nf4: a zero block decodes to %g at %d", d[i], i);
    assert_int_equal(bad, 0);
}

/* NF4 against bitsandbytes (tests/ref/make_nf4_golden.py: quantize_4bit on CPU, blocksize
 * 64, nf4, rows at scales 1e-3 .. 1, a zero row, an outlier): every absmax and code byte
 * identical, and the dequantized floats too. */
static void test_nf4_bitsandbytes(void **state) {
    (void)state;
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/data/golden/nf4/nf4_bnb.safetensors",
             tu_source_dir());
    Err err = {{0}};
    SafeTensors *st = st_open(path, &err);
    tu_check_rc(st == NULL, "st_open", err.msg);
    StTensor x, codes, absmax, deq;
    const int64_t sx[2] = {8, 256}, sc[1] = {1024}, sa[1] = {32};
    tu_check_rc(st_get(st, "x", 2, sx, &x, &err) || st_get(st, "codes", 1, sc, &codes, &err) ||
                    st_get(st, "absmax", 1, sa, &absmax, &err) ||
                    st_get(st, "dequantized", 2, sx, &deq, &err),
                "st_get", err.msg);
    unsigned char blocks[32 * sizeof(QuantBlockNF4)];
    cpu_weight_upload((Weight){blocks, WEIGHT_NF4}, x.data, DTYPE_F32, 8, 256);
    int64_t bad = 0;
    for (int b = 0; b < 32; b++) {
        QuantBlockNF4 k;
        memcpy(&k, blocks + b * sizeof k, sizeof k);
        const float want = ((const float *)absmax.data)[b];
        if (k.absmax != want && bad++ < 3)
            tu_fail("nf4 block %d: absmax %.9g, bitsandbytes %.9g", b, k.absmax, want);
        for (int i = 0; i < 32; i++) {
            const int32_t c = ((const int32_t *)codes.data)[b * 32 + i];
            if (k.qs[i] != c && bad++ < 3)
                tu_fail("nf4 block %d byte %d: 0x%02x, bitsandbytes 0x%02x", b, i, k.qs[i],
                        (unsigned)c);
        }
    }
    float d[2048];
    quant_nf4_dequantize(blocks, d, 2048);
    bad += tu_compare("nf4 dequantized vs bitsandbytes", d, deq.data, 2048, 0.0, 0.0);
    tu_note("nf4: 32 blocks, 1024 code bytes and 2048 dequantized floats identical to "
            "bitsandbytes' (%s)", bad == 0 ? "all" : "NOT all");
    st_close(st);
    assert_int_equal(bad, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nf4_bitsandbytes),
        cmocka_unit_test(test_quantizers),
        cmocka_unit_test(test_formats),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
