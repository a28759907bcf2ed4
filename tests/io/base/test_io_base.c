/* tests/io/base/test_io_base.c -- io/base's containers: vec growth (doubling, jumping to a
 * large need, refusing overflow and negative sizes with the array left intact), the typed
 * push/append and parallel-array forms, StrBuf (append, reserve, reading a stream),
 * StrList, StrMap (overwrite, growth past many keys, embedded NULs) and the UTF-8 rules
 * (overlongs, surrogates, > U+10FFFF, truncation, encode/decode round trip). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "io/base/dtype.h"
#include "io/base/strbuf.h"
#include "io/base/strlist.h"
#include "io/base/strmap.h"
#include "io/base/utf8.h"
#include "io/base/vec.h"
#include "tests/testutil.h"

static void test_vec_growth(void **state) {
    int32_t *v = NULL;
    int64_t n = 0, cap = 0;
    Err err = {{0}};
    for (int32_t i = 0; i < 1000; i++)
        assert_int_equal(VEC_PUSH(v, n, cap, i * 3, &err), 0);
    assert_int_equal(n, 1000);
    assert_int_equal(cap, VEC_MIN_CAP << 6); /* doubled from VEC_MIN_CAP, not per push */
    for (int32_t i = 0; i < 1000; i++)
        assert_int_equal(v[i], i * 3);
    /* A need far beyond double goes straight there. */
    assert_int_equal(VEC_RESERVE(v, cap, 100000, &err), 0);
    assert_true(cap >= 100000);
    assert_int_equal(v[999], 2997);
    vec_free(&v, &n, &cap);
    assert_null(v);
    assert_int_equal(n, 0);
    assert_int_equal(cap, 0);
    vec_free(&v, &n, &cap); /* twice is fine */
}

static void test_vec_errors(void **state) {
    double *v = NULL;
    int64_t n = 0, cap = 0;
    Err err = {{0}};
    assert_int_equal(VEC_PUSH(v, n, cap, 1.5, &err), 0);
    double *before = v;
    int64_t cap_before = cap;
    assert_int_equal(VEC_RESERVE(v, cap, INT64_MAX / 4, &err), -1);
    assert_non_null(strstr(err.msg, "size overflows"));
    assert_ptr_equal(v, before); /* left as it was */
    assert_int_equal(cap, cap_before);
    assert_int_equal(VEC_RESERVE(v, cap, -1, &err), -1);
    assert_non_null(strstr(err.msg, "negative size"));
    assert_int_equal(VEC_APPEND(v, n, cap, v, -2, &err), -1);
    assert_true(v[0] == 1.5 && n == 1);
    assert_int_equal(VEC_RESERVE(v, cap, 0, NULL), 0); /* NULL err allowed */
    vec_free(&v, &n, &cap);
}

static void test_vec_append_and_pairs(void **state) {
    const int16_t src[5] = {1, 2, 3, 4, 5};
    int16_t *v = NULL;
    int64_t n = 0, cap = 0;
    assert_int_equal(VEC_APPEND(v, n, cap, src, 5, NULL), 0);
    assert_int_equal(VEC_APPEND(v, n, cap, src, 0, NULL), 0);
    assert_int_equal(VEC_APPEND(v, n, cap, src + 3, 2, NULL), 0);
    assert_int_equal(n, 7);
    assert_memory_equal(v, ((int16_t[]){1, 2, 3, 4, 5, 4, 5}), 7 * sizeof *v);
    vec_free(&v, &n, NULL);

    char **names = NULL;
    int64_t *steps = NULL, pair_cap = 0;
    for (int64_t i = 0; i < 100; i++) {
        assert_int_equal(VEC_RESERVE2(names, steps, pair_cap, i + 1, NULL), 0);
        names[i] = NULL;
        steps[i] = i;
    }
    assert_true(pair_cap >= 100);
    assert_int_equal(steps[99], 99);
    free(names);
    free(steps);
}

static void test_strbuf(void **state) {
    StrBuf b = {0};
    Err err = {{0}};
    assert_int_equal(strbuf_append(&b, "ab", 2, &err), 0);
    assert_int_equal(strbuf_append(&b, "c\0d", 3, &err), 0); /* embedded NUL kept */
    assert_int_equal(b.n_bytes, 5);
    assert_memory_equal(b.data, "abc\0d", 6);
    assert_int_equal(strbuf_reserve(&b, 1000, &err), 0);
    assert_true(b.cap >= 1006);
    assert_int_equal(strbuf_reserve(&b, SIZE_MAX - 2, &err), -1);
    assert_non_null(strstr(err.msg, "size overflows"));
    b.n_bytes = 0;
    assert_int_equal(strbuf_append(&b, NULL, 0, &err), 0);
    assert_string_equal(b.data, "");
    strbuf_free(&b);
    strbuf_free(&b);

    /* A stream longer than one read chunk, and an empty one (data still non-NULL). */
    FILE *f = tmpfile();
    assert_non_null(f);
    for (int i = 0; i < 3000; i++)
        fprintf(f, "%04d", i);
    rewind(f);
    assert_int_equal(strbuf_read_stream(&b, f, &err), 0);
    assert_int_equal(b.n_bytes, 12000);
    assert_memory_equal(b.data + 11996, "2999", 5);
    strbuf_free(&b);
    fclose(f);
    f = tmpfile();
    assert_int_equal(strbuf_read_stream(&b, f, &err), 0);
    assert_non_null(b.data);
    assert_int_equal(b.n_bytes, 0);
    strbuf_free(&b);
    fclose(f);
}

