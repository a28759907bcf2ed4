/* tests/io/ckpt/test_ckpt_dir.c -- checkpoint folders: ckpt-<step>.h5 listed newest first by
 * step (not by name or time), a crash's leftover .tmp.PID file never shadowing the real
 * checkpoint, pruning to the last N, and ckpt_latest_valid falling back past a corrupt
 * newest file (truncated or bit-flipped) and failing loudly when none is valid; the
 * leftover temp files removed (ckpt_remove_temps) without touching anything else. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "io/ckpt/ckpt.h"
#include "tests/io/ckpt/ckpt_fixture.h"
#include "tests/testutil.h"

static void write_step(const char *dir, int64_t step) {
    char path[1100];
    CkptState a;
    Err err = {{0}};
    fixture_make(&a, 2, (uint32_t)step);
    a.step = step;
    assert_int_equal(ckpt_path(dir, step, path, sizeof path, &err), 0);
    if (ckpt_write(path, &a, &err) != 0)
        fail_msg("%s", err.msg);
    fixture_free(&a);
}

static void touch(const char *dir, const char *name, const char *text) {
    tu_write_file(tu_path(dir, name), text);
}

static void test_list_and_tmp(void **state) {
    const char *dir = fixture_dir("list");
    CkptList l;
    Err err = {{0}};
    assert_int_equal(ckpt_list(tu_path(dir, "absent"), &l, &err), 0);
    assert_int_equal(l.n, 0);
    ckpt_list_free(&l);
    write_step(dir, 9);
    write_step(dir, 100);
    write_step(dir, 20);
    /* A crash mid-write leaves a temp file, possibly of a newer step: never listed. */
    touch(dir, "ckpt-200.h5.tmp.12345", "half a file");
    touch(dir, "ckpt-100.h5.tmp.777", "half a file");
    touch(dir, "ckpt-x.h5", "");
    touch(dir, "ckpt-.h5", "");
    touch(dir, "notes.txt", "");
    assert_int_equal(ckpt_list(dir, &l, &err), 0);
    assert_int_equal(l.n, 3);
    assert_int_equal(l.steps[0], 100);
    assert_int_equal(l.steps[1], 20);
    assert_int_equal(l.steps[2], 9);
    assert_string_equal(l.paths[0], tu_path(dir, "ckpt-100.h5"));
    ckpt_list_free(&l);
    ckpt_list_free(&l);
    char path[1100];
    int64_t step = -1;
    assert_int_equal(ckpt_latest_valid(dir, path, sizeof path, &step, &err), 1);
    assert_int_equal(step, 100);
    assert_string_equal(path, tu_path(dir, "ckpt-100.h5"));
    CkptState b;
    assert_int_equal(ckpt_read(path, &b, &err), 0);
    assert_int_equal(b.step, 100);
    ckpt_free(&b);
}

/* The leftovers of writes that died go; the checkpoints and other files stay. */
static void test_remove_temps(void **state) {
    const char *dir = fixture_dir("temps");
    write_step(dir, 4);
    touch(dir, "ckpt-8.h5.tmp.12345", "half a file");
    touch(dir, "ckpt-4.h5.tmp.777", "half a file");
    touch(dir, "notes.tmp.1", "");
    assert_int_equal(ckpt_remove_temps(dir), 2);
    assert_int_equal(access(tu_path(dir, "ckpt-8.h5.tmp.12345"), F_OK), -1);
    assert_int_equal(access(tu_path(dir, "ckpt-4.h5.tmp.777"), F_OK), -1);
    assert_int_equal(access(tu_path(dir, "ckpt-4.h5"), F_OK), 0);
    assert_int_equal(access(tu_path(dir, "notes.tmp.1"), F_OK), 0);
    assert_int_equal(ckpt_remove_temps(dir), 0);
    assert_int_equal(ckpt_remove_temps(tu_path(dir, "absent")), 0);
}

static void test_prune(void **state) {
    const char *dir = fixture_dir("prune");
    Err err = {{0}};
    for (int64_t s = 10; s <= 50; s += 10)
        write_step(dir, s);
    touch(dir, "keepme.txt", "");
    assert_int_equal(ckpt_prune(dir, 0, &err), -1);
    assert_true(fixture_has(err.msg, dir));
    assert_int_equal(ckpt_prune(dir, 2, &err), 0);
    CkptList l;
    assert_int_equal(ckpt_list(dir, &l, &err), 0);
    assert_int_equal(l.n, 2);
    assert_int_equal(l.steps[0], 50);
    assert_int_equal(l.steps[1], 40);
    ckpt_list_free(&l);
    assert_int_equal(access(tu_path(dir, "keepme.txt"), F_OK), 0);
    assert_int_equal(ckpt_prune(dir, 5, &err), 0); /* fewer than keep: nothing removed */
    assert_int_equal(ckpt_list(dir, &l, &err), 0);
    assert_int_equal(l.n, 2);
    ckpt_list_free(&l);
}

static void test_latest_valid_fallback(void **state) {
    const char *dir = fixture_dir("fallback");
    char path[1100], newest[1100], middle[1100];
    int64_t step = -1;
    Err err = {{0}};
    assert_int_equal(ckpt_latest_valid(dir, path, sizeof path, &step, &err), 0);
    write_step(dir, 10);
    write_step(dir, 20);
    write_step(dir, 30);
    snprintf(newest, sizeof newest, "%s", tu_path(dir, "ckpt-30.h5"));
    snprintf(middle, sizeof middle, "%s", tu_path(dir, "ckpt-20.h5"));
    /* Newest truncated (a node died while a non-atomic copy was made). */
    size_t n = 0;
    free(tu_read_file(newest, &n));
    assert_int_equal(truncate(newest, (off_t)(n * 2 / 3)), 0);
    assert_int_equal(ckpt_latest_valid(dir, path, sizeof path, &step, &err), 1);
    assert_int_equal(step, 20);
    assert_string_equal(path, middle);
    /* Middle bit-flipped in its adapter data too: falls back to 10. */
    unsigned char *bytes = (unsigned char *)tu_read_file(middle, &n);
    CkptState a;
    fixture_make(&a, 2, 20);
    unsigned char *at = fixture_find(bytes, n, a.tensors[0].param, 32);
    assert_non_null(at);
    at[5] ^= 0x01;
    FILE *f = fopen(middle, "wb");
    assert_int_equal(fwrite(bytes, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
    free(bytes);
    fixture_free(&a);
    assert_int_equal(ckpt_latest_valid(dir, path, sizeof path, &step, &err), 1);
    assert_int_equal(step, 10);
    /* None valid: an error naming the folder and the newest file's defect. */
    assert_int_equal(truncate(tu_path(dir, "ckpt-10.h5"), 10), 0);
    assert_int_equal(ckpt_latest_valid(dir, path, sizeof path, &step, &err), -1);
    printf("  %s\n", err.msg);
    assert_true(fixture_has(err.msg, dir));
    assert_true(fixture_has(err.msg, "ckpt-30.h5"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_list_and_tmp),
        cmocka_unit_test(test_remove_temps),
        cmocka_unit_test(test_prune),
        cmocka_unit_test(test_latest_valid_fallback),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
