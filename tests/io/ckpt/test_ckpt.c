/* tests/io/ckpt/test_ckpt.c -- HDF5 checkpoints: a bit-exact round trip of every field, the
 * score table growing across two checkpoints (past one chunk), h5dump reading the file,
 * and refusals that name the file and the dataset: truncated file, flipped adapter bit,
 * missing dataset, wrong shape, unsupported format version, failed write. Folder
 * handling (listing, .tmp files, pruning, fallback past a corrupt newest) is in
 * test_ckpt_dir.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <hdf5.h>

#include "io/ckpt/ckpt.h"
#include "tests/io/ckpt/ckpt_fixture.h"
#include "tests/testutil.h"

static void test_round_trip(void **state) {
    const char *dir = fixture_dir("roundtrip");
    char path[1100];
    CkptState a, b;
    Err err = {{0}};
    fixture_make(&a, 37, 1);
    assert_int_equal(ckpt_path(dir, a.step, path, sizeof path, &err), 0);
    assert_non_null(strstr(path, "ckpt-124.h5"));
    if (ckpt_write(path, &a, &err) != 0)
        fail_msg("%s", err.msg);
    if (ckpt_read(path, &b, &err) != 0)
        fail_msg("%s", err.msg);
    assert_int_equal(fixture_diff(&a, &b), 0);
    assert_int_equal(access(tu_path(dir, "ckpt-124.h5.tmp"), F_OK), -1);
    /* NULL moments are stored as zeros. */
    float *m1 = a.tensors[1].adam_m;
    a.tensors[1].adam_m = NULL;
    assert_int_equal(ckpt_write(path, &a, &err), 0);
    a.tensors[1].adam_m = m1;
    ckpt_free(&b);
    assert_int_equal(ckpt_read(path, &b, &err), 0);
    for (int64_t i = 0; i < b.tensors[1].n_rows * b.tensors[1].n_cols; i++)
        assert_true(b.tensors[1].adam_m[i] == 0.0f);
    assert_memory_equal(b.tensors[1].adam_v, a.tensors[1].adam_v, 24 * 4 * sizeof(float));
    ckpt_free(&b);
    ckpt_free(&b); /* safe twice */
    fixture_free(&a);
}

static void test_scores_extend(void **state) {
    const char *dir = fixture_dir("scores");
    char p1[1100], p2[1100];
    CkptState a, r1, r2;
    Err err = {{0}};
    fixture_make(&a, 10, 2);
    snprintf(p1, sizeof p1, "%s/ckpt-1.h5", dir);
    snprintf(p2, sizeof p2, "%s/ckpt-2.h5", dir);
    assert_int_equal(ckpt_write(p1, &a, &err), 0);
    /* The resumed run's view: read the table back, keep appending, checkpoint again. */
    assert_int_equal(ckpt_read(p1, &r1, &err), 0);
    assert_int_equal(r1.scores.n_rows, 10);
    for (int i = 0; i < 5000; i++) { /* crosses several 1024-row chunks */
        CkptScoreRow row = {.sample = 10 + i, .rank = 1, .step = 99, .tokens = i,
                            .ce = (float)i * 0.5f, .ppl = 1.0f + (float)i, .selected = 1,
                            .weight = -1.0f / (float)(i + 1)};
        assert_int_equal(ckpt_scores_append(&r1.scores, &row, 1, &err), 0);
    }
    r1.step += 1;
    if (ckpt_write(p2, &r1, &err) != 0)
        fail_msg("%s", err.msg);
    assert_int_equal(ckpt_read(p2, &r2, &err), 0);
    assert_int_equal(fixture_diff(&r1, &r2), 0);
    assert_int_equal(r2.scores.n_rows, 5010);
    assert_true(r2.scores.rows[5009].weight == -1.0f / 5000.0f);
    ckpt_free(&r2);
    assert_int_equal(ckpt_read(p1, &r2, &err), 0); /* the first checkpoint is unchanged */
    assert_int_equal(r2.scores.n_rows, 10);
    ckpt_free(&r2);
    /* An empty table is a valid, still extendable dataset. */
    ckpt_scores_free(&a.scores);
    assert_int_equal(ckpt_write(p1, &a, &err), 0);
    assert_int_equal(ckpt_read(p1, &r2, &err), 0);
    assert_int_equal(r2.scores.n_rows, 0);
    ckpt_free(&r2);
    ckpt_free(&r1);
    fixture_free(&a);
}

