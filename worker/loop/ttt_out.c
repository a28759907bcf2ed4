/* worker/loop/ttt_out.c -- the files of a ttt run (see ttt_impl.h and ttt.h):
 *   generated_predictions.jsonl  one line per query, task order (LLaMA-Factory's
 *                                prompt/label/predict plus task, query, votes, label ce)
 *   ttt_tasks.jsonl              one line per task: its training metrics, wall times
 *   ttt_progress.json            tasks done, the two files' line counts, the totals and
 *                                the job: rewritten atomically after every round, after
 *                                the round's lines are fsync'd (a resume cuts the files
 *                                back to its counts and skips its tasks)
 *   summary.json                 at the end.
 * A task's adapter lives and dies inside its round, so a task boundary holds no other
 * state: the progress record is the whole checkpoint. */
#include "worker/loop/ttt_impl.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/base/atomic_file.h"
#include "io/base/log.h"

static const char k_pred[] = "generated_predictions.jsonl", k_tasks[] = "ttt_tasks.jsonl",
                  k_progress[] = "ttt_progress.json", k_summary[] = "summary.json";

static const char *const k_total_names[TTT_N_TOTALS] = {
    "tasks", "queries", "labeled", "exact_match", "steps", "label_ce_sum",
    "label_ce_base_sum", "train_seconds", "answer_seconds", "generated_tokens"};

static int make_dirs(const char *dir, Err *err) {
    char buf[JOB_PATH_BYTES];
    snprintf(buf, sizeof buf, "%s", dir);
    for (char *p = buf + 1;; p++) {
        const char c = *p;
        if (c != '/' && c != '\0')
            continue;
        *p = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return err_set(err, "output.dir: cannot create %s: %s", buf, strerror(errno));
        *p = c;
        if (c == '\0')
            return 0;
    }
}

/* dir/name cut back to its first n_lines lines, then opened for appending ("w" when
 * n_lines is -1: a fresh run). */
static FILE *open_cut(const char *dir, const char *name, int64_t n_lines, Err *err) {
    char path[JOB_PATH_BYTES + 64];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, n_lines < 0 ? "w" : "rb");
    if (n_lines < 0 || (f == NULL && errno == ENOENT && n_lines == 0)) {
        if (f == NULL && (f = fopen(path, "w")) == NULL)
            err_set(err, "cannot write %s: %s", path, strerror(errno));
        return f;
    }
    if (f == NULL) {
        err_set(err, "resume: cannot read %s: %s", path, strerror(errno));
        return NULL;
    }
    int64_t lines = 0, off = 0;
    for (int c; lines < n_lines && (c = fgetc(f)) != EOF;) {
        off++;
        lines += c == '\n';
    }
    fclose(f);
    if (lines < n_lines) {
        err_set(err, "resume: %s has %lld complete lines, %s counts %lld: outputs were "
                "lost or belong to another run", path, (long long)lines, k_progress,
                (long long)n_lines);
        return NULL;
    }
    if (truncate(path, (off_t)off) != 0 || (f = fopen(path, "a")) == NULL)
        err_set(err, "resume: cannot cut %s back to %lld lines: %s", path, (long long)n_lines,
                strerror(errno));
    return f;
}

/* The job of a progress record against this one: only output.*, parallel.tp, model.path,
 * optim.gradient_checkpointing and data.max_samples may differ (a task's result does not
 * depend on them). */
