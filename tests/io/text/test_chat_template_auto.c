/* tests/io/text/test_chat_template_auto.c -- the model's own chat template: the chatml
 * template against tests/data/templates/chatml.json (tests/ref/make_chatml_golden.py:
 * transformers' apply_chat_template on SmolLM2-135M-Instruct's template, with that
 * template's default system prompt), the default system prompt read out of template text
 * (SmolLM2's, Qwen2.5-style escaped literals, none), model.template auto's recognition of
 * each family and its refusals (no template, unknown, ambiguous) naming the file and the
 * choices, chat_template.jinja taking priority over tokenizer_config.json, and where the
 * sample's own text lands in the elements and their tokens. SmolLM2's ids are checked when
 * ../shared is here (its tokenizer converted from the GGUF), the byte-level ones always. */
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "io/convert/convert_util.h"
#include "io/convert/gguf_convert.h"
#include "io/text/chat_template.h"
#include "io/text/tokenizer.h"
#include "tests/testutil.h"

static const char *bytelevel_json(void) {
    return tu_path(tu_source_dir(), "tests/data/tok/bytelevel.tokenizer.json");
}

/* A model dir holding the byte-level tokenizer.json, tokenizer_config.json with
 * config_template (JSON text of the value, NULL: no key) and chat_template.jinja when
 * jinja != NULL. Returns the opened tokenizer. */
static Tokenizer *model_dir(const char *name, const char *config_template, const char *jinja) {
    static char dir[4096];
    snprintf(dir, sizeof dir, "%s/tmpl_auto_%s", tu_tmp_dir(), name);
    Err err = {{0}};
    assert_int_equal(conv_make_dirs(dir, &err), 0);
    assert_int_equal(tu_system("cp '%s' '%s/tokenizer.json' && rm -f '%s/chat_template.jinja'",
                               bytelevel_json(), dir, dir), 0);
    FILE *f = fopen(tu_path(dir, "tokenizer_config.json"), "w");
    fprintf(f, "{\"bos_token\": \"<|begin_of_text|>\"%s%s}\n",
            config_template ? ", \"chat_template\": " : "", config_template ? config_template : "");
    fclose(f);
    if (jinja != NULL) {
        f = fopen(tu_path(dir, "chat_template.jinja"), "w");
        fputs(jinja, f);
        fclose(f);
    }
    Tokenizer *tok = tok_open(tu_path(dir, "tokenizer.json"), &err);
    if (tok == NULL)
        printf("%s\n", err.msg);
    assert_non_null(tok);
    return tok;
}

static void expect_family(const char *name, const char *tmpl_json, const char *want) {
    Tokenizer *tok = model_dir(name, tmpl_json, NULL);
    const ChatTemplate *t = NULL;
    Err err = {{0}};
    if (tmpl_detect(tok, &t, &err) != 0)
        printf("  %s: %s\n", name, err.msg);
    assert_non_null(t);
    assert_string_equal(tmpl_name(t), want);
    tok_close(tok);
}

static void expect_refused(const char *name, const char *tmpl_json, const char *file,
                           const char *why) {
    Tokenizer *tok = model_dir(name, tmpl_json, NULL);
    const ChatTemplate *t = NULL;
    Err err = {{0}};
    assert_int_equal(tmpl_resolve(TMPL_AUTO, tok, &t, &err), -1);
    printf("  refused: %s\n", strstr(err.msg, "tmpl_auto_"));
    assert_non_null(strstr(err.msg, file));
    assert_non_null(strstr(err.msg, why));
    assert_non_null(strstr(err.msg, "llama3, llama2, qwen, chatml, mistral, none"));
    tok_close(tok);
}

