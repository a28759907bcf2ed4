/* tests/io/text/test_chat_template.c -- the chat templates against the goldens written by
 * tests/ref/make_template_golden.py (a re-implementation of the reference's LLaMA-Factory
 * template code, cross-checked against the fork's own template.py): the formatted
 * elements of every case, and the ids on the byte-level tokenizer in tests/data/tok and,
 * when ../shared is here, on the Llama 2 tokenizer (converted from its llama2.c
 * tokenizer.bin, which tokenizes as transformers' conversion of tokenizer.model). */
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "io/text/chat_template.h"
#include "io/convert/llama2c_tokenizer.h"
#include "io/text/tokenizer.h"
#include "tests/testutil.h"

typedef struct Fixture {
    Tokenizer *bytelevel;
    Tokenizer *llama2; /* NULL without ../shared */
} Fixture;

static int setup(void **state) {
    static Fixture fx;
    Err err = {{0}};
    fx.bytelevel = tok_open(tu_path(tu_source_dir(), "tests/data/tok/bytelevel.tokenizer.json"), &err);
    if (fx.bytelevel == NULL)
        printf("%s\n", err.msg);
    const char *shared = tu_shared_dir();
    if (shared != NULL) {
        const char *dir = tu_path(tu_tmp_dir(), "tmpl_llama2");
        if (l2c_tokenizer_convert(tu_path(shared, "tokenizers/llama2/tokenizer.bin"), 32000, dir,
                                  &err) == 0)
            fx.llama2 = tok_open(tu_path(dir, "tokenizer.json"), &err);
        if (fx.llama2 == NULL)
            printf("%s\n", err.msg);
    }
    *state = &fx;
    return fx.bytelevel == NULL || (shared != NULL && fx.llama2 == NULL);
}

static int teardown(void **state) {
    Fixture *fx = *state;
    tok_close(fx->bytelevel);
    tok_close(fx->llama2);
    return 0;
}

static void check_elems(const char *what, const TmplElems *got, const json_t *want) {
    int bad = (size_t)got->n_elems != json_array_size(want);
    for (int i = 0; !bad && i < got->n_elems; i++) {
        const json_t *w = json_array_get(want, (size_t)i);
        const json_t *text = json_object_get(w, "text"), *sp = json_object_get(w, "special");
        const TmplElem *g = &got->elems[i];
        if (text != NULL)
            bad = g->kind != TMPL_ELEM_TEXT || strcmp(g->text, json_string_value(text)) != 0;
        else
            bad = g->kind != (strcmp(json_string_value(sp), "bos") == 0 ? TMPL_ELEM_BOS
                                                                         : TMPL_ELEM_EOS);
    }
    if (bad) {
        char *w = json_dumps(want, JSON_ENCODE_ANY);
        printf("  %s: want %s, got %d elements:", what, w, got->n_elems);
        for (int i = 0; i < got->n_elems; i++)
            printf(" [%d %s]", got->elems[i].kind, got->elems[i].text ? got->elems[i].text : "");
        printf("\n");
        free(w);
        fail();
    }
}

static void check_ids(const char *what, const int32_t *got, int64_t n, const json_t *want) {
    int bad = (size_t)n != json_array_size(want);
    for (int64_t i = 0; !bad && i < n; i++)
        bad = got[i] != json_integer_value(json_array_get(want, (size_t)i));
    if (bad) {
        char *w = json_dumps(want, JSON_ENCODE_ANY);
        printf("  %s: want %s\n  got %lld ids:", what, w, (long long)n);
        for (int64_t i = 0; i < n; i++)
            printf(" %d", got[i]);
        printf("\n");
        free(w);
        fail();
    }
}

/* Ids of one case on one tokenizer: both turns, and the truncated inputs. */
static void check_case_ids(const char *label, const ChatTemplate *t, Tokenizer *tok,
                           const TmplElems *p, const TmplElems *r, const json_t *c,
                           const json_t *want) {
    char what[160];
    Err err = {{0}};
    int32_t *ids = NULL;
    int64_t n = 0;
    assert_int_equal(tmpl_encode_elems(p, tok, &ids, &n, &err), 0);
    snprintf(what, sizeof what, "%s prompt ids", label);
    check_ids(what, ids, n, json_object_get(want, "prompt"));
    free(ids);
    ids = NULL;
    n = 0;
    assert_int_equal(tmpl_encode_elems(r, tok, &ids, &n, &err), 0);
    snprintf(what, sizeof what, "%s response ids", label);
    check_ids(what, ids, n, json_object_get(want, "response"));
    free(ids);
    const char *prompt = json_string_value(json_object_get(c, "prompt"));
    const json_t *resp = json_object_get(c, "response");
    const char *key;
    const json_t *in;
    json_object_foreach((json_t *)json_object_get(want, "inputs"), key, in) {
        int64_t n_target = -1;
        assert_int_equal(tmpl_encode_input(t, tok, prompt, json_string_value(resp), atoll(key),
                                           &ids, &n, &n_target, &err), 0);
        snprintf(what, sizeof what, "%s input ids at cutoff_len %s", label, key);
        check_ids(what, ids, n, in);
        assert_int_equal(n_target, json_array_size(json_object_get(want, "response")));
        free(ids);
    }
}

