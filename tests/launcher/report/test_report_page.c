/* tests/launcher/report/test_report_page.c -- `tlm report` end to end through the binary.
 *   page:     a synthetic run and its base (report_fixture.h) -> report.html parsed with
 *             libxml2 (well-formed; the six charts as inline <svg> with their ids, px
 *             sizes and viewBoxes, drawn content; no script, nothing fetched) and the
 *             metrics table holding io/eval's numbers; each PNG decoded with Cairo
 *             (size = viewBox x 2, not blank, the series colours present); the job
 *             found through --job when the directory has none; bad input exit 1 naming
 *             the file (and line), bad usage exit 2.
 *   chromium: the page rendered by headless Chromium (Debian's chromium; skipped when
 *             absent) to a PNG: its size, not blank, the charts' colours on it.
 *   demo:     the demo job run for real (tlm, and none as the base: 16 samples), then
 *             reported: tlm run leaves job.yaml, the report draws every chart from it. */
#include <cairo.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "io/eval/eval.h"
#include "tests/launcher/report/report_fixture.h"
#include "tests/testutil.h"

#define BLUE 0x1f77b4u   /* CHART_BLUE: running means, loss, the run's bars */
#define ORANGE 0xff7f0eu /* CHART_ORANGE: selected samples, selected columns */

/* Each chart, its height and a colour only its series bring. */
static const struct {
    const char *id;
    int height;
    uint32_t rgb;
} CHARTS[] = {{"chart-ppl", 440, ORANGE},      {"chart-selected", 400, ORANGE},
              {"chart-updates", 480, BLUE},    {"chart-speed", 400, BLUE},
              {"chart-ppl-diff", 440, ORANGE}, {"chart-metrics", 400, BLUE}};
#define N_CHARTS 6

static char g_run[4096], g_base[4096], g_out[4096];
static const char *g_mode = "page"; /* ctest runs the modes in parallel: one dir each */

static void make_fixture(void) {
    snprintf(g_run, sizeof g_run, "%s/report-%s-run", tu_tmp_dir(), g_mode);
    snprintf(g_base, sizeof g_base, "%s/report-%s-base", tu_tmp_dir(), g_mode);
    snprintf(g_out, sizeof g_out, "%s/report-%s-out", tu_tmp_dir(), g_mode);
    fx_write_run(g_run, 0, 0);
    fx_write_run(g_base, 1, 40);
    assert_int_equal(tu_system("rm -rf '%s'", g_out), 0);
    assert_int_equal(tu_system("'%s' report '%s' --base '%s' -o '%s'", tu_tlm_bin(), g_run,
                               g_base, g_out), 0);
}

static int count_elements(xmlNode *n) {
    int c = 0;
    for (xmlNode *k = n->children; k != NULL; k = k->next)
        if (k->type == XML_ELEMENT_NODE)
            c += 1 + count_elements(k);
    return c;
}

