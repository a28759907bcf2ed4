/* launcher/report/chart_draw.c -- a chart's frame: layout, title, legend, axes with ticks,
 * grid and labels; the series themselves are drawn by chart_series.c. */
#include "launcher/report/chart.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define FONT "DejaVu Sans"
#define INK 0x222222u
#define SOFT_INK 0x555555u
#define GRID 0xe6e6e6u
#define FRAME 0xb0b0b0u

void chart_init(Chart *c, const char *id, const char *title, int width, int height) {
    memset(c, 0, sizeof *c);
    snprintf(c->id, sizeof c->id, "%s", id);
    snprintf(c->title, sizeof c->title, "%s", title);
    c->width = width;
    c->height = height;
    c->n_panels = 1;
}

ChartSeries *chart_add(Chart *c, ChartKind kind, int panel, const char *label, uint32_t rgb) {
    if (c->n_series >= CHART_MAX_SERIES)
        return NULL;
    ChartSeries *s = &c->series[c->n_series++];
    memset(s, 0, sizeof *s);
    *s = (ChartSeries){.kind = kind, .panel = panel, .rgb = rgb, .alpha = 1.0, .size = 2.0};
    snprintf(s->label, sizeof s->label, "%s", label ? label : "");
    return s;
}

void chart_textf(char *dst, size_t n_bytes, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(dst, n_bytes, fmt, ap);
    va_end(ap);
}

void chart_set_rgb(cairo_t *cr, uint32_t rgb, double alpha) {
    cairo_set_source_rgba(cr, ((rgb >> 16) & 0xff) / 255.0, ((rgb >> 8) & 0xff) / 255.0,
                          (rgb & 0xff) / 255.0, alpha);
}

/* Text at (x, y): align 0 left / 0.5 centre / 1 right; y is the vertical middle. */
static void text(cairo_t *cr, double x, double y, const char *s, double size, int bold,
                 uint32_t rgb, double align, double angle) {
    cairo_save(cr);
    cairo_select_font_face(cr, FONT, CAIRO_FONT_SLANT_NORMAL,
                           bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, size);
    cairo_text_extents_t e;
    cairo_text_extents(cr, s, &e);
    chart_set_rgb(cr, rgb, 1.0);
    cairo_translate(cr, x, y);
    cairo_rotate(cr, angle);
    cairo_move_to(cr, -align * e.x_advance, 0.36 * size);
    cairo_show_text(cr, s);
    cairo_restore(cr);
}

static double text_width(cairo_t *cr, const char *s, double size) {
    cairo_save(cr);
    cairo_select_font_face(cr, FONT, CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, size);
    cairo_text_extents_t e;
    cairo_text_extents(cr, s, &e);
    cairo_restore(cr);
    return e.x_advance;
}

/* The x range over every numeric series (1..n when x is NULL). */
static void x_range(const Chart *c, double *lo, double *hi) {
    *lo = INFINITY;
    *hi = -INFINITY;
    for (int i = 0; i < c->n_series; i++) {
        const ChartSeries *s = &c->series[i];
        if (s->kind == CHART_HLINE || s->kind == CHART_BARS)
            continue;
        const double pad = s->kind == CHART_COLUMNS ? s->value / 2 : 0;
        for (int64_t k = 0; k < s->n; k++) {
            const double x = s->x ? s->x[k] : (double)(k + 1);
            if (isfinite(x) && isfinite(s->y[k])) {
                *lo = fmin(*lo, x - pad);
                *hi = fmax(*hi, x + pad);
            }
        }
    }
}

static void y_range(const Chart *c, int p, double *lo, double *hi) {
    const ChartPanel *pn = &c->panels[p];
    *lo = INFINITY;
    *hi = -INFINITY;
    for (int i = 0; i < c->n_series; i++) {
        const ChartSeries *s = &c->series[i];
        if (s->panel != p)
            continue;
        const int64_t n = s->kind == CHART_HLINE ? 1 : s->n;
        for (int64_t k = 0; k < n; k++) {
            const double y = s->kind == CHART_HLINE ? s->value : s->y[k];
            if (isfinite(y) && (!pn->y_log || y > 0)) {
                *lo = fmin(*lo, y);
                *hi = fmax(*hi, y);
            }
        }
        if (s->kind == CHART_BARS && s->value_format[0] && *hi > 0)
            *hi *= 1.12; /* room for the value printed above the bar */
    }
    if (pn->y_from_zero && !pn->y_log) {
        *lo = fmin(*lo, 0.0);
        *hi = fmax(*hi, 0.0);
        if (*lo == 0.0 && *hi == 0.0) /* all zero: show [0, 1], not [-0.5, 0.5] */
            *hi = 1.0;
    }
    if (pn->has_y_range) {
        *lo = pn->y_lo;
        *hi = pn->y_hi;
    }
}

/* Legend entries in rows under the title; returns the y where the plot may start. */
static double draw_legend(const Chart *c, cairo_t *cr, double y) {
    double x = 16;
    int any = 0;
    for (int i = 0; i < c->n_series; i++) {
        const ChartSeries *s = &c->series[i];
        if (s->label[0] == '\0')
            continue;
        const double w = 28 + text_width(cr, s->label, 12) + 18;
        if (x + w > c->width - 16 && x > 16) {
            x = 16;
            y += 18;
        }
        any = 1;
        cairo_save(cr);
        chart_set_rgb(cr, s->rgb, s->alpha < 0.5 ? 0.8 : s->alpha);
        if (s->kind == CHART_POINTS) {
            cairo_arc(cr, x + 11, y, fmax(3.0, s->size + 1), 0, 2 * M_PI);
            cairo_fill(cr);
        } else if (s->kind == CHART_BARS || s->kind == CHART_COLUMNS) {
            cairo_rectangle(cr, x + 5, y - 6, 12, 12);
            cairo_fill(cr);
        } else {
            if (s->dashed)
                cairo_set_dash(cr, (const double[]){6, 4}, 2, 0);
            cairo_set_line_width(cr, fmax(2.0, s->size));
            cairo_move_to(cr, x, y);
            cairo_line_to(cr, x + 22, y);
            cairo_stroke(cr);
        }
        cairo_restore(cr);
        text(cr, x + 28, y, s->label, 12, 0, INK, 0, 0);
        x += w;
    }
    return any ? y + 16 : y - 6;
}