static int check_job(const JobSpec *job, const char *yaml, const char *path, Err *err) {
    JobSpec *old = malloc(sizeof *old);
    if (old == NULL)
        return err_set(err, "out of memory");
    int rc = job_load_string(yaml, path, old, err);
    if (rc != 0)
        err_prefix(err, "resume: %s: its job does not load: ", path);
    char diff[JOB_PATH_BYTES * 2 + 128];
    if (rc == 0) {
        memcpy(&old->output, &job->output, sizeof old->output);
        memcpy(&old->parallel, &job->parallel, sizeof old->parallel);
        memcpy(old->model.path, job->model.path, sizeof old->model.path);
        old->data.max_samples = job->data.max_samples; /* more or fewer tasks to go */
        old->optim.gradient_checkpointing = job->optim.gradient_checkpointing;
        if (job_diff(old, job, diff, sizeof diff) != 0)
            rc = err_set(err, "resume: %s was written for a different job: %s (progress vs "
                         "this job); only output.*, parallel.tp, model.path, "
                         "optim.gradient_checkpointing and data.max_samples may change",
                         path, diff);
    }
    free(old);
    return rc;
}

/* Reads a progress record into t (tasks done, totals) and the two line counts. */
static int read_progress(Ttt *t, const char *path, int64_t lines[2], Err *err) {
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    if (j == NULL)
        return err_set(err, "resume: %s: %s (line %d)", path, je.text, je.line);
    json_t *done = json_object_get(j, "tasks_done"), *tot = json_object_get(j, "totals");
    json_t *pl = json_object_get(j, "prediction_lines"), *tl = json_object_get(j, "task_lines");
    json_t *yaml = json_object_get(j, "job");
    int rc = 0;
    if (!json_is_integer(done) || !json_is_integer(pl) || !json_is_integer(tl) ||
        !json_is_object(tot) || !json_is_string(yaml))
        rc = err_set(err, "resume: %s: expected integers tasks_done, prediction_lines, "
                     "task_lines, an object totals and a string job", path);
    if (rc == 0)
        rc = check_job(t->job, json_string_value(yaml), path, err);
    if (rc == 0) {
        t->tasks_done = json_integer_value(done);
        lines[0] = json_integer_value(pl);
        lines[1] = json_integer_value(tl);
        for (int k = 0; k < TTT_N_TOTALS; k++)
            t->totals[k] = json_number_value(json_object_get(tot, k_total_names[k]));
    }
    json_decref(j);
    return rc;
}

static int write_progress(const Ttt *t, Err *err) {
    char *yaml = job_to_yaml(t->job);
    json_t *tot = json_object();
    for (int k = 0; k < TTT_N_TOTALS && tot != NULL; k++)
        json_object_set_new(tot, k_total_names[k], json_real(t->totals[k]));
    json_t *j = yaml != NULL ? json_pack("{s:I, s:I, s:I, s:o, s:s}", "tasks_done",
                                         (json_int_t)t->tasks_done, "prediction_lines",
                                         (json_int_t)t->out.pred_lines, "task_lines",
                                         (json_int_t)t->out.task_lines, "totals", tot, "job",
                                         yaml)
                             : NULL;
    free(yaml);
    char *text = j != NULL ? json_dumps(j, JSON_PRESERVE_ORDER | JSON_INDENT(1)) : NULL;
    json_decref(j);
    if (text == NULL)
        return err_set(err, "out of memory writing %s", k_progress);
    char path[JOB_PATH_BYTES + 64];
    snprintf(path, sizeof path, "%s/%s", t->out.dir, k_progress);
    const int rc = af_write_line(path, text, err);
    free(text);
    return rc;
}

