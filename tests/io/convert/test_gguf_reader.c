/* tests/io/convert/test_gguf_reader.c -- io/convert/gguf.h on small GGUF files written here
 * byte by byte: a valid one read back (keys, types, tensor bytes), then broken copies --
 * every truncation, bad magic, old version, counts and lengths larger than the file,
 * unknown value and tensor types, an unsupported quant type, misaligned, overlapping and
 * out-of-range offsets, rows not a multiple of the block, duplicate keys and tensors,
 * a bad alignment, wrong key types, an unknown architecture -- each refused with a message
 * naming the file and the key or tensor. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "io/base/quant.h"
#include "io/convert/gguf.h"
#include "io/convert/gguf_convert.h"
#include "tests/testutil.h"

typedef struct Buf {
    unsigned char p[4096];
    size_t n;
} Buf;

static void put(Buf *b, const void *v, size_t n) {
    assert_true(b->n + n <= sizeof b->p);
    memcpy(b->p + b->n, v, n);
    b->n += n;
}
static void u32(Buf *b, uint32_t v) { put(b, &v, 4); }
static void u64(Buf *b, uint64_t v) { put(b, &v, 8); }
static void str(Buf *b, const char *s) {
    u64(b, strlen(s));
    put(b, s, strlen(s));
}

/* What a file is made of; mutate one field to break it. */
typedef struct Spec {
    const char *magic;
    uint32_t version;
    uint64_t n_kv_override, n_tensors_override; /* 0: the true counts */
    const char *arch;
    uint32_t alignment;        /* 0: no general.alignment key */
    int dup_key, dup_tensor, overlap;
    uint32_t kv_type;          /* the value type of "test.count" (4 = UINT32) */
    uint64_t str_len_override; /* 0: the true length of general.architecture */
    uint32_t t_type;           /* tensor "a" type */
    uint64_t t_ne0;            /* tensor "a" row length */
    uint64_t t_offset;         /* tensor "a" offset */
    uint64_t arr_count;        /* test.list count override (0: 3) */
} Spec;

static Spec valid_spec(void) {
    return (Spec){.magic = "GGUF", .version = 3, .arch = "llama", .alignment = 32,
                  .kv_type = 4, .t_type = QUANT_F32, .t_ne0 = 8, .t_offset = 0};
}

/* The file: 4 keys, tensors "a" (t_type, [t_ne0, 2]) and "b" (F32 [4]) after it. */
static const char *write_file(const char *name, const Spec *s) {
    Buf b = {.n = 0};
    put(&b, s->magic, 4);
    u32(&b, s->version);
    const uint64_t n_t = 2 + (s->dup_tensor != 0);
    const uint64_t n_kv = 3 + (s->alignment != 0) + (s->dup_key != 0);
    u64(&b, s->n_tensors_override ? s->n_tensors_override : n_t);
    u64(&b, s->n_kv_override ? s->n_kv_override : n_kv);
    u64(&b, s->str_len_override ? s->str_len_override : strlen("general.architecture"));
    put(&b, "general.architecture", strlen("general.architecture"));
    u32(&b, 8);
    str(&b, s->arch);
    str(&b, "test.count");
    u32(&b, s->kv_type);
    u32(&b, 7);
    str(&b, "test.list");
    u32(&b, 9);
    u32(&b, 5); /* INT32 elements */
    u64(&b, s->arr_count ? s->arr_count : 3);
    u32(&b, 10), u32(&b, 20), u32(&b, 30);
    if (s->alignment) {
        str(&b, "general.alignment");
        u32(&b, 4);
        u32(&b, s->alignment);
    }
    if (s->dup_key) {
        str(&b, "test.count");
        u32(&b, 4);
        u32(&b, 8);
    }
    const int64_t a_bytes = quant_bytes(s->t_type, (int64_t)s->t_ne0 * 2);
    const uint64_t b_off = s->overlap ? 0 : ((uint64_t)(a_bytes > 0 ? a_bytes : 64) + 31) / 32 * 32;
    str(&b, "a");
    u32(&b, 2), u64(&b, s->t_ne0), u64(&b, 2), u32(&b, s->t_type), u64(&b, s->t_offset);
    str(&b, "b");
    u32(&b, 1), u64(&b, 4), u32(&b, QUANT_F32), u64(&b, b_off);
    if (s->dup_tensor) {
        str(&b, "a");
        u32(&b, 1), u64(&b, 4), u32(&b, QUANT_F32), u64(&b, b_off);
    }
    while (b.n % 32 != 0) /* the data section starts aligned */
        b.p[b.n++] = 0;
    const size_t data0 = b.n;
    for (int i = 0; i < 16; i++) { /* tensor "a": 0, 1, 2, ... as F32 */
        const float f = (float)i;
        put(&b, &f, 4);
    }
    while (b.n < data0 + b_off)
        b.p[b.n++] = 0;
    for (int i = 0; i < 4; i++) { /* tensor "b": 100 .. 103 */
        const float f = 100.0f + (float)i;
        put(&b, &f, 4);
    }
    const char *path = tu_path(tu_tmp_dir(), name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b.p, 1, b.n, f), b.n);
    fclose(f);
    static char keep[8][4096];
    static int k;
    k = (k + 1) % 8;
    snprintf(keep[k], sizeof keep[k], "%s", path);
    return keep[k];
}

