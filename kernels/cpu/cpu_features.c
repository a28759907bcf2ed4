/* kernels/cpu/cpu_features.c -- cpuid / xgetbv queries (Intel SDM vol. 2A, CPUID; the
 * XCR0 bits of vol. 1 §13.3 say whether the OS saves the YMM / ZMM state). */
#include "kernels/cpu/cpu_features.h"

#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

enum {
    XCR0_SSE_AVX = 0x6,   /* XMM and YMM state */
    XCR0_AVX512 = 0xe0,   /* opmask, ZMM_Hi256, Hi16_ZMM state */
};

static unsigned long long read_xcr0(void) {
    unsigned int lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((unsigned long long)hi << 32) | lo;
}

static void read_brand(char *brand, size_t n_bytes) {
    unsigned int r[12] = {0};
    unsigned int max_ext = __get_cpuid_max(0x80000000u, NULL);
    brand[0] = '\0';
    if (max_ext < 0x80000004u)
        return;
    for (unsigned int i = 0; i < 3; i++)
        __get_cpuid(0x80000002u + i, &r[4 * i], &r[4 * i + 1], &r[4 * i + 2], &r[4 * i + 3]);
    char raw[49];
    memcpy(raw, r, 48);
    raw[48] = '\0';
    const char *s = raw;
    while (*s == ' ')
        s++;
    size_t len = strlen(s);
    while (len > 0 && s[len - 1] == ' ')
        len--;
    if (len >= n_bytes)
        len = n_bytes - 1;
    memcpy(brand, s, len);
    brand[len] = '\0';
}

static CpuIsa isa_level(unsigned int ecx1, unsigned int ebx7) {
    const int osxsave = (ecx1 >> 27) & 1;
    if (!osxsave || (read_xcr0() & XCR0_SSE_AVX) != XCR0_SSE_AVX)
        return CPU_ISA_SSE;
    if (!((ecx1 >> 28) & 1)) /* AVX */
        return CPU_ISA_SSE;
    const int avx2_fma = ((ebx7 >> 5) & 1) && ((ecx1 >> 12) & 1);
    if (!avx2_fma)
        return CPU_ISA_AVX;
    /* AVX512 F (16), DQ (17), CD (28), BW (30), VL (31) */
    const unsigned int skx = (1u << 16) | (1u << 17) | (1u << 28) | (1u << 30) | (1u << 31);
    if ((ebx7 & skx) == skx && (read_xcr0() & XCR0_AVX512) == XCR0_AVX512)
        return CPU_ISA_AVX512;
    return CPU_ISA_AVX2;
}

void cpu_features_detect(CpuFeatures *out) {
    memset(out, 0, sizeof *out);
    unsigned int a, b, c, d;
    if (!__get_cpuid(0, &a, &b, &c, &d))
        return;
    const unsigned int max_leaf = a;
    out->amd = b == 0x68747541u && d == 0x69746e65u && c == 0x444d4163u; /* "AuthenticAMD" */
    unsigned int ecx1 = 0, ebx7 = 0, eax71 = 0;
    if (__get_cpuid(1, &a, &b, &c, &d)) {
        ecx1 = c;
        const int base_family = (int)((a >> 8) & 0xf), base_model = (int)((a >> 4) & 0xf);
        const int ext_family = (int)((a >> 20) & 0xff), ext_model = (int)((a >> 16) & 0xf);
        out->family = base_family == 0xf ? base_family + ext_family : base_family;
        out->model = (base_family == 0x6 || base_family == 0xf) ? base_model + (ext_model << 4)
                                                                : base_model;
    }
    if (max_leaf >= 7) {
        __cpuid_count(7, 0, a, b, c, d);
        ebx7 = b;
        __cpuid_count(7, 1, a, b, c, d);
        eax71 = a;
    }
    out->isa = isa_level(ecx1, ebx7);
    out->avx512_bf16 = out->isa == CPU_ISA_AVX512 && ((eax71 >> 5) & 1);
    read_brand(out->brand, sizeof out->brand);
}
#else
void cpu_features_detect(CpuFeatures *out) { memset(out, 0, sizeof *out); }
#endif

const char *cpu_isa_name(CpuIsa isa) {
    static const char *const names[] = {"SSE", "AVX", "AVX2", "AVX-512"};
    return isa >= CPU_ISA_SSE && isa <= CPU_ISA_AVX512 ? names[isa] : "?";
}