static void test_h5dump(void **state) {
    if (tu_system("command -v h5dump > /dev/null 2>&1") != 0)
        skip();
    const char *dir = fixture_dir("h5dump");
    char path[1100];
    CkptState a;
    Err err = {{0}};
    fixture_make(&a, 5, 3);
    snprintf(path, sizeof path, "%s/ckpt-5.h5", dir);
    assert_int_equal(ckpt_write(path, &a, &err), 0);
    assert_int_equal(tu_system("h5dump -H '%s' > '%s.hdr' 2>&1", path, path), 0);
    assert_int_equal(tu_system("h5dump -d /scores -d /state/rng -d /job '%s' > /dev/null 2>&1",
                               path), 0);
    assert_int_equal(tu_system("grep -q 'DATASET \"/adapter/%s\"\\|DATASET \"%s\"' '%s.hdr'",
                               a.tensors[0].name, a.tensors[0].name, path), 0);
    fixture_free(&a);
}

/* Writes the fixture to dir/name and returns its path (static buffer). */
static const char *write_one(const char *dir, const char *name, uint32_t seed) {
    static char path[1100];
    CkptState a;
    Err err = {{0}};
    fixture_make(&a, 3, seed);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (ckpt_write(path, &a, &err) != 0)
        fail_msg("%s", err.msg);
    fixture_free(&a);
    return path;
}

static void test_truncated(void **state) {
    const char *dir = fixture_dir("truncated");
    const char *good = write_one(dir, "ckpt-1.h5", 4);
    size_t n = 0;
    free(tu_read_file(good, &n));
    const size_t cuts[] = {n - 1, n / 2, 100, 0};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        char bad[1200];
        snprintf(bad, sizeof bad, "%s/cut-%zu.h5", dir, cuts[i]);
        assert_int_equal(fixture_copy(good, bad, cuts[i]), 0);
        CkptState b;
        Err err = {{0}};
        assert_int_equal(ckpt_read(bad, &b, &err), -1);
        printf("  cut at %zu of %zu bytes: %s\n", cuts[i], n, err.msg);
        assert_true(fixture_has(err.msg, bad));
        ckpt_free(&b);
    }
}

