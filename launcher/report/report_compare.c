/* launcher/report/report_compare.c -- speed, perplexity difference and eval metrics
 * charts, a run beside its base. */
#include "launcher/report/report_compare.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const char *run_label(const ReportRun *r, const char *role, char *buf, size_t n) {
    chart_textf(buf, n, "%s: %s", role, report_method_of(r));
    return buf;
}

int report_chart_speed(const ReportRun *run, const ReportRun *base, ReportCharts *c, Err *err) {
    Chart *ch = report_charts_new(c, "chart-speed", "Tokens per second by phase",
                                  REPORT_CHART_HEIGHT);
    static const char *const phases[] = {"generate (new tokens)", "score (input tokens)",
                                         "update (input tokens)"};
    ch->n_categories = 3;
    for (int i = 0; i < 3; i++)
        chart_textf(ch->categories[i], sizeof ch->categories[0], "%s", phases[i]);
    chart_textf(ch->x_label, sizeof ch->x_label, "phase");
    chart_textf(ch->panels[0].y_label, sizeof ch->panels[0].y_label, "tokens/s");
    ch->panels[0].y_from_zero = 1;
    chart_textf(ch->note, sizeof ch->note, "no summary.json: the run did not finish");
    const ReportRun *runs[2] = {run, base};
    for (int k = 0; k < 2 && runs[k] != NULL; k++) {
        double *v = report_charts_array(c, 3, err);
        if (v == NULL)
            return -1;
        report_phase_speed(runs[k], v);
        char label[CHART_TEXT_BYTES];
        ChartSeries *s = chart_add(ch, CHART_BARS, 0, run_label(runs[k], k ? "base" : "run",
                                                                label, sizeof label),
                                   k ? CHART_GREY : CHART_BLUE);
        s->y = v;
        s->n = runs[k]->sum.present ? 3 : 0;
        chart_textf(s->value_format, sizeof s->value_format, "%%.0f");
    }
    const ReportSummary *su = &run->sum;
    if (su->present)
        chart_textf(ch->subtitle, sizeof ch->subtitle,
                 "run: generate %.2f s, score %.2f s, update %.2f s of %.2f s on %s",
                 su->t_generate, su->t_score, su->t_update, su->t_total, su->backend);
    chart_textf(c->caption[c->n - 1], sizeof c->caption[0],
             "From summary.json: tokens each phase processed over the seconds it took "
             "(a missing bar: the run has no such phase).");
    return 0;
}

int report_chart_ppl_diff(const ReportRun *run, const ReportRun *base, ReportCharts *c,
                          Err *err) {
    const int64_t n = run->n_scores < base->n_scores ? run->n_scores : base->n_scores;
    double *x = report_charts_array(c, 3 * n, err);
    if (x == NULL)
        return -1;
    double *d = x + n, *mean = x + 2 * n;
    int64_t m = 0, lower = 0;
    double sum = 0;
    for (int64_t i = 0, j = 0; i < run->n_scores && j < base->n_scores;) {
        const ReportScore *a = &run->scores[i], *b = &base->scores[j];
        if (a->sample != b->sample) { /* both sorted: skip what only one has */
            i += a->sample < b->sample;
            j += b->sample < a->sample;
            continue;
        }
        x[m] = (double)a->sample;
        d[m] = a->ppl - b->ppl;
        sum += d[m];
        lower += d[m] < 0;
        m++;
        i++;
        j++;
    }
    const int64_t w = report_batch_size(run);
    double window = 0; /* trailing mean over the last w samples */
    for (int64_t i = 0; i < m; i++) {
        window += d[i] - (i >= w ? d[i - w] : 0.0);
        mean[i] = window / (double)(i < w ? i + 1 : w);
    }
    Chart *ch = report_charts_new(c, "chart-ppl-diff", "Perplexity difference to the base run",
                                  REPORT_CHART_HEIGHT + 40);
    chart_textf(ch->x_label, sizeof ch->x_label, "sample (index in the stream)");
    chart_textf(ch->panels[0].y_label, sizeof ch->panels[0].y_label, "ppl(run) - ppl(base)");
    chart_textf(ch->note, sizeof ch->note, "the runs share no sample index");
    ChartSeries *s = chart_add(ch, CHART_POINTS, 0, "per sample", CHART_BLUE);
    s->x = x;
    s->y = d;
    s->n = m;
    s->alpha = 0.55;
    s->size = m > 2000 ? 1.3 : m > 300 ? 1.8 : 2.6;
    s = chart_add(ch, CHART_LINE, 0, "", CHART_ORANGE);
    s->x = x;
    s->y = mean;
    s->n = m;
    s->size = 2.2;
    chart_textf(s->label, sizeof s->label, "running mean (last %lld samples)", (long long)w);
    s = chart_add(ch, CHART_HLINE, 0, "no difference", CHART_GREY);
    s->value = 0;
    s->size = 1.2;
    char a[48], b[48];
    chart_textf(ch->subtitle, sizeof ch->subtitle,
             "%s vs %s on %lld shared samples: mean %+.4g, lower on %lld (%.1f%%)",
             run_label(run, "run", a, sizeof a), run_label(base, "base", b, sizeof b),
             (long long)m, m ? sum / (double)m : 0.0, (long long)lower,
             m ? 100.0 * (double)lower / (double)m : 0.0);
    chart_textf(c->caption[c->n - 1], sizeof c->caption[0],
             "Below zero: the sample's input was less surprising to the adapted model than "
             "to the base run's model when it came up.");
    return 0;
}

