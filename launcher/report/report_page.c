/* launcher/report/report_page.c -- the HTML page of `tlm report`, built in memory
 * (open_memstream) and written atomically. */
#include "launcher/report/report_page.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "io/base/atomic_file.h"
#include "launcher/report/chart.h"
#include "launcher/report/chart_out.h"

static const char k_style[] =
    "body{font-family:'DejaVu Sans',Helvetica,Arial,sans-serif;margin:24px auto;"
    "max-width:940px;color:#222;background:#fff}"
    "h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px}"
    "p.where{color:#555;margin:0 0 16px;word-break:break-all}"
    "p.warn{background:#fff4e5;border-left:4px solid #ff7f0e;padding:8px 12px}"
    "table{border-collapse:collapse;margin:8px 0 16px;font-size:14px}"
    "th,td{border-bottom:1px solid #e0e0e0;padding:4px 14px 4px 0;text-align:left;"
    "vertical-align:top}td.num{text-align:right;font-variant-numeric:tabular-nums}"
    "figure{margin:18px 0 26px}svg.chart{display:block;max-width:100%;height:auto;"
    "border:1px solid #eee}figcaption{color:#444;font-size:13px;margin-top:6px}";

/* Escaped text of s (static buffer ring: valid for a few calls). */
static const char *esc(const char *s) {
    static char bufs[6][3 * 1024];
    static int next;
    char *b = bufs[next++ % 6];
    chart_xml_escape(s ? s : "", b, sizeof bufs[0]);
    return b;
}

static void row(FILE *f, const char *name, const char *run, const char *base, int has_base) {
    fprintf(f, "<tr><th>%s</th><td>%s</td>", esc(name), esc(run));
    if (has_base)
        fprintf(f, "<td>%s</td>", esc(base));
    fputs("</tr>\n", f);
}

/* One summary value of r into buf: which = 0 model ... 7 time. */
static const char *summary_value(const ReportRun *r, int which, char *buf, size_t n) {
    const ReportSummary *s = &r->sum;
    if (!s->present && which != 2 && which != 3)
        return "(no summary.json: the run did not finish)";
    switch (which) {
    case 0: return s->model;
    case 1: return s->data;
    case 2:
        chart_textf(buf, n, "%s%s%s", report_method_of(r), r->has_job ? " " : "",
                 r->has_job ? job_setting_name(r->job.method.setting) : s->setting);
        return buf;
    case 3: {
        int64_t sel = 0;
        for (int64_t i = 0; i < r->n_scores; i++)
            sel += r->scores[i].selected;
        chart_textf(buf, n, "%lld scored, %lld selected (%.1f%%)", (long long)r->n_scores,
                 (long long)sel, r->n_scores ? 100.0 * (double)sel / (double)r->n_scores : 0.0);
        return buf;
    }
    case 4:
        chart_textf(buf, n, "%lld", (long long)s->update_steps);
        return buf;
    case 5:
        chart_textf(buf, n, "%.4g (first %s) -> %.4g (last %s)", s->ppl_first, "10%",
                 s->ppl_last, "10%");
        return buf;
    case 6:
        chart_textf(buf, n, "%lld input, %lld generated", (long long)s->input_tokens,
                 (long long)s->generated_tokens);
        return buf;
    default:
        chart_textf(buf, n, "%.2f s (generate %.2f, score %.2f, update %.2f) on %s%s",
                 s->t_total, s->t_generate, s->t_score, s->t_update, s->backend,
                 s->interrupted ? ", interrupted" : "");
        return buf;
    }
}

static const char *job_value(const ReportRun *r, char *buf, size_t n) {
    if (!r->has_job)
        return "unknown (no job.yaml or checkpoint in the directory; tlm report --job FILE)";
    const JobSpec *j = &r->job;
    chart_textf(buf, n, "threshold %g, lamb %g, stream_batch %lld, lr %g %s, batch_size %lld, "
             "LoRA r %lld alpha %g (%s)", j->method.threshold, j->method.lamb,
             (long long)j->method.stream_batch, j->optim.lr, job_schedule_name(j->optim.schedule),
             (long long)j->optim.batch_size, (long long)j->lora.rank, j->lora.alpha,
             r->job_source);
    return buf;
}

