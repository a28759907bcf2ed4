/* io/base/quant.c -- ggml block formats dequantized to fp32, bit for bit as gguf/quants.py
 * (dequantize_blocks of each class) computes them: every product and sum is one rounded
 * float32 operation in numpy's order (this file is compiled with -ffp-contract=off, so no
 * multiply-add fusion). Blocks are copied into their structs with memcpy: GGUF only
 * aligns tensors, not the blocks inside them. */
#include "io/base/quant.h"

#include <string.h>

#include "io/base/dtype.h"

_Static_assert(sizeof(QuantBlockQ8_0) == 34, "Q8_0 block is 34 bytes");
_Static_assert(sizeof(QuantBlockQ4_0) == 18, "Q4_0 block is 18 bytes");
_Static_assert(sizeof(QuantBlockQ4_1) == 20, "Q4_1 block is 20 bytes");
_Static_assert(sizeof(QuantBlockQ4_K) == 144, "Q4_K block is 144 bytes");
_Static_assert(sizeof(QuantBlockQ5_K) == 176, "Q5_K block is 176 bytes");
_Static_assert(sizeof(QuantBlockQ6_K) == 210, "Q6_K block is 210 bytes");

typedef struct TypeRow {
    uint32_t id;
    const char *name;
    int64_t block_elems; /* 0: known by name, not dequantized here */
    size_t block_bytes;
} TypeRow;

static const TypeRow TYPES[] = {
    {QUANT_F32, "F32", 1, 4},
    {QUANT_F16, "F16", 1, 2},
    {QUANT_Q4_0, "Q4_0", QUANT_QK, sizeof(QuantBlockQ4_0)},
    {QUANT_Q4_1, "Q4_1", QUANT_QK, sizeof(QuantBlockQ4_1)},
    {QUANT_Q5_0, "Q5_0", 0, 0},
    {QUANT_Q5_1, "Q5_1", 0, 0},
    {QUANT_Q8_0, "Q8_0", QUANT_QK, sizeof(QuantBlockQ8_0)},
    {QUANT_Q8_1, "Q8_1", 0, 0},
    {QUANT_Q2_K, "Q2_K", 0, 0},
    {QUANT_Q3_K, "Q3_K", 0, 0},
    {QUANT_Q4_K, "Q4_K", QUANT_QK_K, sizeof(QuantBlockQ4_K)},
    {QUANT_Q5_K, "Q5_K", QUANT_QK_K, sizeof(QuantBlockQ5_K)},
    {QUANT_Q6_K, "Q6_K", QUANT_QK_K, sizeof(QuantBlockQ6_K)},
    {QUANT_Q8_K, "Q8_K", 0, 0},
    {16, "IQ2_XXS", 0, 0}, {17, "IQ2_XS", 0, 0}, {18, "IQ3_XXS", 0, 0}, {19, "IQ1_S", 0, 0},
    {20, "IQ4_NL", 0, 0},  {21, "IQ3_S", 0, 0},  {22, "IQ2_S", 0, 0},   {23, "IQ4_XS", 0, 0},
    {24, "I8", 0, 0},      {25, "I16", 0, 0},    {26, "I32", 0, 0},     {27, "I64", 0, 0},
    {28, "F64", 0, 0},     {29, "IQ1_M", 0, 0},
    {QUANT_BF16, "BF16", 1, 2},
    {34, "TQ1_0", 0, 0},   {35, "TQ2_0", 0, 0},  {39, "MXFP4", 0, 0},
};
#define N_TYPES ((int)(sizeof TYPES / sizeof TYPES[0]))

static const TypeRow *row_of(uint32_t type) {
    for (int i = 0; i < N_TYPES; i++)
        if (TYPES[i].id == type)
            return &TYPES[i];
    return NULL;
}

const char *quant_type_name(uint32_t type) {
    const TypeRow *r = row_of(type);
    return r != NULL ? r->name : NULL;
}

int quant_supported(uint32_t type) {
    const TypeRow *r = row_of(type);
    return r != NULL && r->block_elems > 0;
}

const char *quant_supported_list(void) {
    return "F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q4_K, Q5_K, Q6_K";
}

int64_t quant_block_elems(uint32_t type) {
    const TypeRow *r = row_of(type);
    return r != NULL ? r->block_elems : 0;
}

size_t quant_block_bytes(uint32_t type) {
    const TypeRow *r = row_of(type);
    return r != NULL && r->block_elems > 0 ? r->block_bytes : 0;
}

int64_t quant_bytes(uint32_t type, int64_t n_elems) {
    const int64_t be = quant_block_elems(type);
    if (be <= 0 || n_elems < 0 || n_elems % be != 0)
        return -1;
    const int64_t n_blocks = n_elems / be, bb = (int64_t)quant_block_bytes(type);
    if (n_blocks > INT64_MAX / bb)
        return -1;
    return n_blocks * bb;
}

static void deq_q8_0(const QuantBlockQ8_0 *b, float *y) {
    const float d = f16_to_f32(b->d);
    for (int i = 0; i < QUANT_QK; i++)
        y[i] = (float)b->qs[i] * d;
}

