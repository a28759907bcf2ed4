/* launcher/report/report.c -- `tlm report` from end to end: read, build the charts,
 * render each once to SVG (inline) and once to PNG, write the page. */
#include "launcher/report/report.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "launcher/report/chart_out.h"
#include "launcher/report/report_charts.h"
#include "launcher/report/report_data.h"
#include "launcher/report/report_page.h"

/* mkdir -p */
static int make_dirs(const char *dir, Err *err) {
    char buf[4096];
    if ((size_t)snprintf(buf, sizeof buf, "%s", dir) >= sizeof buf)
        return err_set(err, "%s: path too long", dir);
    for (char *p = buf + 1;; p++) {
        const char c = *p;
        if (c != '/' && c != '\0')
            continue;
        *p = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return err_set(err, "-o %s: cannot create %s: %s", dir, buf, strerror(errno));
        *p = c;
        if (c == '\0')
            return 0;
    }
}

/* Why a base run may not be comparable ("" when nothing looks wrong). */
static void compare_warning(const ReportRun *run, const ReportRun *base, char *out, size_t n) {
    out[0] = '\0';
    if (run->sum.present && base->sum.present && strcmp(run->sum.data, base->sum.data) != 0)
        snprintf(out, n, "the base run read %s, this run %s: the per-sample comparison "
                 "pairs different prompts", base->sum.data, run->sum.data);
    else if (run->n_scores != base->n_scores)
        snprintf(out, n, "the base run scored %lld samples, this run %lld: only the shared "
                 "sample indices are compared", (long long)base->n_scores,
                 (long long)run->n_scores);
    else if (base->has_job && base->job.method.name != JOB_NONE)
        snprintf(out, n, "the base run is method %s, not none: the difference is between "
                 "two adapting runs", job_method_name(base->job.method.name));
}

static int render(const ReportCharts *charts, const char *dir, double scale, char **svgs,
                  ReportWritten *done, Err *err) {
    for (int i = 0; i < charts->n; i++) {
        const Chart *c = &charts->charts[i];
        char png[4096];
        size_t n_svg;
        if ((size_t)snprintf(png, sizeof png, "%s/%s.png", dir, c->id) >= sizeof png)
            return err_set(err, "%s: path too long", dir);
        if (chart_write_png(c, png, scale, err) != 0 || chart_svg(c, &svgs[i], &n_svg, err) != 0)
            return -1;
        if (done != NULL && done->n_png < 8)
            snprintf(done->png[done->n_png++], sizeof done->png[0], "%s", png);
    }
    return 0;
}

int report_write(const ReportOptions *opt, ReportWritten *done, Err *err) {
    ReportWritten local;
    if (done == NULL)
        done = &local;
    memset(done, 0, sizeof *done);
    const char *dir = opt->out_dir ? opt->out_dir : opt->run_dir;
    const double scale = opt->png_scale > 0 ? opt->png_scale : 2.0;
    ReportRun *run = calloc(1, sizeof *run), *base = opt->base_dir ? calloc(1, sizeof *base)
                                                                   : NULL;
    ReportCharts *charts = calloc(1, sizeof *charts);
    char *svgs[REPORT_MAX_CHARTS] = {0};
    int rc = -1;
    if (run == NULL || charts == NULL || (opt->base_dir && base == NULL)) {
        err_set(err, "report: out of memory");
        goto done;
    }
    if (report_run_load(opt->run_dir, opt->job, run, err) != 0 ||
        (base != NULL && report_run_load(opt->base_dir, NULL, base, err) != 0))
        goto done;
    if (base != NULL)
        compare_warning(run, base, done->warning, sizeof done->warning);
    if (report_charts_build(run, base, charts, err) != 0 || make_dirs(dir, err) != 0 ||
        render(charts, dir, scale, svgs, done, err) != 0)
        goto done;
    snprintf(done->html, sizeof done->html, "%s/report.html", dir);
    const ReportPage page = {.run = run, .base = base, .charts = charts,
                             .svgs = (const char *const *)svgs, .warning = done->warning};
    rc = report_page_write(done->html, &page, err);
done:
    for (int i = 0; i < REPORT_MAX_CHARTS; i++)
        free(svgs[i]);
    report_charts_free(charts);
    report_run_free(run);
    report_run_free(base);
    free(charts);
    free(run);
    free(base);
    return rc;
}