/* Walks the document: svg charts checked off in found[], scripts and remote links counted. */
static void walk(xmlNode *n, int *found, int *bad) {
    for (; n != NULL; n = n->next) {
        if (n->type != XML_ELEMENT_NODE)
            continue;
        const char *name = (const char *)n->name;
        if (strcmp(name, "script") == 0 || strcmp(name, "iframe") == 0 || strcmp(name, "link") == 0)
            (*bad)++;
        for (xmlAttr *a = n->properties; a != NULL; a = a->next) {
            xmlChar *v = xmlNodeGetContent((xmlNode *)a);
            const char *an = (const char *)a->name;
            if ((strcmp(an, "href") == 0 || strcmp(an, "src") == 0) &&
                strstr((const char *)v, "://") != NULL) {
                printf("  remote reference %s=\"%s\"\n", a->name, v);
                (*bad)++;
            }
            xmlFree(v);
        }
        if (strcmp(name, "svg") == 0 && n->ns != NULL &&
            strcmp((const char *)n->ns->href, "http://www.w3.org/2000/svg") == 0) {
            xmlChar *id = xmlGetProp(n, (const xmlChar *)"id");
            xmlChar *vb = xmlGetProp(n, (const xmlChar *)"viewBox");
            xmlChar *w = xmlGetProp(n, (const xmlChar *)"width");
            xmlChar *h = xmlGetProp(n, (const xmlChar *)"height");
            for (int i = 0; i < N_CHARTS; i++) {
                if (id == NULL || strcmp((const char *)id, CHARTS[i].id) != 0)
                    continue;
                char want_vb[64], want_h[32];
                snprintf(want_vb, sizeof want_vb, "0 0 880 %d", CHARTS[i].height);
                snprintf(want_h, sizeof want_h, "%dpx", CHARTS[i].height);
                const int elems = count_elements(n);
                printf("  <svg id=%s viewBox=\"%s\" %sx%s>: %d elements\n", id, vb, w, h, elems);
                assert_string_equal((const char *)vb, want_vb);
                assert_string_equal((const char *)w, "880px");
                assert_string_equal((const char *)h, want_h);
                assert_true(elems > 60); /* glyphs, axes, series: not an empty frame */
                found[i]++;
            }
            xmlFree(id);
            xmlFree(vb);
            xmlFree(w);
            xmlFree(h);
            continue; /* chart internals are Cairo's */
        }
        walk(n->children, found, bad);
    }
}

/* Pixels of png near rgb (each channel within 40: the points are drawn at alpha 0.85),
 * and its non-white pixels. */
static void count_pixels(const char *png, int want_w, int want_h, uint32_t rgb, long *near,
                         long *ink) {
    cairo_surface_t *s = cairo_image_surface_create_from_png(png);
    if (cairo_surface_status(s) != CAIRO_STATUS_SUCCESS)
        fail_msg("%s: %s", png, cairo_status_to_string(cairo_surface_status(s)));
    const int w = cairo_image_surface_get_width(s), h = cairo_image_surface_get_height(s);
    printf("  %s: %dx%d\n", png, w, h);
    assert_int_equal(w, want_w);
    assert_int_equal(h, want_h);
    cairo_surface_flush(s);
    const unsigned char *d = cairo_image_surface_get_data(s);
    const int stride = cairo_image_surface_get_stride(s);
    *near = *ink = 0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            const uint32_t p = *(const uint32_t *)(d + (size_t)y * stride + 4 * (size_t)x);
            const int r = (p >> 16) & 0xff, g = (p >> 8) & 0xff, b = p & 0xff;
            *ink += r < 245 || g < 245 || b < 245;
            *near += abs(r - (int)(rgb >> 16)) < 40 && abs(g - (int)((rgb >> 8) & 0xff)) < 40 &&
                     abs(b - (int)(rgb & 0xff)) < 40;
        }
    cairo_surface_destroy(s);
}

static void check_html(const char *html) {
    xmlDoc *doc = xmlReadFile(html, NULL, XML_PARSE_NONET);
    if (doc == NULL)
        fail_msg("%s: not well-formed XHTML", html);
    int found[N_CHARTS] = {0}, bad = 0;
    walk(xmlDocGetRootElement(doc), found, &bad);
    xmlFreeDoc(doc);
    for (int i = 0; i < N_CHARTS; i++)
        if (found[i] != 1)
            fail_msg("%s: chart %s found %d times", html, CHARTS[i].id, found[i]);
    assert_int_equal(bad, 0);
    /* The metrics table: io/eval's numbers for the run's predictions, in percent. */
    EvalPairs pairs = {0};
    EvalResult r;
    Err err = {{0}};
    assert_int_equal(eval_pairs_read(tu_path(g_run, "generated_predictions.jsonl"), &pairs,
                                     &err), 0);
    assert_int_equal(eval_run(&pairs, EVAL_METRIC_ALL, &r, NULL, &err), 0);
    eval_pairs_free(&pairs);
    char want[128];
    snprintf(want, sizeof want, "<tr><th>ROUGE-L</th><td class=\"num\">%.2f</td>",
             100 * r.rouge.rougeL);
    char *text = tu_read_file(html, NULL);
    assert_non_null(text);
    if (strstr(text, want) == NULL)
        fail_msg("%s: no \"%s\"", html, want);
    free(text);
}

