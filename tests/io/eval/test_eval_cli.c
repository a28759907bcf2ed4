/* tests/io/eval/test_eval_cli.c -- `tlm eval` end to end through cmd_eval() (linked in
 * directly, so the test does not need the whole tlm binary): a small predictions file
 * cut from the golden text.jsonl, scored with --metric rouge and bleu, must print the
 * means of the golden per-pair values; the accuracy metrics must print the counts
 * of summary.json; --metric all must print the ROUGE and the BLEU means at once (and the
 * reference's own line); a run directory in tlm's or the reference's layout must be
 * scored as the file it holds; bad input must exit 1 naming file:line, bad usage 2. */
#include <fcntl.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "tests/testutil.h"

int cmd_eval(int argc, char **argv); /* launcher/cmd_eval.c */

/* Runs cmd_eval with stdout and stderr captured into *out / *errs (owned). */
static int run_eval(const char *file, const char *metric, char **out, char **errs) {
    const char *o_path = tu_path(tu_tmp_dir(), "eval_cli.out");
    const char *e_path = tu_path(tu_tmp_dir(), "eval_cli.err");
    char o_copy[4096], e_copy[4096];
    snprintf(o_copy, sizeof o_copy, "%s", o_path);
    snprintf(e_copy, sizeof e_copy, "%s", e_path);
    fflush(stdout);
    fflush(stderr);
    int saved_out = dup(1), saved_err = dup(2);
    int fo = open(o_copy, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int fe = open(e_copy, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fo >= 0 && fe >= 0);
    dup2(fo, 1);
    dup2(fe, 2);
    close(fo);
    close(fe);
    char *argv[4] = {"eval", (char *)file, (char *)metric, NULL};
    int rc = cmd_eval(metric ? 3 : 2, argv);
    fflush(stdout);
    fflush(stderr);
    dup2(saved_out, 1);
    dup2(saved_err, 2);
    close(saved_out);
    close(saved_err);
    size_t n;
    *out = tu_read_file(o_copy, &n);
    *errs = tu_read_file(e_copy, &n);
    return rc;
}

/* The first n_lines of the golden text.jsonl into a scratch file; returns its path and
 * the in-order means of their per-pair values (rouge1, rouge2, rougeL, rougeLsum, bleu). */
static const char *small_file(int n_lines, double mean[5]) {
    static char path[4096];
    snprintf(path, sizeof path, "%s", tu_path(tu_tmp_dir(), "eval_small.jsonl"));
    FILE *in = fopen(tu_path(tu_source_dir(), "tests/data/eval/text.jsonl"), "r");
    FILE *out = fopen(path, "w");
    assert_non_null(in);
    assert_non_null(out);
    static const char *const keys[] = {"rouge1", "rouge2", "rougeL", "rougeLsum", "bleu"};
    double sum[5] = {0};
    char *line = NULL;
    size_t cap = 0;
    for (int i = 0; i < n_lines && getline(&line, &cap, in) > 0; i++) {
        json_t *o = json_loads(line, 0, NULL);
        for (int k = 0; k < 5; k++)
            sum[k] += json_number_value(json_object_get(o, keys[k]));
        fputs(line, out);
        json_decref(o);
    }
    for (int k = 0; k < 5; k++)
        mean[k] = sum[k] / n_lines;
    free(line);
    fclose(in);
    fclose(out);
    return path;
}

static double field(const char *json, const char *key) {
    json_t *o = json_loads(json, 0, NULL);
    assert_non_null(o);
    json_t *v = json_object_get(o, key);
    assert_non_null(v);
    double x = json_number_value(v);
    json_decref(o);
    return x;
}

static void test_rouge_bleu_small_file(void **state) {
    (void)state;
    double mean[5];
    const char *path = small_file(24, mean);
    char *out, *errs;
    assert_int_equal(run_eval(path, "--metric=rouge", &out, &errs), 0);
    static const char *const keys[] = {"rouge1", "rouge2", "rougeL", "rougeLsum"};
    for (int k = 0; k < 4; k++)
        assert_true(fabs(field(out, keys[k]) - mean[k]) <= 1e-12);
    assert_true(field(out, "n") == 24);
    assert_non_null(strstr(errs, "ROUGE-Lsum"));
    free(out);
    free(errs);
    assert_int_equal(run_eval(path, "--metric=bleu", &out, &errs), 0);
    assert_true(fabs(field(out, "bleu") - mean[4]) <= 1e-12);
    free(out);
    free(errs);
}

static void test_all_metrics(void **state) {
    (void)state;
    double mean[5];
    const char *path = small_file(24, mean);
    char *out, *errs;
    assert_int_equal(run_eval(path, "--metric=all", &out, &errs), 0);
    static const char *const keys[] = {"rouge1", "rouge2", "rougeL", "rougeLsum", "bleu"};
    for (int k = 0; k < 5; k++) {
        printf("  all: %s %.17g, golden mean %.17g\n", keys[k], field(out, keys[k]), mean[k]);
        assert_true(fabs(field(out, keys[k]) - mean[k]) <= 1e-12);
    }
    assert_true(field(out, "n") == 24);
    assert_non_null(strstr(out, "\"metric\": \"all\""));
    assert_non_null(strstr(errs, "BLEU "));
    assert_non_null(strstr(errs, "ROUGE-Lsum "));
    assert_non_null(strstr(errs, "\nbleu: ")); /* eval_similarity.py's line */
    assert_non_null(strstr(errs, ", rougeLsum: "));
    free(out);
    free(errs);
}

/* Copies src to dir/sub/generated_predictions.jsonl (sub may be ""). */
static void place(const char *src, const char *dir, const char *sub) {
    assert_int_equal(tu_system("mkdir -p '%s/%s' && cp '%s' '%s/%s/generated_predictions.jsonl'",
                               dir, sub, src, dir, sub), 0);
}

static void test_directory_layouts(void **state) {
    (void)state;
    double mean[5];
    const char *small = small_file(12, mean);
    char src[4096], dir[4096], *out, *errs;
    snprintf(src, sizeof src, "%s", small);
    snprintf(dir, sizeof dir, "%s", tu_path(tu_tmp_dir(), "eval_layouts"));
    assert_int_equal(tu_system("rm -rf '%s' && mkdir -p '%s'", dir, dir), 0);
    /* An empty run directory: both layouts named. */
    assert_int_equal(run_eval(dir, "--metric=bleu", &out, &errs), 1);
    assert_non_null(strstr(errs, "no predictions"));
    assert_non_null(strstr(errs, "predict-temperature_<T>-max_new_tokens_<N>"));
    free(out);
    free(errs);
    /* The reference's layout (LLaMA-Factory ttl: output_dir/predict-temperature_...). */
    place(src, dir, "predict-temperature_0.0-max_new_tokens_512");
    assert_int_equal(run_eval(dir, "--metric=bleu", &out, &errs), 0);
    assert_true(fabs(field(out, "bleu") - mean[4]) <= 1e-12);
    assert_true(field(out, "n") == 12);
    assert_non_null(
        strstr(errs, "predict-temperature_0.0-max_new_tokens_512/generated_predictions"));
    free(out);
    free(errs);
    /* Two of them: which one is ambiguous, and the message lists both. */
    place(src, dir, "predict-temperature_0.7-max_new_tokens_64");
    assert_int_equal(run_eval(dir, "--metric=bleu", &out, &errs), 1);
    assert_non_null(strstr(errs, "2 prediction folders"));
    assert_non_null(strstr(errs, "predict-temperature_0.7-max_new_tokens_64"));
    free(out);
    free(errs);
    /* tlm's own layout wins over the reference's (a flat job writes both, identical). */
    FILE *f = fopen(tu_path(dir, "generated_predictions.jsonl"), "w");
    assert_non_null(f);
    fputs("{\"prompt\": \"p\", \"label\": \"the cat sat\", \"predict\": \"the cat sat\"}\n", f);
    fclose(f);
    assert_int_equal(run_eval(dir, "--metric=rouge", &out, &errs), 0);
    assert_true(field(out, "n") == 1);
    assert_true(field(out, "rouge1") == 1.0);
    free(out);
    free(errs);
}

static void test_accuracy_files(void **state) {
    (void)state;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/tests/data/eval", tu_source_dir());
    json_t *sum = json_load_file(tu_path(dir, "summary.json"), 0, NULL);
    assert_non_null(sum);
    static const char *const metrics[] = {"gsm8k", "logiqa", "metamath"};
    for (int c = 0; c < 3; c++) {
        char file[64], opt[64], path[4096 + 80], *out, *errs;
        snprintf(file, sizeof file, "%s.jsonl", metrics[c]);
        snprintf(opt, sizeof opt, "--metric=%s", metrics[c]);
        snprintf(path, sizeof path, "%s/%s", dir, file);
        json_t *want = json_object_get(json_object_get(json_object_get(sum, "files"), file),
                                       metrics[c]);
        assert_non_null(want);
        assert_int_equal(run_eval(path, opt, &out, &errs), 0);
        assert_true(field(out, "correct") == json_number_value(json_object_get(want, "correct")));
        assert_true(field(out, "accuracy") == json_number_value(json_object_get(want, "accuracy")));
        assert_non_null(strstr(errs, "accuracy"));
        free(out);
        free(errs);
    }
    json_decref(sum);
}

static void test_bad_input(void **state) {
    (void)state;
    char path[4096], *out, *errs;
    snprintf(path, sizeof path, "%s", tu_path(tu_tmp_dir(), "eval_bad.jsonl"));
    FILE *f = fopen(path, "w");
    fputs("{\"prompt\": \"p\", \"label\": \"a\", \"predict\": \"a\"}\n{\"label\": \"a\", \n", f);
    fclose(f);
    assert_int_equal(run_eval(path, "--metric=rouge", &out, &errs), 1);
    assert_non_null(strstr(errs, "eval_bad.jsonl:2"));
    free(out);
    free(errs);
    f = fopen(path, "w");
    fputs("{\"label\": \"a\", \"predict\": \"a\"}\n{\"label\": 3, \"predict\": \"a\"}\n", f);
    fclose(f);
    assert_int_equal(run_eval(path, "--metric=gsm8k", &out, &errs), 1);
    assert_non_null(strstr(errs, "eval_bad.jsonl:2: field \"label\" is not a string"));
    free(out);
    free(errs);
    assert_int_equal(run_eval(path, "--metric=accuracy", &out, &errs), 2);
    assert_non_null(strstr(errs, "unknown metric"));
    free(out);
    free(errs);
    assert_int_equal(run_eval(path, NULL, &out, &errs), 2);
    assert_non_null(strstr(errs, "missing --metric"));
    free(out);
    free(errs);
    assert_int_equal(run_eval("/nonexistent/p.jsonl", "--metric=bleu", &out, &errs), 1);
    assert_non_null(strstr(errs, "/nonexistent/p.jsonl: cannot open"));
    free(out);
    free(errs);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rouge_bleu_small_file),
        cmocka_unit_test(test_all_metrics),
        cmocka_unit_test(test_directory_layouts),
        cmocka_unit_test(test_accuracy_files),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