/* The writer's side of ttt_out_open. */
static int open_files(Ttt *t, Err *err) {
    TttOut *o = &t->out;
    const char *resume = t->hooks.resume;
    char path[JOB_PATH_BYTES + 64];
    snprintf(path, sizeof path, "%s/%s", o->dir, k_progress);
    int64_t lines[2] = {-1, -1};
    if (resume != NULL && resume[0] != '\0') {
        const int is_auto = strcmp(resume, "auto") == 0;
        if (!is_auto)
            snprintf(path, sizeof path, "%s", resume);
        if ((!is_auto || access(path, F_OK) == 0) && read_progress(t, path, lines, err) != 0)
            return -1;
        if (lines[0] >= 0)
            log_info("resuming %s after %lld tasks (%s)", tf_path(t->tf),
                     (long long)t->tasks_done, path);
    }
    /* a summary.json says "finished"; once the outputs change, it is not */
    snprintf(path, sizeof path, "%s/%s", o->dir, k_summary);
    if (unlink(path) != 0 && errno != ENOENT)
        return err_set(err, "cannot remove the earlier %s: %s", path, strerror(errno));
    if (make_dirs(o->dir, err) != 0 ||
        (o->pred = open_cut(o->dir, k_pred, lines[0], err)) == NULL ||
        (o->tasks = open_cut(o->dir, k_tasks, lines[1], err)) == NULL)
        return -1;
    o->pred_lines = lines[0] > 0 ? lines[0] : 0;
    o->task_lines = lines[1] > 0 ? lines[1] : 0;
    return write_progress(t, err);
}

int ttt_out_open(Ttt *t, Err *err) {
    snprintf(t->out.dir, sizeof t->out.dir, "%s", t->job->output.dir);
    int64_t done = 0;
    if (t->writer) {
        if (open_files(t, err) != 0)
            return -1;
        done = t->tasks_done;
    }
    Comm *c = t->hooks.comm;
    if (c != NULL && comm_size(c, COMM_WORLD) > 1 &&
        comm_all_reduce(c, COMM_WORLD, &done, 1, COMM_I64, COMM_MAX, err) != 0)
        return err_prefix(err, "sharing the tasks done over the world: ");
    t->tasks_done = done;
    return 0;
}

static int64_t count_lines(const char *s, size_t n) {
    int64_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += s[i] == '\n';
    return k;
}

static int append_lines(TttOut *o, const char *pred, size_t n_pred, const char *tasks,
                        size_t n_tasks, Err *err) {
    if (fwrite(pred, 1, n_pred, o->pred) != n_pred ||
        fwrite(tasks, 1, n_tasks, o->tasks) != n_tasks || fflush(o->pred) != 0 ||
        fflush(o->tasks) != 0 || fsync(fileno(o->pred)) != 0 || fsync(fileno(o->tasks)) != 0)
        return err_set(err, "writing %s/%s or %s failed: %s", o->dir, k_pred, k_tasks,
                       strerror(errno));
    o->pred_lines += count_lines(pred, n_pred);
    o->task_lines += count_lines(tasks, n_tasks);
    return 0;
}

/* Every dp rank's round text (pred lines then task lines, with their byte counts) to
 * every rank, as int32 words padded to the longest. */
static int gather_round(Ttt *t, Err *err) {
    Comm *c = t->hooks.comm;
    const int dp = t->dp_size;
    int64_t *sizes = calloc((size_t)dp * 2, sizeof *sizes);
    int64_t mine[2] = {(int64_t)t->pred_lines.n_bytes, (int64_t)t->task_lines.n_bytes};
    if (sizes == NULL)
        return err_set(err, "out of memory");
    int rc = comm_all_gather(c, COMM_DP, mine, sizes, 2, COMM_I64, err);
    int64_t most = 0;
    for (int r = 0; r < dp; r++)
        most = sizes[2 * r] + sizes[2 * r + 1] > most ? sizes[2 * r] + sizes[2 * r + 1] : most;
    const int64_t words = (most + 3) / 4 + 1;
    int32_t *send = rc == 0 ? calloc((size_t)words, 4) : NULL;
    int32_t *recv = rc == 0 ? calloc((size_t)(words * dp), 4) : NULL;
    if (rc == 0 && (send == NULL || recv == NULL))
        rc = err_set(err, "out of memory gathering a round of %d tasks", dp);
    if (rc == 0) {
        memcpy(send, t->pred_lines.data, (size_t)mine[0]);
        memcpy((char *)send + mine[0], t->task_lines.data, (size_t)mine[1]);
        rc = comm_all_gather(c, COMM_DP, send, recv, words, COMM_I32, err);
    }
    for (int r = 0; r < dp && rc == 0 && t->writer; r++) {
        const char *at = (const char *)(recv + (int64_t)r * words);
        rc = append_lines(&t->out, at, (size_t)sizes[2 * r], at + sizes[2 * r],
                          (size_t)sizes[2 * r + 1], err);
    }
    free(sizes);
    free(send);
    free(recv);
    return rc != 0 ? err_prefix(err, "a round of tasks over %d dp ranks: ", dp) : 0;
}