static void test_page(void **state) {
    (void)state;
    make_fixture();
    check_html(tu_path(g_out, "report.html"));
    for (int i = 0; i < N_CHARTS; i++) {
        char png[4200];
        snprintf(png, sizeof png, "%s/%s.png", g_out, CHARTS[i].id);
        long colour, ink, total = 1760L * 2 * CHARTS[i].height;
        count_pixels(png, 1760, 2 * CHARTS[i].height, CHARTS[i].rgb, &colour, &ink);
        printf("    %ld of %ld pixels drawn, %ld in the series colour %06x\n", ink, total,
               colour, CHARTS[i].rgb);
        assert_true(ink > total / 50);
        assert_true(colour > 400);
    }
}

/* Runs tlm report with args; returns its status, its stderr in errs (owned). */
static int report(const char *args, char **errs) {
    const char *log = tu_path(tu_tmp_dir(), "report-page.err");
    char copy[4096];
    snprintf(copy, sizeof copy, "%s", log);
    int rc = tu_system("'%s' report %s > /dev/null 2> '%s'", tu_tlm_bin(), args, copy);
    *errs = tu_read_file(copy, NULL);
    assert_non_null(*errs);
    return rc;
}

static void expect(const char *args, int status, const char *in_message) {
    char *errs;
    const int rc = report(args, &errs);
    printf("  tlm report %s -> %d: %s", args, rc, errs);
    assert_int_equal(rc, status);
    if (strstr(errs, in_message) == NULL)
        fail_msg("expected \"%s\" in the message", in_message);
    free(errs);
}

static void test_job_and_errors(void **state) {
    (void)state;
    char dir[4096], args[9000];
    snprintf(dir, sizeof dir, "%s", tu_path(tu_tmp_dir(), "report-page-nojob"));
    fx_write_run(dir, 0, 0);
    assert_int_equal(tu_system("rm '%s/job.yaml'", dir), 0);
    /* No job anywhere: drawn all the same, the page says so. */
    snprintf(args, sizeof args, "'%s'", dir);
    expect(args, 0, "");
    char *html = tu_read_file(tu_path(dir, "report.html"), NULL);
    assert_non_null(strstr(html, "job unknown"));
    assert_null(strstr(html, "threshold e^"));
    free(html);
    /* --job gives it: the threshold line is back. */
    fx_write_run(g_base, 0, 0); /* a job.yaml to borrow */
    snprintf(args, sizeof args, "'%s' --job '%s/job.yaml'", dir, g_base);
    expect(args, 0, "");
    html = tu_read_file(tu_path(dir, "report.html"), NULL);
    assert_null(strstr(html, "job unknown"));
    free(html);
    snprintf(args, sizeof args, "'%s' --job '%s/nope.yaml'", dir, dir);
    expect(args, 1, "nope.yaml");
    /* A malformed scores line names file:line; missing files name the file. */
    assert_int_equal(tu_system("sed -i '3s/.*/{\"sample\": 2, \"ce\": \"x\"}/' '%s/scores.jsonl'",
                               dir), 0);
    snprintf(args, sizeof args, "'%s'", dir);
    expect(args, 1, "scores.jsonl:3");
    assert_int_equal(tu_system("rm '%s/scores.jsonl'", dir), 0);
    expect(args, 1, "scores.jsonl: cannot open");
    expect("/nonexistent/run", 1, "/nonexistent/run");
    expect("", 2, "no run directory given");
    expect("a b", 2, "one run directory expected");
    expect("a --png-scale 100", 2, "--png-scale");
    expect("a --frobnicate", 2, "unknown or incomplete option");
}

