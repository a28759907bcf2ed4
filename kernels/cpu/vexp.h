/* kernels/cpu/vexp.h -- an expf the compiler can vectorize, and the attribute that builds a
 * hot loop once per x86-64 level. libm's expf is a call per element, so a loop over a
 * 32k-49k vocabulary row stays scalar; vexp is Cephes' expf (Moshier, cephes/single/expf.c:
 * x = n ln2 + r, |r| <= ln2/2, e^r by a degree-5 polynomial, 2^n put into the exponent
 * bits), about 1 ulp on [-87.3, 88.7], in plain C with no libm call and no branch.
 * Below -87.3 it returns ~6e-39 (not 0): every caller adds or scales terms <= 1, where the
 * difference is far below fp32 rounding. Not for NaN or +inf inputs (callers subtract the
 * row max first, so every argument is <= 0). */
#ifndef TLM_KERNELS_CPU_VEXP_H
#define TLM_KERNELS_CPU_VEXP_H

#include <stdint.h>
#include <string.h>

/* One build of the function per x86-64 level, chosen at load time by the CPU (GCC's
 * function multi-versioning): AVX-512 and AVX2 + FMA where the machine has them, SSE2
 * elsewhere. The program itself stays baseline x86-64. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define CPU_MULTIVERSION \
    __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define CPU_MULTIVERSION
#endif

static inline float vexp(float x) {
    x = x < -87.3f ? -87.3f : (x > 88.7f ? 88.7f : x);
    /* n = round(x / ln2) by the 1.5 * 2^23 trick (exact for |n| < 2^22, no libm call) */
    const float big = 12582912.0f;
    const float n = (x * 1.44269504088896341f + big) - big;
    const float r = (x - n * 0.693359375f) + n * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    const int32_t bits = ((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

#endif
