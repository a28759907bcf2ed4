/* launcher/report/report.h -- `tlm report`: a run's output directory drawn as report.html
 * (self-contained: inline SVG, no script, no network) plus one PNG per chart, optionally
 * against a base run of the same data (a `none` run: the ppl difference per sample and
 * the eval metrics side by side). The command line is launcher/cmd_report.c; the pieces
 * are report_data (reading), report_charts/report_compare (what to draw), chart* (how),
 * report_page (the HTML). Single-threaded. */
#ifndef TLM_LAUNCHER_REPORT_REPORT_H
#define TLM_LAUNCHER_REPORT_REPORT_H

#include <stddef.h>

#include "io/base/err.h"

typedef struct ReportOptions {
    const char *run_dir;  /* required: the run's output.dir */
    const char *base_dir; /* nullable: a base run of the same data */
    const char *out_dir;  /* nullable: where to write (default run_dir); created */
    const char *job;      /* nullable: the run's job file, when its dir holds none */
    double png_scale;     /* PNG pixels per SVG px; <= 0 means 2 */
} ReportOptions;

/* What report_write wrote, for the command to print. */
typedef struct ReportWritten {
    char html[4096];
    int n_png;
    char png[8][4096];
    char warning[2560]; /* "" or why the comparison may mislead (also on the page) */
} ReportWritten;

/* Reads the run(s), draws every chart to SVG and PNG, writes out_dir/report.html and
 * out_dir/<chart id>.png (each atomically). *done (nullable) lists them. 0, or -1 with
 * err naming the file or field at fault; nothing is written when reading fails. */
int report_write(const ReportOptions *opt, ReportWritten *done, Err *err);

#endif