static void test_chromium(void **state) {
    (void)state;
    if (tu_system("command -v chromium > /dev/null 2>&1") != 0)
        tu_skip("chromium not installed (tools/setup.sh installs Debian's chromium)");
    make_fixture();
    char shot[4096], profile[4096];
    snprintf(shot, sizeof shot, "%s", tu_path(g_out, "page.png"));
    snprintf(profile, sizeof profile, "%s", tu_path(tu_tmp_dir(), "report-chromium-profile"));
    /* As root in a container Chromium needs --no-sandbox; --disable-gpu: no GPU process. */
    const int rc = tu_system("rm -f '%s' && timeout 90 chromium --headless --no-sandbox "
                             "--disable-gpu --hide-scrollbars --user-data-dir='%s' "
                             "--window-size=1000,3800 --screenshot='%s' 'file://%s/report.html' "
                             "> '%s/chromium.log' 2>&1", shot, profile, shot, g_out, g_out);
    if (rc != 0)
        tu_system("tail -20 '%s/chromium.log'", g_out);
    assert_int_equal(rc, 0);
    long blue, orange, ink;
    count_pixels(shot, 1000, 3800, BLUE, &blue, &ink);
    count_pixels(shot, 1000, 3800, ORANGE, &orange, &ink);
    printf("  screenshot: %ld of %d pixels drawn, %ld blue, %ld orange\n", ink, 1000 * 3800,
           blue, orange);
    assert_true(ink > 1000L * 3800 / 20);
    assert_true(blue > 2000 && orange > 2000); /* the SVG series, not just the text */
}

static void test_demo(void **state) {
    (void)state;
    char run[4096], base[4096];
    snprintf(run, sizeof run, "%s", tu_path(tu_tmp_dir(), "report-demo"));
    snprintf(base, sizeof base, "%s", tu_path(tu_tmp_dir(), "report-demo-none"));
    tu_fresh_dir(run);
    tu_fresh_dir(base);
    const char *small = "--set data.max_samples=16 --set generate.max_new_tokens=8";
    assert_int_equal(tu_system("cd '%s' && '%s' run jobs/demo.yaml %s --set output.dir='%s' "
                               "> '%s.log' 2>&1 && '%s' run jobs/demo.yaml %s --set "
                               "method.name=none --set output.dir='%s' > '%s.log' 2>&1",
                               tu_source_dir(), tu_tlm_bin(), small, run, run, tu_tlm_bin(),
                               small, base, base), 0);
    char *job = tu_read_file(tu_path(run, "job.yaml"), NULL); /* tlm run left the job */
    assert_non_null(job);
    assert_non_null(strstr(job, "threshold: 6.5"));
    free(job);
    assert_int_equal(tu_system("'%s' report '%s' --base '%s' > '%s/report.log'", tu_tlm_bin(),
                               run, base, run), 0);
    tu_system("cat '%s/report.log'", run);
    char *html = tu_read_file(tu_path(run, "report.html"), NULL);
    assert_non_null(html);
    for (int i = 0; i < N_CHARTS; i++) {
        char tag[128];
        snprintf(tag, sizeof tag, "<svg id=\"%s\"", CHARTS[i].id);
        assert_non_null(strstr(html, tag));
    }
    assert_non_null(strstr(html, "threshold e^6.5"));
    assert_non_null(strstr(html, "16 scored"));
    free(html);
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "page";
    g_mode = mode;
    const struct CMUnitTest page[] = {cmocka_unit_test(test_page),
                                      cmocka_unit_test(test_job_and_errors)};
    const struct CMUnitTest chromium[] = {cmocka_unit_test(test_chromium)};
    const struct CMUnitTest demo[] = {cmocka_unit_test(test_demo)};
    if (strcmp(mode, "chromium") == 0)
        return cmocka_run_group_tests(chromium, NULL, NULL);
    if (strcmp(mode, "demo") == 0)
        return cmocka_run_group_tests(demo, NULL, NULL);
    return cmocka_run_group_tests(page, NULL, NULL);
}
