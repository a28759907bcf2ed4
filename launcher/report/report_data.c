/* launcher/report/report_data.c -- reading a run's output directory for `tlm report`. */
#include "launcher/report/report_data.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/base/vec.h"
#include "io/eval/eval_files.h"
#include "launcher/report/report_job.h"

/* One parsed line into the array at *items (element size item_bytes, *n used, *cap). */
typedef int (*LineFn)(const json_t *obj, void *item, const char *where, Err *err);

/* Reads path line by line (blank lines skipped) through fn. A missing file is an error
 * when required, else an empty array. */
static int read_jsonl(const char *path, int required, LineFn fn, void **items, int64_t *n,
                      size_t item_bytes, Err *err) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        if (!required && errno == ENOENT)
            return 0;
        return err_set(err, "%s: cannot open: %s", path, strerror(errno));
    }
    /* where: the path (callers build it in REPORT_PATH_BYTES + 32), ':', a line number */
    char *line = NULL, where[REPORT_PATH_BYTES + 64];
    size_t line_cap = 0;
    int64_t cap = 0, line_no = 0;
    ssize_t len;
    int rc = 0;
    while (rc == 0 && (len = getline(&line, &line_cap, f)) >= 0) {
        line_no++;
        if (strspn(line, " \t\r\n") == (size_t)len)
            continue;
        snprintf(where, sizeof where, "%s:%lld", path, (long long)line_no);
        json_error_t je;
        json_t *obj = json_loadb(line, (size_t)len, 0, &je);
        if (obj == NULL || !json_is_object(obj))
            rc = err_set(err, "%s: not a JSON object: %s", where, obj ? "" : je.text);
        else if (vec_reserve(items, &cap, *n + 1, item_bytes, err) != 0)
            rc = err_prefix(err, "%s: ", where);
        else if ((rc = fn(obj, (char *)*items + (size_t)*n * item_bytes, where, err)) == 0)
            (*n)++;
        json_decref(obj);
    }
    free(line);
    fclose(f);
    return rc;
}

static int number(const json_t *o, const char *key, double *out, const char *where, Err *err) {
    const json_t *v = json_object_get(o, key);
    if (!json_is_number(v))
        return err_set(err, "%s: field \"%s\": %s", where, key,
                       v == NULL ? "missing" : "expected a number");
    *out = json_number_value(v);
    return 0;
}

static int integer(const json_t *o, const char *key, int64_t *out, const char *where, Err *err) {
    double d = 0;
    if (number(o, key, &d, where, err) != 0)
        return -1;
    *out = (int64_t)d;
    return 0;
}

static int score_line(const json_t *o, void *item, const char *where, Err *err) {
    ReportScore *s = item;
    int64_t tokens = 0;
    const json_t *sel = json_object_get(o, "selected");
    if (integer(o, "sample", &s->sample, where, err) || integer(o, "step", &s->step, where, err) ||
        integer(o, "tokens", &tokens, where, err) || number(o, "ce", &s->ce, where, err) ||
        number(o, "ppl", &s->ppl, where, err) || number(o, "weight", &s->weight, where, err))
        return -1;
    if (!json_is_boolean(sel))
        return err_set(err, "%s: field \"selected\": expected true or false", where);
    s->tokens = (int32_t)tokens;
    s->selected = json_is_true(sel);
    return 0;
}

static int step_line(const json_t *o, void *item, const char *where, Err *err) {
    ReportStep *s = item;
    return integer(o, "step", &s->step, where, err) || number(o, "loss", &s->loss, where, err) ||
                   number(o, "mean_ce", &s->mean_ce, where, err) ||
                   integer(o, "selected", &s->selected, where, err) ||
                   integer(o, "samples", &s->samples, where, err) ||
                   integer(o, "tokens", &s->tokens, where, err) ||
                   number(o, "lr", &s->lr, where, err) ||
                   number(o, "grad_norm", &s->grad_norm, where, err) ||
                   number(o, "tokens_per_s", &s->tokens_per_s, where, err)
               ? -1
               : 0;
}

static int by_sample(const void *a, const void *b) {
    const int64_t x = ((const ReportScore *)a)->sample, y = ((const ReportScore *)b)->sample;
    return (x > y) - (x < y);
}

static void copy_string(const json_t *o, const char *key, char *out, size_t n) {
    const char *s = json_string_value(json_object_get(o, key));
    snprintf(out, n, "%s", s ? s : "?");
}