static void test_detect(void **state) {
    expect_family("llama3", "\"{{ '<|start_header_id|>' + m['role'] + '<|end_header_id|>\\n\\n' "
                            "+ m['content'] + '<|eot_id|>' }}\"", "llama3");
    expect_family("chatml", "\"{{'<|im_start|>' + m['role'] + '\\n' + m['content'] + "
                            "'<|im_end|>\\n'}}\"", "chatml");
    expect_family("llama2", "\"{{ bos_token + '[INST] <<SYS>>\\n' + s + '\\n<</SYS>>\\n\\n' + "
                            "c + ' [/INST]' }}\"", "llama2");
    expect_family("mistral", "\"{{ bos_token }}{% for m in messages %}{{ '[INST] ' + "
                             "m['content'] + '[/INST]' }}{% endfor %}\"", "mistral");
    expect_family("list", "[{\"name\": \"tool_use\", \"template\": \"[INST]<<SYS>>\"}, "
                          "{\"name\": \"default\", \"template\": \"<|im_start|><|im_end|>\"}]",
                  "chatml");
    expect_refused("none", NULL, "tmpl_auto_none/tokenizer.json", "has no chat template");
    expect_refused("gemma", "\"{{ '<start_of_turn>user\\n' + c + '<end_of_turn>\\n' }}\"",
                   "tmpl_auto_gemma/tokenizer_config.json", "none of the families");
    expect_refused("both", "\"<|im_start|><|im_end|><|start_header_id|><|eot_id|>\"",
                   "tmpl_auto_both/tokenizer_config.json", "markers of both llama3 and chatml");
    /* chat_template.jinja wins over tokenizer_config.json, as in transformers */
    Tokenizer *tok = model_dir("jinja", "\"<|start_header_id|><|eot_id|>\"",
                               "{{ '<|im_start|>system\\nFrom the jinja file.<|im_end|>\\n' }}"
                               "<|im_start|><|im_end|>");
    const ChatTemplate *t = NULL;
    Err err = {{0}};
    assert_int_equal(tmpl_resolve(TMPL_AUTO, tok, &t, &err), 0);
    assert_string_equal(tmpl_name(t), "chatml");
    assert_non_null(strstr(tok_chat_template_path(tok), "tmpl_auto_jinja/chat_template.jinja"));
    char *sys = NULL;
    assert_int_equal(tmpl_default_system(t, tok, &sys, &err), 0);
    assert_string_equal(sys, "From the jinja file.");
    free(sys);
    /* a named template ignores the model's; unknown names list the choices */
    assert_int_equal(tmpl_resolve("qwen", tok, &t, &err), 0);
    assert_string_equal(tmpl_name(t), "qwen");
    assert_int_equal(tmpl_resolve("llama4", tok, &t, &err), -1);
    assert_non_null(strstr(err.msg, "unknown template \"llama4\" (auto, llama3, llama2, qwen, "
                                    "chatml, mistral, none)"));
    tok_close(tok);
}

static void expect_system(const char *text, const char *want) {
    char *got = NULL;
    Err err = {{0}};
    assert_int_equal(tmpl_model_system(text, &got, &err), 0);
    assert_string_equal(got, want);
    free(got);
}

static void test_model_system(void **state) {
    /* Qwen2.5: the tools branch's literal holds no text; the escaped literal after it does */
    expect_system("{%- if tools %}{{- '<|im_start|>system\\n' }}{%- if messages[0]['role'] == "
                  "'system' %}{{- messages[0]['content'] }}{%- else %}{{- 'You are Qwen.' }}"
                  "{%- endif %}{%- else %}{{- '<|im_start|>system\\nYou are Qwen, created by "
                  "Alibaba Cloud. You are a helpful assistant.<|im_end|>\\n' }}{%- endif %}",
                  "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.");
    expect_system("{{ \"<|im_start|>system\\nSay \\\"hi\\\"\\tplease.<|im_end|>\\n\" }}",
                  "Say \"hi\"\tplease.");
    expect_system("{% if x %}<|im_start|>system\nPlain text.<|im_end|>\n{% endif %}",
                  "Plain text.");
    expect_system("{{ '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}", "");
    expect_system("<|im_start|>system\n{{ system }}<|im_end|>", "");
    expect_system("{{ '<|start_header_id|>system<|end_header_id|>' }}", "");
}

