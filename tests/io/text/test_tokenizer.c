/* tests/io/text/test_tokenizer.c -- unit tests of io/text/tokenizer.h and io/convert/llama2c_tokenizer.h
 * on tiny tokenizers built here: BPE merges by rank, byte fallback and its decoding,
 * unk (fused and not), added tokens and skip_special, the BOS template, malformed
 * tokenizer.json files (the error names the file and the key), the llama2.c converter.
 * Expected ids were taken from HF tokenizers 0.23 on the same JSON. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/convert/llama2c_tokenizer.h"
#include "io/text/tokenizer.h"
#include "tests/testutil.h"

/* snprintf into a 4096-byte path buffer (vsnprintf: paths are bounded by the test dirs). */
static void pathf(char *buf, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, 4096, fmt, ap);
    va_end(ap);
}

static const char *const k_pieces[] = {"\xE2\x96\x81", "h", "e", "l", "o", "w", "r", "d",
                                       "\xE2\x96\x81h", "ll", "ell", "\xE2\x96\x81hell",
                                       "\xE2\x96\x81hello"};

/* A SentencePiece-style tokenizer: <unk> <s> </s>, 256 byte tokens, then k_pieces. */
static json_t *tiny_json(void) {
    json_t *vocab = json_object();
    json_object_set_new(vocab, "<unk>", json_integer(0));
    json_object_set_new(vocab, "<s>", json_integer(1));
    json_object_set_new(vocab, "</s>", json_integer(2));
    for (int b = 0; b < 256; b++) {
        char name[8];
        snprintf(name, sizeof name, "<0x%02X>", b);
        json_object_set_new(vocab, name, json_integer(3 + b));
    }
    for (int i = 0; i < 13; i++)
        json_object_set_new(vocab, k_pieces[i], json_integer(259 + i));
    json_t *added = json_array();
    const char *specials[] = {"<unk>", "<s>", "</s>"};
    for (int i = 0; i < 3; i++)
        json_array_append_new(added, json_pack("{s:i,s:s,s:b,s:b,s:b,s:b,s:b}", "id", i,
                                               "content", specials[i], "single_word", 0,
                                               "lstrip", 0, "rstrip", 0, "normalized", 0,
                                               "special", 1));
    return json_pack(
        "{s:o, s:n, s:{s:s,s:s,s:s,s:b}, s:{s:s,s:[{s:{s:s,s:i}},{s:{s:s,s:i}}],"
        "s:{s:{s:s,s:[i],s:[s]}}},"
        " s:{s:s,s:[{s:s,s:{s:s},s:s},{s:s},{s:s},{s:s,s:s,s:i,s:i}]},"
        " s:{s:s,s:s,s:b,s:b,s:b,s:o,s:[s,s,s,s,s]}}",
        "added_tokens", added, "normalizer",
        "pre_tokenizer", "type", "Metaspace", "replacement", "\xE2\x96\x81", "prepend_scheme",
        "first", "split", 0,
        "post_processor", "type", "TemplateProcessing", "single", "SpecialToken", "id", "<s>",
        "type_id", 0, "Sequence", "id", "A", "type_id", 0, "special_tokens", "<s>", "id", "<s>",
        "ids", 1, "tokens", "<s>",
        "decoder", "type", "Sequence", "decoders", "type", "Replace", "pattern", "String",
        "\xE2\x96\x81", "content", " ", "type", "ByteFallback", "type", "Fuse", "type", "Strip",
        "content", " ", "start", 1, "stop", 0,
        "model", "type", "BPE", "unk_token", "<unk>", "fuse_unk", 1, "byte_fallback", 1,
        "ignore_merges", 0, "vocab", vocab, "merges", "\xE2\x96\x81 h", "l l", "e ll",
        "\xE2\x96\x81h ell", "\xE2\x96\x81hell o");
}

