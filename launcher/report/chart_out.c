/* launcher/report/chart_out.c -- PNG and inline-SVG output of a chart through Cairo's
 * image and SVG surfaces, both from the one chart_draw. */
#include "launcher/report/chart_out.h"

#include <cairo-svg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/base/atomic_file.h"
#include "io/base/strbuf.h"

/* A StrBuf that Cairo's write callbacks fill; failed remembers the first error. */
typedef struct Buf {
    StrBuf s;
    int failed;
} Buf;

static int buf_put(Buf *b, const void *p, size_t n) {
    if (b->failed || strbuf_append(&b->s, p, n, NULL) != 0) {
        b->failed = 1;
        return -1;
    }
    return 0;
}

static cairo_status_t buf_write(void *closure, const unsigned char *data, unsigned int n) {
    return buf_put(closure, data, n) == 0 ? CAIRO_STATUS_SUCCESS : CAIRO_STATUS_WRITE_ERROR;
}

void chart_xml_escape(const char *s, char *out, size_t n_bytes) {
    size_t o = 0;
    for (; *s && o + 7 < n_bytes; s++) {
        const char *rep = *s == '&' ? "&amp;" : *s == '<' ? "&lt;" : *s == '>' ? "&gt;"
                        : *s == '"' ? "&quot;" : NULL;
        if (rep != NULL) {
            memcpy(out + o, rep, strlen(rep));
            o += strlen(rep);
        } else {
            out[o++] = *s;
        }
    }
    if (n_bytes > 0)
        out[o < n_bytes ? o : n_bytes - 1] = '\0';
}

int chart_write_png(const Chart *c, const char *path, double scale, Err *err) {
    const int w = (int)(c->width * scale + 0.5), h = (int)(c->height * scale + 0.5);
    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h);
    cairo_t *cr = cairo_create(s);
    cairo_scale(cr, scale, scale);
    chart_draw(c, cr);
    cairo_status_t st = cairo_status(cr);
    cairo_destroy(cr);
    Buf b = {0};
    if (st == CAIRO_STATUS_SUCCESS)
        st = cairo_surface_write_to_png_stream(s, buf_write, &b);
    cairo_surface_destroy(s);
    int rc = st == CAIRO_STATUS_SUCCESS
                 ? af_write_file(path, b.s.data, b.s.n_bytes, err)
                 : err_set(err, "%s: drawing chart %s failed: %s", path, c->id,
                           cairo_status_to_string(st));
    strbuf_free(&b.s);
    return rc;
}

/* Copies svg into out, prefixing every id="X", href="#X" and url(#X) with "<pfx>-". */
static int prefix_ids(const char *svg, const char *pfx, Buf *out) {
    static const char *const marks[] = {"id=\"", "href=\"#", "url(#"};
    const char *p = svg;
    while (*p) {
        const char *next = NULL;
        size_t mark_len = 0;
        for (int i = 0; i < 3; i++) {
            const char *q = strstr(p, marks[i]);
            if (q != NULL && (next == NULL || q < next)) {
                next = q;
                mark_len = strlen(marks[i]);
            }
        }
        if (next == NULL)
            return buf_put(out, p, strlen(p));
        if (buf_put(out, p, (size_t)(next - p) + mark_len) || buf_put(out, pfx, strlen(pfx)) ||
            buf_put(out, "-", 1))
            return -1;
        p = next + mark_len;
    }
    return 0;
}

/* <title> and <desc> (the subtitle and legend): the chart's words as text, since Cairo
 * draws the glyphs as outlines; screen readers and searches read these. */
static int text_elements(const Chart *c, Buf *out) {
    char esc[3 * CHART_TEXT_BYTES];
    chart_xml_escape(c->title, esc, sizeof esc);
    int bad = buf_put(out, "<title>", 7) || buf_put(out, esc, strlen(esc)) ||
              buf_put(out, "</title><desc>", 14);
    chart_xml_escape(c->subtitle, esc, sizeof esc);
    bad |= buf_put(out, esc, strlen(esc));
    for (int i = 0; i < c->n_series; i++) {
        if (c->series[i].label[0] == '\0')
            continue;
        chart_xml_escape(c->series[i].label, esc, sizeof esc);
        bad |= buf_put(out, "; ", 2) || buf_put(out, esc, strlen(esc));
    }
    return bad | buf_put(out, "</desc>", 7);
}

/* The SVG after its prolog, with the root tag's attributes and text elements added. */
static int finish_svg(const Chart *c, const char *raw, Buf *out, Err *err) {
    const char *root = strstr(raw, "<svg");
    const char *root_end = root ? strchr(root, '>') : NULL;
    if (root_end == NULL)
        return err_set(err, "chart %s: Cairo wrote no <svg> element", c->id);
    char title[3 * CHART_TEXT_BYTES], attrs[sizeof title + 256];
    chart_xml_escape(c->title, title, sizeof title);
    snprintf(attrs, sizeof attrs, "<svg id=\"%s\" class=\"chart\" role=\"img\" aria-label=\"%s\"",
             c->id, title);
    Buf body = {0};
    int rc = prefix_ids(root + 4, c->id, &body);
    const size_t head = (size_t)(root_end - (root + 4)) + 1; /* the rest of the root tag */
    if (rc == 0)
        rc = buf_put(out, attrs, strlen(attrs)) || buf_put(out, body.s.data, head) ||
                     text_elements(c, out) || buf_put(out, body.s.data + head, body.s.n_bytes - head)
                 ? -1
                 : 0;
    strbuf_free(&body.s);
    return rc == 0 ? 0 : err_set(err, "chart %s: out of memory", c->id);
}

int chart_svg(const Chart *c, char **out, size_t *n_bytes, Err *err) {
    Buf raw = {0}, done = {0};
    cairo_surface_t *s = cairo_svg_surface_create_for_stream(buf_write, &raw, c->width,
                                                             c->height);
    cairo_svg_surface_restrict_to_version(s, CAIRO_SVG_VERSION_1_1);
    cairo_svg_surface_set_document_unit(s, CAIRO_SVG_UNIT_PX);
    cairo_t *cr = cairo_create(s);
    chart_draw(c, cr);
    cairo_status_t st = cairo_status(cr);
    cairo_destroy(cr);
    cairo_surface_finish(s);
    if (st == CAIRO_STATUS_SUCCESS)
        st = cairo_surface_status(s);
    cairo_surface_destroy(s);
    int rc = st != CAIRO_STATUS_SUCCESS || raw.failed
                 ? err_set(err, "chart %s: SVG drawing failed: %s", c->id,
                           raw.failed ? "out of memory" : cairo_status_to_string(st))
                 : finish_svg(c, raw.s.data, &done, err);
    strbuf_free(&raw.s);
    if (rc != 0) {
        strbuf_free(&done.s);
        return -1;
    }
    *out = done.s.data;
    *n_bytes = done.s.n_bytes;
    return 0;
}
