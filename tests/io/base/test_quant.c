/* tests/io/base/test_quant.c -- io/base/quant.h against tests/data/gguf/quant.json (random
 * blocks of every supported type, with zero, subnormal, largest and negative scales,
 * dequantized by the gguf Python package): the float32 bits must be identical, element
 * for element; plus the type table (names, sizes, refusals). */
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "io/base/quant.h"
#include "tests/testutil.h"

/* Hex text -> owned bytes; *n set. */
static unsigned char *unhex(const char *hex, size_t *n) {
    const size_t len = strlen(hex);
    unsigned char *b = malloc(len / 2 + 1);
    assert_non_null(b);
    for (size_t i = 0; i < len / 2; i++) {
        unsigned v;
        assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
        b[i] = (unsigned char)v;
    }
    *n = len / 2;
    return b;
}

static void test_golden(void **state) {
    json_error_t jerr;
    json_t *doc = json_load_file(tu_path(tu_source_dir(), "tests/data/gguf/quant.json"), 0, &jerr);
    if (doc == NULL)
        printf("quant.json: %s\n", jerr.text);
    assert_non_null(doc);
    const char *name;
    json_t *t;
    int n_types = 0;
    json_object_foreach(json_object_get(doc, "types"), name, t) {
        const uint32_t id = (uint32_t)json_integer_value(json_object_get(t, "id"));
        const int64_t n = json_integer_value(json_object_get(t, "n_elems"));
        size_t n_blocks, n_vals;
        unsigned char *blocks = unhex(json_string_value(json_object_get(t, "blocks_hex")), &n_blocks);
        unsigned char *want = unhex(json_string_value(json_object_get(t, "values_hex")), &n_vals);
        assert_true(quant_supported(id));
        assert_string_equal(quant_type_name(id), name);
        assert_int_equal(quant_bytes(id, n), (int64_t)n_blocks);
        assert_int_equal(n_vals, (size_t)n * 4);
        float *got = malloc((size_t)n * sizeof(float));
        memset(got, 0xFF, (size_t)n * sizeof(float)); /* poisoned: every element must be written */
        quant_dequantize(id, blocks, got, n);
        int64_t bad = 0, first = -1;
        for (int64_t i = 0; i < n; i++)
            if (memcmp(got + i, want + 4 * i, 4) != 0 && bad++ == 0)
                first = i;
        if (bad) {
            float w;
            memcpy(&w, want + 4 * first, 4);
            printf("  %s: %lld of %lld elements differ; first [%lld] got %.9g want %.9g\n", name,
                   (long long)bad, (long long)n, (long long)first, got[first], w);
        } else {
            printf("  %s: %lld elements bit-identical to gguf.quants.dequantize\n", name,
                   (long long)n);
        }
        assert_int_equal(bad, 0);
        free(got);
        free(blocks);
        free(want);
        n_types++;
    }
    assert_int_equal(n_types, 8);
    json_decref(doc);
}

static void test_table(void **state) {
    assert_int_equal(quant_block_elems(QUANT_Q4_K), 256);
    assert_int_equal(quant_block_bytes(QUANT_Q6_K), 210);
    assert_int_equal(quant_block_bytes(QUANT_Q4_1), 20);
    assert_int_equal(quant_bytes(QUANT_Q8_0, 64), 68);
    assert_int_equal(quant_bytes(QUANT_F32, 3), 12);
    assert_int_equal(quant_bytes(QUANT_Q4_0, 33), -1); /* not a whole block */
    assert_int_equal(quant_bytes(QUANT_Q4_0, -32), -1);
    assert_int_equal(quant_bytes(QUANT_Q8_0, INT64_MAX / 32 * 32), -1); /* 34 bytes per 32: overflow */
    assert_false(quant_supported(QUANT_Q2_K)); /* known by name, not dequantized */
    assert_string_equal(quant_type_name(QUANT_Q2_K), "Q2_K");
    assert_int_equal(quant_bytes(QUANT_Q2_K, 256), -1);
    assert_null(quant_type_name(99));
    assert_false(quant_supported(99));
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_golden), cmocka_unit_test(test_table)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
