/* tests/worker/loop/test_ttl_run.c -- the TTL loop end to end on the bundled demo (jobs/demo.yaml:
 * the tiny model of tools/make_demo_model.py and jobs/demo/data.jsonl; no ../shared):
 *   demo_cli    `tlm run jobs/demo.yaml` through the binary: the three JSONL files have one
 *               line per sample (update step) in stream order, predictions parse, labels
 *               are the data's, summary.json agrees with scores.jsonl, ppl drops;
 *   offline     setting offline: its selection ce equals the base model's ce (method none),
 *               the cosine schedule warms up from lr 0 to the peak;
 *   bad_fail    a malformed JSONL line: an error naming file:line, the earlier batch's
 *               predictions intact;
 *   bad_skip    the same with data.on_error skip: skipped and counted in the summary. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "io/base/vec.h"
#include "tests/testutil.h"
#include "worker/loop/ttl.h"

#define DEMO_N 64

/* Every line of a JSONL file parsed (owned array of owned objects; n_out lines). */
static json_t **read_jsonl(const char *path, int *n_out) {
    size_t n_bytes;
    char *text = tu_read_file(path, &n_bytes);
    if (text == NULL)
        fail_msg("cannot read %s", path);
    json_t **rows = NULL;
    int n = 0;
    int64_t cap = 0;
    for (char *line = strtok(text, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        json_error_t jerr;
        json_t *j = json_loads(line, 0, &jerr);
        if (!json_is_object(j))
            fail_msg("%s line %d does not parse: %s", path, n + 1, jerr.text);
        if (VEC_PUSH(rows, n, cap, j, NULL) != 0)
            fail_msg("%s: out of memory at line %d", path, n + 1);
    }
    free(text);
    *n_out = n;
    return rows;
}

static void free_rows(json_t **rows, int n) {
    for (int i = 0; i < n; i++)
        json_decref(rows[i]);
    free(rows);
}

static double num(json_t *o, const char *key) {
    json_t *v = json_object_get(o, key);
    if (!json_is_number(v))
        fail_msg("key %s missing or not a number", key);
    return json_number_value(v);
}

/* The demo job with overrides (NULL-terminated), run in this process. */
static int run_demo(const char *const *sets, TtlSummary *sum, Err *err) {
    JobSpec job;
    assert_int_equal(job_load("jobs/demo.yaml", &job, err), 0);
    for (int i = 0; sets[i] != NULL; i++)
        if (job_set(&job, sets[i], err) != 0)
            fail_msg("--set %s: %s", sets[i], err->msg);
    return ttl_run(&job, NULL, sum, err);
}

static const char *out_dir(const char *name) { return tu_path(tu_tmp_dir(), name); }

static void test_demo_cli(void **state) {
    const char *dir = tu_fresh_dir(out_dir("ttl_demo"));
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    const int rc = tu_system("cd '%s' && '%s' run jobs/demo.yaml --set output.dir='%s' "
                             "> '%s.log' 2>&1", tu_source_dir(), tu_tlm_bin(), dir, dir);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (rc != 0)
        tu_system("cat '%s.log'", dir);
    assert_int_equal(rc, 0);
    printf("demo: %.2f s wall\n", (double)(t1.tv_sec - t0.tv_sec) +
                                      1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
    char *log = tu_read_file(tu_path(tu_tmp_dir(), "ttl_demo.log"), NULL);
    assert_non_null(log);
    assert_non_null(strstr(log, "mean input ppl: first 10%"));
    free(log);

    int n_pred, n_sc, n_met, n_data;
    json_t **pred = read_jsonl(tu_path(dir, "generated_predictions.jsonl"), &n_pred);
    json_t **sc = read_jsonl(tu_path(dir, "scores.jsonl"), &n_sc);
    json_t **met = read_jsonl(tu_path(dir, "metrics.jsonl"), &n_met);
    json_t **data = read_jsonl(tu_path(tu_source_dir(), "jobs/demo/data.jsonl"), &n_data);
    assert_int_equal(n_data, DEMO_N);
    assert_int_equal(n_pred, DEMO_N);
    assert_int_equal(n_sc, DEMO_N);
    assert_int_equal(n_met, DEMO_N); /* batch_size 1: one update step per sample */
    int n_sel = 0;
    for (int i = 0; i < DEMO_N; i++) {
        const char *keys[] = {"prompt", "label", "predict"};
        for (int k = 0; k < 3; k++)
            assert_true(json_is_string(json_object_get(pred[i], keys[k])));
        /* stream order: sample i's label is record i's output, its prompt its question */
        assert_string_equal(json_string_value(json_object_get(pred[i], "label")),
                            json_string_value(json_object_get(data[i], "output")));
        assert_non_null(strstr(json_string_value(json_object_get(pred[i], "prompt")),
                               json_string_value(json_object_get(data[i], "instruction"))));
        assert_int_equal((int)num(sc[i], "sample"), i);
        assert_int_equal((int)num(sc[i], "step"), i + 1);
        assert_int_equal((int)num(met[i], "step"), i + 1);
        assert_true(fabs(num(sc[i], "ppl") - exp(num(sc[i], "ce"))) <= 1e-9 * num(sc[i], "ppl"));
        n_sel += json_is_true(json_object_get(sc[i], "selected"));
        assert_int_equal((int)num(met[i], "selected"), json_is_true(json_object_get(sc[i], "selected")));
    }
    json_t *sum = json_load_file(tu_path(dir, "summary.json"), 0, NULL);
    assert_non_null(sum);
    assert_int_equal((int)num(sum, "samples"), DEMO_N);
    assert_int_equal((int)num(sum, "selected"), n_sel);
    assert_int_equal((int)num(sum, "update_steps"), DEMO_N);
    assert_int_equal((int)num(sum, "skipped_records"), 0);
    const int tenth = (DEMO_N + 9) / 10;
    double first = 0, last = 0;
    for (int i = 0; i < tenth; i++) {
        first += num(sc[i], "ppl") / tenth;
        last += num(sc[DEMO_N - tenth + i], "ppl") / tenth;
    }
    assert_true(fabs(num(sum, "ppl_first_10pct") - first) <= 1e-6 * first);
    assert_true(fabs(num(sum, "ppl_last_10pct") - last) <= 1e-6 * last);
    printf("demo: %d/%d selected, mean input ppl first 10%% %.1f -> last 10%% %.1f\n", n_sel,
           DEMO_N, first, last);
    assert_true(last < 0.5 * first); /* adaptation, not noise */
    json_decref(sum);
    free_rows(pred, n_pred);
    free_rows(sc, n_sc);
    free_rows(met, n_met);
    free_rows(data, n_data);
}

static void test_offline(void **state) {
    Err err = {{0}};
    TtlSummary s_off, s_none;
    char set_dir[4200];
    snprintf(set_dir, sizeof set_dir, "output.dir=%s", tu_fresh_dir(out_dir("ttl_offline")));
    const char *off[] = {"method.setting=offline", set_dir, NULL};
    if (run_demo(off, &s_off, &err) != 0)
        fail_msg("offline: %s", err.msg);
    snprintf(set_dir, sizeof set_dir, "output.dir=%s", tu_fresh_dir(out_dir("ttl_none")));
    const char *none[] = {"method.name=none", set_dir, "output.reference_layout=true", NULL};
    if (run_demo(none, &s_none, &err) != 0)
        fail_msg("none: %s", err.msg);
    assert_int_equal(s_none.steps, 0);
    /* the resolved job beside the outputs, written by the loop itself (under output.dir's
     * lock), not by the launcher after the lock is gone: it loads back as the job that ran */
    JobSpec again;
    if (job_load(tu_path(out_dir("ttl_none"), "job.yaml"), &again, &err) != 0)
        fail_msg("ttl_none/job.yaml: %s", err.msg);
    assert_string_equal(again.output.dir, out_dir("ttl_none"));
    assert_int_equal(again.method.name, JOB_NONE);
    /* ... and so is the reference-layout copy of the predictions (was the launcher's) */
    char *pred_a = tu_read_file(tu_path(out_dir("ttl_none"), "generated_predictions.jsonl"),
                                NULL);
    char *pred_b = tu_read_file(tu_path(out_dir("ttl_none"), "predict-temperature_0.0-"
                                        "max_new_tokens_24/generated_predictions.jsonl"), NULL);
    assert_non_null(pred_a);
    assert_non_null(pred_b);
    assert_string_equal(pred_a, pred_b);
    free(pred_a);
    free(pred_b);
    int n_off, n_none, n_met, n_pred;
    json_t **a = read_jsonl(tu_path(out_dir("ttl_offline"), "scores.jsonl"), &n_off);
    json_t **b = read_jsonl(tu_path(out_dir("ttl_none"), "scores.jsonl"), &n_none);
    json_t **met = read_jsonl(tu_path(out_dir("ttl_offline"), "metrics.jsonl"), &n_met);
    json_t **pred = read_jsonl(tu_path(out_dir("ttl_offline"), "generated_predictions.jsonl"),
                               &n_pred);
    assert_int_equal(n_off, DEMO_N);
    assert_int_equal(n_none, DEMO_N);
    assert_int_equal(n_met, DEMO_N);
    assert_int_equal(n_pred, DEMO_N);
    double worst = 0, peak = 0;
    for (int i = 0; i < DEMO_N; i++) {
        const double d = fabs(num(a[i], "ce") - num(b[i], "ce"));
        worst = d > worst ? d : worst;
        peak = num(met[i], "lr") > peak ? num(met[i], "lr") : peak;
    }
    printf("offline: selection ce vs base model ce: max abs diff %.3g; %lld selected\n", worst,
           (long long)s_off.selected);
    assert_true(worst <= 1e-6);
    /* cosine with warmup ratio 0.1 over 64 steps: 7 warmup steps from lr 0 (HF) */
    assert_true(num(met[0], "lr") == 0.0);
    assert_true(fabs(peak - 1e-2) <= 1e-12);
    assert_true(num(met[DEMO_N - 1], "lr") < 1e-3);
    free_rows(a, n_off);
    free_rows(b, n_none);
    free_rows(met, n_met);
    free_rows(pred, n_pred);
}

/* 20 demo records with record 13 (line 13) cut in the middle of its JSON. */
static const char *write_bad_data(void) {
    const char *path = out_dir("ttl_bad.jsonl");
    size_t n;
    char *text = tu_read_file(tu_path(tu_source_dir(), "jobs/demo/data.jsonl"), &n);
    assert_non_null(text);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    char *line = text;
    for (int i = 1; i <= 20; i++) {
        char *nl = strchr(line, '\n');
        assert_non_null(nl);
        *nl = '\0';
        if (i == 13)
            fprintf(f, "{\"instruction\": \"How do I cut\n");
        else
            fprintf(f, "%s\n", line);
        line = nl + 1;
    }
    fclose(f);
    free(text);
    return path;
}

static void test_bad_fail(void **state) {
    Err err = {{0}};
    TtlSummary s;
    char set_data[4200], set_dir[4200];
    snprintf(set_data, sizeof set_data, "data.path=%s", write_bad_data());
    snprintf(set_dir, sizeof set_dir, "output.dir=%s", tu_fresh_dir(out_dir("ttl_bad_fail")));
    const char *sets[] = {set_data, set_dir, NULL};
    assert_int_equal(run_demo(sets, &s, &err), -1);
    printf("bad line: %s\n", err.msg);
    assert_non_null(strstr(err.msg, "ttl_bad.jsonl:13"));
    int n;
    json_t **pred = read_jsonl(tu_path(out_dir("ttl_bad_fail"), "generated_predictions.jsonl"),
                               &n);
    assert_int_equal(n, 8); /* the first stream batch, written before the bad one */
    free_rows(pred, n);
}

static void test_bad_skip(void **state) {
    Err err = {{0}};
    TtlSummary s;
    char set_data[4200], set_dir[4200];
    snprintf(set_data, sizeof set_data, "data.path=%s", write_bad_data());
    snprintf(set_dir, sizeof set_dir, "output.dir=%s", tu_fresh_dir(out_dir("ttl_bad_skip")));
    const char *sets[] = {set_data, set_dir, "data.on_error=skip", NULL};
    if (run_demo(sets, &s, &err) != 0)
        fail_msg("skip: %s", err.msg);
    assert_int_equal(s.samples, 19);
    assert_int_equal(s.skipped, 1);
    json_t *sum = json_load_file(tu_path(out_dir("ttl_bad_skip"), "summary.json"), 0, NULL);
    assert_non_null(sum);
    assert_int_equal((int)num(sum, "skipped_records"), 1);
    assert_int_equal((int)num(sum, "samples"), 19);
    json_decref(sum);
}

int main(void) {
    if (chdir(tu_source_dir()) != 0) /* the demo job's paths are relative to the root */
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_demo_cli), cmocka_unit_test(test_offline),
        cmocka_unit_test(test_bad_fail), cmocka_unit_test(test_bad_skip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
