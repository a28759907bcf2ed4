/* launcher/report/report_compare.h -- the report's charts that set a run beside a base
 * run of the same data (usually method none): tokens/s by phase, the per-sample
 * perplexity difference, the eval metrics side by side. Each works with no base too
 * (the run alone), except the difference. Called by report_charts_build only. */
#ifndef TLM_LAUNCHER_REPORT_REPORT_COMPARE_H
#define TLM_LAUNCHER_REPORT_REPORT_COMPARE_H

#include "launcher/report/report_charts.h"

/* Each appends one chart to c (run and base borrowed; base nullable where said).
 * 0, or -1 with err (out of memory). */
int report_chart_speed(const ReportRun *run, const ReportRun *base, ReportCharts *c, Err *err);
int report_chart_ppl_diff(const ReportRun *run, const ReportRun *base, ReportCharts *c,
                          Err *err); /* base required */
int report_chart_metrics(const ReportRun *run, const ReportRun *base, ReportCharts *c,
                         Err *err);

#endif
