/* tests/launcher/report/test_report_charts.c -- what `tlm report` draws, checked as data:
 * (a) round-number ticks and their labels on linear and log axes; (b) the charts built
 * from a synthetic run (report_fixture.h) hold the values the run implies: the selected
 * and unselected points, the running mean over the stream batch, the threshold at
 * e^threshold, the selected fraction of each batch, loss and grad norm per step, tokens/s
 * per phase from summary.json, the per-sample ppl difference to a base run, and eval
 * metrics equal to io/eval's on the same predictions; (c) the SVG of a chart is sized,
 * carries its id and keeps its internal ids apart from another chart's. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "io/eval/eval.h"
#include "launcher/report/chart_axis.h"
#include "launcher/report/chart_out.h"
#include "launcher/report/report_charts.h"
#include "tests/launcher/report/report_fixture.h"
#include "tests/testutil.h"

static void expect_ticks(const ChartTicks *t, const char *const *labels, int n) {
    for (int i = 0; i < t->n; i++)
        printf("%s%s", i ? " " : "  ticks: ", t->label[i]);
    printf("  [%g, %g]\n", t->lo, t->hi);
    assert_int_equal(t->n, n);
    for (int i = 0; i < n; i++)
        assert_string_equal(t->label[i], labels[i]);
}

static void test_ticks(void **state) {
    (void)state;
    ChartTicks t;
    chart_ticks_linear(1, 64, 7, &t);
    expect_ticks(&t, (const char *const[]){"0", "10", "20", "30", "40", "50", "60", "70"}, 8);
    chart_ticks_linear(0.013, 0.31, 5, &t);
    expect_ticks(&t, (const char *const[]){"0", "0.1", "0.2", "0.3", "0.4"}, 5);
    chart_ticks_linear(0.013, 0.31, 10, &t);
    expect_ticks(&t, (const char *const[]){"0", "0.05", "0.1", "0.15", "0.2", "0.25", "0.3",
                                           "0.35"}, 8);
    chart_ticks_linear(-2900, 0, 5, &t);
    expect_ticks(&t, (const char *const[]){"-3000", "-2000", "-1000", "0"}, 4);
    assert_true(!signbit(t.hi));
    chart_ticks_linear(0, 61315, 5, &t);
    expect_ticks(&t, (const char *const[]){"0", "20k", "40k", "60k", "80k"}, 5);
    chart_ticks_linear(0, 12500, 5, &t); /* one form per axis: not "5000" beside "10k" */
    expect_ticks(&t, (const char *const[]){"0", "5k", "10k", "15k"}, 4);
    chart_ticks_linear(10000, 12000, 4, &t); /* steps of 0.5k need one decimal */
    expect_ticks(&t, (const char *const[]){"10k", "10.5k", "11k", "11.5k", "12k"}, 5);
    chart_ticks_linear(5, 5, 5, &t); /* a constant: a range around it, not a crash */
    assert_true(t.lo < 5 && t.hi > 5 && t.n >= 2);
    chart_ticks_log(420, 2900, &t);
    expect_ticks(&t, (const char *const[]){"200", "500", "1000", "2000", "5000"}, 5);
    chart_ticks_log(1.5, 4e6, &t); /* many decades: decades only */
    expect_ticks(&t, (const char *const[]){"1", "10", "100", "1000", "10k", "100k", "1M",
                                           "10M"}, 8);
    assert_true(fabs(chart_axis_frac(&t, 1000) - 3.0 / 7.0) < 1e-12);
    chart_ticks_log(-1, 10, &t); /* no positive range: a default, not a crash */
    assert_true(t.lo > 0);
    char buf[32];
    chart_format_tick(1e-5, 1e-5, buf, sizeof buf);
    assert_string_equal(buf, "1e-05");
    chart_format_tick(2.5e6, 5e5, buf, sizeof buf);
    assert_string_equal(buf, "2.5M");
}

static const Chart *find(const ReportCharts *c, const char *id) {
    for (int i = 0; i < c->n; i++)
        if (strcmp(c->charts[i].id, id) == 0)
            return &c->charts[i];
    fail_msg("no chart %s", id);
    return NULL;
}

