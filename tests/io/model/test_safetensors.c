/* tests/io/model/test_safetensors.c -- safetensors reading and writing, and the dtype
 * conversions: a round trip of every dtype, sharded directories, and broken files
 * (truncated, bad JSON, unknown dtype, shape/offset mismatch, overlaps), each of which
 * must be refused with a message naming the file and the tensor. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "io/base/dtype.h"
#include "io/model/safetensors.h"
#include "tests/testutil.h"

/* {input, bf16 bits, f16 bits}: produced by torch 2.15 (`torch.tensor(v).bfloat16()`,
 * `.half()`, viewed as int16), so ties, overflow and subnormals round as torch does. */
static const struct { float f; uint16_t bf16, f16; } CONV[] = {
    {1.0f, 0x3F80, 0x3C00},
    {1.00390625f, 0x3F80, 0x3C04},         /* 1 + 2^-8: bf16 tie, to even */
    {1.01171875f, 0x3F82, 0x3C0C},         /* 1 + 3*2^-8: bf16 tie, to even (up) */
    {1.0039072036743164f, 0x3F81, 0x3C04}, /* just above the tie */
    {-2.5f, 0xC020, 0xC100},
    {3.4028234663852886e+38f, 0x7F80, 0x7C00}, /* FLT_MAX: rounds to inf in both */
    {1e-40f, 0x0001, 0x0000},                  /* fp32 subnormal */
    {1.00048828125f, 0x3F80, 0x3C00},          /* 1 + 2^-11: f16 tie, to even */
    {1.00146484375f, 0x3F80, 0x3C02},          /* 1 + 3*2^-11: f16 tie, up to even */
    {65504.0f, 0x4780, 0x7BFF},                /* f16 max */
    {65519.0f, 0x4780, 0x7BFF},
    {65520.0f, 0x4780, 0x7C00},               /* rounds to f16 inf */
    {5.960464477539063e-08f, 0x3380, 0x0001}, /* 2^-24: smallest f16 subnormal */
    {2.9802322387695312e-08f, 0x3300, 0x0000}, /* 2^-25: tie, to even (zero) */
    {4.470348358154297e-08f, 0x3340, 0x0001},
    {6.103515625e-05f, 0x3880, 0x0400}, /* 2^-14: smallest f16 normal */
    {-0.0f, 0x8000, 0x8000},
    {0.1f, 0x3DCD, 0x2E66},
};

static void test_conversions(void **state) {
    for (size_t i = 0; i < sizeof CONV / sizeof CONV[0]; i++) {
        if (f32_to_bf16(CONV[i].f) != CONV[i].bf16 || f32_to_f16(CONV[i].f) != CONV[i].f16)
            printf("  case %zu (%.9g): bf16 %04X want %04X, f16 %04X want %04X\n", i,
                   CONV[i].f, f32_to_bf16(CONV[i].f), CONV[i].bf16, f32_to_f16(CONV[i].f),
                   CONV[i].f16);
        assert_int_equal(f32_to_bf16(CONV[i].f), CONV[i].bf16);
        assert_int_equal(f32_to_f16(CONV[i].f), CONV[i].f16);
    }
    float inf = __builtin_inff(), nan = __builtin_nanf("");
    assert_int_equal(f32_to_bf16(inf), 0x7F80);
    assert_int_equal(f32_to_bf16(-inf), 0xFF80);
    assert_int_equal(f32_to_f16(inf), 0x7C00);
    assert_int_equal(f32_to_f16(-inf), 0xFC00);
    assert_int_equal(f32_to_bf16(nan), 0xFFFF); /* torch's CPU conversion, measured */
    assert_int_equal(f32_to_f16(nan), 0x7E00);
    assert_int_equal(f32_to_f16(-nan), 0xFE00);
    assert_true(bf16_to_f32(0x7F80) == inf && bf16_to_f32(0xFF80) == -inf);
    assert_true(f16_to_f32(0x7C00) == inf && f16_to_f32(0xFC00) == -inf);
    assert_true(bf16_to_f32(0xFFFF) != bf16_to_f32(0xFFFF)); /* NaN */
    assert_true(f16_to_f32(0x7E00) != f16_to_f32(0x7E00));
    assert_true(f16_to_f32(0x0001) == 5.960464477539063e-08f);
    assert_true(f16_to_f32(0x03FF) == 6.097555160522461e-05f); /* largest subnormal */
    assert_true(f16_to_f32(0x7BFF) == 65504.0f);
    assert_true(bf16_to_f32(0x3DCD) == 0.10009765625f);
    /* every f16 / bf16 pattern widens and narrows back to itself (NaNs aside) */
    for (uint32_t h = 0; h < 0x10000; h++) {
        if ((h & 0x7C00) != 0x7C00 || (h & 0x3FF) == 0)
            assert_int_equal(f32_to_f16(f16_to_f32((uint16_t)h)), h);
        if ((h & 0x7F80) != 0x7F80 || (h & 0x7F) == 0)
            assert_int_equal(f32_to_bf16(bf16_to_f32((uint16_t)h)), h);
    }
    uint16_t hb[3] = {0x3F80, 0xC020, 0x3DCD}, hh[3] = {0x3C00, 0xC100, 0x2E66};
    float out[3];
    dtype_to_f32(out, hb, DTYPE_BF16, 3);
    assert_true(out[0] == 1.0f && out[1] == -2.5f && out[2] == 0.10009765625f);
    dtype_to_f32(out, hh, DTYPE_F16, 3);
    assert_true(out[0] == 1.0f && out[1] == -2.5f && out[2] == f16_to_f32(0x2E66));
    DType t;
    assert_int_equal(dtype_parse("BF16", &t), 0);
    assert_int_equal(t, DTYPE_BF16);
    assert_int_equal(dtype_parse("F64", &t), -1);
    assert_int_equal(dtype_bytes(DTYPE_I64), 8);
}