/* Writes j (stolen) as DIR/tokenizer.json under the test tmp dir; returns the path. */
static const char *write_tok(const char *dir_name, json_t *j) {
    static char path[4096];
    char dir[4096];
    pathf(dir, "%s/%s", tu_tmp_dir(), dir_name);
    tu_system("mkdir -p '%s' && rm -f '%s/tokenizer_config.json'", dir, dir);
    pathf(path, "%s/tokenizer.json", dir);
    assert_int_equal(json_dump_file(j, path, 0), 0);
    json_decref(j);
    return path;
}

static void expect_ids(const Tokenizer *tok, const char *text, int special, const int32_t *want,
                       int64_t n_want) {
    int32_t *ids = NULL;
    int64_t n = -1;
    Err err = {{0}};
    assert_int_equal(tok_encode(tok, text, strlen(text), special, &ids, &n, &err), 0);
    if (n != n_want || memcmp(ids, want, (size_t)n * sizeof *ids) != 0) {
        printf("encode \"%s\": got", text);
        for (int64_t i = 0; i < n; i++)
            printf(" %d", (int)ids[i]);
        printf("\n");
        fail();
    }
    free(ids);
}

static void expect_decode(const Tokenizer *tok, const int32_t *ids, int64_t n, int skip,
                          const char *want) {
    char *text = NULL;
    Err err = {{0}};
    assert_int_equal(tok_decode(tok, ids, n, skip, &text, &err), 0);
    assert_string_equal(text, want);
    free(text);
}

static void test_bpe_and_byte_fallback(void **state) {
    (void)state;
    Err err = {{0}};
    Tokenizer *tok = tok_open(write_tok("tok_unit_sp", tiny_json()), &err);
    assert_non_null(tok);
    expect_ids(tok, "hello", 0, (int32_t[]){271}, 1);
    expect_ids(tok, " hello", 0, (int32_t[]){271}, 1);
    expect_ids(tok, "hello", 1, (int32_t[]){1, 271}, 2);
    expect_ids(tok, "hello world", 0, (int32_t[]){271, 259, 264, 263, 265, 262, 266}, 7);
    expect_ids(tok, "\xC3\xA9", 0, (int32_t[]){259, 198, 172}, 3); /* é as <0xC3><0xA9> */
    expect_ids(tok, "", 0, NULL, 0);
    expect_ids(tok, "", 1, (int32_t[]){1}, 1);
    expect_decode(tok, (int32_t[]){259, 198, 172}, 3, 0, "\xC3\xA9");
    expect_decode(tok, (int32_t[]){271, 259, 264, 263, 265, 262, 266}, 7, 0, "hello world");
    /* A lone byte token is invalid UTF-8: U+FFFD per byte; unknown ids are dropped. */
    expect_decode(tok, (int32_t[]){198, 259, 172, 99999}, 4, 0,
                  "\xEF\xBF\xBD \xEF\xBF\xBD");
    assert_int_equal(tok_bos_id(tok), 1);
    assert_int_equal(tok_id(tok, "\xE2\x96\x81hello"), 271);
    assert_int_equal(tok_id(tok, "nope"), -1);
    assert_string_equal(tok_piece(tok, 262), "l");
    assert_null(tok_piece(tok, 5000));
    assert_int_equal(tok_vocab_size(tok), 272);
    int32_t *ids = NULL;
    int64_t n = 0;
    assert_int_equal(tok_encode(tok, "\xC3(", 2, 0, &ids, &n, &err), -1);
    assert_non_null(strstr(err.msg, "UTF-8"));
    tok_close(tok);
    tok_close(NULL);
}

static void test_added_tokens(void **state) {
    (void)state;
    Err err = {{0}};
    Tokenizer *tok = tok_open(write_tok("tok_unit_sp", tiny_json()), &err);
    assert_non_null(tok);
    /* The piece after <s> does not start the input: no "▁" is prepended (scheme first). */
    const int32_t want[] = {1, 260, 269, 263, 2};
    expect_ids(tok, "<s>hello</s>", 0, want, 5);
    expect_decode(tok, want, 5, 0, "<s>hello</s>");
    expect_decode(tok, want, 5, 1, "hello");
    tok_close(tok);
}

