/* launcher/report/chart_series.c -- drawing a panel's series (lines, points, horizontal
 * lines, columns, grouped bars) into its frame. The caller clips to the panel. */
#include "launcher/report/chart.h"

#include <math.h>
#include <stdio.h>

static double px_x(const ChartFrame *f, double x) {
    return f->x0 + f->w * chart_axis_frac(&f->xt, x);
}

static double px_y(const ChartFrame *f, double y) {
    return f->y0 + f->h * (1 - chart_axis_frac(&f->yt, y));
}

static int drawable(const ChartFrame *f, double y) { return isfinite(y) && (!f->yt.log || y > 0); }

static double x_at(const ChartSeries *s, int64_t k) { return s->x ? s->x[k] : (double)(k + 1); }

static void draw_line(const ChartSeries *s, const ChartFrame *f, cairo_t *cr) {
    int open = 0;
    for (int64_t k = 0; k < s->n; k++) {
        if (!drawable(f, s->y[k]) || !isfinite(x_at(s, k))) {
            open = 0;
            continue;
        }
        const double x = px_x(f, x_at(s, k)), y = px_y(f, s->y[k]);
        if (open)
            cairo_line_to(cr, x, y);
        else
            cairo_move_to(cr, x, y);
        open = 1;
    }
    cairo_set_line_width(cr, s->size);
    cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
    cairo_stroke(cr);
}

static void draw_points(const ChartSeries *s, const ChartFrame *f, cairo_t *cr) {
    for (int64_t k = 0; k < s->n; k++) {
        if (!drawable(f, s->y[k]) || !isfinite(x_at(s, k)))
            continue;
        cairo_new_sub_path(cr);
        cairo_arc(cr, px_x(f, x_at(s, k)), px_y(f, s->y[k]), s->size, 0, 2 * M_PI);
    }
    cairo_fill(cr);
}

static void draw_hline(const ChartSeries *s, const ChartFrame *f, cairo_t *cr) {
    if (!drawable(f, s->value))
        return;
    const double y = px_y(f, s->value);
    if (s->dashed)
        cairo_set_dash(cr, (const double[]){7, 4}, 2, 0);
    cairo_set_line_width(cr, s->size);
    cairo_move_to(cr, f->x0, y);
    cairo_line_to(cr, f->x0 + f->w, y);
    cairo_stroke(cr);
}

/* The value axis' baseline: 0, or the bottom of a range that excludes it. */
static double base_y(const ChartFrame *f) {
    if (f->yt.log)
        return f->y0 + f->h;
    return px_y(f, f->yt.lo > 0 ? f->yt.lo : f->yt.hi < 0 ? f->yt.hi : 0.0);
}

static void draw_columns(const ChartSeries *s, const ChartFrame *f, cairo_t *cr) {
    const double w = fmax(1.0, 0.8 * f->w * s->value / (f->xt.hi - f->xt.lo));
    for (int64_t k = 0; k < s->n; k++) {
        if (!drawable(f, s->y[k]) || !isfinite(x_at(s, k)))
            continue;
        const double y = px_y(f, s->y[k]), b = base_y(f);
        cairo_rectangle(cr, px_x(f, x_at(s, k)) - w / 2, fmin(y, b), w, fabs(b - y));
    }
    cairo_fill(cr);
}

/* Bars of series `slot` of n_slots at each category, the value printed above. */
static void draw_bars(const Chart *c, const ChartSeries *s, int slot, int n_slots,
                      const ChartFrame *f, cairo_t *cr) {
    const double group = f->w / (c->n_categories > 0 ? c->n_categories : 1);
    const double bw = fmin(70.0, 0.75 * group / n_slots);
    for (int64_t k = 0; k < s->n && k < c->n_categories; k++) {
        if (!drawable(f, s->y[k]))
            continue;
        const double cx = f->x0 + group * (k + 0.5) + (slot - (n_slots - 1) / 2.0) * bw;
        const double y = px_y(f, s->y[k]), b = base_y(f);
        chart_set_rgb(cr, s->rgb, s->alpha);
        cairo_rectangle(cr, cx - bw / 2 + 1, fmin(y, b), bw - 2, fabs(b - y));
        cairo_fill(cr);
        if (s->value_format[0] == '\0')
            continue;
        char v[32];
        snprintf(v, sizeof v, s->value_format, s->y[k]);
        cairo_select_font_face(cr, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL,
                               CAIRO_FONT_WEIGHT_NORMAL);
        cairo_set_font_size(cr, 11);
        cairo_text_extents_t e;
        cairo_text_extents(cr, v, &e);
        chart_set_rgb(cr, 0x333333u, 1.0);
        cairo_move_to(cr, cx - e.x_advance / 2, fmin(y, b) - 4);
        cairo_show_text(cr, v);
    }
}

void chart_draw_series(const Chart *c, int p, const ChartFrame *f, cairo_t *cr) {
    int n_bars = 0, slot = 0;
    for (int i = 0; i < c->n_series; i++)
        n_bars += c->series[i].panel == p && c->series[i].kind == CHART_BARS;
    for (int i = 0; i < c->n_series; i++) {
        const ChartSeries *s = &c->series[i];
        if (s->panel != p)
            continue;
        cairo_save(cr);
        chart_set_rgb(cr, s->rgb, s->alpha);
        switch (s->kind) {
        case CHART_LINE:
            draw_line(s, f, cr);
            break;
        case CHART_POINTS:
            draw_points(s, f, cr);
            break;
        case CHART_HLINE:
            draw_hline(s, f, cr);
            break;
        case CHART_COLUMNS:
            draw_columns(s, f, cr);
            break;
        case CHART_BARS:
            draw_bars(c, s, slot++, n_bars, f, cr);
            break;
        }
        cairo_restore(cr);
    }
}
