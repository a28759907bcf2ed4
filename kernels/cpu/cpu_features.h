/* kernels/cpu/cpu_features.h -- what the x86-64 CPU we run on can execute, from cpuid and
 * xgetbv (an ISA level counts only when the OS also saves its registers). Used to check
 * the kernels the BLAS chose against the machine; no other module asks the CPU anything.
 * Pure queries: thread-safe, no state. On other architectures every level reads 0. */
#ifndef TLM_KERNELS_CPU_CPU_FEATURES_H
#define TLM_KERNELS_CPU_CPU_FEATURES_H

/* The vector ISA levels that decide which BLAS kernels are right, in order. */
typedef enum CpuIsa {
    CPU_ISA_SSE = 0,    /* SSE2/SSE3 (every x86-64) up to SSE4.2 */
    CPU_ISA_AVX = 1,    /* AVX, no AVX2/FMA */
    CPU_ISA_AVX2 = 2,   /* AVX2 + FMA */
    CPU_ISA_AVX512 = 3, /* AVX-512 F, CD, BW, DQ, VL (the Skylake-X set) */
} CpuIsa;

typedef struct CpuFeatures {
    CpuIsa isa;
    int avx512_bf16; /* AVX512_BF16: Cooper Lake, Sapphire Rapids, Zen 4 and later */
    int amd;         /* vendor AuthenticAMD (OpenBLAS tunes its Zen family separately) */
    int family, model; /* display family / model, as /proc/cpuinfo shows them */
    char brand[64];    /* the processor brand string, trimmed */
} CpuFeatures;

/* Fills *out from this CPU. Never fails; unknown fields stay 0 / "". */
void cpu_features_detect(CpuFeatures *out);

/* "SSE", "AVX", "AVX2" or "AVX-512". */
const char *cpu_isa_name(CpuIsa isa);

#endif
