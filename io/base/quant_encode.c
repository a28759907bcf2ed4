/* io/base/quant_encode.c -- floats into blocks: ggml's reference quantizers for Q8_0, Q4_0
 * and Q4_1 (ggml-quants.c quantize_row_*_ref, the same float operations in the same
 * order), and QLoRA's NF4 both ways (bitsandbytes' kQuantizeBlockwise with
 * dQuantizeNF4: x / absmax compared with the midpoints between its 16 levels). */
#include "io/base/quant.h"

#include <math.h>
#include <string.h>

#include "io/base/dtype.h"

_Static_assert(sizeof(QuantBlockNF4) == 36, "NF4 block is 36 bytes");

static const float NF4_LEVELS[16] = {
    -1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f,
    -0.28444138169288635f, -0.18477343022823334f, -0.09105003625154495f, 0.0f,
    0.07958029955625534f, 0.16093020141124725f, 0.24611230194568634f, 0.33791524171829224f,
    0.44070982933044434f, 0.5626170039176941f, 0.7229568362236023f, 1.0f};

/* dQuantizeNF4's decision thresholds (the midpoints, as bitsandbytes spells them). */
static const float NF4_MIDS[15] = {
    -0.8480964004993439f, -0.6106329262256622f, -0.4599952697753906f, -0.33967943489551544f,
    -0.23460740596055984f, -0.13791173323988914f, -0.045525018125772476f,
    0.03979014977812767f, 0.1202552504837513f, 0.2035212516784668f, 0.2920137718319893f,
    0.3893125355243683f, 0.5016634166240692f, 0.6427869200706482f, 0.8614784181118011f};

const float *quant_nf4_levels(void) { return NF4_LEVELS; }

static uint8_t nf4_code(float x) {
    uint8_t c = 0;
    while (c < 15 && x > NF4_MIDS[c])
        c++;
    return c;
}

void quant_nf4_quantize(const float *src, void *dst, int64_t n_elems) {
    unsigned char *p = dst;
    for (int64_t b = 0; b < n_elems / QUANT_NF4_BLOCK; b++, p += sizeof(QuantBlockNF4)) {
        const float *x = src + b * QUANT_NF4_BLOCK;
        QuantBlockNF4 k = {0};
        for (int i = 0; i < QUANT_NF4_BLOCK; i++)
            k.absmax = fmaxf(k.absmax, fabsf(x[i]));
        const float inv = k.absmax > 0.0f ? 1.0f / k.absmax : 0.0f;
        for (int i = 0; i < QUANT_NF4_BLOCK / 2; i++)
            k.qs[i] = (uint8_t)(nf4_code(x[2 * i] * inv) << 4 | nf4_code(x[2 * i + 1] * inv));
        if (k.absmax == 0.0f) /* all zeros: every code the level 0.0 */
            memset(k.qs, 0x77, sizeof k.qs);
        memcpy(p, &k, sizeof k);
    }
}

void quant_nf4_dequantize(const void *src, float *dst, int64_t n_elems) {
    const unsigned char *p = src;
    for (int64_t b = 0; b < n_elems / QUANT_NF4_BLOCK; b++, p += sizeof(QuantBlockNF4)) {
        QuantBlockNF4 k;
        memcpy(&k, p, sizeof k);
        float *y = dst + b * QUANT_NF4_BLOCK;
        for (int i = 0; i < QUANT_NF4_BLOCK / 2; i++) {
            y[2 * i] = NF4_LEVELS[k.qs[i] >> 4] * k.absmax;
            y[2 * i + 1] = NF4_LEVELS[k.qs[i] & 0x0F] * k.absmax;
        }
    }
}

int quant_encodable(uint32_t type) {
    return type == QUANT_Q8_0 || type == QUANT_Q4_0 || type == QUANT_Q4_1;
}

static void enc_q8_0(const float *x, QuantBlockQ8_0 *y) {
    float amax = 0.0f;
    for (int i = 0; i < QUANT_QK; i++)
        amax = fmaxf(amax, fabsf(x[i]));
    const float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
    y->d = f32_to_f16(d);
    for (int i = 0; i < QUANT_QK; i++)
        y->qs[i] = (int8_t)roundf(x[i] * id);
}

static void enc_q4_0(const float *x, QuantBlockQ4_0 *y) {
    float amax = 0.0f, max = 0.0f; /* max: the value of largest magnitude, sign kept */
    for (int i = 0; i < QUANT_QK; i++)
        if (amax < fabsf(x[i])) {
            amax = fabsf(x[i]);
            max = x[i];
        }
    const float d = max / -8.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
    y->d = f32_to_f16(d);
    for (int i = 0; i < QUANT_QK / 2; i++) {
        const int lo = (int8_t)(x[i] * id + 8.5f), hi = (int8_t)(x[i + QUANT_QK / 2] * id + 8.5f);
        y->qs[i] = (uint8_t)((lo < 15 ? lo : 15) | (hi < 15 ? hi : 15) << 4);
    }
}

static void enc_q4_1(const float *x, QuantBlockQ4_1 *y) {
    float min = INFINITY, max = -INFINITY;
    for (int i = 0; i < QUANT_QK; i++) {
        min = fminf(min, x[i]);
        max = fmaxf(max, x[i]);
    }
    const float d = (max - min) / 15.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
    y->d = f32_to_f16(d);
    y->m = f32_to_f16(min);
    for (int i = 0; i < QUANT_QK / 2; i++) {
        const int lo = (int8_t)((x[i] - min) * id + 0.5f);
        const int hi = (int8_t)((x[i + QUANT_QK / 2] - min) * id + 0.5f);
        y->qs[i] = (uint8_t)((lo < 15 ? lo : 15) | (hi < 15 ? hi : 15) << 4);
    }
}

void quant_quantize(uint32_t type, const float *src, void *dst, int64_t n_elems) {
    unsigned char *p = dst;
    for (int64_t b = 0; b < n_elems / QUANT_QK; b++) {
        const float *x = src + b * QUANT_QK;
        if (type == QUANT_Q8_0) {
            QuantBlockQ8_0 k;
            enc_q8_0(x, &k);
            memcpy(p, &k, sizeof k);
            p += sizeof k;
        } else if (type == QUANT_Q4_0) {
            QuantBlockQ4_0 k;
            enc_q4_0(x, &k);
            memcpy(p, &k, sizeof k);
            p += sizeof k;
        } else if (type == QUANT_Q4_1) {
            QuantBlockQ4_1 k;
            enc_q4_1(x, &k);
            memcpy(p, &k, sizeof k);
            p += sizeof k;
        }
    }
}