static int read_summary(const char *path, ReportSummary *s, Err *err) {
    struct stat st;
    if (stat(path, &st) != 0)
        return 0;
    json_error_t je;
    json_t *o = json_load_file(path, 0, &je);
    if (o == NULL)
        return err_set(err, "%s:%d: %s", path, je.line, je.text);
    const json_t *sec = json_object_get(o, "seconds");
    int rc = integer(o, "samples", &s->samples, path, err) ||
             integer(o, "selected", &s->selected, path, err) ||
             integer(o, "update_steps", &s->update_steps, path, err) ||
             integer(o, "input_tokens", &s->input_tokens, path, err) ||
             integer(o, "generated_tokens", &s->generated_tokens, path, err) ||
             number(o, "selected_pct", &s->selected_pct, path, err) ||
             number(o, "ppl_first_10pct", &s->ppl_first, path, err) ||
             number(o, "ppl_last_10pct", &s->ppl_last, path, err) ||
             number(sec, "generate", &s->t_generate, path, err) ||
             number(sec, "score", &s->t_score, path, err) ||
             number(sec, "update", &s->t_update, path, err) ||
             number(sec, "total", &s->t_total, path, err);
    if (rc == 0) {
        integer(o, "skipped_records", &s->skipped, path, NULL);
        copy_string(o, "model", s->model, sizeof s->model);
        copy_string(o, "data", s->data, sizeof s->data);
        copy_string(o, "method", s->method, sizeof s->method);
        copy_string(o, "setting", s->setting, sizeof s->setting);
        copy_string(o, "backend", s->backend, sizeof s->backend);
        s->interrupted = json_is_true(json_object_get(o, "interrupted"));
        s->present = 1;
    }
    json_decref(o);
    return rc ? -1 : 0;
}

/* The predictions scored as `tlm eval --metric all`; a missing file is only noted. */
static int score_predictions(ReportRun *run, Err *err) {
    Err why = {{0}};
    if (eval_find_predictions(run->dir, run->predictions, sizeof run->predictions, &why) != 0) {
        snprintf(run->eval_note, sizeof run->eval_note, "no predictions in %.400s", run->dir);
        run->predictions[0] = '\0';
        return 0;
    }
    EvalPairs pairs = {0};
    if (eval_pairs_read(run->predictions, &pairs, err) != 0)
        return -1;
    int rc = eval_run(&pairs, EVAL_METRIC_ALL, &run->eval, NULL, err);
    eval_pairs_free(&pairs);
    if (rc != 0)
        return err_prefix(err, "%s: ", run->predictions);
    run->has_eval = 1;
    return 0;
}

int report_run_load(const char *dir, const char *job_path, ReportRun *run, Err *err) {
    memset(run, 0, sizeof *run);
    char path[REPORT_PATH_BYTES + 32];
    if ((size_t)snprintf(run->dir, sizeof run->dir, "%s", dir) >= sizeof run->dir)
        return err_set(err, "%s: path too long", dir);
    struct stat st;
    if (stat(dir, &st) != 0)
        return err_set(err, "%s: cannot open the run's output directory: %s", dir,
                       strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return err_set(err, "%s: not a directory (give a run's output.dir)", dir);
    snprintf(path, sizeof path, "%s/scores.jsonl", dir);
    if (read_jsonl(path, 1, score_line, (void **)&run->scores, &run->n_scores,
                   sizeof *run->scores, err) != 0)
        return -1;
    qsort(run->scores, (size_t)run->n_scores, sizeof *run->scores, by_sample);
    snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
    if (read_jsonl(path, 0, step_line, (void **)&run->steps, &run->n_steps, sizeof *run->steps,
                   err) != 0)
        return -1;
    snprintf(path, sizeof path, "%s/summary.json", dir);
    if (read_summary(path, &run->sum, err) != 0)
        return -1;
    const int found = report_job_find(dir, job_path, &run->job, run->job_source,
                                      sizeof run->job_source, err);
    if (found < 0)
        return -1;
    run->has_job = found;
    return score_predictions(run, err);
}

void report_run_free(ReportRun *run) {
    if (run == NULL)
        return;
    free(run->scores);
    free(run->steps);
    run->scores = NULL;
    run->steps = NULL;
    run->n_scores = run->n_steps = 0;
}

void report_phase_speed(const ReportRun *run, double out[3]) {
    const ReportSummary *s = &run->sum;
    int64_t update_tokens = 0;
    for (int64_t i = 0; i < run->n_steps; i++)
        update_tokens += run->steps[i].tokens;
    out[0] = s->present && s->t_generate > 0 ? (double)s->generated_tokens / s->t_generate : NAN;
    out[1] = s->present && s->t_score > 0 ? (double)s->input_tokens / s->t_score : NAN;
    out[2] = s->present && s->t_update > 0 && update_tokens > 0
                 ? (double)update_tokens / s->t_update
                 : NAN;
}
