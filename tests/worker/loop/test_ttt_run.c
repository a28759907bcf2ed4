/* tests/worker/loop/test_ttt_run.c -- method ttt end to end through `tlm run` on
 * jobs/demo-ttt.yaml (the demo model, 6 synthetic rule tasks, 2 demonstration orders).
 * Modes (argv[1]):
 *   noleak  the tasks in reverse order give every task the same predictions, label ce and
 *           training losses as in file order: a task does not see which tasks ran before
 *   resume  2 tasks, then --resume auto over all 6, equals one uninterrupted run byte for
 *           byte; a fresh run into that output.dir and a resume with another ttt.epochs
 *           are refused
 *   dp      (argv[2]: the mpiexec command) 2 ranks, dp = 2: the same predictions
 *   tp      the same with parallel.tp = 2: same answers, label ce within 1e-4 relative
 * Exit status = failures. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/testutil.h"

#define MAX_LINES 64

/* A run into out: fresh (out removed first) unless extra resumes. */
static int run(const char *pre, const char *out, const char *extra) {
    if (strstr(extra, "--resume") == NULL)
        tu_system("rm -rf '%s'", out);
    return tu_system("cd '%s' && %s '%s' run jobs/demo-ttt.yaml --set output.dir='%s' %s "
                     "2> '%s.log'", tu_source_dir(), pre, tu_tlm_bin(), out, extra, out);
}

/* The lines of dir/name (owned array of owned strings), *n set. */
static char **lines_of(const char *dir, const char *name, int *n) {
    char *text = tu_read_file(tu_path(dir, name), NULL);
    char **v = calloc(MAX_LINES, sizeof *v);
    *n = 0;
    for (char *s = text != NULL ? strtok(text, "\n") : NULL; s != NULL && *n < MAX_LINES;
         s = strtok(NULL, "\n"))
        v[(*n)++] = strdup(s);
    free(text);
    return v;
}

static json_t *find_line(char **v, int n, const char *task, int query) {
    for (int i = 0; i < n; i++) {
        json_t *j = json_loads(v[i], 0, NULL);
        if (strcmp(json_string_value(json_object_get(j, "task")), task) == 0 &&
            (query < 0 || json_integer_value(json_object_get(j, "query")) == query))
            return j;
        json_decref(j);
    }
    return NULL;
}

static double num(json_t *j, const char *k) { return json_number_value(json_object_get(j, k)); }

/* Every prediction of a is in b with the same answer and label ce (rel tol; 0 = exact),
 * and, with tasks, the training losses of every task agree exactly. */
static int same_results(const char *a, const char *b, double tol, int tasks) {
    int na, nb, fails = 0;
    char **pa = lines_of(a, "generated_predictions.jsonl", &na);
    char **pb = lines_of(b, "generated_predictions.jsonl", &nb);
    if (na != 12 || nb != 12)
        fails += tu_fail("%d and %d prediction lines, want 12 each (logs: %s.log)", na, nb, b);
    for (int i = 0; i < na && fails == 0; i++) {
        json_t *x = json_loads(pa[i], 0, NULL);
        const char *task = json_string_value(json_object_get(x, "task"));
        json_t *y = find_line(pb, nb, task, (int)json_integer_value(json_object_get(x, "query")));
        if (y == NULL) {
            fails += tu_fail("%s: task %s missing", b, task);
        } else {
            const double ca = num(x, "label_ce"), cb = num(y, "label_ce");
            const char *sa = json_string_value(json_object_get(x, "predict"));
            const char *sb = json_string_value(json_object_get(y, "predict"));
            if (strcmp(sa, sb) != 0 ||
                !(tol == 0 ? ca == cb : fabs(ca - cb) <= tol * fabs(ca)) ||
                !(num(x, "label_ce_base") == num(y, "label_ce_base") || tol > 0))
                fails += tu_fail("task %s: \"%s\" label ce %.9g vs \"%s\" %.9g", task, sa, ca,
                                 sb, cb);
        }
        json_decref(x);
        json_decref(y);
    }
    int ta, tb;
    char **ka = lines_of(a, "ttt_tasks.jsonl", &ta), **kb = lines_of(b, "ttt_tasks.jsonl", &tb);
    for (int i = 0; i < ta && tasks && fails == 0; i++) {
        json_t *x = json_loads(ka[i], 0, NULL);
        json_t *y = find_line(kb, tb, json_string_value(json_object_get(x, "task")), -1);
        if (y == NULL || num(x, "loss_first") != num(y, "loss_first") ||
            num(x, "loss_last_epoch") != num(y, "loss_last_epoch") ||
            num(x, "steps") != num(y, "steps") || num(x, "steps") != 16)
            fails += tu_fail("training of task %d differs: %s", i, ka[i]);
        json_decref(x);
        json_decref(y);
    }
    for (int i = 0; i < MAX_LINES; i++) {
        free(pa[i]), free(pb[i]), free(ka[i]), free(kb[i]);
    }
    free(pa), free(pb), free(ka), free(kb);
    return fails;
}