static const char *tmp(const char *name) { return tu_path(tu_tmp_dir(), name); }

static void test_round_trip(void **state) {
    float f32[6] = {1, -2, 3.5f, 0, 1e30f, -1e-30f};
    uint16_t f16[4] = {0x3C00, 0xC100, 0x7BFF, 0x0001}, bf16[3] = {0x3F80, 0xC020, 0x7F80};
    int32_t i32[5] = {1, -2, 3, INT32_MAX, INT32_MIN};
    int64_t i64[2] = {INT64_MAX, -7};
    const StOut out[] = {
        {"w.f32", DTYPE_F32, 2, {2, 3}, f32},   {"w.f16", DTYPE_F16, 1, {4}, f16},
        {"a.bf16", DTYPE_BF16, 3, {1, 3, 1}, bf16}, {"z.i32", DTYPE_I32, 1, {5}, i32},
        {"m.i64", DTYPE_I64, 2, {2, 1}, i64},   {"scalar", DTYPE_F32, 0, {0}, f32},
        {"empty", DTYPE_BF16, 2, {0, 4}, NULL},
    };
    const char *meta[] = {"format", "pt", "note", "round trip"};
    const char *path = tmp("st_round.safetensors");
    Err err = {{0}};
    assert_int_equal(st_write(path, out, 7, meta, 2, &err), 0);
    size_t n_bytes;
    unsigned char *raw = (unsigned char *)tu_read_file(path, &n_bytes);
    assert_non_null(raw);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = hlen << 8 | raw[i];
    assert_int_equal(hlen % 8, 0); /* padded like HF, so data starts 8-byte aligned */
    assert_int_equal(raw[8 + hlen - 1] == ' ' || raw[8 + hlen - 1] == '}', 1);
    free(raw);
    SafeTensors *st = st_open(path, &err);
    assert_non_null(st);
    assert_int_equal(st_count(st), 7);
    for (int i = 0; i < 7; i++) {
        StTensor t = st_at(st, i);
        assert_string_equal(t.name, out[i].name); /* header order = order given */
        assert_int_equal(t.dtype, out[i].dtype);
        assert_int_equal(t.ndim, out[i].ndim);
        size_t want = dtype_bytes(out[i].dtype);
        for (int d = 0; d < t.ndim; d++) {
            assert_int_equal(t.shape[d], out[i].shape[d]);
            want *= (size_t)out[i].shape[d];
        }
        assert_int_equal(t.n_bytes, want);
        if (want > 0)
            assert_memory_equal(t.data, out[i].data, want);
    }
    StTensor t;
    int64_t shape[2] = {2, 3}, wrong[2] = {3, 2};
    assert_int_equal(st_get(st, "w.f32", 2, shape, &t, &err), 0);
    assert_true(((const float *)t.data)[4] == 1e30f);
    assert_int_equal(st_get(st, "w.f32", 2, wrong, &t, &err), -1);
    assert_non_null(strstr(err.msg, "\"w.f32\": shape [2,3], expected [3,2]"));
    assert_int_equal(st_get(st, "nope", -1, NULL, &t, &err), -1);
    assert_non_null(strstr(err.msg, "\"nope\" not found"));
    assert_non_null(strstr(err.msg, path));
    assert_int_equal(st_has(st, "z.i32"), 1);
    st_close(st);
    st_close(NULL);
}

