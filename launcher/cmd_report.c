/* launcher/cmd_report.c -- `tlm report OUT_DIR [--base OUT_DIR2] [-o DIR] [--job JOB.yaml]`:
 * a run drawn as a self-contained report.html and one PNG per chart
 * (launcher/report/report.h). Exit status: 0 written, 1 unreadable run or write error,
 * 2 bad usage. */
#include "launcher/commands.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/base/err.h"
#include "io/base/log.h"
#include "launcher/report/report.h"

static const char k_usage[] =
    "usage: tlm report OUT_DIR [--base OUT_DIR2] [-o DIR] [--job JOB.yaml] [--png-scale S]\n"
    "  Draws the run in OUT_DIR (its scores.jsonl, metrics.jsonl, summary.json, job.yaml and\n"
    "  generated_predictions.jsonl) into DIR/report.html (inline SVG: no network, no\n"
    "  script) and DIR/chart-*.png: per-sample perplexity over the stream (running mean,\n"
    "  threshold, selected samples), selected fraction per stream batch, loss and grad\n"
    "  norm per update step, tokens/s by phase, eval metrics (tlm eval --metric all).\n"
    "  --base OUT_DIR2  a run of the same data to compare with (usually method none): adds\n"
    "                   the perplexity difference per sample, metrics side by side\n"
    "  -o DIR           where to write (default OUT_DIR; created)\n"
    "  --job JOB.yaml   the run's job, for a directory written before tlm run saved\n"
    "                   job.yaml and holding no checkpoint\n"
    "  --png-scale S    PNG pixels per chart pixel (default 2)\n";

/* Option with a value, as "--name V" or "--name=V"; returns the value or NULL. */
static const char *value_of(int argc, char **argv, int *i, const char *name) {
    const size_t n = strlen(name);
    if (strcmp(argv[*i], name) == 0 && *i + 1 < argc)
        return argv[++*i];
    if (strncmp(argv[*i], name, n) == 0 && argv[*i][n] == '=')
        return argv[*i] + n + 1;
    return NULL;
}

/* 0 ok, 1 --help, -1 bad usage (message printed). */
static int parse_args(int argc, char **argv, ReportOptions *o) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
            return 1;
        if ((v = value_of(argc, argv, &i, "--base")) != NULL)
            o->base_dir = v;
        else if ((v = value_of(argc, argv, &i, "-o")) != NULL)
            o->out_dir = v;
        else if ((v = value_of(argc, argv, &i, "--job")) != NULL)
            o->job = v;
        else if ((v = value_of(argc, argv, &i, "--png-scale")) != NULL) {
            char *end;
            o->png_scale = strtod(v, &end);
            if (*end != '\0' || !(o->png_scale >= 0.25 && o->png_scale <= 8)) {
                fprintf(stderr, "tlm report: --png-scale: expected a number in [0.25, 8], "
                                "got \"%s\"\n", v);
                return -1;
            }
        } else if (a[0] == '-') {
            fprintf(stderr, "tlm report: unknown or incomplete option \"%s\"\n", a);
            return -1;
        } else if (o->run_dir == NULL) {
            o->run_dir = a;
        } else {
            fprintf(stderr, "tlm report: one run directory expected, got \"%s\" too (a base "
                            "run goes after --base)\n", a);
            return -1;
        }
    }
    if (o->run_dir == NULL) {
        fprintf(stderr, "tlm report: no run directory given\n");
        return -1;
    }
    return 0;
}

int cmd_report(int argc, char **argv) {
    ReportOptions opt = {0};
    const int p = parse_args(argc, argv, &opt);
    if (p != 0) {
        fputs(k_usage, p > 0 ? stdout : stderr);
        return p > 0 ? 0 : 2;
    }
    Err err = {{0}};
    ReportWritten done;
    if (report_write(&opt, &done, &err) != 0) {
        log_error("tlm report: %s", err.msg);
        return 1;
    }
    if (done.warning[0])
        log_warn("tlm report: %s", done.warning);
    printf("wrote %s and %d charts:", done.html, done.n_png);
    for (int i = 0; i < done.n_png; i++)
        printf(" %s", strrchr(done.png[i], '/') ? strrchr(done.png[i], '/') + 1 : done.png[i]);
    printf("\n");
    return 0;
}