static void test_strlist(void **state) {
    StrList l = {0};
    Err err = {{0}};
    char word[16];
    for (int i = 0; i < 40; i++) {
        int k = snprintf(word, sizeof word, "w%d", i);
        assert_int_equal(strlist_push(&l, word, (size_t)k, &err), 0);
    }
    assert_int_equal(l.n_items, 40);
    assert_string_equal(l.items[39], "w39");
    assert_int_equal(l.n_item_bytes[39], 3);
    assert_int_equal(strlist_push(&l, "", 0, &err), 0);
    assert_string_equal(l.items[40], "");
    strlist_clear(&l);
    assert_int_equal(l.n_items, 0);
    assert_int_equal(strlist_push(&l, "again", 5, &err), 0);
    assert_string_equal(l.items[0], "again");
    strlist_free(&l);
    strlist_free(&l);
}

static void test_strmap(void **state) {
    StrMap m;
    Err err = {{0}};
    assert_int_equal(strmap_init(&m, 2, &err), 0);
    char key[32];
    for (int32_t i = 0; i < 5000; i++) { /* grows many times past the initial size */
        int k = snprintf(key, sizeof key, "piece-%d", i);
        assert_int_equal(strmap_put(&m, key, (size_t)k, i, &err), 0);
    }
    assert_int_equal(m.count, 5000);
    assert_true(m.cap >= 2 * m.count);
    for (int32_t i = 0; i < 5000; i += 7) {
        int k = snprintf(key, sizeof key, "piece-%d", i);
        assert_int_equal(strmap_get(&m, key, (size_t)k), i);
    }
    assert_int_equal(strmap_get(&m, "piece-5000", 10), -1);
    assert_int_equal(strmap_put(&m, "piece-3", 7, -7, &err), 0); /* overwrite */
    assert_int_equal(strmap_get(&m, "piece-3", 7), -7);
    assert_int_equal(m.count, 5000);
    assert_int_equal(strmap_put(&m, "a\0b", 3, 11, &err), 0);
    assert_int_equal(strmap_get(&m, "a\0b", 3), 11);
    assert_int_equal(strmap_get(&m, "a", 1), -1);
    strmap_free(&m);
    strmap_free(&m);
    assert_int_equal(strmap_get(&m, "x", 1), -1); /* a zeroed map is empty */
}

static void test_utf8(void **state) {
    assert_true(utf8_valid("h\xC3\xA9llo \xE2\x96\x81 \xF0\x9F\x98\x80", 15));
    assert_false(utf8_valid("\xC0\xAF", 2));         /* overlong '/' */
    assert_false(utf8_valid("\xE0\x80\xAF", 3));     /* overlong, 3 bytes */
    assert_false(utf8_valid("\xED\xA0\x80", 3));     /* surrogate U+D800 */
    assert_false(utf8_valid("\xF4\x90\x80\x80", 4)); /* U+110000 */
    assert_false(utf8_valid("\xE2\x96", 2));         /* truncated */
    assert_false(utf8_valid("\x80", 1));             /* lone continuation */
    assert_int_equal(utf8_len(0x41), 1);
    assert_int_equal(utf8_len(0xC3), 2);
    assert_int_equal(utf8_len(0xE2), 3);
    assert_int_equal(utf8_len(0xF0), 4);
    assert_int_equal(utf8_len(0x80), 1); /* scanners always advance */
    const int32_t cps[] = {0x41, 0xE9, 0x2581, 0x1F600, 0x10FFFF};
    for (size_t i = 0; i < sizeof cps / sizeof cps[0]; i++) {
        char buf[4];
        int n = utf8_encode(cps[i], buf), used;
        assert_true(utf8_valid(buf, (size_t)n));
        assert_int_equal(utf8_decode(buf, (size_t)n, &used), cps[i]);
        assert_int_equal(used, n);
    }
    int used;
    assert_int_equal(utf8_decode("\xE2\x96", 2, &used), 0xE2); /* cut: the lead byte */
    assert_int_equal(used, 1);
}

/* dtype_first_nonfinite: the first NaN/Inf of each stored dtype, and none among finite
 * extremes (the largest finite value, denormals, -0). */
static void test_nonfinite(void **state) {
    (void)state;
    const float f[] = {0.0f, -0.0f, 3.4028235e38f, 1e-45f, -1.0f, INFINITY, NAN};
    int is_nan = -1;
    assert_int_equal(dtype_first_nonfinite(f, DTYPE_F32, 5, &is_nan), -1);
    assert_int_equal(dtype_first_nonfinite(f, DTYPE_F32, 7, &is_nan), 5);
    assert_int_equal(is_nan, 0);
    assert_int_equal(dtype_first_nonfinite(f + 6, DTYPE_F32, 1, &is_nan), 0);
    assert_int_equal(is_nan, 1);
    const uint16_t bf[] = {0x7f7f, 0x0001, 0x8000, 0xff80, 0x7fc0};
    assert_int_equal(dtype_first_nonfinite(bf, DTYPE_BF16, 3, NULL), -1);
    assert_int_equal(dtype_first_nonfinite(bf, DTYPE_BF16, 5, &is_nan), 3);
    assert_int_equal(is_nan, 0);
    const uint16_t h[] = {0x7bff, 0x0001, 0x7e00, 0x7c00};
    assert_int_equal(dtype_first_nonfinite(h, DTYPE_F16, 2, NULL), -1);
    assert_int_equal(dtype_first_nonfinite(h, DTYPE_F16, 4, &is_nan), 2);
    assert_int_equal(is_nan, 1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vec_growth),  cmocka_unit_test(test_vec_errors),
        cmocka_unit_test(test_vec_append_and_pairs), cmocka_unit_test(test_strbuf),
        cmocka_unit_test(test_strlist),     cmocka_unit_test(test_strmap),
        cmocka_unit_test(test_utf8),        cmocka_unit_test(test_nonfinite),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
