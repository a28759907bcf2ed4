/* worker/loop/ttl_out.c -- the files a run leaves in output.dir (DESIGN §5, §6):
 *   generated_predictions.jsonl  {"prompt","label","predict"} per sample, stream order,
 *                                as LLaMA-Factory's save_predictions writes them
 *                                (json.dumps, ensure_ascii=False: UTF-8, ", " / ": ");
 *   scores.jsonl                 {sample, rank, step, tokens, ce, ppl, selected, weight};
 *   metrics.jsonl                one line per update step;
 *   summary.json                 the end-of-run summary (written atomically).
 * The JSONL files are appended per batch and fsync'd before the next batch starts, so a
 * crash loses at most the batch in flight. Only world rank 0 calls these. */
#include "worker/loop/ttl_impl.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/base/atomic_file.h"

/* mkdir -p */
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

static FILE *open_file(const TtlOut *o, const char *name, Err *err) {
    char path[JOB_PATH_BYTES + 64];
    snprintf(path, sizeof path, "%s/%s", o->dir, name);
    FILE *f = fopen(path, "w");
    if (f == NULL)
        err_set(err, "cannot write %s: %s", path, strerror(errno));
    return f;
}

int ttl_out_open(TtlOut *o, const char *dir, Err *err) {
    memset(o, 0, sizeof *o);
    snprintf(o->dir, sizeof o->dir, "%s", dir);
    if (make_dirs(dir, err) != 0 ||
        (o->pred = open_file(o, "generated_predictions.jsonl", err)) == NULL ||
        (o->scores = open_file(o, "scores.jsonl", err)) == NULL ||
        (o->metrics = open_file(o, "metrics.jsonl", err)) == NULL) {
        ttl_out_close(o);
        return -1;
    }
    return 0;
}

void ttl_out_close(TtlOut *o) {
    FILE **fs[] = {&o->pred, &o->scores, &o->metrics};
    for (int i = 0; i < 3; i++)
        if (*fs[i] != NULL) {
            fclose(*fs[i]);
            *fs[i] = NULL;
        }
}

/* One JSON line; the object is consumed. */
static int put_line(FILE *f, json_t *obj) {
    char *s = obj != NULL ? json_dumps(obj, JSON_PRESERVE_ORDER) : NULL;
    json_decref(obj);
    if (s == NULL)
        return -1;
    const int rc = fputs(s, f) < 0 || fputc('\n', f) == EOF ? -1 : 0;
    free(s);
    return rc;
}

static int sync_file(FILE *f) { return fflush(f) != 0 || fsync(fileno(f)) != 0 ? -1 : 0; }

int ttl_out_batch(TtlOut *o, const Ttl *t, int32_t from, int32_t to, int pred, int scores,
                  Err *err) {
    const TtlBatch *b = &t->b;
    for (int32_t i = from; i < to; i++) {
        const int64_t sample = b->first + i;
        if (pred) {
            char *text = NULL;
            if (tok_decode(t->tok, b->gen + (int64_t)i * b->gen_stride, b->gen_lens[i], 1,
                           &text, err) != 0)
                return err_prefix(err, "decoding the answer of sample %lld: ",
                                  (long long)sample);
            json_t *j = json_pack("{s:s, s:s, s:s}", "prompt", b->prompt[i], "label",
                                  b->label[i], "predict", text);
            free(text);
            if (put_line(o->pred, j) != 0)
                return err_set(err, "writing %s/generated_predictions.jsonl (sample %lld) "
                               "failed: %s", o->dir, (long long)sample, strerror(errno));
        }
        if (scores) {
            const TtlScore *s = &b->scores[i];
            json_t *j = json_pack("{s:I, s:i, s:I, s:i, s:f, s:f, s:b, s:f}", "sample",
                                  (json_int_t)sample, "rank", s->rank, "step",
                                  (json_int_t)s->step, "tokens", s->tokens, "ce", (double)s->ce,
                                  "ppl", exp((double)s->ce), "selected", s->selected != 0,
                                  "weight", (double)s->weight);
            if (put_line(o->scores, j) != 0)
                return err_set(err, "writing %s/scores.jsonl (sample %lld) failed: %s",
                               o->dir, (long long)sample, strerror(errno));
        }
    }
    if (o->failed)
        return err_set(err, "%s", o->io_err.msg);
    if (sync_file(o->pred) != 0 || sync_file(o->scores) != 0 || sync_file(o->metrics) != 0)
        return err_set(err, "flushing the outputs in %s failed: %s", o->dir, strerror(errno));
    return 0;
}

void ttl_out_metrics(TtlOut *o, const TtlStepStats *st, double tokens_per_s) {
    json_t *j = json_pack("{s:I, s:f, s:f, s:I, s:I, s:I, s:f, s:f, s:f}", "step",
                          (json_int_t)st->step, "loss", st->loss, "mean_ce", st->mean_ce,
                          "selected", (json_int_t)st->selected, "samples",
                          (json_int_t)st->samples, "tokens", (json_int_t)st->tokens, "lr",
                          st->lr, "grad_norm", st->grad_norm, "tokens_per_s", tokens_per_s);
    if (put_line(o->metrics, j) != 0 && !o->failed) {
        o->failed = 1;
        err_set(&o->io_err, "writing %s/metrics.jsonl (step %lld) failed: %s", o->dir,
                (long long)st->step, strerror(errno));
    }
}

int ttl_out_summary(const TtlOut *o, const Ttl *t, Err *err) {
    const TtlSummary *s = &t->sum;
    const JobSpec *job = t->job;
    json_t *j = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:f, s:I, s:I, s:I, s:I, s:f, s:f, s:I, s:I,"
        " s:{s:f, s:f, s:f, s:f}, s:b}",
        "model", job->model.path, "data", job->data.path, "method",
        job_method_name(job->method.name), "setting", job_setting_name(job->method.setting),
        "backend", t->ops->name, "samples", (json_int_t)s->samples, "selected",
        (json_int_t)s->selected, "selected_pct",
        s->samples > 0 ? 100.0 * (double)s->selected / (double)s->samples : 0.0,
        "skipped_records", (json_int_t)s->skipped, "update_steps", (json_int_t)s->steps,
        "input_tokens", (json_int_t)s->input_tokens, "generated_tokens",
        (json_int_t)s->gen_tokens, "ppl_first_10pct", s->ppl_first, "ppl_last_10pct",
        s->ppl_last, "n_first_10pct", (json_int_t)s->n_first, "n_last_10pct",
        (json_int_t)s->n_last, "seconds", "generate", s->t_generate, "score", s->t_score,
        "update", s->t_update, "total", s->t_total, "interrupted", s->interrupted);
    char *text = j != NULL ? json_dumps(j, JSON_PRESERVE_ORDER | JSON_INDENT(1)) : NULL;
    json_decref(j);
    if (text == NULL)
        return err_set(err, "out of memory writing summary.json");
    char path[JOB_PATH_BYTES + 64];
    snprintf(path, sizeof path, "%s/summary.json", o->dir);
    AtomicFile *af = af_open(path, err);
    int rc = af == NULL ? -1 : af_write(af, text, strlen(text), err);
    if (rc == 0)
        rc = af_write(af, "\n", 1, err);
    rc = rc == 0 ? af_commit(af, err) : (af_abort(af), -1);
    free(text);
    return rc;
}
