/* kernels/cpu/wpanel.c -- the panel functions of wpanel.h: fp32 in place, everything else
 * decoded row by row into the caller's panel through one block decoder per format. */
#include "kernels/cpu/wpanel.h"

#include <string.h>

#include "io/base/dtype.h"
#include "io/base/quant.h"

/* Decodes n_blocks whole blocks (or elements, for bf16) of src into dst. */
typedef void (*BlockDecode)(const void *src, float *dst, int64_t n);

static void dec_bf16(const void *src, float *dst, int64_t n) {
    const uint16_t *h = src;
    for (int64_t i = 0; i < n; i++)
        dst[i] = bf16_to_f32(h[i]);
}

#define GGML_DECODER(name, type, elems)                                                    \
    static void name(const void *src, float *dst, int64_t n) {                              \
        quant_dequantize(type, src, dst, n * (elems));                                      \
    }
GGML_DECODER(dec_q8_0, QUANT_Q8_0, QUANT_QK)
GGML_DECODER(dec_q4_0, QUANT_Q4_0, QUANT_QK)
GGML_DECODER(dec_q4_1, QUANT_Q4_1, QUANT_QK)
GGML_DECODER(dec_q4_k, QUANT_Q4_K, QUANT_QK_K)
GGML_DECODER(dec_q6_k, QUANT_Q6_K, QUANT_QK_K)
#undef GGML_DECODER

static void dec_nf4(const void *src, float *dst, int64_t n) {
    quant_nf4_dequantize(src, dst, n * QUANT_NF4_BLOCK);
}

int64_t cpu_wpanel_ld(WeightFormat f, int64_t kn) {
    const int64_t be = weight_block_elems(f) > 0 ? weight_block_elems(f) : 1;
    return (kn + be - 1) / be * be;
}

/* The panel of a block format through dec: each row's blocks from k0 on, whole. */
static const float *blocks_panel(WeightFormat f, BlockDecode dec, const void *w, int64_t K,
                                 int64_t n0, int n_rows, int64_t k0, int64_t kn, float *panel,
                                 int64_t *ld) {
    const int64_t be = weight_block_elems(f);
    const size_t bb = weight_block_bytes(f), row_bytes = weight_row_bytes(f, K);
    const int64_t n_blocks = (kn + be - 1) / be;
    const unsigned char *src = (const unsigned char *)w + (size_t)n0 * row_bytes +
                               (size_t)(k0 / be) * bb;
    *ld = n_blocks * be;
    for (int r = 0; r < n_rows; r++)
        dec(src + (size_t)r * row_bytes, panel + r * *ld, n_blocks);
    return panel;
}

static const float *panel_f32(const void *w, int64_t K, int64_t n0, int n_rows, int64_t k0,
                              int64_t kn, float *panel, int64_t *ld) {
    (void)n_rows, (void)kn, (void)panel;
    *ld = K;
    return (const float *)w + n0 * K + k0;
}

static const float *bf16_panel(BlockDecode dec, const void *w, int64_t K, int64_t n0,
                               int n_rows, int64_t k0, int64_t kn, float *panel, int64_t *ld) {
    const uint16_t *src = (const uint16_t *)w + n0 * K + k0;
    *ld = kn;
    for (int r = 0; r < n_rows; r++)
        dec(src + r * K, panel + r * kn, kn);
    return panel;
}

#define PANEL(name, expr)                                                                  \
    static const float *name(const void *w, int64_t K, int64_t n0, int n_rows, int64_t k0, \
                             int64_t kn, float *panel, int64_t *ld) {                      \
        return expr;                                                                       \
    }
#define BLOCKS(fmt, dec) blocks_panel(fmt, dec, w, K, n0, n_rows, k0, kn, panel, ld)
PANEL(panel_bf16, bf16_panel(dec_bf16, w, K, n0, n_rows, k0, kn, panel, ld))
PANEL(panel_q8_0, BLOCKS(WEIGHT_Q8_0, dec_q8_0))
PANEL(panel_q4_0, BLOCKS(WEIGHT_Q4_0, dec_q4_0))
PANEL(panel_q4_1, BLOCKS(WEIGHT_Q4_1, dec_q4_1))
PANEL(panel_q4_k, BLOCKS(WEIGHT_Q4_K, dec_q4_k))
PANEL(panel_q6_k, BLOCKS(WEIGHT_Q6_K, dec_q6_k))
PANEL(panel_nf4, BLOCKS(WEIGHT_NF4, dec_nf4))
PANEL(panel_bf16_fast, bf16_panel(cpu_decode_bf16_avx512, w, K, n0, n_rows, k0, kn, panel, ld))
PANEL(panel_q8_0_fast, BLOCKS(WEIGHT_Q8_0, cpu_decode_q8_0_avx512))
PANEL(panel_q4_0_fast, BLOCKS(WEIGHT_Q4_0, cpu_decode_q4_0_avx512))
PANEL(panel_q4_1_fast, BLOCKS(WEIGHT_Q4_1, cpu_decode_q4_1_avx512))
PANEL(panel_nf4_fast, BLOCKS(WEIGHT_NF4, cpu_decode_nf4_avx512))
#undef BLOCKS
#undef PANEL

WPanelFn cpu_wpanel_fn(WeightFormat f, int fast) {
    switch (f) {
    case WEIGHT_ELEM: return panel_f32;
    case WEIGHT_BF16: return fast ? panel_bf16_fast : panel_bf16;
    case WEIGHT_Q8_0: return fast ? panel_q8_0_fast : panel_q8_0;
    case WEIGHT_Q4_0: return fast ? panel_q4_0_fast : panel_q4_0;
    case WEIGHT_Q4_1: return fast ? panel_q4_1_fast : panel_q4_1;
    case WEIGHT_Q4_K: return panel_q4_k;
    case WEIGHT_Q6_K: return panel_q6_k;
    case WEIGHT_NF4: return fast ? panel_nf4_fast : panel_nf4;
    }
    return NULL;
}
