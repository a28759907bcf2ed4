/* launcher/report/chart.h -- one chart of the run report, described as data (title,
 * axes, up to CHART_MAX_PANELS panels stacked over one x axis, series) and drawn with
 * Cairo onto any surface, so the same description gives the page's SVG and the PNG
 * (launcher/report/chart_out.h). Strings are copied in; series data are borrowed and must
 * outlive the drawing. Not thread-safe per Chart; separate charts are independent. */
#ifndef TLM_LAUNCHER_REPORT_CHART_H
#define TLM_LAUNCHER_REPORT_CHART_H

#include <cairo.h>
#include <stddef.h>
#include <stdint.h>

#include "launcher/report/chart_axis.h"

#define CHART_MAX_SERIES 8
#define CHART_MAX_PANELS 2
#define CHART_MAX_CATEGORIES 8
#define CHART_TEXT_BYTES 160

/* Palette (0xRRGGBB): the matplotlib "tab10" colours people read charts in. */
#define CHART_BLUE 0x1f77b4u
#define CHART_ORANGE 0xff7f0eu
#define CHART_GREEN 0x2ca02cu
#define CHART_RED 0xd62728u
#define CHART_PURPLE 0x9467bdu
#define CHART_GREY 0x8c8c8cu

typedef enum ChartKind {
    CHART_LINE,    /* polyline through (x, y); a non-finite y breaks it */
    CHART_POINTS,  /* a filled circle of radius `size` px at each (x, y) */
    CHART_HLINE,   /* a horizontal line at y = value across the panel */
    CHART_COLUMNS, /* numeric x: a bar of width `value` x-units from 0 to y at each x */
    CHART_BARS,    /* categorical x: y[i] is the bar of category i, grouped by series */
} ChartKind;

typedef struct ChartSeries {
    ChartKind kind;
    int panel;                     /* 0 = top */
    char label[CHART_TEXT_BYTES];  /* legend entry; "" = none */
    uint32_t rgb;
    double alpha;                  /* 0..1 */
    double size;                   /* line width or marker radius, px */
    int dashed;
    const double *x, *y;           /* borrowed, (n); x NULL means 1..n; BARS: y only */
    int64_t n;
    double value;                  /* HLINE: its y; COLUMNS: bar width in x units */
    char value_format[16];         /* BARS: printf format of the value above a bar, "" none */
} ChartSeries;

typedef struct ChartPanel {
    char y_label[CHART_TEXT_BYTES]; /* with the unit, e.g. "tokens/s" */
    int y_log;                      /* log10 axis; values <= 0 are not drawn */
    int y_from_zero;                /* the range includes 0 */
    int has_y_range;                /* y_lo..y_hi given instead of from the data */
    double y_lo, y_hi;
} ChartPanel;

typedef struct Chart {
    char id[64];                    /* the page's element id, "chart-ppl"; file chart-ppl.png */
    char title[CHART_TEXT_BYTES], subtitle[CHART_TEXT_BYTES];
    char x_label[CHART_TEXT_BYTES];
    char note[CHART_TEXT_BYTES];    /* shown in the plot when it has nothing to draw */
    int width, height;              /* px (the SVG viewBox; the PNG is scaled) */
    int n_panels;
    ChartPanel panels[CHART_MAX_PANELS];
    int n_categories;               /* > 0: categorical x axis (BARS) */
    char categories[CHART_MAX_CATEGORIES][48];
    int n_series;
    ChartSeries series[CHART_MAX_SERIES];
} Chart;

/* A chart with one panel and no series; id and title are copied (truncated to fit). */
void chart_init(Chart *c, const char *id, const char *title, int width, int height);

/* Appends a series (alpha 1, size 2) and returns it for the caller to fill in further;
 * NULL when CHART_MAX_SERIES are there. label is copied ("" or NULL: no legend entry). */
ChartSeries *chart_add(Chart *c, ChartKind kind, int panel, const char *label, uint32_t rgb);

/* Draws the whole chart (white background, title, legend, axes with ticks and labels,
 * series clipped to their panels) into cr's user space of width x height px. Leaves
 * cr's state as it found it. Never fails; cairo records its own errors on cr. */
void chart_draw(const Chart *c, cairo_t *cr);

/* ---- shared by chart_draw.c and chart_series.c ---- */

/* A panel's pixel rectangle and the axes that map data into it. */
typedef struct ChartFrame {
    double x0, y0, w, h; /* panel rect, px (y0 top) */
    ChartTicks xt, yt;
} ChartFrame;

/* The series of panel p drawn into frame f (clipped by the caller). */
void chart_draw_series(const Chart *c, int p, const ChartFrame *f, cairo_t *cr);
void chart_set_rgb(cairo_t *cr, uint32_t rgb, double alpha);

/* snprintf into a chart's fixed text field, where cutting a long label short is the
 * intended behaviour (vsnprintf: no truncation warnings at the call sites). */
void chart_textf(char *dst, size_t n_bytes, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
