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
 *   dp_pass, tp_pass  dp and tp with ttt.tasks_per_pass 3 (dp: a block of 3 tasks per
 *           rank) against the one-process run at tasks_per_pass 1
 *   pass    ttt.tasks_per_pass 3 on tasks of 4, 3 and 2 demonstrations (16, 12 and 8
 *           steps: finished tasks drop out of the pass) against one task at a time: every
 *           task's saved adapter (ttt.save_adapters) within 1e-6 norm-wise relative per
 *           tensor, the same answers, label ce and training losses; the tasks reversed
 *           (no leak across a pass); 2 tasks then --resume auto at tasks_per_pass 4
 *           (rounds of 4: a partial pass, then a task boundary inside the file) the same
 * Exit status = failures. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/model/safetensors.h"
#include "tests/testutil.h"

#define MAX_LINES 64

/* Settings every run of a mode adds (the pass mode's task file). */
static char g_extra[8192];

/* A run into out: fresh (out removed first) unless extra resumes. */
static int run(const char *pre, const char *out, const char *extra) {
    if (strstr(extra, "--resume") == NULL)
        tu_system("rm -rf '%s'", out);
    return tu_system("cd '%s' && %s '%s' run jobs/demo-ttt.yaml --set output.dir='%s' %s %s "
                     "2> '%s.log'", tu_source_dir(), pre, tu_tlm_bin(), out, g_extra, extra,
                     out);
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
 * and, with tasks, the training losses of every task agree exactly (tasks 1: each of 16
 * steps; 2: any number of steps). */
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
            num(x, "steps") != num(y, "steps") || (tasks == 1 && num(x, "steps") != 16))
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

/* The task file src reversed (into tmp/<tag>.jsonl), run with extra settings (and no
 * other data.path) into tmp/<tag>, against base (tasks: as same_results). */
static int noleak_of(const char *base, const char *src, const char *tag, const char *extra,
                     int tasks) {
    char *text = tu_read_file(src, NULL);
    char *rev[16], out[16384] = "";
    int n = 0;
    for (char *s = strtok(text, "\n"); s != NULL && n < 16; s = strtok(NULL, "\n"))
        rev[n++] = s;
    for (int i = n - 1; i >= 0; i--)
        snprintf(out + strlen(out), sizeof out - strlen(out), "%s\n", rev[i]);
    char path[4096];
    char name[64];
    snprintf(name, sizeof name, "%s.jsonl", tag);
    snprintf(path, sizeof path, "%s", tu_write_tmp(name, out));
    free(text);
    char set[4400], keep[sizeof g_extra];
    snprintf(set, sizeof set, "--set data.path='%s' %s", path, extra);
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/%s", tu_tmp_dir(), tag);
    memcpy(keep, g_extra, sizeof keep);
    g_extra[0] = '\0';
    const int rc = run("", dir, set);
    memcpy(g_extra, keep, sizeof keep);
    if (rc != 0)
        return tu_fail("tlm run (reversed) failed: %s.log", dir);
    return same_results(base, dir, 0, tasks);
}

