/* launcher/report/report_charts.h -- the report's charts built from a loaded run (and,
 * optionally, a base run of the same data, usually method none): per-sample perplexity
 * over the stream with its running mean, the threshold and the selected samples;
 * selected fraction per stream batch; loss and gradient norm per update step; tokens/s
 * by phase; with a base, the per-sample perplexity difference and the eval metrics side
 * by side (without one, the run's metrics alone). Owns the derived arrays the charts
 * borrow. Single-threaded. */
#ifndef TLM_LAUNCHER_REPORT_REPORT_CHARTS_H
#define TLM_LAUNCHER_REPORT_REPORT_CHARTS_H

#include "io/base/err.h"
#include "launcher/report/chart.h"
#include "launcher/report/report_data.h"

#define REPORT_MAX_CHARTS 8
#define REPORT_CHART_WIDTH 880 /* px, every chart */
#define REPORT_CHART_HEIGHT 400
#define REPORT_MAX_ARRAYS 32

typedef struct ReportCharts {
    int n;
    Chart charts[REPORT_MAX_CHARTS];
    char caption[REPORT_MAX_CHARTS][512]; /* a sentence under each chart on the page */
    int n_arrays;
    double *arrays[REPORT_MAX_ARRAYS];    /* owned: the data the charts point into */
} ReportCharts;

/* Builds every chart for run (and base, nullable; both borrowed and kept alive by the
 * caller only while building: the charts copy or own what they draw). *out caller-owned,
 * zeroed first; release with report_charts_free (also after an error). 0, or -1 with
 * err (out of memory). */
int report_charts_build(const ReportRun *run, const ReportRun *base, ReportCharts *out,
                        Err *err);
void report_charts_free(ReportCharts *c); /* zeroed or freed twice is fine */

/* Samples per stream batch the charts group by: the job's stream_batch, or a twentieth of
 * the stream when the job is unknown (at least 1). */
int64_t report_batch_size(const ReportRun *run);

/* ---- for the chart builders (report_charts.c, report_compare.c) ---- */

/* A zeroed array of n doubles owned by c (freed with it); NULL with err when full or
 * out of memory. */
double *report_charts_array(ReportCharts *c, int64_t n, Err *err);
/* The next chart of c, initialised (chart_init) at the report's width. */
Chart *report_charts_new(ReportCharts *c, const char *id, const char *title, int height);
/* The run's method name: the job's, else summary.json's, else "?". Static storage. */
const char *report_method_of(const ReportRun *r);

#endif