static void summary_table(FILE *f, const ReportPage *p) {
    static const char *const names[] = {"model", "data", "method", "samples", "update steps",
                                        "mean input ppl", "tokens", "time"};
    const int hb = p->base != NULL;
    fputs("<table class=\"summary\">\n", f);
    if (hb)
        row(f, "", "run", "base", 1);
    char a[2048], b[2048];
    for (int i = 0; i < 8; i++)
        row(f, names[i], summary_value(p->run, i, a, sizeof a),
            hb ? summary_value(p->base, i, b, sizeof b) : "", hb);
    row(f, "job", job_value(p->run, a, sizeof a), hb ? job_value(p->base, b, sizeof b) : "", hb);
    fputs("</table>\n", f);
}

static void metrics_table(FILE *f, const ReportPage *p) {
    const ReportRun *r = p->run, *b = p->base;
    fputs("<h2>Eval metrics</h2>\n", f);
    if (!r->has_eval) {
        fprintf(f, "<p>%s</p>\n", esc(r->eval_note));
        return;
    }
    const int hb = b != NULL && b->has_eval;
    fprintf(f, "<p>%s (%lld pairs)%s%s</p>\n<table class=\"metrics\">\n<tr><th>metric (%%)</th>"
            "<th>run</th>%s</tr>\n", esc(r->predictions), (long long)r->eval.n_pairs,
            hb ? " against " : "", hb ? esc(b->predictions) : "",
            hb ? "<th>base</th><th>run - base</th>" : "");
    static const char *const names[] = {"BLEU-4", "ROUGE-1", "ROUGE-2", "ROUGE-L", "ROUGE-Lsum"};
    for (int i = 0; i < 5; i++) {
        const EvalResult *e = &r->eval;
        const double v[5] = {e->bleu, e->rouge.rouge1, e->rouge.rouge2, e->rouge.rougeL,
                             e->rouge.rougeLsum};
        fprintf(f, "<tr><th>%s</th><td class=\"num\">%.2f</td>", names[i], 100 * v[i]);
        if (hb) {
            const EvalResult *g = &b->eval;
            const double w[5] = {g->bleu, g->rouge.rouge1, g->rouge.rouge2, g->rouge.rougeL,
                                 g->rouge.rougeLsum};
            fprintf(f, "<td class=\"num\">%.2f</td><td class=\"num\">%+.2f</td>", 100 * w[i],
                    100 * (v[i] - w[i]));
        }
        fputs("</tr>\n", f);
    }
    fputs("</table>\n", f);
}

int report_page_write(const char *path, const ReportPage *p, Err *err) {
    char *text = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&text, &n);
    if (f == NULL)
        return err_set(err, "%s: out of memory", path);
    fprintf(f, "<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\">\n"
            "<head>\n<meta charset=\"utf-8\"/>\n<title>tlm report: %s</title>\n"
            "<style>%s</style>\n</head>\n<body>\n<h1>tlm report</h1>\n"
            "<p class=\"where\">%s%s%s</p>\n",
            esc(p->run->dir), k_style, esc(p->run->dir), p->base ? " against the base run " : "",
            p->base ? esc(p->base->dir) : "");
    if (p->warning != NULL && p->warning[0])
        fprintf(f, "<p class=\"warn\">%s</p>\n", esc(p->warning));
    summary_table(f, p);
    for (int i = 0; i < p->charts->n; i++) {
        const Chart *c = &p->charts->charts[i];
        fprintf(f, "<figure id=\"fig-%s\">\n%s\n<figcaption>%s <a href=\"%s.png\">PNG</a>"
                "</figcaption>\n</figure>\n", c->id, p->svgs[i], esc(p->charts->caption[i]),
                c->id);
    }
    metrics_table(f, p);
    fputs("</body>\n</html>\n", f);
    if (fclose(f) != 0 || text == NULL) {
        free(text);
        return err_set(err, "%s: out of memory", path);
    }
    int rc = af_write_file(path, text, n, err);
    free(text);
    return rc;
}