static int noleak(const char *base) {
    /* the task file reversed */
    char *text = tu_read_file(tu_path(tu_source_dir(), "jobs/demo/tasks.jsonl"), NULL);
    char *rev[16], out[16384] = "";
    int n = 0;
    for (char *s = strtok(text, "\n"); s != NULL && n < 16; s = strtok(NULL, "\n"))
        rev[n++] = s;
    for (int i = n - 1; i >= 0; i--)
        snprintf(out + strlen(out), sizeof out - strlen(out), "%s\n", rev[i]);
    char path[4096];
    snprintf(path, sizeof path, "%s", tu_write_tmp("ttt_reversed.jsonl", out));
    free(text);
    char set[4200];
    snprintf(set, sizeof set, "--set data.path='%s'", path);
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/ttt_reversed", tu_tmp_dir());
    if (run("", dir, set) != 0)
        return tu_fail("tlm run (reversed) failed: %s.log", dir);
    return same_results(base, dir, 0, 1);
}

static int resume(const char *base) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/ttt_resumed", tu_tmp_dir());
    if (run("", dir, "--set data.max_samples=2") != 0 || run("", dir, "--resume auto") != 0)
        return tu_fail("tlm run (2 tasks, then --resume auto) failed: %s.log", dir);
    /* a fresh run into it is refused (the ledger: output.dir holds results) */
    int fails = 0;
    if (tu_system("cd '%s' && '%s' run jobs/demo-ttt.yaml --set output.dir='%s' 2> '%s.fresh.log'",
                  tu_source_dir(), tu_tlm_bin(), dir, dir) == 0)
        fails += tu_fail("a fresh run into %s (holding results) was accepted", dir);
    const char *files[] = {"generated_predictions.jsonl", NULL};
    for (int i = 0; files[i] != NULL; i++) {
        char *a = tu_read_file(tu_path(base, files[i]), NULL);
        char *b = tu_read_file(tu_path(dir, files[i]), NULL);
        if (a == NULL || b == NULL || strcmp(a, b) != 0)
            fails += tu_fail("%s differs after the resume", files[i]);
        free(a);
        free(b);
    }
    int nt;
    char **t = lines_of(dir, "ttt_tasks.jsonl", &nt);
    fails += tu_check(nt == 6, "ttt_tasks.jsonl: %d lines after the resume, want 6", nt);
    for (int i = 0; i < MAX_LINES; i++)
        free(t[i]);
    free(t);
    fails += same_results(base, dir, 0, 1);
    char *rlog = tu_read_file(tu_path(tu_tmp_dir(), "ttt_resumed.log"), NULL);
    if (rlog == NULL || strstr(rlog, "after 2 tasks") == NULL || strstr(rlog, "3/6 tasks") == NULL ||
        strstr(rlog, "2/6 tasks") != NULL)
        fails += tu_fail("the second run did not continue after task 2: %s", rlog ? rlog : "");
    free(rlog);
    /* another job's progress is refused, naming the key */
    if (run("", dir, "--set ttt.epochs=3 --resume auto") == 0)
        fails += tu_fail("a resume with another ttt.epochs was accepted");
    char *log = tu_read_file(tu_path(tu_tmp_dir(), "ttt_resumed.log"), NULL);
    if (log == NULL || strstr(log, "different job: ttt.epochs: 2 vs 3") == NULL)
        fails += tu_fail("the refusal does not name ttt.epochs: %s", log ? log : "(no log)");
    free(log);
    return fails;
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "noleak";
    char base[4096];
    snprintf(base, sizeof base, "%s/ttt_base_%s", tu_tmp_dir(), mode);
    if (run("", base, "") != 0)
        return tu_report(tu_fail("tlm run failed: %s.log", base));
    if (strcmp(mode, "noleak") == 0)
        return tu_report(noleak(base));
    if (strcmp(mode, "resume") == 0)
        return tu_report(resume(base));
    if (argc < 3)
        return tu_report(tu_fail("%s needs the mpiexec command", mode));
    const int tp = strcmp(mode, "tp") == 0;
    char pre[1024];
    snprintf(pre, sizeof pre, "%s -n 2", argv[2]);
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/%s", tu_tmp_dir(), tp ? "ttt_tp2" : "ttt_dp2");
    if (run(pre, dir, tp ? "--set parallel.tp=2" : "") != 0)
        return tu_report(tu_fail("mpiexec tlm run failed: %s.log", dir));
    return tu_report(same_results(base, dir, tp ? 1e-4 : 0, !tp));
}