/* Opening must fail with a message containing the path and every needle. */
static void expect_refused(const Spec *s, const char *name, const char *n1, const char *n2) {
    const char *path = write_file(name, s);
    Err err = {{0}};
    Gguf *g = gguf_open(path, &err);
    if (g != NULL || strstr(err.msg, path) == NULL || strstr(err.msg, n1) == NULL ||
        (n2 != NULL && strstr(err.msg, n2) == NULL))
        printf("  %s: want \"%s\" and \"%s\", got: %s\n", name, n1, n2 ? n2 : "", err.msg);
    assert_null(g);
    assert_non_null(strstr(err.msg, path));
    assert_non_null(strstr(err.msg, n1));
    if (n2 != NULL)
        assert_non_null(strstr(err.msg, n2));
}

static void test_valid(void **state) {
    Spec s = valid_spec();
    Err err = {{0}};
    Gguf *g = gguf_open(write_file("valid.gguf", &s), &err);
    if (g == NULL)
        printf("  %s\n", err.msg);
    assert_non_null(g);
    assert_int_equal(gguf_version(g), 3);
    char *arch = NULL;
    assert_int_equal(gguf_get_str(g, "general.architecture", &arch, &err), 0);
    assert_string_equal(arch, "llama");
    free(arch);
    int64_t v;
    assert_int_equal(gguf_get_int(g, "test.count", &v, &err), 0);
    assert_int_equal(v, 7);
    assert_int_equal(gguf_opt_int(g, "test.absent", -5, &v, &err), 0);
    assert_int_equal(v, -5);
    GgufArr a;
    assert_int_equal(gguf_get_arr(g, "test.list", &a, &err), 0);
    assert_int_equal(a.count, 3);
    assert_int_equal(gguf_arr_int(&a, 2), 30);
    assert_int_equal(gguf_n_tensors(g), 2);
    const GgufTensor *t = gguf_find_tensor(g, "a");
    assert_non_null(t);
    assert_int_equal(t->n_elems, 16);
    assert_int_equal(t->n_bytes, 64);
    float got[16];
    memcpy(got, t->data, sizeof got);
    for (int i = 0; i < 16; i++)
        assert_true(got[i] == (float)i);
    const GgufTensor *tb = gguf_find_tensor(g, "b");
    memcpy(got, tb->data, 16);
    assert_true(got[0] == 100.0f && got[3] == 103.0f);
    /* wrong types and absent keys name the file and the key */
    assert_int_equal(gguf_get_int(g, "general.architecture", &v, &err), -1);
    assert_non_null(strstr(err.msg, "key \"general.architecture\": type STRING, expected an integer"));
    assert_int_equal(gguf_get_float(g, "nothing.here", (double *)got, &err), -1);
    assert_non_null(strstr(err.msg, "key \"nothing.here\" is missing"));
    assert_non_null(strstr(err.msg, "valid.gguf"));
    /* an architecture the converter does not know is refused by name */
    GgufModel m;
    assert_int_equal(gguf_model_read(g, &m, &err), -1); /* llama, but no llama.* keys */
    assert_non_null(strstr(err.msg, "llama.embedding_length"));
    gguf_close(g);
    s.arch = "gemma2";
    g = gguf_open(write_file("gemma.gguf", &s), &err);
    assert_non_null(g);
    assert_int_equal(gguf_model_read(g, &m, &err), -1);
    assert_non_null(strstr(err.msg, "gemma.gguf: key \"general.architecture\": \"gemma2\" is not "
                                    "supported (tlm converts llama and qwen2)"));
    gguf_close(g);
}

static void test_truncated(void **state) {
    Spec s = valid_spec();
    const char *full = write_file("full.gguf", &s);
    size_t n;
    char *bytes = tu_read_file(full, &n);
    assert_non_null(bytes);
    int n_named = 0;
    for (size_t cut = 0; cut < n; cut++) { /* every prefix is refused, none crashes */
        const char *path = tu_path(tu_tmp_dir(), "cut.gguf");
        FILE *f = fopen(path, "wb");
        fwrite(bytes, 1, cut, f);
        fclose(f);
        Err err = {{0}};
        Gguf *g = gguf_open(path, &err);
        if (g != NULL)
            printf("  a %zu-byte prefix of %zu was accepted\n", cut, n);
        assert_null(g);
        assert_non_null(strstr(err.msg, "cut.gguf"));
        n_named += strstr(err.msg, "key \"") != NULL || strstr(err.msg, "tensor \"") != NULL ||
                   strstr(err.msg, "metadata entry") != NULL;
        if (cut == n - 1)
            assert_non_null(strstr(err.msg, "tensor \"b\""));
    }
    assert_true(n_named > (int)n / 2); /* past the header, every message says where */
    free(bytes);
}

