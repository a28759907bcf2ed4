/* io/base/dtype.c -- element sizes, names and the fp32 <-> bf16/f16 conversions.
 * Conversions are bit-exact with torch's: round to nearest even, NaN stays NaN (quiet),
 * overflow goes to infinity. Bits move through memcpy, never pointer casts. */
#include "io/base/dtype.h"

#include <math.h>
#include <string.h>

static uint32_t f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static float bits_f32(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

size_t dtype_bytes(DType t) {
    switch (t) {
    case DTYPE_F32: return 4;
    case DTYPE_F16: return 2;
    case DTYPE_BF16: return 2;
    case DTYPE_I32: return 4;
    case DTYPE_I64: return 8;
    }
    return 0;
}

const char *dtype_name(DType t) {
    switch (t) {
    case DTYPE_F32: return "F32";
    case DTYPE_F16: return "F16";
    case DTYPE_BF16: return "BF16";
    case DTYPE_I32: return "I32";
    case DTYPE_I64: return "I64";
    }
    return "?";
}

int dtype_parse(const char *s, DType *out) {
    static const DType all[] = {DTYPE_F32, DTYPE_F16, DTYPE_BF16, DTYPE_I32, DTYPE_I64};
    if (s == NULL)
        return -1;
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (strcmp(s, dtype_name(all[i])) == 0) {
            *out = all[i];
            return 0;
        }
    return -1;
}

float bf16_to_f32(uint16_t h) { return bits_f32((uint32_t)h << 16); }

/* torch's round_to_nearest_even: add 0x7FFF plus the lowest kept bit, truncate. NaN
 * would be rounded into infinity by that trick, so it is caught first; torch's CPU
 * conversion (measured, 2.15) turns every NaN into 0xFFFF, so we do too. */
uint16_t f32_to_bf16(float f) {
    uint32_t u = f32_bits(f);
    if (isnan(f))
        return 0xFFFFu;
    u += 0x7FFFu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

float f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1Fu;
    uint32_t man = h & 0x3FFu;
    if (exp == 0x1F) /* inf or NaN: keep the payload */
        return bits_f32(sign | 0x7F800000u | (man << 13));
    if (exp == 0) { /* zero or subnormal: man * 2^-24, exact in fp32 */
        float v = ldexpf((float)man, -24);
        return sign ? -v : v;
    }
    return bits_f32(sign | ((exp - 15 + 127) << 23) | (man << 13));
}

uint16_t f32_to_f16(float f) {
    uint32_t u = f32_bits(f);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    uint32_t a = u & 0x7FFFFFFFu;
    if (a > 0x7F800000u) /* NaN: quiet, as torch (FP16 library) does */
        return (uint16_t)(sign | 0x7E00u);
    if (a >= 0x477FF000u) /* >= 65520 rounds to infinity (inf included) */
        return (uint16_t)(sign | 0x7C00u);
    if (a < 0x38800000u) { /* below 2^-14: subnormal f16 = rint(|f| * 2^24), exact scaling */
        float v = bits_f32(a) * 16777216.0f;
        return (uint16_t)(sign | (uint16_t)rintf(v)); /* 1024 carries into the exponent */
    }
    uint32_t exp = (a >> 23) - 127 + 15;
    uint32_t man = a & 0x7FFFFFu;
    uint32_t h = (exp << 10) | (man >> 13);
    uint32_t rest = man & 0x1FFFu;
    if (rest > 0x1000u || (rest == 0x1000u && (h & 1u)))
        h++; /* a carry out of the mantissa correctly bumps the exponent */
    return (uint16_t)(sign | h);
}

void dtype_to_f32(float *dst, const void *src, DType t, int64_t n) {
    const unsigned char *s = src;
    switch (t) {
    case DTYPE_F32:
        memcpy(dst, src, (size_t)n * sizeof(float));
        return;
    case DTYPE_BF16:
    case DTYPE_F16:
        /* memcpy per element: mapped tensors need not be 2-byte aligned */
        for (int64_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, s + 2 * i, 2);
            dst[i] = t == DTYPE_BF16 ? bf16_to_f32(h) : f16_to_f32(h);
        }
        return;
    case DTYPE_I32:
        for (int64_t i = 0; i < n; i++) {
            int32_t v;
            memcpy(&v, s + 4 * i, 4);
            dst[i] = (float)v;
        }
        return;
    case DTYPE_I64:
        for (int64_t i = 0; i < n; i++) {
            int64_t v;
            memcpy(&v, s + 8 * i, 8);
            dst[i] = (float)v;
        }
        return;
    }
}

int64_t dtype_first_nonfinite(const void *src, DType t, int64_t n, int *is_nan) {
    /* an all-ones exponent is Inf (zero mantissa) or NaN */
    uint32_t exp_mask, man_mask;
    switch (t) {
    case DTYPE_F32: exp_mask = 0x7f800000u; man_mask = 0x007fffffu; break;
    case DTYPE_F16: exp_mask = 0x7c00u; man_mask = 0x03ffu; break;
    case DTYPE_BF16: exp_mask = 0x7f80u; man_mask = 0x007fu; break;
    default: return -1;
    }
    for (int64_t i = 0; i < n; i++) {
        uint32_t bits;
        if (t == DTYPE_F32) {
            memcpy(&bits, (const uint8_t *)src + 4 * i, 4);
        } else {
            uint16_t h;
            memcpy(&h, (const uint8_t *)src + 2 * i, 2);
            bits = h;
        }
        if ((bits & exp_mask) == exp_mask) {
            if (is_nan != NULL)
                *is_nan = (bits & man_mask) != 0;
            return i;
        }
    }
    return -1;
}
