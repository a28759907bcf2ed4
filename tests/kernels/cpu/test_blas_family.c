/* tests/kernels/cpu/test_blas_family.c -- the CPU backend never runs generic BLAS kernels
 * on a CPU with AVX2 or AVX-512 (kernels/cpu/blas.h):
 *   - the decision table: which family replaces which on which CPU, and when none does;
 *   - this machine: the family loaded is not below the CPU's ISA (skipped on CPUs without
 *     AVX2);
 *   - with `--expect-corrected FAMILY` (ctest runs it under OPENBLAS_CORETYPE=Prescott):
 *     the process was re-executed and now runs the CPU's best family, and says what it
 *     replaced. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "kernels/cpu/blas.h"
#include "tests/testutil.h"

static const char *expect_corrected; /* argv: the family OpenBLAS was forced to load */

static CpuFeatures cpu_of(CpuIsa isa, int bf16, int amd) {
    CpuFeatures c = {.isa = isa, .avx512_bf16 = bf16, .amd = amd};
    return c;
}

static void check(CpuFeatures c, const char *loaded, const char *request, const char *want) {
    const char *got = blas_correction(&c, loaded, request);
    if (want == NULL && got != NULL)
        fail_msg("isa %d loaded %s request %s: got %s, want no change", c.isa, loaded,
                 request ? request : "(unset)", got);
    if (want != NULL && (got == NULL || strcmp(got, want) != 0))
        fail_msg("isa %d loaded %s request %s: got %s, want %s", c.isa, loaded,
                 request ? request : "(unset)", got ? got : "no change", want);
}

static void test_decisions(void **state) {
    (void)state;
    /* the reported case: Emerald Rapids (AVX-512 + BF16), OpenBLAS 0.3.21 fell back */
    check(cpu_of(CPU_ISA_AVX512, 1, 0), "Prescott", NULL, "Cooperlake");
    check(cpu_of(CPU_ISA_AVX512, 0, 0), "Prescott", "auto", "SkylakeX");
    check(cpu_of(CPU_ISA_AVX512, 0, 0), "Haswell", NULL, "SkylakeX");
    check(cpu_of(CPU_ISA_AVX2, 0, 0), "Nehalem", NULL, "Haswell");
    check(cpu_of(CPU_ISA_AVX2, 0, 1), "Prescott", NULL, "Zen");
    check(cpu_of(CPU_ISA_AVX, 0, 0), "Core2", NULL, "Sandybridge");
    /* right already, or not ours to judge */
    check(cpu_of(CPU_ISA_AVX2, 0, 1), "Zen", NULL, NULL);
    check(cpu_of(CPU_ISA_AVX2, 0, 0), "Haswell", NULL, NULL);
    check(cpu_of(CPU_ISA_AVX512, 1, 0), "SkylakeX", NULL, NULL);
    check(cpu_of(CPU_ISA_SSE, 0, 0), "Prescott", NULL, NULL);
    check(cpu_of(CPU_ISA_AVX2, 0, 0), "SomeFutureCore", NULL, NULL);
    /* the user's word */
    check(cpu_of(CPU_ISA_AVX512, 1, 0), "Prescott", "keep", NULL);
    check(cpu_of(CPU_ISA_AVX2, 0, 1), "Zen", "Haswell", "Haswell");
    check(cpu_of(CPU_ISA_AVX2, 0, 1), "Haswell", "haswell", NULL);
    check(cpu_of(CPU_ISA_AVX2, 0, 0), "Haswell", "SkylakeX", NULL); /* would fault here */
    check(cpu_of(CPU_ISA_AVX2, 0, 0), "Haswell", "NoSuchCore", NULL);
    assert_int_equal(blas_family_isa("prescott"), CPU_ISA_SSE);
    assert_int_equal(blas_family_isa("SapphireRapids"), CPU_ISA_AVX512);
    assert_int_equal(blas_family_isa("NoSuchCore"), -1);
}

static void test_this_machine(void **state) {
    (void)state;
    BlasInfo b;
    blas_info(&b);
    char line[384];
    blas_describe(&b, line, sizeof line);
    print_message("blas: %s\n", line);
    if (b.cpu.isa < CPU_ISA_AVX2) {
        print_message("SKIP: this CPU has no AVX2 (%s): generic kernels are its best\n",
                      cpu_isa_name(b.cpu.isa));
        skip();
    }
    assert_true(b.family_isa >= 0); /* a family this table knows */
    if (b.family_isa < (int)b.cpu.isa)
        fail_msg("OpenBLAS runs %s (%s) kernels on a %s CPU", b.family,
                 cpu_isa_name((CpuIsa)b.family_isa), cpu_isa_name(b.cpu.isa));
    if (expect_corrected != NULL) {
        assert_string_equal(b.corrected_from, expect_corrected);
        assert_string_equal(b.family, blas_best_family(&b.cpu));
        assert_non_null(strstr(line, "corrected from"));
    }
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "--expect-corrected") == 0) {
        expect_corrected = argv[2];
        CpuFeatures cpu;
        cpu_features_detect(&cpu);
        if (cpu.isa < CPU_ISA_AVX2)
            tu_skip("this CPU has no AVX2: there is nothing better to correct to");
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decisions),
        cmocka_unit_test(test_this_machine),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