static void test_bit_flip(void **state) {
    const char *dir = fixture_dir("bitflip");
    CkptState a, b;
    Err err = {{0}};
    fixture_make(&a, 3, 5);
    char path[1100];
    snprintf(path, sizeof path, "%s/ckpt-1.h5", dir);
    assert_int_equal(ckpt_write(path, &a, &err), 0);
    size_t n = 0;
    unsigned char *bytes = (unsigned char *)tu_read_file(path, &n);
    assert_non_null(bytes);
    /* Find tensor 1's data in the file by its first 32 bytes; flip one bit of element 9. */
    unsigned char *at = fixture_find(bytes, n, a.tensors[1].param, 32);
    assert_non_null(at);
    at[9 * 4 + 1] ^= 0x10;
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(bytes, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
    free(bytes);
    assert_int_equal(ckpt_read(path, &b, &err), -1);
    printf("  %s\n", err.msg);
    assert_true(fixture_has(err.msg, path));
    assert_true(fixture_has(err.msg, "/adapter"));
    assert_true(fixture_has(err.msg, "CRC32 mismatch"));
    ckpt_free(&b);
    assert_int_equal(ckpt_verify(path, &err), -1);
    fixture_free(&a);
}

/* Opens path read-write with HDF5 directly, lets edit() change it, closes. */
static void edit_file(const char *path, void (*edit)(hid_t file)) {
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    assert_true(f >= 0);
    edit(f);
    assert_true(H5Fclose(f) >= 0);
}

static void drop_rng(hid_t f) { assert_true(H5Ldelete(f, "/state/rng", H5P_DEFAULT) >= 0); }
static void drop_optim(hid_t f) { assert_true(H5Ldelete(f, "/optim", H5P_DEFAULT) >= 0); }

static void bump_version(hid_t f) {
    int32_t v = 99;
    hid_t a = H5Aopen(f, "format_version", H5P_DEFAULT);
    assert_true(a >= 0 && H5Awrite(a, H5T_NATIVE_INT32, &v) >= 0 && H5Aclose(a) >= 0);
}

static void reshape_positions(hid_t f) { /* 3 positions for a dp size of 2 */
    assert_true(H5Ldelete(f, "/stream/position", H5P_DEFAULT) >= 0);
    hsize_t three = 3;
    int64_t pos[3] = {1, 2, 3};
    hid_t s = H5Screate_simple(1, &three, NULL);
    hid_t d = H5Dcreate2(f, "/stream/position", H5T_STD_I64LE, s, H5P_DEFAULT, H5P_DEFAULT,
                         H5P_DEFAULT);
    assert_true(d >= 0 && H5Dwrite(d, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, pos) >= 0);
    H5Dclose(d);
    H5Sclose(s);
}

static void test_defects_named(void **state) {
    const char *dir = fixture_dir("defects");
    const struct {
        const char *file;
        void (*edit)(hid_t);
        const char *want1, *want2;
    } cases[] = {
        {"no-rng.h5", drop_rng, "/state/rng", "missing"},
        {"no-optim.h5", drop_optim, "/optim/m/base_model.model.model.layers.0", "missing"},
        {"version.h5", bump_version, "format_version 99", "reads version 1"},
        {"shape.h5", reshape_positions, "/stream/position", "shape [3], expected [2]"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *path = write_one(dir, cases[i].file, 6);
        edit_file(path, cases[i].edit);
        CkptState b;
        Err err = {{0}};
        assert_int_equal(ckpt_read(path, &b, &err), -1);
        printf("  %s\n", err.msg);
        assert_true(fixture_has(err.msg, path));
        assert_true(fixture_has(err.msg, cases[i].want1));
        assert_true(fixture_has(err.msg, cases[i].want2));
        ckpt_free(&b);
    }
}

static void test_failed_write(void **state) {
    const char *dir = fixture_dir("failwrite");
    const char *good = write_one(dir, "ckpt-3.h5", 7);
    char path[1100];
    snprintf(path, sizeof path, "%s", good);
    CkptState a;
    Err err = {{0}};
    fixture_make(&a, 3, 8);
    /* Two tensors with one name: H5Dcreate2 fails mid-file, after the temp file exists. */
    char *saved = a.tensors[2].name;
    a.tensors[2].name = a.tensors[0].name;
    assert_int_equal(ckpt_write(path, &a, &err), -1);
    printf("  %s\n", err.msg);
    assert_true(fixture_has(err.msg, path));
    assert_true(fixture_has(err.msg, a.tensors[0].name));
    a.tensors[2].name = saved;
    /* The old file is intact and no temp file is left. */
    assert_int_equal(ckpt_verify(path, &err), 0);
    assert_int_equal(tu_system("ls '%s' | grep -q tmp", dir), 1);
    /* A folder that does not exist. */
    assert_int_equal(ckpt_write("/nonexistent-tlm/ckpt-1.h5", &a, &err), -1);
    assert_true(fixture_has(err.msg, "/nonexistent-tlm/ckpt-1.h5"));
    fixture_free(&a);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),   cmocka_unit_test(test_scores_extend),
        cmocka_unit_test(test_h5dump),       cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_bit_flip),     cmocka_unit_test(test_defects_named),
        cmocka_unit_test(test_failed_write),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