/* The series of ch whose legend label starts with prefix. */
static const ChartSeries *series(const Chart *ch, const char *prefix) {
    for (int i = 0; i < ch->n_series; i++)
        if (strncmp(ch->series[i].label, prefix, strlen(prefix)) == 0)
            return &ch->series[i];
    fail_msg("chart %s: no series \"%s\"", ch->id, prefix);
    return NULL;
}

static void close_to(double got, double want, const char *what) {
    if (!(fabs(got - want) <= 1e-9 * fmax(1.0, fabs(want))))
        fail_msg("%s: got %.17g, want %.17g", what, got, want);
}

static void check_ppl_and_selection(const ReportCharts *c) {
    const Chart *ch = find(c, "chart-ppl");
    const ChartSeries *sel = series(ch, "selected"), *uns = series(ch, "not selected");
    const ChartSeries *mean = series(ch, "running mean (last 8"), *thr = series(ch, "threshold");
    int64_t n_sel = 0;
    for (int64_t i = 0; i < FX_N; i++)
        n_sel += fx_ce(i, 0) > FX_THRESHOLD;
    assert_int_equal(sel->n, n_sel);
    assert_int_equal(uns->n, FX_N - n_sel);
    for (int64_t k = 0; k < sel->n; k++)
        assert_true(log(sel->y[k]) > FX_THRESHOLD && fx_ce((int64_t)sel->x[k], 0) > FX_THRESHOLD);
    for (int64_t i = 0; i < FX_N; i++) { /* trailing mean of the last 8 ppl */
        double s = 0;
        int64_t n = 0;
        for (int64_t k = i; k >= 0 && k > i - FX_BATCH; k--, n++)
            s += exp(fx_ce(k, 0));
        close_to(mean->y[i], s / (double)n, "running mean");
    }
    close_to(thr->value, exp(FX_THRESHOLD), "threshold line");
    const Chart *sc = find(c, "chart-selected");
    const ChartSeries *cols = &sc->series[0];
    assert_int_equal(cols->n, FX_N / FX_BATCH);
    for (int64_t b = 0; b < cols->n; b++) {
        int64_t k = 0;
        for (int64_t i = b * FX_BATCH; i < (b + 1) * FX_BATCH; i++)
            k += fx_ce(i, 0) > FX_THRESHOLD;
        close_to(cols->y[b], 100.0 * (double)k / FX_BATCH, "selected % of a batch");
        close_to(cols->x[b], (double)(b + 1), "batch number");
    }
    assert_non_null(strstr(sc->x_label, "stream batch (8 samples each)"));
}

static void check_steps_and_speed(const ReportCharts *c) {
    const Chart *ch = find(c, "chart-updates");
    assert_int_equal(ch->n_panels, 2);
    const ChartSeries *loss = series(ch, "weighted loss"), *gn = series(ch, "gradient norm");
    assert_int_equal(loss->n, FX_N);
    assert_int_equal(gn->panel, 1);
    for (int64_t s = 1; s <= FX_N; s++) {
        close_to(loss->y[s - 1], fx_loss(s), "loss");
        close_to(gn->y[s - 1], fx_grad_norm(s), "grad norm");
    }
    close_to(series(ch, "clip at 1")->value, 1.0, "clip line");
    const Chart *sp = find(c, "chart-speed");
    const ChartSeries *run = series(sp, "run: tlm"), *base = series(sp, "base: none");
    int64_t update_tokens = 0;
    for (int64_t s = 1; s <= FX_N; s++)
        update_tokens += 10 + s - 1;
    close_to(run->y[0], FX_GEN_TOKENS / FX_T_GENERATE, "generate tokens/s");
    close_to(run->y[1], FX_INPUT_TOKENS / FX_T_SCORE, "score tokens/s");
    close_to(run->y[2], (double)update_tokens / FX_T_UPDATE, "update tokens/s");
    assert_true(isnan(base->y[2])); /* none has no update phase: no bar */
}

