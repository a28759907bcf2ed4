/* tests/io/eval/test_eval_golden.c -- `tlm eval` against the Python reference's numbers
 * in tests/data/eval (made by tests/ref/make_eval_golden.py with rouge-score 0.1.2,
 * nltk 3.10.4 and the English punkt_tab model). For every pair of text.jsonl: the
 * Punkt sentences of the label and of the preprocessed prediction, the word_tokenize
 * tokens of both (all exact), ROUGE-1/2/L/Lsum F and BLEU (|diff| <= 1e-6;
 * bit-exact matches are counted too); for gsm8k/logiqa/metamath.jsonl the extracted
 * answer and its correctness (exact); then every aggregate of summary.json through
 * eval_run (1e-6 for ROUGE/BLEU, exact counts and accuracies). Prints the first
 * mismatches and a count; exits non-zero on any failure. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/eval/eval.h"
#include "io/eval/eval_bleu.h"
#include "io/eval/eval_extract.h"
#include "io/eval/eval_punkt.h"
#include "io/eval/eval_rouge.h"
#include "io/eval/eval_wordtok.h"
#include "tests/testutil.h"

#define TOL 1e-6

typedef struct Tally {
    int64_t n_checks, n_failed, n_bit_exact, n_values;
    double max_abs;
} Tally;

/* One failed check; the first 10 are printed (tests/testutil.h's tu_fail). */
static void fail(Tally *t, const char *fmt, const char *a, int64_t line, const char *b) {
    if (t->n_failed++ < 10)
        tu_fail(fmt, a, (long long)line, b);
}

static void check_list(Tally *t, const char *what, int64_t line, json_t *want,
                       const StrList *got) {
    t->n_checks++;
    int bad = (int64_t)json_array_size(want) != got->n_items;
    for (size_t i = 0; !bad && i < json_array_size(want); i++)
        bad = strcmp(json_string_value(json_array_get(want, i)), got->items[i]) != 0;
    if (bad)
        fail(t, "%s: line %lld differs%s", what, line, "");
}

static void check_value(Tally *t, const char *what, int64_t line, double got, double want) {
    double d = fabs(got - want);
    t->n_checks++;
    t->n_values++;
    t->n_bit_exact += got == want;
    if (d > t->max_abs)
        t->max_abs = d;
    if (!(d <= TOL)) {
        char msg[128];
        snprintf(msg, sizeof msg, "got %.17g want %.17g", got, want);
        fail(t, "%s: line %lld: %s", what, line, msg);
    }
}

static json_t *load_jsonl_line(FILE *f, char **buf, size_t *cap) {
    ssize_t n = getline(buf, cap, f);
    return n < 0 ? NULL : json_loadb(*buf, (size_t)n, 0, NULL);
}

static const char *str(json_t *o, const char *k) { return json_string_value(json_object_get(o, k)); }

static void check_text(Tally *t, const char *path) {
    Err err = {0};
    EvalPunkt *pk = eval_punkt_open(&err);
    EvalWordTok *wt = eval_wordtok_open(&err);
    FILE *f = fopen(path, "r");
    if (pk == NULL || wt == NULL || f == NULL) {
        printf("cannot start: %s %s\n", path, err.msg);
        exit(1);
    }
    char *buf = NULL;
    size_t cap = 0;
    json_t *o;
    static const char *const keys[] = {"rouge1", "rouge2", "rougeL", "rougeLsum"};
    for (int64_t line = 1; (o = load_jsonl_line(f, &buf, &cap)) != NULL; line++) {
        const char *label = str(o, "label"), *pred = str(o, "predict");
        StrList l = {0};
        StrBuf pre = {0};
        EvalRouge r;
        double bleu;
        if (eval_punkt_split(pk, label, strlen(label), &l, &err) != 0)
            goto error;
        check_list(t, "sents_label", line, json_object_get(o, "sents_label"), &l);
        strlist_clear(&l);
        if (eval_rouge_preprocess(pk, pred, strlen(pred), &pre, &err) != 0 ||
            eval_punkt_split(pk, pre.data, pre.n_bytes, &l, &err) != 0)
            goto error;
        check_list(t, "sents_predict", line, json_object_get(o, "sents_predict"), &l);
        strlist_clear(&l);
        if (eval_word_tokenize(wt, pk, pred, strlen(pred), &l, &err) != 0)
            goto error;
        check_list(t, "tokens_predict", line, json_object_get(o, "tokens_predict"), &l);
        strlist_clear(&l);
        if (eval_word_tokenize(wt, pk, label, strlen(label), &l, &err) != 0)
            goto error;
        check_list(t, "tokens_label", line, json_object_get(o, "tokens_label"), &l);
        if (eval_rouge_score(pk, label, strlen(label), pred, strlen(pred), &r, &err) != 0 ||
            eval_bleu_score(wt, pk, label, strlen(label), pred, strlen(pred), &bleu, &err) != 0)
            goto error;
        const double got[4] = {r.rouge1, r.rouge2, r.rougeL, r.rougeLsum};
        for (int k = 0; k < 4; k++)
            check_value(t, keys[k], line, got[k], json_number_value(json_object_get(o, keys[k])));
        check_value(t, "bleu", line, bleu, json_number_value(json_object_get(o, "bleu")));
        strlist_free(&l);
        strbuf_free(&pre);
        json_decref(o);
        continue;
    error:
        printf("%s:%lld: %s\n", path, (long long)line, err.msg);
        exit(1);
    }
    free(buf);
    fclose(f);
    eval_wordtok_close(wt);
    eval_punkt_close(pk);
}

