/* launcher/report/chart_out.h -- a Chart rendered once per surface: a PNG file (Cairo
 * image surface, written atomically) and SVG text ready to inline in an HTML page (Cairo
 * SVG surface: text drawn as glyph outlines, so the page needs no fonts). Several charts
 * share one page: every id inside a chart's SVG is prefixed with the chart's id. No
 * global state; any thread, one chart per call. */
#ifndef TLM_LAUNCHER_REPORT_CHART_OUT_H
#define TLM_LAUNCHER_REPORT_CHART_OUT_H

#include <stddef.h>

#include "io/base/err.h"
#include "launcher/report/chart.h"

/* Draws c into a (scale * width) x (scale * height) px PNG at path (replaced
 * atomically). 0, or -1 with err naming path and Cairo's status. */
int chart_write_png(const Chart *c, const char *path, double scale, Err *err);

/* Draws c as SVG text: no XML prolog; the root <svg> carries id = c->id, class "chart",
 * role "img", aria-label = the title, width/height in px and viewBox "0 0 width height";
 * internal ids and their references prefixed "<c->id>-". *out is malloc'd (caller frees),
 * NUL-terminated, *n_bytes its length. 0, or -1 with err. */
int chart_svg(const Chart *c, char **out, size_t *n_bytes, Err *err);

/* s with &, <, >, " escaped for XML/HTML text and attributes, appended into out
 * (n_bytes, always NUL-terminated, truncated to fit). */
void chart_xml_escape(const char *s, char *out, size_t n_bytes);

#endif