/* Checks the elements of a golden case and where the sample's text lands in them. */
static void check_elems(const TmplElems *e, const json_t *want, const char *content) {
    assert_int_equal(e->n_elems, json_array_size(want));
    int n_content = 0;
    for (int i = 0; i < e->n_elems; i++) {
        const TmplElem *el = &e->elems[i];
        assert_string_equal(el->text, json_string_value(json_object_get(json_array_get(want,
                                                                           (size_t)i), "text")));
        if (el->content_begin < 0)
            continue;
        n_content++;
        assert_int_equal(el->content_end - el->content_begin, (int64_t)strlen(content));
        assert_memory_equal(el->text + el->content_begin, content, strlen(content));
    }
    assert_int_equal(n_content, 1);
}

static void check_ids(const int32_t *got, int64_t n, const json_t *want) {
    assert_int_equal(n, json_array_size(want));
    for (int64_t i = 0; i < n; i++)
        assert_int_equal(got[i], json_integer_value(json_array_get(want, (size_t)i)));
}

static void encode_check(const TmplElems *e, const Tokenizer *tok, const json_t *want) {
    int32_t *ids = NULL;
    int64_t n = 0;
    TmplSpan spans[TMPL_MAX_ELEMS];
    Err err = {{0}};
    assert_int_equal(tmpl_encode_elems_spans(e, tok, &ids, &n, spans, &err), 0);
    check_ids(ids, n, want);
    for (int i = 0; i < e->n_elems; i++) /* the element ranges tile the ids */
        assert_int_equal(spans[i].begin, i ? spans[i - 1].end : 0);
    assert_int_equal(spans[e->n_elems - 1].end, n);
    free(ids);
}

/* SmolLM2's tokenizer (with its chat template), converted from ../shared's GGUF. */
static Tokenizer *smollm2_tokenizer(void) {
    const char *shared = tu_shared_dir();
    if (shared == NULL)
        return NULL;
    const char *dir = tu_path(tu_tmp_dir(), "tmpl_smollm2");
    Err err = {{0}};
    Gguf *g = gguf_open(tu_path(shared, "models/smollm2-135m-instruct/"
                                        "SmolLM2-135M-Instruct.Q4_1.gguf"), &err);
    assert_non_null(g);
    assert_int_equal(conv_make_dirs(dir, &err), 0);
    assert_int_equal(gguf_write_tokenizer(g, dir, &err), 0);
    gguf_close(g);
    Tokenizer *tok = tok_open(tu_path(dir, "tokenizer.json"), &err);
    assert_non_null(tok);
    return tok;
}

static void check_smollm2_case(const ChatTemplate *t, Tokenizer *tok, const json_t *c) {
    const json_t *ids = json_object_get(json_object_get(c, "ids"), "smollm2");
    const char *prompt = json_string_value(json_object_get(c, "prompt"));
    const json_t *resp = json_object_get(c, "response");
    const char *key;
    const json_t *in;
    json_object_foreach((json_t *)json_object_get(ids, "inputs"), key, in) {
        int32_t *got = NULL;
        int64_t n = 0, n_target = -1;
        Err err = {{0}};
        assert_int_equal(tmpl_encode_input(t, tok, prompt, json_string_value(resp), atoll(key),
                                           &got, &n, &n_target, &err), 0);
        check_ids(got, n, in); /* the model's own default system prompt, from the tokenizer */
        free(got);
    }
}

