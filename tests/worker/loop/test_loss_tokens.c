/* tests/worker/loop/test_loss_tokens.c -- method.loss_tokens through `tlm run` on the demo
 * job: with `all` (the reference) the score is the mean over every input token, with
 * `content` over the sample's own text; the scores file carries both views of the same
 * forward (ce_all, ce_content). Sample 0 is scored by the untouched model in both runs, so
 * its two views must agree across the runs bit for bit; after it the runs train on
 * different losses and must part; and the content view is never the all view (the
 * template adds tokens). */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/testutil.h"

#define N 16

typedef struct Row {
    double ce, ce_all, ce_content;
} Row;

static int read_rows(const char *path, Row *rows) {
    char *text = tu_read_file(path, NULL);
    if (text == NULL)
        return tu_fail("%s: unreadable", path);
    int n = 0;
    for (char *line = strtok(text, "\n"); line != NULL && n < N; line = strtok(NULL, "\n")) {
        json_t *o = json_loads(line, 0, NULL);
        rows[n].ce = json_number_value(json_object_get(o, "ce"));
        rows[n].ce_all = json_number_value(json_object_get(o, "ce_all"));
        rows[n].ce_content = json_number_value(json_object_get(o, "ce_content"));
        n += json_is_real(json_object_get(o, "ce_content")) != 0;
        json_decref(o);
    }
    free(text);
    return n == N ? 0 : tu_fail("%s: %d rows with ce_content, want %d", path, n, N);
}

static int run(const char *mode, const char *out) {
    tu_fresh_dir(out);
    return tu_system("cd '%s' && '%s' run jobs/demo.yaml --set data.max_samples=%d "
                     "--set method.stream_batch=4 --set generate.max_new_tokens=4 "
                     "--set method.loss_tokens=%s --set output.dir='%s' 2> '%s.log'",
                     tu_source_dir(), tu_tlm_bin(), N, mode, out, out);
}

int main(void) {
    const char *all = tu_path(tu_tmp_dir(), "loss_tokens_all");
    char content[4096];
    snprintf(content, sizeof content, "%s/loss_tokens_content", tu_tmp_dir());
    char all_dir[4096];
    snprintf(all_dir, sizeof all_dir, "%s", all);
    if (run("all", all_dir) != 0 || run("content", content) != 0)
        return tu_report(tu_fail("tlm run failed (logs beside %s)", all_dir));
    Row a[N], c[N];
    int fails = read_rows(tu_path(all_dir, "scores.jsonl"), a);
    fails += read_rows(tu_path(content, "scores.jsonl"), c);
    if (fails)
        return tu_report(fails);
    int parted = 0;
    for (int i = 0; i < N; i++) {
        if (a[i].ce != a[i].ce_all)
            fails += tu_fail("all run, sample %d: ce %.9g is not ce_all %.9g", i, a[i].ce,
                             a[i].ce_all);
        if (c[i].ce != c[i].ce_content)
            fails += tu_fail("content run, sample %d: ce %.9g is not ce_content %.9g", i,
                             c[i].ce, c[i].ce_content);
        if (a[i].ce_all == a[i].ce_content)
            fails += tu_fail("sample %d: the content view equals the all view", i);
        parted |= fabs(a[i].ce_content - c[i].ce_content) > 1e-6;
    }
    if (a[0].ce_all != c[0].ce_all || a[0].ce_content != c[0].ce_content)
        fails += tu_fail("sample 0 (the untouched model): all run %.9g / %.9g, content run "
                         "%.9g / %.9g", a[0].ce_all, a[0].ce_content, c[0].ce_all,
                         c[0].ce_content);
    if (!parted)
        fails += tu_fail("the two losses trained the same adapter");
    tu_note("sample %d: content ce %.4f (all run) vs %.4f (content run)", N - 1,
            a[N - 1].ce_content, c[N - 1].ce_content);
    return tu_report(fails);
}