static void run_template(Fixture *fx, const char *name) {
    char rel[128];
    snprintf(rel, sizeof rel, "tests/data/templates/%s.json", name);
    json_error_t jerr;
    json_t *doc = json_load_file(tu_path(tu_source_dir(), rel), 0, &jerr);
    if (doc == NULL)
        printf("%s: %s\n", rel, jerr.text);
    assert_non_null(doc);
    const ChatTemplate *t = tmpl_find(name);
    assert_non_null(t);
    assert_string_equal(tmpl_name(t), name);
    int n_words;
    const char *const *words = tmpl_stop_words(t, &n_words);
    const json_t *want_words = json_object_get(doc, "stop_words");
    assert_int_equal(n_words, json_array_size(want_words));
    for (int i = 0; i < n_words; i++)
        assert_string_equal(words[i], json_string_value(json_array_get(want_words, (size_t)i)));
    size_t i, n_ids_checked = 0;
    json_t *c;
    json_array_foreach(json_object_get(doc, "cases"), i, c) {
        Err err = {{0}};
        TmplElems p = {0}, r = {0};
        const json_t *sys = json_object_get(c, "system"), *resp = json_object_get(c, "response");
        char label[96], what[128];
        snprintf(label, sizeof label, "%s case %zu", name, i);
        assert_int_equal(tmpl_format_prompt(t, json_string_value(json_object_get(c, "prompt")),
                                            json_string_value(sys), &p, &err), 0);
        snprintf(what, sizeof what, "%s prompt elements", label);
        check_elems(what, &p, json_object_get(c, "prompt_elems"));
        assert_int_equal(tmpl_format_response(t, json_is_string(resp) ? json_string_value(resp)
                                                                      : "", &r, &err), 0);
        snprintf(what, sizeof what, "%s response elements", label);
        check_elems(what, &r, json_object_get(c, "response_elems"));
        const json_t *ids = json_object_get(c, "ids");
        if (json_object_get(ids, "bytelevel") != NULL) {
            snprintf(what, sizeof what, "%s bytelevel", label);
            check_case_ids(what, t, fx->bytelevel, &p, &r, c, json_object_get(ids, "bytelevel"));
            n_ids_checked++;
        }
        if (fx->llama2 != NULL && json_object_get(ids, "llama2") != NULL) {
            snprintf(what, sizeof what, "%s llama2", label);
            check_case_ids(what, t, fx->llama2, &p, &r, c, json_object_get(ids, "llama2"));
            n_ids_checked++;
        }
        tmpl_elems_free(&p);
        tmpl_elems_free(&r);
        tmpl_elems_free(&r); /* safe twice */
    }
    assert_true(i >= 10 && n_ids_checked >= i);
    json_decref(doc);
}

static void test_llama3(void **state) { run_template(*state, "llama3"); }
static void test_llama2(void **state) { run_template(*state, "llama2"); }
static void test_qwen(void **state) { run_template(*state, "qwen"); }
static void test_mistral(void **state) { run_template(*state, "mistral"); }
static void test_none(void **state) { run_template(*state, "none"); }

static void test_infer_seqlen(void **state) {
    /* processor_utils.infer_seqlen's three branches. */
    const int64_t cases[][5] = {
        /* source, target, cutoff -> source, target */
        {5000, 1, 4096, 4095, 1},  /* short answer: the prompt gives way */
        {30, 80, 100, 30, 70},     /* short prompt: the answer gives way */
        {100, 100, 100, 50, 50},   /* both long: shared in proportion */
        {10, 5, 8, 6, 2},          /* int(8 * 5 / 15) = 2 */
        {7, 0, 4096, 7, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t s, t;
        tmpl_infer_seqlen(cases[i][0], cases[i][1], cases[i][2], &s, &t);
        assert_int_equal(s, cases[i][3]);
        assert_int_equal(t, cases[i][4]);
    }
}

static void test_lookup_and_stops(void **state) {
    Fixture *fx = *state;
    int n;
    const char *const *names = tmpl_names(&n);
    assert_int_equal(n, 6); /* llama3 llama2 qwen chatml mistral none */
    for (int i = 0; i < n; i++)
        assert_non_null(tmpl_find(names[i]));
    assert_null(tmpl_find("llama4"));
    assert_null(tmpl_find("empty")); /* tlm calls it none */
    int32_t ids[8];
    /* The byte-level test tokenizer has <|eot_id|> but no <|eom_id|> and no EOS. */
    assert_int_equal(tmpl_stop_ids(tmpl_find("llama3"), fx->bytelevel, ids, 8), 1);
    assert_int_equal(ids[0], tok_id(fx->bytelevel, "<|eot_id|>"));
    assert_int_equal(tmpl_stop_ids(tmpl_find("none"), fx->bytelevel, ids, 8), 0);
    if (fx->llama2 != NULL) {
        assert_int_equal(tmpl_stop_ids(tmpl_find("llama2"), fx->llama2, ids, 8), 1);
        assert_int_equal(ids[0], 2); /* </s> */
    }
    Err err = {{0}};
    int32_t *in = NULL;
    int64_t n_in = 0;
    assert_int_equal(tmpl_encode_input(tmpl_find("llama3"), fx->bytelevel, "x", NULL, 0, &in,
                                       &n_in, NULL, &err), -1);
    assert_non_null(strstr(err.msg, "cutoff_len must be positive, got 0"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_llama3),       cmocka_unit_test(test_llama2),
        cmocka_unit_test(test_qwen),         cmocka_unit_test(test_mistral),
        cmocka_unit_test(test_none),         cmocka_unit_test(test_infer_seqlen),
        cmocka_unit_test(test_lookup_and_stops),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