/* The frame of panel p: grid, ticks and labels; x tick labels only on the bottom one. */
static void draw_axes(const Chart *c, int p, const ChartFrame *f, cairo_t *cr) {
    cairo_save(cr);
    cairo_set_line_width(cr, 1.0);
    chart_set_rgb(cr, GRID, 1.0);
    for (int i = 0; i < f->yt.n; i++) {
        const double y = f->y0 + f->h * (1 - chart_axis_frac(&f->yt, f->yt.value[i]));
        cairo_move_to(cr, f->x0, round(y) + 0.5);
        cairo_line_to(cr, f->x0 + f->w, round(y) + 0.5);
    }
    for (int i = 0; c->n_categories == 0 && i < f->xt.n; i++) {
        const double x = f->x0 + f->w * chart_axis_frac(&f->xt, f->xt.value[i]);
        cairo_move_to(cr, round(x) + 0.5, f->y0);
        cairo_line_to(cr, round(x) + 0.5, f->y0 + f->h);
    }
    cairo_stroke(cr);
    chart_set_rgb(cr, FRAME, 1.0);
    cairo_rectangle(cr, round(f->x0) + 0.5, round(f->y0) + 0.5, round(f->w), round(f->h));
    cairo_stroke(cr);
    cairo_restore(cr);
    for (int i = 0; i < f->yt.n; i++) {
        const double y = f->y0 + f->h * (1 - chart_axis_frac(&f->yt, f->yt.value[i]));
        text(cr, f->x0 - 6, y, f->yt.label[i], 11, 0, SOFT_INK, 1, 0);
    }
    text(cr, 16, f->y0 + f->h / 2, c->panels[p].y_label, 12, 0, INK, 0.5, -M_PI / 2);
    if (p != c->n_panels - 1)
        return;
    const double y = f->y0 + f->h + 14;
    if (c->n_categories > 0) {
        for (int i = 0; i < c->n_categories; i++)
            text(cr, f->x0 + f->w * (i + 0.5) / c->n_categories, y, c->categories[i], 12, 0,
                 INK, 0.5, 0);
    } else {
        for (int i = 0; i < f->xt.n; i++)
            text(cr, f->x0 + f->w * chart_axis_frac(&f->xt, f->xt.value[i]), y,
                 f->xt.label[i], 11, 0, SOFT_INK, 0.5, 0);
    }
    text(cr, f->x0 + f->w / 2, c->height - 12, c->x_label, 12, 0, INK, 0.5, 0);
}

static int has_data(const Chart *c) {
    for (int i = 0; i < c->n_series; i++)
        if (c->series[i].kind != CHART_HLINE && c->series[i].n > 0)
            return 1;
    return 0;
}

void chart_draw(const Chart *c, cairo_t *cr) {
    cairo_save(cr);
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    text(cr, 16, 22, c->title, 16, 1, INK, 0, 0);
    if (c->subtitle[0])
        text(cr, 16, 42, c->subtitle, 12, 0, SOFT_INK, 0, 0);
    const double top = draw_legend(c, cr, c->subtitle[0] ? 62 : 44) + 10;
    double xlo, xhi;
    x_range(c, &xlo, &xhi);
    ChartFrame f[CHART_MAX_PANELS];
    double label_w = 0;
    const int n_panels = c->n_panels < 1 ? 1 : c->n_panels > CHART_MAX_PANELS ? CHART_MAX_PANELS
                                                                           : c->n_panels;
    for (int p = 0; p < n_panels; p++) {
        double lo, hi;
        y_range(c, p, &lo, &hi);
        if (c->panels[p].y_log)
            chart_ticks_log(lo, hi, &f[p].yt);
        else
            chart_ticks_linear(lo, hi, 5, &f[p].yt);
        for (int i = 0; i < f[p].yt.n; i++)
            label_w = fmax(label_w, text_width(cr, f[p].yt.label[i], 11));
    }
    const double left = 34 + label_w + 8, right = 24, bottom = 48, gap = 22;
    const double h = (c->height - top - bottom - gap * (n_panels - 1)) / n_panels;
    for (int p = 0; p < n_panels; p++) {
        chart_ticks_linear(xlo, xhi, c->width / 110, &f[p].xt);
        f[p].x0 = left;
        f[p].w = c->width - left - right;
        f[p].y0 = top + p * (h + gap);
        f[p].h = h;
        draw_axes(c, p, &f[p], cr);
        cairo_save(cr);
        cairo_rectangle(cr, f[p].x0, f[p].y0, f[p].w, f[p].h);
        cairo_clip(cr);
        chart_draw_series(c, p, &f[p], cr);
        cairo_restore(cr);
    }
    if (!has_data(c) && c->note[0])
        text(cr, left + f[0].w / 2, top + (c->height - top - bottom) / 2, c->note, 13, 0,
             SOFT_INK, 0.5, 0);
    cairo_restore(cr);
}
