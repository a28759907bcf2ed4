/* launcher/report/report_charts.c -- from a run's scores, steps and summary to the
 * report's chart descriptions (launcher/report/chart.h). */
#include "launcher/report/report_charts.h"

#include "launcher/report/report_compare.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HEIGHT REPORT_CHART_HEIGHT

double *report_charts_array(ReportCharts *c, int64_t n, Err *err) {
    if (c->n_arrays >= REPORT_MAX_ARRAYS) {
        err_set(err, "report: too many chart arrays");
        return NULL;
    }
    double *a = calloc((size_t)(n > 0 ? n : 1), sizeof *a);
    if (a == NULL)
        err_set(err, "report: out of memory for %lld chart values", (long long)n);
    else
        c->arrays[c->n_arrays++] = a;
    return a;
}

Chart *report_charts_new(ReportCharts *c, const char *id, const char *title, int height) {
    Chart *ch = &c->charts[c->n++];
    chart_init(ch, id, title, REPORT_CHART_WIDTH, height);
    return ch;
}

int64_t report_batch_size(const ReportRun *run) {
    if (run->has_job && run->job.method.stream_batch > 0)
        return run->job.method.stream_batch;
    return run->n_scores >= 20 ? run->n_scores / 20 : 1;
}

/* Trailing mean of y over the last w values (fewer at the start). */
static void running_mean(const double *y, int64_t n, int64_t w, double *out) {
    double sum = 0;
    for (int64_t i = 0; i < n; i++) {
        sum += y[i];
        if (i >= w)
            sum -= y[i - w];
        out[i] = sum / (double)(i < w ? i + 1 : w);
    }
}

const char *report_method_of(const ReportRun *r) {
    return r->has_job ? job_method_name(r->job.method.name) : r->sum.present ? r->sum.method : "?";
}

/* Whether the run selects by ce > threshold (the TLM method: Eqn. 6). */
static int uses_threshold(const ReportRun *r) {
    return r->has_job && r->job.method.name == JOB_TLM;
}

static int chart_ppl(const ReportRun *r, ReportCharts *c, Err *err) {
    const int64_t n = r->n_scores, w = report_batch_size(r);
    double *all = report_charts_array(c, 7 * n, err); /* x, ppl, mean, xs, ys, xu, yu */
    if (all == NULL)
        return -1;
    double *x = all, *ppl = all + n, *mean = all + 2 * n, *xs = all + 3 * n, *ys = all + 4 * n;
    double *xu = all + 5 * n, *yu = all + 6 * n;
    int64_t n_sel = 0, n_uns = 0;
    for (int64_t i = 0; i < n; i++) {
        const ReportScore *s = &r->scores[i];
        x[i] = (double)s->sample;
        ppl[i] = s->ppl;
        if (s->selected) {
            xs[n_sel] = x[i];
            ys[n_sel++] = s->ppl;
        } else {
            xu[n_uns] = x[i];
            yu[n_uns++] = s->ppl;
        }
    }
    running_mean(ppl, n, w, mean);
    Chart *ch = report_charts_new(c, "chart-ppl", "Input perplexity over the stream", HEIGHT + 40);
    chart_textf(ch->x_label, sizeof ch->x_label, "sample (index in the stream)");
    chart_textf(ch->panels[0].y_label, sizeof ch->panels[0].y_label, "perplexity (log scale)");
    ch->panels[0].y_log = 1;
    chart_textf(ch->note, sizeof ch->note, "no scored samples");
    const double pt = n > 2000 ? 1.3 : n > 300 ? 1.8 : 2.6;
    ChartSeries *s = chart_add(ch, CHART_POINTS, 0, "not selected", CHART_GREY);
    *s = (ChartSeries){.kind = CHART_POINTS, .rgb = CHART_GREY, .alpha = 0.6, .size = pt,
                       .x = xu, .y = yu, .n = n_uns};
    chart_textf(s->label, sizeof s->label, "not selected (%lld)", (long long)n_uns);
    s = chart_add(ch, CHART_POINTS, 0, "", CHART_ORANGE);
    *s = (ChartSeries){.kind = CHART_POINTS, .rgb = CHART_ORANGE, .alpha = 0.85, .size = pt,
                       .x = xs, .y = ys, .n = n_sel};
    chart_textf(s->label, sizeof s->label, "selected for the update (%lld)", (long long)n_sel);
    s = chart_add(ch, CHART_LINE, 0, "", CHART_BLUE);
    s->x = x;
    s->y = mean;
    s->n = n;
    s->size = 2.2;
    chart_textf(s->label, sizeof s->label, "running mean (last %lld samples)", (long long)w);
    if (uses_threshold(r)) {
        s = chart_add(ch, CHART_HLINE, 0, "", CHART_RED);
        s->value = exp(r->job.method.threshold);
        s->dashed = 1;
        s->size = 1.6;
        chart_textf(s->label, sizeof s->label, "threshold e^%g = %.3g", r->job.method.threshold,
                 s->value);
    }
    chart_textf(ch->subtitle, sizeof ch->subtitle,
                "%lld samples, %lld selected (%.1f%%), method %s%s%s",
             (long long)n, (long long)n_sel, n ? 100.0 * (double)n_sel / (double)n : 0.0,
             report_method_of(r), r->has_job ? " " : "",
             r->has_job ? job_setting_name(r->job.method.setting) : "");
    chart_textf(c->caption[c->n - 1], sizeof c->caption[0],
             "Each dot is one sample's input perplexity exp(ce) under the model as it was "
             "when the sample came up; orange ones were selected for the update%s.",
             uses_threshold(r) ? " (ce above the threshold)" : "");
    return 0;
}

