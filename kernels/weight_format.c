/* kernels/weight_format.c -- the weight formats' table of kernels/ops.h (names, block
 * sizes, ggml ids): a leaf that calls nothing, so the CPU kernels may ask it without
 * reaching back into ops.c's backend choice. */
#include "kernels/ops.h"

#include <string.h>

#include "io/base/quant.h"

typedef struct FormatRow {
    const char *name;
    int ggml; /* QuantType, -1 for none */
    int64_t block_elems;
    size_t block_bytes;
} FormatRow;

static const FormatRow FORMATS[WEIGHT_N_FORMATS] = {
    [WEIGHT_ELEM] = {"f32", -1, 1, 0},
    [WEIGHT_BF16] = {"bf16", -1, 1, 0},
    [WEIGHT_Q8_0] = {"q8_0", QUANT_Q8_0, QUANT_QK, sizeof(QuantBlockQ8_0)},
    [WEIGHT_Q4_0] = {"q4_0", QUANT_Q4_0, QUANT_QK, sizeof(QuantBlockQ4_0)},
    [WEIGHT_Q4_1] = {"q4_1", QUANT_Q4_1, QUANT_QK, sizeof(QuantBlockQ4_1)},
    [WEIGHT_Q4_K] = {"q4_k", QUANT_Q4_K, QUANT_QK_K, sizeof(QuantBlockQ4_K)},
    [WEIGHT_Q6_K] = {"q6_k", QUANT_Q6_K, QUANT_QK_K, sizeof(QuantBlockQ6_K)},
    [WEIGHT_NF4] = {"nf4", -1, QUANT_NF4_BLOCK, sizeof(QuantBlockNF4)},
};

static const FormatRow *format_row(WeightFormat f) {
    static const FormatRow none = {NULL, -1, 0, 0};
    return (unsigned)f < WEIGHT_N_FORMATS ? &FORMATS[f] : &none;
}

const char *weight_format_name(WeightFormat f) {
    const char *n = format_row(f)->name;
    return n != NULL ? n : "unknown";
}

int weight_format_parse(const char *s, WeightFormat *out) {
    for (int i = 0; i < WEIGHT_N_FORMATS; i++)
        if (strcmp(s, FORMATS[i].name) == 0) {
            *out = (WeightFormat)i;
            return 0;
        }
    return -1;
}

int64_t weight_block_elems(WeightFormat f) { return format_row(f)->block_elems; }
size_t weight_block_bytes(WeightFormat f) { return format_row(f)->block_bytes; }
int weight_ggml_type(WeightFormat f) { return format_row(f)->ggml; }
int weight_is_blocked(WeightFormat f) { return format_row(f)->block_bytes > 0; }

size_t weight_row_bytes(WeightFormat f, int64_t cols) {
    const FormatRow *r = format_row(f);
    if (r->block_bytes == 0)
        return 0;
    return (size_t)((cols + r->block_elems - 1) / r->block_elems) * r->block_bytes;
}