static void check_accuracy(Tally *t, const char *path, EvalMetric m) {
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        printf("cannot open %s\n", path);
        exit(1);
    }
    char *buf = NULL;
    size_t cap = 0;
    json_t *o;
    for (int64_t line = 1; (o = load_jsonl_line(f, &buf, &cap)) != NULL; line++) {
        const char *label = str(o, "label"), *pred = str(o, "predict"), *want = str(o, "extracted");
        char *got = NULL;
        Err err = {0};
        int rc = m == EVAL_METRIC_GSM8K    ? eval_extract_gsm8k(pred, strlen(pred), &got, &err)
                 : m == EVAL_METRIC_LOGIQA ? eval_extract_logiqa(pred, strlen(pred), &got, &err)
                                           : eval_extract_metamath(pred, strlen(pred), label,
                                                                   strlen(label), &got, &err);
        t->n_checks += 2;
        if (rc != 0 || (want == NULL) != (got == NULL) || (want && strcmp(want, got) != 0))
            fail(t, "%s: line %lld: extracted \"%s\"", path, line, got ? got : "None");
        if (eval_answer_correct(got, label, strlen(label)) != json_is_true(json_object_get(o, "correct")))
            fail(t, "%s: line %lld: correctness differs%s", path, line, "");
        free(got);
        json_decref(o);
    }
    free(buf);
    fclose(f);
}

/* Every aggregate of summary.json, recomputed by eval_run over the whole file. */
static void check_aggregates(Tally *t, const char *dir) {
    json_t *sum = json_load_file(tu_path(dir, "summary.json"), 0, NULL);
    if (sum == NULL) {
        printf("cannot read summary.json\n");
        exit(1);
    }
    json_t *files = json_object_get(sum, "files"), *per_metric;
    const char *file;
    json_object_foreach(files, file, per_metric) {
        Err err = {0};
        EvalPairs pairs;
        if (eval_pairs_read(tu_path(dir, file), &pairs, &err) != 0) {
            printf("%s\n", err.msg);
            exit(1);
        }
        const char *mname;
        json_t *want;
        json_object_foreach(per_metric, mname, want) {
            EvalMetric m;
            EvalResult r;
            if (eval_metric_from_name(mname, &m, &err) != 0 ||
                eval_run(&pairs, m, &r, NULL, &err) != 0) {
                printf("%s %s: %s\n", file, mname, err.msg);
                exit(1);
            }
            double w = 0;
#define NUM(k) json_number_value(json_object_get(want, k))
            if (m == EVAL_METRIC_ROUGE) {
                check_value(t, "mean rouge1", 0, r.rouge.rouge1, NUM("rouge1"));
                check_value(t, "mean rouge2", 0, r.rouge.rouge2, NUM("rouge2"));
                check_value(t, "mean rougeL", 0, r.rouge.rougeL, NUM("rougeL"));
                check_value(t, "mean rougeLsum", 0, r.rouge.rougeLsum, NUM("rougeLsum"));
            } else if (m == EVAL_METRIC_BLEU) {
                check_value(t, "mean bleu", 0, r.bleu, NUM("bleu"));
            } else {
                w = NUM("accuracy");
                t->n_checks += 2;
                if (r.accuracy != w || r.n_correct != (int64_t)NUM("correct"))
                    fail(t, "%s: aggregate %lld correct differs (%s)", file, r.n_correct, mname);
            }
#undef NUM
            printf("%-15s %-8s n=%lld ok\n", file, mname, (long long)r.n_pairs);
        }
        eval_pairs_free(&pairs);
    }
    json_decref(sum);
}

int main(void) {
    const char *dir = tu_path(tu_source_dir(), "tests/data/eval");
    char dir_copy[4096];
    snprintf(dir_copy, sizeof dir_copy, "%s", dir);
    Tally t = {0};
    check_text(&t, tu_path(dir_copy, "text.jsonl"));
    check_accuracy(&t, tu_path(dir_copy, "gsm8k.jsonl"), EVAL_METRIC_GSM8K);
    check_accuracy(&t, tu_path(dir_copy, "logiqa.jsonl"), EVAL_METRIC_LOGIQA);
    check_accuracy(&t, tu_path(dir_copy, "metamath.jsonl"), EVAL_METRIC_METAMATH);
    check_aggregates(&t, dir_copy);
    printf("eval golden: %lld checks, %lld failed; %lld of %lld scores bit-exact, max |diff| %.3g\n",
           (long long)t.n_checks, (long long)t.n_failed, (long long)t.n_bit_exact,
           (long long)t.n_values, t.max_abs);
    return tu_report(t.n_failed);
}