static void check_comparison(const ReportCharts *c, const ReportRun *run, const ReportRun *base) {
    const Chart *ch = find(c, "chart-ppl-diff");
    const ChartSeries *d = series(ch, "per sample");
    assert_int_equal(d->n, FX_N);
    for (int64_t i = 0; i < FX_N; i++)
        close_to(d->y[i], exp(fx_ce(i, 0)) - exp(fx_ce(i, 1)), "ppl difference");
    close_to(series(ch, "no difference")->value, 0.0, "zero line");
    /* The metrics: io/eval's numbers on the same files, in percent. */
    const Chart *m = find(c, "chart-metrics");
    const ReportRun *runs[2] = {run, base};
    const char *labels[2] = {"run: tlm", "base: none"};
    for (int k = 0; k < 2; k++) {
        EvalPairs pairs = {0};
        EvalResult want;
        Err err = {{0}};
        assert_int_equal(eval_pairs_read(runs[k]->predictions, &pairs, &err), 0);
        assert_int_equal(eval_run(&pairs, EVAL_METRIC_ALL, &want, NULL, &err), 0);
        eval_pairs_free(&pairs);
        const ChartSeries *s = series(m, labels[k]);
        const double v[5] = {want.bleu, want.rouge.rouge1, want.rouge.rouge2, want.rouge.rougeL,
                             want.rouge.rougeLsum};
        for (int i = 0; i < 5; i++)
            close_to(s->y[i], 100 * v[i], "metric");
        printf("  %s: BLEU %.2f ROUGE-1 %.2f ROUGE-L %.2f\n", labels[k], s->y[0], s->y[1], s->y[3]);
        assert_true(v[1] > 0.05); /* real text: a blank chart cannot pass */
    }
}

static void test_charts_from_run(void **state) {
    (void)state;
    char run_dir[4096], base_dir[4096];
    snprintf(run_dir, sizeof run_dir, "%s", tu_path(tu_tmp_dir(), "report-charts-run"));
    snprintf(base_dir, sizeof base_dir, "%s", tu_path(tu_tmp_dir(), "report-charts-base"));
    fx_write_run(run_dir, 0, 0);
    fx_write_run(base_dir, 1, 40);
    ReportRun *run = calloc(1, sizeof *run), *base = calloc(1, sizeof *base);
    ReportCharts *c = calloc(1, sizeof *c);
    Err err = {{0}};
    if (report_run_load(run_dir, NULL, run, &err) != 0 ||
        report_run_load(base_dir, NULL, base, &err) != 0)
        fail_msg("%s", err.msg);
    assert_true(run->has_job && run->has_eval && run->sum.present);
    assert_non_null(strstr(run->job_source, "job.yaml"));
    assert_int_equal(run->n_scores, FX_N);
    assert_int_equal(base->n_steps, 0);
    if (report_charts_build(run, base, c, &err) != 0)
        fail_msg("%s", err.msg);
    assert_int_equal(c->n, 6);
    check_ppl_and_selection(c);
    check_steps_and_speed(c);
    check_comparison(c, run, base);
    /* (c): two charts' SVGs: sized, named, their internal ids apart. */
    char *a = NULL, *b = NULL;
    size_t na, nb;
    assert_int_equal(chart_svg(find(c, "chart-ppl"), &a, &na, &err), 0);
    assert_int_equal(chart_svg(find(c, "chart-speed"), &b, &nb, &err), 0);
    assert_true(strncmp(a, "<svg id=\"chart-ppl\" class=\"chart\"", 33) == 0);
    assert_non_null(strstr(a, "viewBox=\"0 0 880 440\""));
    assert_non_null(strstr(b, "viewBox=\"0 0 880 400\""));
    assert_non_null(strstr(a, "id=\"chart-ppl-glyph"));
    assert_non_null(strstr(a, "href=\"#chart-ppl-glyph"));
    assert_null(strstr(a, "id=\"glyph"));
    assert_null(strstr(b, "href=\"#glyph"));
    free(a);
    free(b);
    report_charts_free(c);
    report_run_free(run);
    report_run_free(base);
    free(c);
    free(run);
    free(base);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ticks),
        cmocka_unit_test(test_charts_from_run),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
