/* kernels/cpu/blas.c -- the BLAS identity and the kernel-family check of blas.h.
 * Family names are OpenBLAS 0.3.x's DYNAMIC_ARCH core names (driver/others/dynamic.c). */
#include "kernels/cpu/blas.h"

#include "kernels/cpu/cpu_ops.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* OpenBLAS's own queries (cblas.h declares them; declared here to keep this file free
 * of the BLAS headers' include path). */
char *openblas_get_config(void);
char *openblas_get_corename(void);
int openblas_get_parallel(void);

/* Set on the re-executed process: the family OpenBLAS had chosen before, and the guard
 * that keeps a family OpenBLAS will not load from re-executing forever. */
#define BLAS_REEXEC_ENV "TLM_BLAS_REEXEC_FROM"

typedef struct FamilyIsa {
    const char *name;
    CpuIsa isa;
} FamilyIsa;

static const FamilyIsa FAMILIES[] = {
    {"Katmai", CPU_ISA_SSE},        {"Coppermine", CPU_ISA_SSE},  {"Northwood", CPU_ISA_SSE},
    {"Prescott", CPU_ISA_SSE},      {"Banias", CPU_ISA_SSE},      {"Atom", CPU_ISA_SSE},
    {"Core2", CPU_ISA_SSE},         {"Penryn", CPU_ISA_SSE},      {"Dunnington", CPU_ISA_SSE},
    {"Nehalem", CPU_ISA_SSE},       {"Athlon", CPU_ISA_SSE},      {"Opteron", CPU_ISA_SSE},
    {"Opteron_SSE3", CPU_ISA_SSE},  {"Barcelona", CPU_ISA_SSE},   {"Nano", CPU_ISA_SSE},
    {"Bobcat", CPU_ISA_SSE},        {"Sandybridge", CPU_ISA_AVX}, {"Bulldozer", CPU_ISA_AVX},
    {"Piledriver", CPU_ISA_AVX},    {"Steamroller", CPU_ISA_AVX}, {"Haswell", CPU_ISA_AVX2},
    {"Zen", CPU_ISA_AVX2},          {"Excavator", CPU_ISA_AVX2},  {"SkylakeX", CPU_ISA_AVX512},
    {"Cooperlake", CPU_ISA_AVX512}, {"SapphireRapids", CPU_ISA_AVX512},
};

int blas_family_isa(const char *family) {
    for (size_t i = 0; family != NULL && i < sizeof FAMILIES / sizeof FAMILIES[0]; i++)
        if (strcasecmp(family, FAMILIES[i].name) == 0)
            return (int)FAMILIES[i].isa;
    return -1;
}

const char *blas_best_family(const CpuFeatures *cpu) {
    switch (cpu->isa) {
    case CPU_ISA_AVX512:
        /* Cooperlake adds the bf16 GEMM kernels; its fp32 kernels are SkylakeX's. */
        return cpu->avx512_bf16 ? "Cooperlake" : "SkylakeX";
    case CPU_ISA_AVX2:
        return cpu->amd ? "Zen" : "Haswell";
    case CPU_ISA_AVX:
        return "Sandybridge";
    default:
        return NULL;
    }
}

const char *blas_correction(const CpuFeatures *cpu, const char *loaded, const char *request) {
    if (request != NULL && strcasecmp(request, "keep") == 0)
        return NULL;
    if (request != NULL && *request != '\0' && strcasecmp(request, "auto") != 0) {
        const int isa = blas_family_isa(request);
        if (isa < 0 || isa > (int)cpu->isa)
            return NULL; /* unknown, or kernels this CPU would fault on: blas_describe says so */
        return loaded != NULL && strcasecmp(loaded, request) == 0 ? NULL : request;
    }
    const int have = blas_family_isa(loaded);
    if (have < 0 || have >= (int)cpu->isa)
        return NULL; /* right for this CPU (or a family we do not know: never guess) */
    return blas_best_family(cpu);
}

