/* tests/launcher/report/report_fixture.c -- synthetic run directories (report_fixture.h). */
#include "tests/launcher/report/report_fixture.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobs/job.h"
#include "launcher/report/report_job.h"
#include "tests/testutil.h"

static void die(const char *what, const char *path) {
    printf("report fixture: %s %s\n", what, path);
    abort();
}

double fx_ce(int64_t i, int base) { return 2.0 + 0.3 * (double)(i % 10) + (base ? 0.5 : 0.0); }
double fx_loss(int64_t s) { return 1.0 / (double)s; }
double fx_grad_norm(int64_t s) { return 0.5 + 0.01 * (double)s; }

static FILE *open_out(const char *dir, const char *name) {
    FILE *f = fopen(tu_path(dir, name), "w");
    if (f == NULL)
        die("cannot write", tu_path(dir, name));
    return f;
}

static void write_scores(const char *dir, int base) {
    FILE *f = open_out(dir, "scores.jsonl");
    for (int64_t i = 0; i < FX_N; i++) {
        const double ce = fx_ce(i, base);
        const int sel = !base && ce > FX_THRESHOLD;
        fprintf(f, "{\"sample\": %lld, \"rank\": 0, \"step\": %lld, \"tokens\": %lld, "
                   "\"ce\": %.17g, \"ppl\": %.17g, \"selected\": %s, \"weight\": %.17g}\n",
                (long long)i, (long long)(base ? 0 : i + 1), (long long)(10 + i), ce, exp(ce),
                sel ? "true" : "false", sel ? 0.1 * exp(ce - FX_THRESHOLD) : 0.0);
    }
    fclose(f);
}

static void write_metrics(const char *dir, int base) {
    FILE *f = open_out(dir, "metrics.jsonl");
    for (int64_t s = 1; !base && s <= FX_N; s++)
        fprintf(f, "{\"step\": %lld, \"loss\": %.17g, \"mean_ce\": %.17g, \"selected\": %d, "
                   "\"samples\": 1, \"tokens\": %lld, \"lr\": 5e-05, \"grad_norm\": %.17g, "
                   "\"tokens_per_s\": 100.0}\n",
                (long long)s, fx_loss(s), fx_ce(s - 1, 0), fx_ce(s - 1, 0) > FX_THRESHOLD,
                (long long)(10 + s - 1), fx_grad_norm(s));
    fclose(f);
}

static void write_summary(const char *dir, int base) {
    FILE *f = open_out(dir, "summary.json");
    fprintf(f, "{\n \"model\": \"m/tiny\",\n \"data\": \"d/set.jsonl\",\n \"method\": \"%s\",\n"
               " \"setting\": \"online\",\n \"backend\": \"cpu\",\n \"samples\": %d,\n"
               " \"selected\": 0,\n \"selected_pct\": 0.0,\n \"skipped_records\": 0,\n"
               " \"update_steps\": %d,\n \"input_tokens\": %d,\n \"generated_tokens\": %d,\n"
               " \"ppl_first_10pct\": 10.0,\n \"ppl_last_10pct\": 9.0,\n \"n_first_10pct\": 4,\n"
               " \"n_last_10pct\": 4,\n \"seconds\": {\"generate\": %.17g, \"score\": %.17g, "
               "\"update\": %.17g, \"total\": 4.0},\n \"interrupted\": false\n}\n",
            base ? "none" : "tlm", FX_N, base ? 0 : FX_N, FX_INPUT_TOKENS, FX_GEN_TOKENS,
            FX_T_GENERATE, FX_T_SCORE, base ? 0.0 : FX_T_UPDATE);
    fclose(f);
}

static void write_predictions(const char *dir, int first_line) {
    const char *src = tu_path(tu_source_dir(), "tests/data/eval/text.jsonl");
    FILE *in = fopen(src, "r"), *out = open_out(dir, "generated_predictions.jsonl");
    if (in == NULL)
        die("cannot read", src);
    char *line = NULL;
    size_t cap = 0;
    for (int i = 0; i < first_line + FX_N && getline(&line, &cap, in) > 0; i++)
        if (i >= first_line)
            fputs(line, out);
    free(line);
    fclose(in);
    fclose(out);
}

void fx_write_run(const char *dir, int base, int first_line) {
    if (tu_system("rm -rf '%s' && mkdir -p '%s'", dir, dir) != 0)
        die("cannot make", dir);
    write_scores(dir, base);
    write_metrics(dir, base);
    write_summary(dir, base);
    write_predictions(dir, first_line);
    JobSpec job;
    job_defaults(&job);
    snprintf(job.model.path, sizeof job.model.path, "m/tiny");
    snprintf(job.data.path, sizeof job.data.path, "d/set.jsonl");
    snprintf(job.output.dir, sizeof job.output.dir, "%s", dir);
    job.method.name = base ? JOB_NONE : JOB_TLM;
    job.method.threshold = FX_THRESHOLD;
    job.method.stream_batch = FX_BATCH;
    Err err = {{0}};
    if (report_job_save(&job, &err) != 0)
        die(err.msg, dir);
}
