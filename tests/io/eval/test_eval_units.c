/* tests/io/eval/test_eval_units.c -- cmocka unit tests of the `tlm eval` pieces: the
 * Porter stemmer against nltk on tests/data/eval/porter.tsv (400 words), Punkt
 * sentences and NLTKWordTokenizer tokens on hand-picked texts, the answer extractors
 * and math.fsum. Every expected value was printed by the Python reference (nltk
 * 3.10.4 with the English punkt_tab model; scripts/eval/eval_utils.py reimplemented
 * in tests/ref/make_eval_golden.py). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "io/eval/eval_bleu.h"
#include "io/eval/eval_extract.h"
#include "io/eval/eval_porter.h"
#include "io/eval/eval_punkt.h"
#include "io/eval/eval_wordtok.h"
#include "tests/testutil.h"

static void test_porter_vs_nltk(void **state) {
    (void)state;
    size_t n_bytes;
    char *tsv = tu_read_file(tu_path(tu_source_dir(), "tests/data/eval/porter.tsv"), &n_bytes);
    assert_non_null(tsv);
    int n = 0, bad = 0;
    for (char *line = strtok(tsv, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        char *tab = strchr(line, '\t');
        assert_non_null(tab);
        *tab = '\0';
        char out[256];
        eval_porter_stem(line, strlen(line), out);
        if (strcmp(out, tab + 1) != 0 && bad++ < 5)
            printf("porter: %s -> got %s, want %s\n", line, out, tab + 1);
        n++;
    }
    free(tsv);
    printf("porter: %d words, %d differ from nltk\n", n, bad);
    assert_int_equal(n, 400);
    assert_int_equal(bad, 0);
}

/* Splits text and checks the pieces against want[0..n_want). */
static void check_list(const StrList *got, const char *const *want, int64_t n_want) {
    for (int64_t i = 0; i < got->n_items && i < n_want; i++)
        assert_string_equal(got->items[i], want[i]);
    assert_int_equal(got->n_items, n_want);
}

static void test_punkt_sentences(void **state) {
    (void)state;
    Err err = {0};
    EvalPunkt *pk = eval_punkt_open(&err);
    assert_non_null(pk);
    static const struct {
        const char *text;
        const char *want[8];
        int n;
    } cases[] = {
        {"Dr. Smith went to Washington. He arrived at 5 p.m. on Monday.",
         {"Dr. Smith went to Washington.", "He arrived at 5 p.m. on Monday."}, 2},
        {"The U.S. economy grew 3.5% in Jan. It was e.g. strong. (See Fig. 2.) Then \"it "
         "ended.\" OK",
         {"The U.S. economy grew 3.5% in Jan.", "It was e.g.", "strong.", "(See Fig.", "2.)",
          "Then \"it ended.\"", "OK"}, 7},
        {"Mr. J. Bach wrote music... And then? Yes!  Done",
         {"Mr. J. Bach wrote music... And then?", "Yes!", "Done"}, 3},
        {"", {NULL}, 0},
        {"   ", {NULL}, 0},
        {"no period at all", {"no period at all"}, 1},
        {"Hello.World. Next one.\n\nNew para.", {"Hello.World.", "Next one.", "New para."}, 3},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        StrList got = {0};
        assert_int_equal(eval_punkt_split(pk, cases[c].text, strlen(cases[c].text), &got, &err), 0);
        check_list(&got, cases[c].want, cases[c].n);
        strlist_free(&got);
    }
    eval_punkt_close(pk);
}

static void test_word_tokenize(void **state) {
    (void)state;
    Err err = {0};
    EvalPunkt *pk = eval_punkt_open(&err);
    EvalWordTok *wt = eval_wordtok_open(&err);
    assert_non_null(pk);
    assert_non_null(wt);
    static const char text[] = "They'll say \"don't\" -- cannot gonna (3,000 items) at $5.50...";
    static const char *const want[] = {"They", "'ll", "say", "``", "do", "n't", "''", "--",
                                       "can", "not", "gon", "na", "(", "3,000", "items", ")",
                                       "at", "$", "5.50", "..."};
    StrList got = {0};
    assert_int_equal(eval_word_tokenize(wt, pk, text, strlen(text), &got, &err), 0);
    check_list(&got, want, 20);
    strlist_clear(&got);
    static const char uni[] = "\xe2\x80\x9c" "Curly" "\xe2\x80\x9d \xe2\x80\x98" "quotes"
                              "\xe2\x80\x99 \xc2\xab" "here" "\xc2\xbb \xe2\x80\x94 ok.";
    static const char *const want_uni[] = {"\xe2\x80\x9c", "Curly", "\xe2\x80\x9d", "\xe2\x80\x98",
                                           "quotes", "\xe2\x80\x99", "\xc2\xab", "here",
                                           "\xc2\xbb", "\xe2\x80\x94", "ok", "."};
    assert_int_equal(eval_word_tokenize(wt, pk, uni, strlen(uni), &got, &err), 0);
    check_list(&got, want_uni, 12);
    strlist_clear(&got);
    static const char tis[] = "I can't. 'Tis true!";
    static const char *const want_tis[] = {"I", "ca", "n't", ".", "'", "Tis", "true", "!"};
    assert_int_equal(eval_word_tokenize(wt, pk, tis, strlen(tis), &got, &err), 0);
    check_list(&got, want_tis, 8);
    strlist_free(&got);
    eval_wordtok_close(wt);
    eval_punkt_close(pk);
}