static void test_refusals(void **state) {
    Spec s = valid_spec();
    s.magic = "GGUX";
    expect_refused(&s, "magic.gguf", "bad magic", NULL);
    s = valid_spec(), s.version = 1;
    expect_refused(&s, "v1.gguf", "version 1 is not supported", NULL);
    s = valid_spec(), s.n_kv_override = (uint64_t)1 << 60;
    expect_refused(&s, "hugekv.gguf", "cannot fit", NULL);
    s = valid_spec(), s.n_tensors_override = (uint64_t)1 << 40;
    expect_refused(&s, "hugetensors.gguf", "cannot fit", NULL);
    s = valid_spec(), s.str_len_override = (uint64_t)1 << 62;
    expect_refused(&s, "hugekey.gguf", "metadata entry 0", "truncated");
    s = valid_spec(), s.arr_count = (uint64_t)1 << 61;
    expect_refused(&s, "hugearr.gguf", "key \"test.list\"", "cannot fit");
    /* A key refused before general.alignment is read left the alignment 0 and parse()
     * divided by it (UB; found by tests/fuzz/fuzz_gguf, corpus/gguf/regress-bad-key-*):
     * this case and hugekey above take that path, which UBSan checks under TLM_SANITIZE. */
    s = valid_spec(), s.kv_type = 77;
    expect_refused(&s, "kvtype.gguf", "key \"test.count\"", "unknown value type 77");
    s = valid_spec(), s.dup_key = 1;
    expect_refused(&s, "dupkey.gguf", "key \"test.count\" appears more than once", NULL);
    s = valid_spec(), s.dup_tensor = 1;
    expect_refused(&s, "duptensor.gguf", "tensor \"a\" appears more than once", NULL);
    s = valid_spec(), s.alignment = 24;
    expect_refused(&s, "align.gguf", "key \"general.alignment\"", "power of two");
    s = valid_spec(), s.t_offset = 4;
    expect_refused(&s, "misaligned.gguf", "tensor \"a\"", "not a multiple of the alignment");
    s = valid_spec(), s.t_offset = 1u << 20;
    expect_refused(&s, "pastend.gguf", "tensor \"a\"", "past the end");
    s = valid_spec(), s.overlap = 1;
    expect_refused(&s, "overlap.gguf", "overlaps", "tensor \"a\"");
    s = valid_spec(), s.t_type = 99;
    expect_refused(&s, "type99.gguf", "tensor \"a\"", "type unknown (id 99)");
    s = valid_spec(), s.t_type = QUANT_Q2_K, s.t_ne0 = 256;
    expect_refused(&s, "q2k.gguf", "tensor \"a\": tensor type Q2_K", "supported: F32");
    s = valid_spec(), s.t_type = QUANT_Q8_0, s.t_ne0 = 33;
    expect_refused(&s, "rows.gguf", "tensor \"a\"", "not a multiple of the Q8_0 block (32)");
    s = valid_spec(), s.t_ne0 = 0;
    expect_refused(&s, "zerodim.gguf", "tensor \"a\"", "dimension 0 is 0");
    Err err = {{0}};
    assert_null(gguf_open(tu_path(tu_tmp_dir(), "does-not-exist.gguf"), &err));
    assert_non_null(strstr(err.msg, "does-not-exist.gguf: cannot open"));
}

/* The inputs tests/fuzz/fuzz_gguf found (tests/fuzz/corpus/gguf/regress-*), each with the
 * verdict its fix gives: refused naming the defect, or converted. */
static void test_fuzz_regressions(void **state) {
    static const struct {
        const char *file, *want; /* want NULL: the conversion succeeds */
    } cases[] = {
        {"regress-bad-key-alignment-zero", "the key of metadata entry 11 needs"},
        {"regress-offset-past-mapping", "tensor \"blk.0.ffn_down.weight\": 512 bytes at data "
                                        "offset 18446742974197926368 run past the end"},
        {"regress-block-count-huge", "key \"llama.block_count\": 7274497 layers, but the file "
                                     "holds 12 tensors (9 per layer)"},
        {"regress-eps-underflow", "layer_norm_rms_epsilon 8.13278e-48 must be positive and "
                                  "finite in float32"},
        {"regress-merges-no-split", NULL},
        {"regress-merges-none", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[4096], out[4096];
        snprintf(path, sizeof path, "%s/tests/fuzz/corpus/gguf/%s", tu_source_dir(),
                 cases[i].file);
        snprintf(out, sizeof out, "%s/fuzz-%s", tu_tmp_dir(), cases[i].file);
        Err err = {{0}};
        GgufModel m;
        const int rc = gguf_convert(path, out, DTYPE_F32, &m, NULL, &err);
        if (cases[i].want == NULL ? rc != 0 : rc == 0 || strstr(err.msg, cases[i].want) == NULL)
            fail_msg("%s: rc %d, message \"%s\", wanted %s", cases[i].file, rc, err.msg,
                     cases[i].want ? cases[i].want : "a conversion");
    }
    (void)state;
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_valid),
                                       cmocka_unit_test(test_truncated),
                                       cmocka_unit_test(test_refusals),
                                       cmocka_unit_test(test_fuzz_regressions)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
