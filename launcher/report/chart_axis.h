/* launcher/report/chart_axis.h -- axis ranges and tick marks at round numbers for the
 * report's charts: linear axes at 1, 2 or 5 x 10^k steps, log axes at decades (with 2
 * and 5 between them when the range is short), tick labels with no more digits than the
 * step needs. Pure arithmetic: no drawing, no allocation; any thread. */
#ifndef TLM_LAUNCHER_REPORT_CHART_AXIS_H
#define TLM_LAUNCHER_REPORT_CHART_AXIS_H

#include <stddef.h>

#define CHART_MAX_TICKS 24
#define CHART_TICK_LABEL_BYTES 24

typedef struct ChartTicks {
    double lo, hi; /* the axis range: the data range widened to the outer ticks */
    int log;       /* 1: positions are log10 of the values */
    int n;
    double value[CHART_MAX_TICKS];
    char label[CHART_MAX_TICKS][CHART_TICK_LABEL_BYTES];
} ChartTicks;

/* Ticks for data in [lo, hi] on a linear axis, about `target` of them (>= 2), the range
 * widened to the nearest ticks outside it. lo == hi gets a unit-wide range around it;
 * non-finite bounds give [0, 1]. Always fills out. */
void chart_ticks_linear(double lo, double hi, int target, ChartTicks *out);

/* Ticks for positive data in [lo, hi] on a log axis: the range widened to decades
 * (or to 1/2/5 marks when it spans less than two decades). lo <= 0 or non-finite
 * bounds give [1, 10]. Always fills out. */
void chart_ticks_log(double lo, double hi, ChartTicks *out);

/* v as a tick label on an axis stepping by step: "0.25", "1500", "20k", "2.5M", "1e-06";
 * "-" for v == 0 never appears ("0"). Writes at most n_bytes (NUL included). */
void chart_format_tick(double v, double step, char *buf, size_t n_bytes);

/* Position of value v on the axis as a fraction of its length (0 at lo, 1 at hi);
 * log axes take log10(v) (v <= 0 maps below 0). */
double chart_axis_frac(const ChartTicks *t, double v);

#endif