static void copy_word(char *dst, size_t n_bytes, const char *src) {
    snprintf(dst, n_bytes, "%s", src != NULL ? src : "");
}

void blas_info(BlasInfo *out) {
    memset(out, 0, sizeof *out);
    cpu_features_detect(&out->cpu);
    /* "OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH ..." -> its first two words */
    const char *config = openblas_get_config();
    int words = 0;
    size_t len = 0;
    while (config != NULL && config[len] != '\0' && !(config[len] == ' ' && ++words == 2))
        len++;
    snprintf(out->library, sizeof out->library, "%.*s", (int)len, config ? config : "");
    static const char *const threading[] = {"serial", "pthreads", "OpenMP"};
    const int par = openblas_get_parallel();
    copy_word(out->threading, sizeof out->threading, par >= 0 && par <= 2 ? threading[par] : "?");
    copy_word(out->family, sizeof out->family, openblas_get_corename());
    out->family_isa = blas_family_isa(out->family);
    const char *from = getenv(BLAS_REEXEC_ENV);
    if (from != NULL && strcasecmp(from, out->family) != 0)
        copy_word(out->corrected_from, sizeof out->corrected_from, from);
}

void blas_describe(const BlasInfo *info, char *buf, size_t n_bytes) {
    const char *isa = info->family_isa >= 0 ? cpu_isa_name((CpuIsa)info->family_isa) : "?";
    int n = snprintf(buf, n_bytes, "%s (%s), kernels %s (%s) on %s (%s)", info->library,
                     info->threading, info->family, isa,
                     info->cpu.brand[0] ? info->cpu.brand : "unknown CPU",
                     cpu_isa_name(info->cpu.isa));
    if (n < 0 || (size_t)n >= n_bytes)
        return;
    const char *request = getenv("TLM_BLAS_CORETYPE");
    const int asked = blas_family_isa(request);
    if (info->corrected_from[0] != '\0')
        snprintf(buf + n, n_bytes - (size_t)n, ", corrected from %s", info->corrected_from);
    else if (request != NULL && strcasecmp(request, info->family) != 0 &&
             strcasecmp(request, "keep") != 0 && strcasecmp(request, "auto") != 0)
        snprintf(buf + n, n_bytes - (size_t)n, ", TLM_BLAS_CORETYPE=%s ignored (%s)", request,
                 asked < 0 ? "not an OpenBLAS kernel family" : "this CPU lacks its ISA");
    else if (info->family_isa >= 0 && info->family_isa < (int)info->cpu.isa)
        snprintf(buf + n, n_bytes - (size_t)n, ", GENERIC: below what the CPU runs (%s)",
                 blas_best_family(&info->cpu));
}

void cpu_describe(char *buf, size_t n_bytes) {
    BlasInfo info;
    blas_info(&info);
    blas_describe(&info, buf, n_bytes);
}

/* Runs before main() in every program that links the CPU backend (the kernels library
 * forces this object in with -u). glibc passes argc/argv/envp to ELF constructors. */
__attribute__((constructor)) void tlm_blas_startup(int argc, char **argv, char **envp) {
    (void)argc;
    (void)envp;
    if (argv == NULL || getenv(BLAS_REEXEC_ENV) != NULL)
        return; /* re-executed once already: keep what loaded, blas_describe tells */
    CpuFeatures cpu;
    cpu_features_detect(&cpu);
    const char *loaded = openblas_get_corename();
    const char *want = blas_correction(&cpu, loaded, getenv("TLM_BLAS_CORETYPE"));
    if (want == NULL)
        return;
    char self[PATH_MAX];
    const ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len <= 0)
        return;
    self[len] = '\0';
    if (setenv("OPENBLAS_CORETYPE", want, 1) != 0 || setenv(BLAS_REEXEC_ENV, loaded, 1) != 0)
        return;
    fflush(NULL);
    execv(self, argv);
    /* exec failed: run on with the kernels we have; blas_describe reports them */
    unsetenv(BLAS_REEXEC_ENV);
}
