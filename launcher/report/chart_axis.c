/* launcher/report/chart_axis.c -- round-number ticks (the 1-2-5 rule of plotting
 * libraries) for linear and log axes, and their labels. */
#include "launcher/report/chart_axis.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* The 1, 2 or 5 x 10^k step nearest above raw. */
static double nice_step(double raw) {
    const double mag = pow(10.0, floor(log10(raw)));
    const double f = raw / mag;
    return mag * (f <= 1.0 ? 1.0 : f <= 2.0 ? 2.0 : f <= 5.0 ? 5.0 : 10.0);
}

/* Trims trailing zeros of a fixed-point number ("2.50" -> "2.5", "3.00" -> "3"). */
static void trim_zeros(char *s) {
    if (strchr(s, '.') == NULL)
        return;
    size_t n = strlen(s);
    while (n > 0 && s[n - 1] == '0')
        s[--n] = '\0';
    if (n > 0 && s[n - 1] == '.')
        s[n - 1] = '\0';
}

/* Decimals that write every multiple of step exactly (0.25 -> 2, 2.5 -> 1, 500 -> 0). */
static int decimals_for(double step) {
    if (!(step > 0))
        return 0;
    for (int d = 0; d < 6; d++) {
        const double scaled = step * pow(10.0, d);
        if (fabs(scaled - round(scaled)) < 1e-6 * scaled)
            return d;
    }
    return 6;
}

/* v labelled on an axis whose largest magnitude is mag: every label of one axis takes
 * the same form (all "k" or none). */
static void format_on_axis(double v, double step, double mag, char *buf, size_t n_bytes) {
    const double a = fabs(v);
    if (fabs(v) < 1e-12 * (step > 0 ? step : 1)) {
        snprintf(buf, n_bytes, "0");
        return;
    }
    if (mag >= 1e4 && mag < 1e15) {
        static const char suffix[] = {'k', 'M', 'G', 'T'};
        int k = 0;
        double scaled = v / 1e3, s = step / 1e3;
        for (double m = mag / 1e3; m >= 1e3 && k < 3; m /= 1e3) {
            scaled /= 1e3;
            s /= 1e3;
            k++;
        }
        const int digits = decimals_for(s);
        snprintf(buf, n_bytes, "%.*f", digits > 3 ? 3 : digits, scaled);
        trim_zeros(buf);
        size_t n = strlen(buf);
        if (n + 1 < n_bytes) {
            buf[n] = suffix[k];
            buf[n + 1] = '\0';
        }
        return;
    }
    if (a < 1e-3) {
        snprintf(buf, n_bytes, "%.0e", v);
        return;
    }
    snprintf(buf, n_bytes, "%.*f", decimals_for(step), v);
    trim_zeros(buf);
}

void chart_format_tick(double v, double step, char *buf, size_t n_bytes) {
    format_on_axis(v, step, fabs(v), buf, n_bytes);
}

void chart_ticks_linear(double lo, double hi, int target, ChartTicks *out) {
    memset(out, 0, sizeof *out);
    if (!isfinite(lo) || !isfinite(hi)) {
        lo = 0;
        hi = 1;
    }
    if (lo > hi) {
        double t = lo;
        lo = hi;
        hi = t;
    }
    if (hi - lo < 1e-12 * fmax(1.0, fabs(hi))) {
        lo -= 0.5 * fmax(1.0, fabs(lo) * 0.1);
        hi += 0.5 * fmax(1.0, fabs(hi) * 0.1);
    }
    if (target < 2)
        target = 2;
    double step = nice_step((hi - lo) / (double)target);
    while ((hi - lo) / step > CHART_MAX_TICKS - 2)
        step = nice_step(step * 1.5);
    out->lo = floor(lo / step + 1e-9) * step + 0.0; /* + 0.0: no -0 */
    out->hi = ceil(hi / step - 1e-9) * step + 0.0;
    for (double v = out->lo; v <= out->hi + step * 1e-6 && out->n < CHART_MAX_TICKS; v += step) {
        double r = fabs(v) < step * 1e-9 ? 0.0 : v; /* no "-0" from accumulated rounding */
        out->value[out->n] = r;
        format_on_axis(r, step, fmax(fabs(out->lo), fabs(out->hi)), out->label[out->n],
                       CHART_TICK_LABEL_BYTES);
        out->n++;
    }
}

void chart_ticks_log(double lo, double hi, ChartTicks *out) {
    memset(out, 0, sizeof *out);
    out->log = 1;
    if (!(lo > 0) || !isfinite(lo) || !isfinite(hi) || hi < lo) {
        lo = 1;
        hi = 10;
    }
    const int d_lo = (int)floor(log10(lo) + 1e-9), d_hi = (int)ceil(log10(hi) - 1e-9);
    const int decades = d_hi - d_lo > 0 ? d_hi - d_lo : 1;
    static const double marks[] = {1, 2, 5};
    const int n_marks = decades < 3 ? 3 : 1; /* 1-2-5 marks on short ranges */
    const int every = decades > CHART_MAX_TICKS - 2 ? (decades + CHART_MAX_TICKS - 3) /
                                                         (CHART_MAX_TICKS - 2) : 1;
    out->lo = pow(10.0, d_lo);
    out->hi = pow(10.0, d_lo + decades);
    if (n_marks == 3) { /* tighten to the 1-2-5 marks around the data */
        for (int d = d_lo; d <= d_lo + decades; d++)
            for (int m = 0; m < 3; m++) {
                double v = marks[m] * pow(10.0, d);
                if (v <= lo * (1 + 1e-9))
                    out->lo = v;
            }
        for (int d = d_lo + decades; d >= d_lo; d--)
            for (int m = 2; m >= 0; m--) {
                double v = marks[m] * pow(10.0, d);
                if (v >= hi * (1 - 1e-9))
                    out->hi = v;
            }
    }
    for (int d = d_lo; d <= d_lo + decades && out->n < CHART_MAX_TICKS; d++) {
        if ((d - d_lo) % every != 0)
            continue;
        for (int m = 0; m < n_marks && out->n < CHART_MAX_TICKS; m++) {
            double v = marks[m] * pow(10.0, d);
            if (v < out->lo * (1 - 1e-9) || v > out->hi * (1 + 1e-9))
                continue;
            out->value[out->n] = v;
            chart_format_tick(v, v, out->label[out->n], CHART_TICK_LABEL_BYTES);
            out->n++;
        }
    }
}

double chart_axis_frac(const ChartTicks *t, double v) {
    if (t->log) {
        if (!(v > 0))
            return -1.0;
        return (log10(v) - log10(t->lo)) / (log10(t->hi) - log10(t->lo));
    }
    return (v - t->lo) / (t->hi - t->lo);
}
