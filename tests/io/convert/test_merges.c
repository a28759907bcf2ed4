/* tests/io/convert/test_merges.c -- conv_generate_merges on small vocabularies, with the
 * cases tests/fuzz/fuzz_gguf found (corpus/gguf/regress-merges-no-split, regress-merges-
 * none): when the first pieces, or all, have no split, the candidate list was still NULL
 * and qsort got NULL + 0 or NULL, which UBSan reports (the TLM_SANITIZE build runs this
 * test under it). */
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "io/convert/convert_merges.h"

/* The merges of pieces as "l r" strings joined by "|". */
static void merges_of(const char *const *pieces, int64_t n, const float *scores, char *out,
                      size_t out_bytes) {
    json_t *m = json_array();
    Err err = {{0}};
    assert_int_equal(conv_generate_merges(pieces, n, scores, m, &err), 0);
    out[0] = '\0';
    for (size_t i = 0; i < json_array_size(m); i++) {
        const json_t *pair = json_array_get(m, i);
        size_t len = strlen(out);
        snprintf(out + len, out_bytes - len, "%s%s %s", i ? "|" : "",
                 json_string_value(json_array_get(pair, 0)),
                 json_string_value(json_array_get(pair, 1)));
    }
    json_decref(m);
}

static void test_no_split_first(void **state) {
    char got[256];
    const char *const one[] = {"a"};
    merges_of(one, 1, NULL, got, sizeof got);
    assert_string_equal(got, "");
    const char *const none[] = {"a", "b", "c"};
    merges_of(none, 3, NULL, got, sizeof got);
    assert_string_equal(got, "");
    const float scores[] = {-1, -2, -3};
    merges_of(none, 3, scores, got, sizeof got);
    assert_string_equal(got, "");
    const char *const later[] = {"x", "y", "a", "b", "ab", "xab"};
    merges_of(later, 6, NULL, got, sizeof got);
    assert_string_equal(got, "a b|x ab");
    (void)state;
}

static void test_scores_order(void **state) {
    char got[256];
    const char *const pieces[] = {"a", "b", "c", "ab", "bc", "abc"};
    const float scores[] = {0, 0, 0, -2, -1, -3}; /* bc before ab, abc last */
    merges_of(pieces, 6, scores, got, sizeof got);
    assert_string_equal(got, "b c|a b|ab c|a bc");
    (void)state;
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_no_split_first),
                                       cmocka_unit_test(test_scores_order)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