static void deq_q4_0(const QuantBlockQ4_0 *b, float *y) {
    const float d = f16_to_f32(b->d);
    for (int i = 0; i < QUANT_QK / 2; i++) {
        y[i] = d * (float)((b->qs[i] & 0x0F) - 8);
        y[i + QUANT_QK / 2] = d * (float)((b->qs[i] >> 4) - 8);
    }
}

static void deq_q4_1(const QuantBlockQ4_1 *b, float *y) {
    const float d = f16_to_f32(b->d), m = f16_to_f32(b->m);
    for (int i = 0; i < QUANT_QK / 2; i++) {
        const float lo = d * (float)(b->qs[i] & 0x0F), hi = d * (float)(b->qs[i] >> 4);
        y[i] = lo + m;
        y[i + QUANT_QK / 2] = hi + m;
    }
}

/* The 6-bit scale and min of sub-block j (0..7) of a Q4_K/Q5_K block (get_scale_min). */
static void scale_min_k4(const uint8_t *q, int j, uint8_t *sc, uint8_t *mn) {
    if (j < 4) {
        *sc = q[j] & 63;
        *mn = q[j + 4] & 63;
    } else {
        *sc = (uint8_t)((q[j + 4] & 0x0F) | ((q[j - 4] >> 6) << 4));
        *mn = (uint8_t)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }
}

/* Q4_K and Q5_K: sub-block j of 32 elements is d*sc_j * q - dmin*m_j, where q is the low
 * (j even) or high (j odd) nibble of qs[32*(j/2) + l], plus 16 * bit j of qh[l] (Q5_K). */
static void deq_k(const uint8_t *scales, const uint8_t *qs, const uint8_t *qh, float d,
                  float dmin, float *y) {
    for (int j = 0; j < 8; j++) {
        uint8_t sc, mn;
        scale_min_k4(scales, j, &sc, &mn);
        const float dj = d * (float)sc, mj = dmin * (float)mn;
        const uint8_t *q = qs + 32 * (j / 2);
        const int shift = 4 * (j % 2);
        for (int l = 0; l < 32; l++) {
            int v = (q[l] >> shift) & 0x0F;
            if (qh != NULL)
                v |= ((qh[l] >> j) & 1) << 4;
            y[32 * j + l] = dj * (float)v - mj;
        }
    }
}

static void deq_q6_k(const QuantBlockQ6_K *b, float *y) {
    const float d = f16_to_f32(b->d);
    float ds[QUANT_QK_K / 16];
    for (int i = 0; i < QUANT_QK_K / 16; i++)
        ds[i] = d * (float)b->scales[i];
    /* Each half of 128: position r*32 + l (r = 0..3) takes ql[64h + 32(r%2) + l] nibble r/2
     * and bits 2r..2r+1 of qh[32h + l]. */
    for (int h = 0; h < 2; h++)
        for (int r = 0; r < 4; r++)
            for (int l = 0; l < 32; l++) {
                const int e = 128 * h + 32 * r + l;
                const int lo = (b->ql[64 * h + 32 * (r % 2) + l] >> (4 * (r / 2))) & 0x0F;
                const int hi = (b->qh[32 * h + l] >> (2 * r)) & 3;
                y[e] = ds[e / 16] * (float)((lo | (hi << 4)) - 32);
            }
}

void quant_dequantize(uint32_t type, const void *src, float *dst, int64_t n_elems) {
    const unsigned char *p = src;
    const int64_t be = quant_block_elems(type);
    const size_t bb = quant_block_bytes(type);
    if (type == QUANT_F32) {
        memcpy(dst, src, (size_t)n_elems * sizeof(float));
        return;
    }
    if (type == QUANT_F16 || type == QUANT_BF16) {
        for (int64_t i = 0; i < n_elems; i++) {
            uint16_t h;
            memcpy(&h, p + 2 * i, 2);
            dst[i] = type == QUANT_F16 ? f16_to_f32(h) : bf16_to_f32(h);
        }
        return;
    }
    for (int64_t b = 0; be > 0 && b < n_elems / be; b++, p += bb) {
        float *y = dst + b * be;
        if (type == QUANT_Q8_0) {
            QuantBlockQ8_0 k;
            memcpy(&k, p, sizeof k);
            deq_q8_0(&k, y);
        } else if (type == QUANT_Q4_0) {
            QuantBlockQ4_0 k;
            memcpy(&k, p, sizeof k);
            deq_q4_0(&k, y);
        } else if (type == QUANT_Q4_1) {
            QuantBlockQ4_1 k;
            memcpy(&k, p, sizeof k);
            deq_q4_1(&k, y);
        } else if (type == QUANT_Q4_K) {
            QuantBlockQ4_K k;
            memcpy(&k, p, sizeof k);
            deq_k(k.scales, k.qs, NULL, f16_to_f32(k.d), f16_to_f32(k.dmin), y);
        } else if (type == QUANT_Q5_K) {
            QuantBlockQ5_K k;
            memcpy(&k, p, sizeof k);
            deq_k(k.scales, k.qs, k.qh, f16_to_f32(k.d), f16_to_f32(k.dmin), y);
        } else if (type == QUANT_Q6_K) {
            QuantBlockQ6_K k;
            memcpy(&k, p, sizeof k);
            deq_q6_k(&k, y);
        }
    }
}
