/* kernels/cpu/blas.h -- which BLAS the CPU backend runs and which kernel family it chose.
 * OpenBLAS picks its kernels from cpuid once, when it loads; on a CPU it does not know it
 * silently falls back to SSE3 ("Prescott") kernels, 3x slower. A constructor here runs
 * before main(): it compares the family with the CPU's ISA and, when the family is below
 * it, re-executes the program once with OPENBLAS_CORETYPE naming the best family the CPU
 * supports (OpenBLAS reads it only at load time). TLM_BLAS_CORETYPE=keep turns that off;
 * TLM_BLAS_CORETYPE=NAME asks for one family (refused when the CPU lacks its ISA).
 * Queries are thread-safe; the constructor runs single-threaded before main. */
#ifndef TLM_KERNELS_CPU_BLAS_H
#define TLM_KERNELS_CPU_BLAS_H

#include <stddef.h>

#include "kernels/cpu/cpu_features.h"

typedef struct BlasInfo {
    char library[64];    /* "OpenBLAS 0.3.21" */
    char threading[16];  /* "OpenMP", "pthreads" or "serial" */
    char family[32];     /* the kernel family loaded, e.g. "Haswell" */
    int family_isa;      /* its ISA level (CpuIsa), -1 when the name is unknown */
    char corrected_from[32]; /* the family OpenBLAS chose by itself, when tlm replaced it */
    CpuFeatures cpu;
} BlasInfo;

/* Fills *out for the running process. */
void blas_info(BlasInfo *out);

/* One line for logs and --version, e.g. "OpenBLAS 0.3.21 (OpenMP), kernels Zen (AVX2) on
 * AMD EPYC (AVX2)", plus ", corrected from Prescott" or ", GENERIC: ..." when it applies. */
void blas_describe(const BlasInfo *info, char *buf, size_t n_bytes);

/* The ISA level a kernel family's name stands for (CpuIsa), -1 when unknown. */
int blas_family_isa(const char *family);

/* The best family for this CPU that OpenBLAS 0.3.x ships, or NULL for plain SSE CPUs. */
const char *blas_best_family(const CpuFeatures *cpu);

/* The family to switch to, or NULL to keep `loaded`: `request` is TLM_BLAS_CORETYPE
 * (NULL or "auto": replace a family below the CPU's ISA; "keep": never; a family name:
 * that one, unless the CPU lacks its ISA). Pure: the decision the constructor acts on. */
const char *blas_correction(const CpuFeatures *cpu, const char *loaded, const char *request);

#endif