static void test_unk(void **state) {
    (void)state;
    Err err = {{0}};
    json_t *j = tiny_json();
    json_object_set_new(json_object_get(j, "model"), "byte_fallback", json_false());
    Tokenizer *tok = tok_open(write_tok("tok_unit_unk", json_deep_copy(j)), &err);
    assert_non_null(tok);
    expect_ids(tok, "\xC3\xA9\xC3\xA9 x", 0, (int32_t[]){259, 0, 259, 0}, 4); /* fused */
    tok_close(tok);
    json_object_set_new(json_object_get(j, "model"), "fuse_unk", json_false());
    tok = tok_open(write_tok("tok_unit_unk", j), &err);
    assert_non_null(tok);
    expect_ids(tok, "\xC3\xA9\xC3\xA9 x", 0, (int32_t[]){259, 0, 0, 259, 0}, 5);
    tok_close(tok);
}

/* Opening must fail with a message holding every string in needles. */
static void expect_open_error(const char *path, const char *needle1, const char *needle2) {
    Err err = {{0}};
    Tokenizer *tok = tok_open(path, &err);
    if (tok != NULL || strstr(err.msg, needle1) == NULL ||
        (needle2 != NULL && strstr(err.msg, needle2) == NULL)) {
        printf("error message \"%s\" lacks \"%s\" / \"%s\"\n", err.msg, needle1,
               needle2 ? needle2 : "");
        tok_close(tok);
        fail();
    }
}

static void test_malformed(void **state) {
    (void)state;
    json_t *j = tiny_json();
    json_object_del(json_object_get(j, "model"), "vocab");
    const char *p = write_tok("tok_unit_bad", j);
    expect_open_error(p, p, "model.vocab");

    j = tiny_json();
    json_array_set_new(json_object_get(json_object_get(j, "model"), "merges"), 0,
                       json_string("h zz"));
    p = write_tok("tok_unit_bad", j);
    expect_open_error(p, p, "model.merges[0]");

    j = tiny_json();
    json_object_set_new(j, "normalizer", json_pack("{s:s}", "type", "Precompiled"));
    p = write_tok("tok_unit_bad", j);
    expect_open_error(p, "normalizer.type", "Precompiled");

    j = tiny_json();
    json_object_set_new(j, "pre_tokenizer",
                        json_pack("{s:s,s:[{s:s,s:{s:s},s:s}]}", "type", "Sequence",
                                  "pretokenizers", "type", "Split", "pattern", "Regex", "(",
                                  "behavior", "Isolated"));
    p = write_tok("tok_unit_bad", j);
    expect_open_error(p, "pre_tokenizer.pretokenizers[0]", "regex");

    /* Found by tests/fuzz/fuzz_tokenizer (corpus/tokenizer/regress-post-id-no-token): a
     * post_processor id naming no token was handed out by encode and decoded by nobody. */
    const json_int_t post_ids[] = {272, -1, 300};
    for (int k = 0; k < 3; k++) {
        j = tiny_json();
        json_t *ids = json_object_get(json_object_get(json_object_get(json_object_get(
                                          j, "post_processor"), "special_tokens"), "<s>"),
                                      "ids");
        json_array_set_new(ids, 0, json_integer(post_ids[k]));
        p = write_tok("tok_unit_bad", j);
        char want[96];
        snprintf(want, sizeof want, "special token id %lld names no token", (long long)post_ids[k]);
        expect_open_error(p, "post_processor", want);
    }
    j = tiny_json(); /* a hole in the ids: 3 is <0x00> until removed */
    json_object_del(json_object_get(json_object_get(j, "model"), "vocab"), "<0x00>");
    json_array_set_new(json_object_get(json_object_get(json_object_get(json_object_get(
                           j, "post_processor"), "special_tokens"), "<s>"), "ids"),
                       0, json_integer(3));
    p = write_tok("tok_unit_bad", j);
    expect_open_error(p, "post_processor", "special token id 3 names no token");

    char bad[4096];
    pathf(bad, "%s/tok_unit_bad/tokenizer.json", tu_tmp_dir());
    tu_write_file(bad, "{\"model\": {\"vocab\": {\"a\": 0}\n");
    expect_open_error(bad, bad, ":2:");
    expect_open_error("/nonexistent/tokenizer.json", "/nonexistent/tokenizer.json", NULL);
}

