/* kernels/cpu/wpanel_avx512.c -- AVX-512 block decoders (wpanel.h): 16 lanes at a time, the
 * same float operations as quant.c's scalar ones (scale products and min sums rounded
 * separately: this file is compiled with -ffp-contract=off), so a panel decoded here is
 * bit-identical to quant_dequantize's. Blocks are read unaligned (GGUF aligns only
 * tensors). Only called when cpu_avx512_usable(); elsewhere these are never reached. */
#include "kernels/cpu/wpanel.h"

#include <string.h>

#include "io/base/dtype.h"
#include "io/base/quant.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#define AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,f16c")))

AVX512 void cpu_decode_bf16_avx512(const void *src, float *dst, int64_t n) {
    const uint16_t *h = src;
    for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 mk = n - i >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - i)) - 1);
        const __m256i v = _mm256_maskz_loadu_epi16(mk, h + i);
        _mm512_mask_storeu_ps(dst + i, mk,
                              _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(v), 16)));
    }
}

/* The fp16 scale at p (unaligned) as fp32: F16C's conversion, exact like f16_to_f32's
 * (every half is a float) and a few times cheaper, once per 32 weights. */
AVX512 static inline float half_at(const unsigned char *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    return _cvtsh_ss(h);
}

AVX512 void cpu_decode_q8_0_avx512(const void *src, float *dst, int64_t n_blocks) {
    const unsigned char *p = src;
    for (int64_t b = 0; b < n_blocks; b++, p += sizeof(QuantBlockQ8_0), dst += QUANT_QK) {
        const __m512 d = _mm512_set1_ps(half_at(p));
        const __m128i q0 = _mm_loadu_si128((const __m128i *)(p + 2));
        const __m128i q1 = _mm_loadu_si128((const __m128i *)(p + 18));
        _mm512_storeu_ps(dst, _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q0)), d));
        _mm512_storeu_ps(dst + 16,
                         _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q1)), d));
    }
}

/* The 16 low and 16 high nibbles of 16 bytes, as 32-bit lanes. */
AVX512 static void nibbles(const unsigned char *qs, __m512i *lo, __m512i *hi) {
    const __m512i q = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)qs));
    const __m512i f = _mm512_set1_epi32(0x0F);
    *lo = _mm512_and_si512(q, f);
    *hi = _mm512_srli_epi32(q, 4);
}

AVX512 void cpu_decode_q4_0_avx512(const void *src, float *dst, int64_t n_blocks) {
    const unsigned char *p = src;
    const __m512i eight = _mm512_set1_epi32(8);
    for (int64_t b = 0; b < n_blocks; b++, p += sizeof(QuantBlockQ4_0), dst += QUANT_QK) {
        const __m512 d = _mm512_set1_ps(half_at(p));
        __m512i lo, hi;
        nibbles(p + 2, &lo, &hi);
        _mm512_storeu_ps(dst, _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_sub_epi32(lo, eight))));
        _mm512_storeu_ps(dst + 16,
                         _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_sub_epi32(hi, eight))));
    }
}

AVX512 void cpu_decode_q4_1_avx512(const void *src, float *dst, int64_t n_blocks) {
    const unsigned char *p = src;
    for (int64_t b = 0; b < n_blocks; b++, p += sizeof(QuantBlockQ4_1), dst += QUANT_QK) {
        const __m512 d = _mm512_set1_ps(half_at(p)), m = _mm512_set1_ps(half_at(p + 2));
        __m512i lo, hi;
        nibbles(p + 4, &lo, &hi);
        _mm512_storeu_ps(dst, _mm512_add_ps(_mm512_mul_ps(d, _mm512_cvtepi32_ps(lo)), m));
        _mm512_storeu_ps(dst + 16, _mm512_add_ps(_mm512_mul_ps(d, _mm512_cvtepi32_ps(hi)), m));
    }
}

/* NF4: a byte holds elements 2i (high nibble) and 2i + 1 (low); the 16 levels sit in one
 * register and each code picks its lane. */
AVX512 void cpu_decode_nf4_avx512(const void *src, float *dst, int64_t n_blocks) {
    const unsigned char *p = src;
    const __m512 levels = _mm512_loadu_ps(quant_nf4_levels());
    for (int64_t b = 0; b < n_blocks; b++, p += sizeof(QuantBlockNF4), dst += QUANT_NF4_BLOCK) {
        float absmax;
        memcpy(&absmax, p, sizeof absmax);
        const __m512 a = _mm512_set1_ps(absmax);
        for (int h = 0; h < 2; h++) { /* 16 bytes = 32 elements each */
            const __m256i byte = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(p + 4 + 16 * h)));
            /* per 16-bit lane: low byte the high nibble (element 2i), high byte the low */
            const __m256i codes = _mm256_or_si256(
                _mm256_srli_epi16(byte, 4), _mm256_slli_epi16(_mm256_and_si256(byte, _mm256_set1_epi16(0x0F)), 8));
            for (int q = 0; q < 2; q++) {
                const __m128i c8 = q == 0 ? _mm256_castsi256_si128(codes)
                                          : _mm256_extracti128_si256(codes, 1);
                const __m512 v = _mm512_permutexvar_ps(_mm512_cvtepu8_epi32(c8), levels);
                _mm512_storeu_ps(dst + 32 * h + 16 * q, _mm512_mul_ps(v, a));
            }
        }
    }
}

#else
void cpu_decode_bf16_avx512(const void *src, float *dst, int64_t n) { (void)src, (void)dst, (void)n; }
void cpu_decode_q8_0_avx512(const void *src, float *dst, int64_t n) { (void)src, (void)dst, (void)n; }
void cpu_decode_q4_0_avx512(const void *src, float *dst, int64_t n) { (void)src, (void)dst, (void)n; }
void cpu_decode_q4_1_avx512(const void *src, float *dst, int64_t n) { (void)src, (void)dst, (void)n; }
void cpu_decode_nf4_avx512(const void *src, float *dst, int64_t n) { (void)src, (void)dst, (void)n; }
#endif
