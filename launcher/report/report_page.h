/* launcher/report/report_page.h -- report.html: one self-contained page (inline SVG
 * charts, inline CSS, no script, no network) with the run's summary, its job, the
 * charts with captions and links to their PNGs, and the eval metrics table (run beside
 * base when there is one). Written as well-formed XHTML so any XML parser reads it.
 * Single-threaded. */
#ifndef TLM_LAUNCHER_REPORT_REPORT_PAGE_H
#define TLM_LAUNCHER_REPORT_REPORT_PAGE_H

#include "io/base/err.h"
#include "launcher/report/report_charts.h"
#include "launcher/report/report_data.h"

/* What the page shows; every pointer borrowed. */
typedef struct ReportPage {
    const ReportRun *run, *base;  /* base nullable */
    const ReportCharts *charts;
    const char *const *svgs;      /* (charts->n) inline SVG of each chart (chart_svg) */
    const char *warning;          /* shown at the top when not "" (nullable) */
} ReportPage;

/* Writes the page to path atomically. 0, or -1 with err naming path. */
int report_page_write(const char *path, const ReportPage *page, Err *err);

#endif