static void write_bin(const char *path, const char *const *pieces, int n, int truncate) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    int32_t max_len = 8;
    fwrite(&max_len, 4, 1, f);
    for (int i = 0; i < n; i++) {
        float score = -(float)i;
        int32_t len = (int32_t)strlen(pieces[i]);
        fwrite(&score, 4, 1, f);
        fwrite(&len, 4, 1, f);
        fwrite(pieces[i], 1, (size_t)len - (truncate && i == n - 1 ? 1 : 0), f);
    }
    fclose(f);
}

static void test_llama2c_convert(void **state) {
    (void)state;
    const char *pieces[] = {"<unk>", "\n<s>\n", "\n</s>\n", " ", "a", " a"};
    char bin[4096], dir[4096], path[4096];
    pathf(bin, "%s/tok_unit.bin", tu_tmp_dir());
    pathf(dir, "%s/tok_unit_l2c", tu_tmp_dir());
    write_bin(bin, pieces, 6, 0);
    Err err = {{0}};
    assert_int_equal(l2c_tokenizer_convert(bin, 6, dir, &err), 0);
    pathf(path, "%s/tokenizer.json", dir);
    Tokenizer *tok = tok_open(path, &err);
    assert_non_null(tok);
    expect_ids(tok, "a a", 0, (int32_t[]){5, 5}, 2);
    expect_ids(tok, "a a", 1, (int32_t[]){1, 5, 5}, 3);
    expect_decode(tok, (int32_t[]){1, 5, 5, 2}, 4, 1, "a a");
    assert_int_equal(tok_bos_id(tok), 1);
    assert_int_equal(tok_eos_id(tok), 2);
    tok_close(tok);

    assert_int_equal(l2c_tokenizer_convert(bin, 7, dir, &err), -1);
    assert_non_null(strstr(err.msg, bin));
    assert_non_null(strstr(err.msg, "vocab_size is 7"));
    write_bin(bin, pieces, 6, 1);
    assert_int_equal(l2c_tokenizer_convert(bin, 6, dir, &err), -1);
    assert_non_null(strstr(err.msg, "piece 5"));
}

static void test_bytelevel_file(void **state) {
    (void)state;
    Err err = {{0}};
    Tokenizer *tok = tok_open(tu_path(tu_source_dir(), "tests/data/tok/bytelevel.tokenizer.json"),
                              &err);
    if (tok == NULL)
        printf("%s\n", err.msg);
    assert_non_null(tok);
    int32_t bos = tok_id(tok, "<|begin_of_text|>");
    assert_true(bos >= 0);
    assert_int_equal(tok_bos_id(tok), bos);
    const char *text = "Hello world<|eot_id|> \xF0\x9F\x91\x8D caf\xC3\xA9";
    int32_t *ids = NULL;
    int64_t n = 0;
    assert_int_equal(tok_encode(tok, text, strlen(text), 1, &ids, &n, &err), 0);
    assert_true(n > 3);
    assert_int_equal(ids[0], bos);
    expect_decode(tok, ids, n, 0, "<|begin_of_text|>Hello world<|eot_id|> \xF0\x9F\x91\x8D caf\xC3\xA9");
    expect_decode(tok, ids, n, 1, "Hello world \xF0\x9F\x91\x8D caf\xC3\xA9");
    free(ids);
    tok_close(tok);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bpe_and_byte_fallback), cmocka_unit_test(test_added_tokens),
        cmocka_unit_test(test_unk),                   cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_llama2c_convert),       cmocka_unit_test(test_bytelevel_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
