/* tests/io/text/test_chat_template_content.c -- tmpl_encode_prompt_content: the ids equal
 * tmpl_encode_prompt's; the mask marks one contiguous run of tokens that decodes to the
 * prompt (boundary tokens may carry a template byte: the run contains the prompt and at
 * most a few bytes more), never the system prompt or the template's fixed text. On the
 * committed byte-level tokenizer (decoding is exact there) with llama3 (no system prompt)
 * and qwen (a default system prompt that must not be marked). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "io/text/chat_template.h"
#include "io/text/tokenizer.h"
#include "tests/testutil.h"

static const char *const PROMPTS[] = {
    "What is 7 times 6?",
    "Translate into French: the cat sleeps.",
    " leading space and trailing space ",
    "Line one\nLine two\n\nLine four",
    "x",
    "Numbers 12345 and symbols <>{}[] and unicode caf\xc3\xa9 \xe2\x82\xac 100",
};

static void check_template(const Tokenizer *tok, const char *name) {
    const ChatTemplate *t = tmpl_find(name);
    assert_non_null(t);
    Err err = {{0}};
    for (size_t p = 0; p < sizeof PROMPTS / sizeof PROMPTS[0]; p++) {
        const char *prompt = PROMPTS[p];
        int32_t *want = NULL, *ids = NULL;
        int64_t n_want = 0, n = 0;
        uint8_t *mask = NULL;
        if (tmpl_encode_prompt(t, tok, prompt, &want, &n_want, &err) != 0 ||
            tmpl_encode_prompt_content(t, tok, prompt, &ids, &n, &mask, &err) != 0)
            fail_msg("%s: %s", name, err.msg);
        assert_int_equal(n, n_want);
        assert_memory_equal(ids, want, (size_t)n * sizeof *ids);
        int64_t first = -1, last = -1, runs = 0;
        for (int64_t i = 0; i < n; i++)
            if (mask[i]) {
                if (first < 0 || !mask[i - 1])
                    runs++;
                if (first < 0)
                    first = i;
                last = i;
            }
        if (runs != 1)
            fail_msg("%s, prompt %zu: %lld marked runs, want 1", name, p, (long long)runs);
        char *marked = NULL, *all = NULL;
        assert_int_equal(tok_decode(tok, ids + first, last - first + 1, 0, &marked, &err), 0);
        assert_int_equal(tok_decode(tok, ids, n, 0, &all, &err), 0);
        if (strstr(marked, prompt) == NULL || strlen(marked) > strlen(prompt) + 4)
            fail_msg("%s, prompt %zu: the marked tokens decode to \"%s\", want \"%s\" (+ at "
                     "most a boundary byte or two)", name, p, marked, prompt);
        if (strlen(all) < strlen(marked) + 8) /* the template's own text stays unmarked */
            fail_msg("%s, prompt %zu: almost everything marked: \"%s\"", name, p, all);
        free(marked);
        free(all);
        free(ids);
        free(want);
        free(mask);
    }
}

static void test_llama3(void **state) { check_template(*state, "llama3"); }

static void test_qwen_system_prompt_unmarked(void **state) {
    check_template(*state, "qwen");
    /* the default system prompt is in the ids but never marked */
    const ChatTemplate *t = tmpl_find("qwen");
    Err err = {{0}};
    int32_t *ids = NULL;
    int64_t n = 0;
    uint8_t *mask = NULL;
    assert_int_equal(tmpl_encode_prompt_content(t, *state, "hi", &ids, &n, &mask, &err), 0);
    char *text = NULL;
    int64_t n_marked = 0;
    for (int64_t i = 0; i < n; i++)
        n_marked += mask[i];
    assert_int_equal(tok_decode(*state, ids, n, 0, &text, &err), 0);
    assert_non_null(strstr(text, "You are a helpful assistant."));
    assert_true(n_marked >= 1 && n_marked <= 2);
    free(text);
    free(ids);
    free(mask);
}

static int setup(void **state) {
    Err err = {{0}};
    *state = tok_open(tu_path(tu_source_dir(), "tests/data/tok/bytelevel.tokenizer.json"), &err);
    if (*state == NULL)
        fail_msg("%s", err.msg);
    return 0;
}

static int teardown(void **state) {
    tok_close(*state);
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_llama3),
        cmocka_unit_test(test_qwen_system_prompt_unmarked),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