/* want == NULL means the reference returns None. */
static void check_answer(int which, const char *completion, const char *label,
                         const char *want) {
    Err err = {0};
    char *got = NULL;
    int rc = which == 0   ? eval_extract_gsm8k(completion, strlen(completion), &got, &err)
             : which == 1 ? eval_extract_logiqa(completion, strlen(completion), &got, &err)
                          : eval_extract_metamath(completion, strlen(completion), label,
                                                  strlen(label), &got, &err);
    assert_int_equal(rc, 0);
    if (want == NULL)
        assert_null(got);
    else
        assert_string_equal(got, want);
    free(got);
}

static void test_extract_gsm8k(void **state) {
    (void)state;
    check_answer(0, "The answer is 1,234.", "", "1234");
    check_answer(0, "-3.5 apples", "", "-4");
    check_answer(0, "costs $2.50", "", "2");
    check_answer(0, "no number", "", NULL);
    check_answer(0, "1.2.3", "", NULL);
    check_answer(0, "x 2-3", "", NULL);
    check_answer(0, "\xd9\xa3\xd9\xa4", "", "34"); /* Arabic-Indic digits */
    check_answer(0, "2.5", "", "2");              /* round half to even */
    check_answer(0, "3.5", "", "4");
    check_answer(0, "-0.4", "", "0");
    check_answer(0, "12345678901234567890123", "", "12345678901234567741440");
    check_answer(0, "", "", NULL);
}

static void test_extract_logiqa(void **state) {
    (void)state;
    check_answer(1, "B. because", "", "B");
    check_answer(1, "Answer: C\nExplanation: A is wrong", "", "C");
    check_answer(1, "Explanation: B first. Answer: C", "", "C");
    check_answer(1, "The answer is D", "", "D");
    check_answer(1, "I pick A", "", "A");
    check_answer(1, "Answer:B is it; answer is C", "", "B");
    check_answer(1, "nothing", "", "");
    check_answer(1, "Answer: AExplanation", "", "A");
    check_answer(1, "Answer: \xc3\x89_A A", "", "A");
    check_answer(1, "AB C", "", "C");
}

static void test_extract_metamath(void **state) {
    (void)state;
    check_answer(2, "The answer is \\boxed{\\frac{7}{2}}.", "\\frac{7}{2}", "\\frac{7}{2}");
    check_answer(2, "so 3:4", "3:4", "3:4");
    check_answer(2, "Therefore Sunday", "\\text{Sunday}", "\\text{Sunday}");
    check_answer(2, "So (1,2)", "(1, 2)", "(1, 2)");
    check_answer(2, "no", "(1,2)", NULL);
    check_answer(2, "we get \\frac{1}{2} and \\frac{3}{4}", "x", "\\frac{3}{4}");
    check_answer(2, "\\boxed{90^\\circ}", "90", "90");
    check_answer(2, "total 12 and 13.", "13", "13");
    assert_true(eval_answer_correct("13", "\n13\n", 4));
    assert_false(eval_answer_correct("13", " 13", 3));
    assert_false(eval_answer_correct(NULL, "", 0));
}

static void test_fsum(void **state) {
    (void)state;
    const double a[] = {1e100, 1.0, -1e100, 1e-100};
    assert_true(eval_fsum(a, 4) == 1.0);
    double tenth[10];
    for (int i = 0; i < 10; i++)
        tenth[i] = 0.1;
    assert_true(eval_fsum(tenth, 10) == 1.0);
    const double b[] = {1.0, 1e-16, 1e-16};
    assert_true(eval_fsum(b, 3) == 1.0000000000000002);
    assert_true(eval_fsum(NULL, 0) == 0.0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_porter_vs_nltk),  cmocka_unit_test(test_punkt_sentences),
        cmocka_unit_test(test_word_tokenize),   cmocka_unit_test(test_extract_gsm8k),
        cmocka_unit_test(test_extract_logiqa),  cmocka_unit_test(test_extract_metamath),
        cmocka_unit_test(test_fsum),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