int report_chart_metrics(const ReportRun *run, const ReportRun *base, ReportCharts *c,
                         Err *err) {
    Chart *ch = report_charts_new(c, "chart-metrics", base ? "Eval metrics, run vs base"
                                                           : "Eval metrics",
                                  REPORT_CHART_HEIGHT);
    static const char *const names[] = {"BLEU-4", "ROUGE-1", "ROUGE-2", "ROUGE-L",
                                        "ROUGE-Lsum"};
    ch->n_categories = 5;
    for (int i = 0; i < 5; i++)
        chart_textf(ch->categories[i], sizeof ch->categories[0], "%s", names[i]);
    chart_textf(ch->x_label, sizeof ch->x_label, "metric (tlm eval --metric all)");
    chart_textf(ch->panels[0].y_label, sizeof ch->panels[0].y_label, "score (%%)");
    ch->panels[0].y_from_zero = 1;
    chart_textf(ch->note, sizeof ch->note, "%.150s", run->eval_note[0] ? run->eval_note
                                                                : "no predictions scored");
    const ReportRun *runs[2] = {run, base};
    for (int k = 0; k < 2 && runs[k] != NULL; k++) {
        if (!runs[k]->has_eval)
            continue;
        double *v = report_charts_array(c, 5, err);
        if (v == NULL)
            return -1;
        const EvalResult *e = &runs[k]->eval;
        const double vals[5] = {e->bleu, e->rouge.rouge1, e->rouge.rouge2, e->rouge.rougeL,
                                e->rouge.rougeLsum};
        for (int i = 0; i < 5; i++)
            v[i] = 100.0 * vals[i];
        char label[CHART_TEXT_BYTES];
        ChartSeries *s = chart_add(ch, CHART_BARS, 0, run_label(runs[k], k ? "base" : "run",
                                                                label, sizeof label),
                                   k ? CHART_GREY : CHART_BLUE);
        s->y = v;
        s->n = 5;
        chart_textf(s->value_format, sizeof s->value_format, "%%.1f");
    }
    chart_textf(ch->subtitle, sizeof ch->subtitle, "generated_predictions.jsonl against the "
             "labels, as the reference's eval_similarity.py scores them (%lld pairs)",
             (long long)(run->has_eval ? run->eval.n_pairs : 0));
    chart_textf(c->caption[c->n - 1], sizeof c->caption[0],
             "Mean sentence BLEU-4 (nltk, smoothing method4) and ROUGE F-measures "
             "(rouge_score, Porter stemming, Punkt sentences), in percent.");
    return 0;
}