static int chart_selected(const ReportRun *r, ReportCharts *c, Err *err) {
    const int64_t w = report_batch_size(r), nb = (r->n_scores + w - 1) / w;
    double *x = report_charts_array(c, 2 * nb, err);
    if (x == NULL)
        return -1;
    double *y = x + nb;
    for (int64_t b = 0; b < nb; b++) {
        int64_t n = 0, sel = 0;
        for (int64_t i = b * w; i < r->n_scores && i < (b + 1) * w; i++, n++)
            sel += r->scores[i].selected;
        x[b] = (double)(b + 1);
        y[b] = n ? 100.0 * (double)sel / (double)n : NAN;
    }
    Chart *ch = report_charts_new(c, "chart-selected", "Selected fraction per stream batch",
                                  HEIGHT);
    const int batches = r->has_job && r->job.method.setting == JOB_ONLINE;
    chart_textf(ch->x_label, sizeof ch->x_label, "%s (%lld samples each)",
             batches ? "stream batch" : "window of the stream", (long long)w);
    chart_textf(ch->panels[0].y_label, sizeof ch->panels[0].y_label, "selected (%% of samples)");
    ch->panels[0].has_y_range = 1;
    ch->panels[0].y_hi = 100;
    ChartSeries *s = chart_add(ch, CHART_COLUMNS, 0, "selected %", CHART_ORANGE);
    s->x = x;
    s->y = y;
    s->n = nb;
    s->value = 1.0;
    chart_textf(ch->subtitle, sizeof ch->subtitle, "%lld %s%s", (long long)nb,
             batches ? "stream batches" : "windows",
             r->has_job ? "" : " (job unknown: no job.yaml or checkpoint; pass --job)");
    chart_textf(c->caption[c->n - 1], sizeof c->caption[0],
             "The share of each batch's samples that the method trained on.");
    return 0;
}

static int chart_updates(const ReportRun *r, ReportCharts *c, Err *err) {
    const int64_t n = r->n_steps;
    double *x = report_charts_array(c, 3 * n, err);
    if (x == NULL)
        return -1;
    double *loss = x + n, *gn = x + 2 * n;
    for (int64_t i = 0; i < n; i++) {
        x[i] = (double)r->steps[i].step;
        loss[i] = r->steps[i].loss;
        gn[i] = r->steps[i].grad_norm;
    }
    Chart *ch = report_charts_new(c, "chart-updates", "Loss and gradient norm per update step",
                          HEIGHT + 80);
    ch->n_panels = 2;
    chart_textf(ch->x_label, sizeof ch->x_label, "update step");
    chart_textf(ch->panels[0].y_label, sizeof ch->panels[0].y_label, "loss (nats)");
    chart_textf(ch->panels[1].y_label, sizeof ch->panels[1].y_label, "grad norm");
    ch->panels[0].y_from_zero = ch->panels[1].y_from_zero = 1;
    chart_textf(ch->note, sizeof ch->note, "no update steps (method %s trains nothing)",
             report_method_of(r));
    for (int p = 0; p < 2; p++) {
        ChartSeries *s = chart_add(ch, CHART_LINE, p, p ? "gradient norm (before clipping)"
                                                        : "weighted loss of the step",
                                   p ? CHART_PURPLE : CHART_BLUE);
        s->x = x;
        s->y = p ? gn : loss;
        s->n = n;
        s->size = n > 400 ? 1.0 : 1.6;
    }
    if (r->has_job && r->job.optim.max_grad_norm > 0) {
        ChartSeries *s = chart_add(ch, CHART_HLINE, 1, "", CHART_RED);
        s->value = r->job.optim.max_grad_norm;
        s->dashed = 1;
        s->size = 1.4;
        chart_textf(s->label, sizeof s->label, "clip at %g", s->value);
    }
    chart_textf(ch->subtitle, sizeof ch->subtitle, "%lld update steps; a step with nothing "
             "selected has loss 0", (long long)n);
    chart_textf(c->caption[c->n - 1], sizeof c->caption[0],
             "metrics.jsonl: the perplexity-weighted loss each update step minimised and the "
             "global gradient norm of the LoRA parameters.");
    return 0;
}

int report_charts_build(const ReportRun *run, const ReportRun *base, ReportCharts *out,
                        Err *err) {
    memset(out, 0, sizeof *out);
    if (chart_ppl(run, out, err) != 0 || chart_selected(run, out, err) != 0 ||
        chart_updates(run, out, err) != 0 || report_chart_speed(run, base, out, err) != 0)
        return -1;
    if (base != NULL && report_chart_ppl_diff(run, base, out, err) != 0)
        return -1;
    return report_chart_metrics(run, base, out, err);
}

void report_charts_free(ReportCharts *c) {
    if (c == NULL)
        return;
    for (int i = 0; i < c->n_arrays; i++)
        free(c->arrays[i]);
    c->n_arrays = 0;
    c->n = 0;
}