int ttt_out_round(Ttt *t, int64_t n_tasks, Err *err) {
    Comm *c = t->hooks.comm;
    int rc;
    if (c == NULL || t->dp_size == 1)
        rc = !t->writer ? 0
                        : append_lines(&t->out, t->pred_lines.data, t->pred_lines.n_bytes,
                                       t->task_lines.data, t->task_lines.n_bytes, err);
    else
        rc = gather_round(t, err);
    if (rc == 0 && c != NULL && t->dp_size > 1 &&
        comm_all_reduce(c, COMM_DP, t->round, TTT_N_TOTALS, COMM_F64, COMM_SUM, err) != 0)
        rc = err_prefix(err, "summing a round's totals over dp: ");
    for (int k = 0; k < TTT_N_TOTALS; k++)
        t->totals[k] += t->round[k];
    memset(t->round, 0, sizeof t->round);
    t->pred_lines.n_bytes = 0;
    t->task_lines.n_bytes = 0;
    t->tasks_done += n_tasks;
    return rc == 0 && t->writer ? write_progress(t, err) : rc;
}

int ttt_out_summary(const Ttt *t, double seconds, Err *err) {
    const double *v = t->totals;
    const double lab = v[TTT_LABELED];
    json_t *tot = json_object();
    for (int k = 0; k < TTT_N_TOTALS && tot != NULL; k++)
        json_object_set_new(tot, k_total_names[k], json_real(v[k]));
    char data_src[JOB_MAX_DATASETS * JOB_NAME_BYTES + JOB_PATH_BYTES + 16];
    job_data_source(t->job, data_src, sizeof data_src);
    json_t *j = json_pack("{s:s, s:s, s:s, s:I, s:I, s:o*, s:o*, s:o*, s:f, s:f, s:b, s:o}",
                          "model", t->job->model.path, "data", data_src, "method",
                          "ttt", "tasks", (json_int_t)v[TTT_TASKS], "queries",
                          (json_int_t)v[TTT_QUERIES], "label_ce",
                          lab > 0 ? json_real(v[TTT_CE_SUM] / lab) : NULL, "label_ce_base",
                          lab > 0 ? json_real(v[TTT_CE_BASE_SUM] / lab) : NULL, "exact_match",
                          lab > 0 ? json_real(v[TTT_CORRECT] / lab) : NULL, "seconds", seconds,
                          "seconds_per_task",
                          v[TTT_TASKS] > 0 ? (v[TTT_T_TRAIN] + v[TTT_T_PREDICT]) / v[TTT_TASKS]
                                           : 0.0,
                          "interrupted", t->interrupted, "totals", tot);
    char *text = j != NULL ? json_dumps(j, JSON_PRESERVE_ORDER | JSON_INDENT(1)) : NULL;
    json_decref(j);
    if (text == NULL)
        return err_set(err, "out of memory writing %s", k_summary);
    char path[JOB_PATH_BYTES + 64];
    snprintf(path, sizeof path, "%s/%s", t->out.dir, k_summary);
    const int rc = af_write_line(path, text, err);
    free(text);
    return rc;
}

void ttt_out_close(TttOut *o) {
    if (o->pred != NULL)
        fclose(o->pred);
    if (o->tasks != NULL)
        fclose(o->tasks);
    o->pred = o->tasks = NULL;
}