static void test_chatml_golden(void **state) {
    json_error_t jerr;
    json_t *doc = json_load_file(tu_path(tu_source_dir(), "tests/data/templates/chatml.json"), 0,
                                 &jerr);
    assert_non_null(doc);
    const ChatTemplate *t = tmpl_find("chatml");
    assert_non_null(t);
    const char *dflt = json_string_value(json_object_get(doc, "default_system"));
    expect_system(json_string_value(json_object_get(doc, "model_template")), dflt);
    int n_words;
    const char *const *words = tmpl_stop_words(t, &n_words);
    assert_int_equal(n_words, 2);
    assert_string_equal(words[0], "<|im_end|>");
    assert_string_equal(words[1], "<|im_start|>");
    Err err = {{0}};
    Tokenizer *bl = tok_open(bytelevel_json(), &err), *smol = smollm2_tokenizer();
    assert_non_null(bl);
    size_t i, n_hf = 0;
    json_t *c;
    json_array_foreach(json_object_get(doc, "cases"), i, c) {
        const char *prompt = json_string_value(json_object_get(c, "prompt"));
        const char *sys = json_string_value(json_object_get(c, "system"));
        const json_t *resp = json_object_get(c, "response");
        TmplElems p = {0}, r = {0};
        assert_int_equal(tmpl_format_prompt(t, prompt, sys && sys[0] ? sys : dflt, &p, &err), 0);
        assert_int_equal(tmpl_format_response(t, json_is_string(resp) ? json_string_value(resp)
                                                                      : "", &r, &err), 0);
        const int idx = strstr(prompt, "{{idx}}") != NULL; /* the reference rewrites it */
        if (!idx)
            check_elems(&p, json_object_get(c, "prompt_elems"), prompt);
        check_elems(&r, json_object_get(c, "response_elems"),
                    json_is_string(resp) ? json_string_value(resp) : "");
        if (json_is_true(json_object_get(c, "hf_equal"))) { /* apply_chat_template's text */
            char text[8192] = "";
            for (int k = 0; k < p.n_elems; k++)
                strncat(text, p.elems[k].text, sizeof text - strlen(text) - 1);
            assert_string_equal(text, json_string_value(json_object_get(c, "hf_prompt_text")));
            n_hf++;
        }
        const json_t *ids = json_object_get(c, "ids");
        encode_check(&p, bl, json_object_get(json_object_get(ids, "bytelevel"), "prompt"));
        encode_check(&r, bl, json_object_get(json_object_get(ids, "bytelevel"), "response"));
        if (smol != NULL) {
            encode_check(&p, smol, json_object_get(json_object_get(ids, "smollm2"), "prompt"));
            check_smollm2_case(t, smol, c);
        }
        tmpl_elems_free(&p);
        tmpl_elems_free(&r);
    }
    assert_true(i >= 10 && n_hf >= i - 1);
    if (smol != NULL) {
        int32_t stop[4];
        assert_int_equal(tmpl_stop_ids(t, smol, stop, 4), 2);
        assert_int_equal(stop[0], 2); /* EOS <|im_end|> */
        assert_int_equal(stop[1], 1); /* <|im_start|> */
    }
    printf("  chatml: %zu cases, %zu equal to apply_chat_template's text; SmolLM2 ids %s\n", i,
           n_hf, smol != NULL ? "checked" : "skipped (no ../shared)");
    tok_close(bl);
    tok_close(smol);
    json_decref(doc);
}

/* The sample's own text is found in the fused llama2 turn and after an {{idx}} rewrite. */
static void test_content_ranges(void **state) {
    TmplElems e = {0};
    Err err = {{0}};
    assert_int_equal(tmpl_format_prompt(tmpl_find("llama2"), "my question", "Be brief.", &e,
                                        &err), 0);
    const TmplElem *u = &e.elems[e.n_elems - 1];
    assert_memory_equal(u->text + u->content_begin, "my question", 11);
    assert_int_equal(u->content_end - u->content_begin, 11);
    assert_string_equal(u->text + u->content_end, " [/INST]");
    tmpl_elems_free(&e);
    assert_int_equal(tmpl_format_prompt(tmpl_find("llama3"), "a {{idx}} b", NULL, &e, &err), 0);
    u = &e.elems[e.n_elems - 1];
    assert_int_equal(u->content_end - u->content_begin, 5);
    assert_memory_equal(u->text + u->content_begin, "a 0 b", 5);
    assert_int_equal(e.elems[0].content_begin, -1); /* BOS */
    tmpl_elems_free(&e);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_detect), cmocka_unit_test(test_model_system),
        cmocka_unit_test(test_chatml_golden), cmocka_unit_test(test_content_ranges)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