/* Writes a file with a hand-made header (padded with spaces) and data_bytes of zeros. */
static const char *write_raw(const char *name, const char *header, size_t data_bytes) {
    const char *path = tmp(name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    size_t n = strlen(header), padded = (n + 7) / 8 * 8;
    unsigned char len8[8];
    for (int i = 0; i < 8; i++)
        len8[i] = (unsigned char)((uint64_t)padded >> (8 * i));
    fwrite(len8, 1, 8, f);
    fwrite(header, 1, n, f);
    for (size_t i = n; i < padded; i++)
        fputc(' ', f);
    for (size_t i = 0; i < data_bytes; i++)
        fputc(0, f);
    fclose(f);
    return path;
}

static void expect_refused(const char *path, const char *needle1, const char *needle2) {
    Err err = {{0}};
    SafeTensors *st = st_open(path, &err);
    assert_null(st);
    printf("  refused: %s\n", err.msg);
    assert_non_null(strstr(err.msg, path));
    assert_non_null(strstr(err.msg, needle1));
    if (needle2 != NULL)
        assert_non_null(strstr(err.msg, needle2));
}

static void test_broken_files(void **state) {
    /* a real file cut short: the last tensor's bytes are missing */
    float a[64] = {0}, b[64] = {0};
    const StOut out[] = {{"model.layers.0.mlp.up_proj.weight", DTYPE_F32, 2, {8, 8}, a},
                         {"model.layers.1.mlp.up_proj.weight", DTYPE_F32, 2, {8, 8}, b}};
    const char *full = tmp("st_full.safetensors"), *cut = tmp("st_cut.safetensors");
    Err err = {{0}};
    assert_int_equal(st_write(full, out, 2, NULL, 0, &err), 0);
    size_t n;
    char *raw = tu_read_file(full, &n);
    FILE *f = fopen(cut, "wb");
    fwrite(raw, 1, n - 100, f);
    fclose(f);
    free(raw);
    expect_refused(cut, "tensor \"model.layers.1.mlp.up_proj.weight\": data_offsets [256,512] "
                   "beyond the 412-byte data section (file truncated?)", NULL);

    expect_refused(write_raw("st_json.safetensors", "{\"w\": {\"dtype\": \"F32\",, }", 0),
                   "not valid JSON", NULL);
    expect_refused(write_raw("st_dtype.safetensors", "{\"w.x\": {\"dtype\": \"F64\", \"shape\": "
                             "[2], \"data_offsets\": [0, 16]}}", 16),
                   "tensor \"w.x\"", "dtype \"F64\" is not supported");
    expect_refused(write_raw("st_shape.safetensors", "{\"w.s\": {\"dtype\": \"BF16\", "
                             "\"shape\": [2, 3], \"data_offsets\": [0, 24]}}", 24),
                   "tensor \"w.s\"", "shape [2,3] of BF16 needs 12 bytes");
    expect_refused(write_raw("st_overlap.safetensors", "{\"p\": {\"dtype\": \"F32\", \"shape\": "
                             "[4], \"data_offsets\": [0, 16]}, \"q\": {\"dtype\": \"F32\", "
                             "\"shape\": [4], \"data_offsets\": [8, 24]}}", 24),
                   "tensor \"q\"", "overlap tensor \"p\"");
    expect_refused(write_raw("st_overlap0.safetensors", "{\"p\": {\"dtype\": \"F32\", \"shape\": "
                             "[4], \"data_offsets\": [0, 16]}, \"e\": {\"dtype\": \"F32\", "
                             "\"shape\": [0], \"data_offsets\": [4, 4]}, \"q\": {\"dtype\": "
                             "\"F32\", \"shape\": [2], \"data_offsets\": [12, 20]}}", 24),
                   "tensor \"q\"", "overlap tensor \"p\""); /* an empty tensor between */
    expect_refused(write_raw("st_noff.safetensors", "{\"w.o\": {\"dtype\": \"F32\", \"shape\": "
                             "[1]}}", 4), "tensor \"w.o\"", "data_offsets");
    expect_refused(write_raw("st_back.safetensors", "{\"w.b\": {\"dtype\": \"F32\", \"shape\": "
                             "[0], \"data_offsets\": [8, 4]}}", 8), "tensor \"w.b\"", "end before");
    /* a header length larger than the file */
    const char *huge = tmp("st_hlen.safetensors");
    f = fopen(huge, "wb");
    unsigned char len8[8] = {0xFF, 0xFF, 0, 0, 0, 0, 0, 0};
    fwrite(len8, 1, 8, f);
    fputs("{}", f);
    fclose(f);
    expect_refused(huge, "header length 65535 exceeds", NULL);
    f = fopen(huge, "wb");
    fclose(f);
    expect_refused(huge, "shorter than a safetensors file", NULL);
    expect_refused(tmp("st_does_not_exist.safetensors"), "cannot open", NULL);
    /* __metadata__ is allowed and skipped */
    const char *meta = write_raw("st_meta.safetensors", "{\"__metadata__\": {\"format\": "
                                 "\"pt\"}, \"w\": {\"dtype\": \"I64\", \"shape\": [1], "
                                 "\"data_offsets\": [0, 8]}}", 8);
    SafeTensors *st = st_open(meta, &err);
    assert_non_null(st);
    assert_int_equal(st_count(st), 1);
    st_close(st);
}

static void test_dir(void **state) {
    const char *dir = tmp("st_sharded");
    mkdir(dir, 0777);
    float a[6] = {1, 2, 3, 4, 5, 6}, b[2] = {7, 8};
    const StOut s1[] = {{"model.embed_tokens.weight", DTYPE_F32, 2, {3, 2}, a}};
    const StOut s2[] = {{"model.norm.weight", DTYPE_F32, 1, {2}, b},
                        {"lm_head.weight", DTYPE_F32, 2, {2, 3}, a}};
    Err err = {{0}};
    assert_int_equal(st_write(tu_path(dir, "model-00001-of-00002.safetensors"), s1, 1, NULL, 0,
                              &err), 0);
    assert_int_equal(st_write(tu_path(dir, "model-00002-of-00002.safetensors"), s2, 2, NULL, 0,
                              &err), 0);
    FILE *f = fopen(tu_path(dir, "model.safetensors.index.json"), "w");
    fputs("{\"metadata\": {\"total_size\": 56}, \"weight_map\": {"
          "\"lm_head.weight\": \"model-00002-of-00002.safetensors\", "
          "\"model.embed_tokens.weight\": \"model-00001-of-00002.safetensors\", "
          "\"model.norm.weight\": \"model-00002-of-00002.safetensors\"}}", f);
    fclose(f);
    remove(tu_path(dir, "model.safetensors"));
    StDir *d = st_dir_open(dir, &err);
    if (d == NULL)
        printf("  %s\n", err.msg);
    assert_non_null(d);
    assert_int_equal(st_dir_n_files(d), 2); /* lm_head and norm share one shard */
    StTensor t;
    int64_t shape[2] = {2, 3};
    assert_int_equal(st_dir_get(d, "lm_head.weight", 2, shape, &t, &err), 0);
    assert_memory_equal(t.data, a, sizeof a);
    assert_int_equal(st_dir_get(d, "model.norm.weight", -1, NULL, &t, &err), 0);
    assert_true(((const float *)t.data)[1] == 8.0f);
    assert_int_equal(st_dir_has(d, "model.embed_tokens.weight"), 1);
    assert_int_equal(st_dir_has(d, "model.layers.0.mlp.up_proj.weight"), 0);
    assert_int_equal(st_dir_get(d, "missing.weight", -1, NULL, &t, &err), -1);
    assert_non_null(strstr(err.msg, "\"missing.weight\""));
    st_dir_close(d);

    /* an index that sends a tensor to the wrong shard */
    f = fopen(tu_path(dir, "model.safetensors.index.json"), "w");
    fputs("{\"weight_map\": {\"model.norm.weight\": \"model-00001-of-00002.safetensors\"}}", f);
    fclose(f);
    assert_null(st_dir_open(dir, &err));
    printf("  refused: %s\n", err.msg);
    assert_non_null(strstr(err.msg, "model.safetensors.index.json"));
    assert_non_null(strstr(err.msg, "\"model.norm.weight\""));

    /* a single-file directory */
    const char *one = tmp("st_single");
    mkdir(one, 0777);
    assert_int_equal(st_write(tu_path(one, "model.safetensors"), s2, 2, NULL, 0, &err), 0);
    d = st_dir_open(one, &err);
    assert_non_null(d);
    assert_int_equal(st_dir_get(d, "lm_head.weight", 2, shape, &t, &err), 0);
    assert_int_equal(st_dir_has(d, "model.embed_tokens.weight"), 0);
    st_dir_close(d);
    st_dir_close(NULL);
    assert_null(st_dir_open(tmp("st_no_such_dir"), &err));
    assert_non_null(strstr(err.msg, "model.safetensors"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conversions),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_broken_files),
        cmocka_unit_test(test_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