static int noleak(const char *base) {
    return noleak_of(base, tu_path(tu_source_dir(), "jobs/demo/tasks.jsonl"), "ttt_reversed",
                     "", 1);
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

/* The demo's tasks with task i keeping 4 - i % 3 demonstrations (into tmp/name). */
static const char *uneven_tasks(const char *name) {
    char *text = tu_read_file(tu_path(tu_source_dir(), "jobs/demo/tasks.jsonl"), NULL);
    static char out[16384];
    out[0] = '\0';
    int i = 0;
    for (char *s = text != NULL ? strtok(text, "\n") : NULL; s != NULL; s = strtok(NULL, "\n")) {
        json_t *j = json_loads(s, 0, NULL);
        json_t *train = json_object_get(j, "train");
        for (int k = 0; k < i % 3; k++)
            json_array_remove(train, json_array_size(train) - 1);
        char *line = json_dumps(j, JSON_PRESERVE_ORDER);
        snprintf(out + strlen(out), sizeof out - strlen(out), "%s\n", line);
        free(line);
        json_decref(j);
        i++;
    }
    free(text);
    return tu_write_tmp(name, out);
}

/* Every tensor of dir a's adapter of task i against dir b's: worst norm-wise rel err. */
static double adapter_err(const char *a, const char *b, int i, int *fails) {
    char name[64];
    snprintf(name, sizeof name, "adapters/task-%d.safetensors", i);
    Err err = {{0}};
    SafeTensors *x = st_open(tu_path(a, name), &err), *y = NULL;
    if (x != NULL)
        y = st_open(tu_path(b, name), &err);
    double worst = 0;
    if (x == NULL || y == NULL || st_count(x) != st_count(y) || st_count(x) == 0) {
        *fails += tu_fail("task %d: adapters missing or of another shape: %s", i, err.msg);
    } else {
        for (int k = 0; k < st_count(x); k++) {
            const StTensor tx = st_at(x, k);
            StTensor ty;
            if (st_get(y, tx.name, tx.ndim, tx.shape, &ty, &err) != 0) {
                *fails += tu_fail("task %d: %s", i, err.msg);
                break;
            }
            const double e = tu_rel_norm_err(ty.data, tx.data, (int64_t)(tx.n_bytes / 4));
            worst = e > worst || isnan(e) ? e : worst;
        }
    }
    st_close(x);
    st_close(y);
    return worst;
}

static int pass(const char *base) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/ttt_pass3", tu_tmp_dir());
    if (run("", dir, "--set ttt.tasks_per_pass=3") != 0)
        return tu_fail("tlm run (tasks_per_pass 3) failed: %s.log", dir);
    int fails = 0;
    double worst = 0;
    for (int i = 0; i < 6; i++) {
        const double e = adapter_err(base, dir, i, &fails);
        worst = e > worst || isnan(e) ? e : worst;
    }
    if (!(worst <= 1e-6))
        fails += tu_fail("tasks_per_pass 3: a task's adapter differs by %.3g > 1e-6", worst);
    fails += same_results(base, dir, 0, 2);
    if (fails == 0)
        tu_note("tasks_per_pass 3 = one task at a time: adapters within %.2g, predictions, "
                "label ce and losses equal", worst);
    fails += noleak_of(base, tu_path(tu_tmp_dir(), "ttt_uneven.jsonl"), "ttt_pass3_reversed",
                       "--set ttt.tasks_per_pass=3", 2);
    snprintf(dir, sizeof dir, "%s/ttt_pass4_resumed", tu_tmp_dir());
    const char *p4 = "--set ttt.tasks_per_pass=4";
    char set[256];
    snprintf(set, sizeof set, "%s --set data.max_samples=2", p4);
    char res[256];
    snprintf(res, sizeof res, "%s --resume auto", p4);
    if (run("", dir, set) != 0 || run("", dir, res) != 0)
        return fails + tu_fail("tlm run (tasks_per_pass 4: 2 tasks, then --resume auto) "
                               "failed: %s.log", dir);
    char *log = tu_read_file(tu_path(tu_tmp_dir(), "ttt_pass4_resumed.log"), NULL);
    if (log == NULL || strstr(log, "after 2 tasks") == NULL || strstr(log, "6/6 tasks") == NULL)
        fails += tu_fail("the resume did not continue after task 2: %s", log ? log : "");
    free(log);
    return fails + same_results(base, dir, 0, 2);
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "noleak";
    if (strcmp(mode, "pass") == 0)
        snprintf(g_extra, sizeof g_extra, "--set data.path='%s' --set ttt.save_adapters=true",
                 uneven_tasks("ttt_uneven.jsonl"));
    char base[4096];
    snprintf(base, sizeof base, "%s/ttt_base_%s", tu_tmp_dir(), mode);
    if (run("", base, "") != 0)
        return tu_report(tu_fail("tlm run failed: %s.log", base));
    if (strcmp(mode, "noleak") == 0)
        return tu_report(noleak(base));
    if (strcmp(mode, "pass") == 0)
        return tu_report(pass(base));
    if (strcmp(mode, "resume") == 0)
        return tu_report(resume(base));
    if (argc < 3)
        return tu_report(tu_fail("%s needs the mpiexec command", mode));
    const int tp = strncmp(mode, "tp", 2) == 0;
    char pre[1024], set[128];
    snprintf(pre, sizeof pre, "%s -n 2", argv[2]);
    snprintf(set, sizeof set, "%s %s", tp ? "--set parallel.tp=2" : "",
             strstr(mode, "pass") != NULL ? "--set ttt.tasks_per_pass=3" : "");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/ttt_%s", tu_tmp_dir(), mode);
    if (run(pre, dir, set) != 0)
        return tu_report(tu_fail("mpiexec tlm run failed: %s.log", dir));
    return tu_report(same_results(base, dir, tp ? 1e-4 : 0, !tp));
}
