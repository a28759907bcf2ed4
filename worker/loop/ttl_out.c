/* worker/loop/ttl_out.c -- the files of output.dir (see ttl_out.h):
 *   generated_predictions.jsonl  {"prompt","label","predict"} per sample, stream order,
 *                                as LLaMA-Factory's save_predictions writes them
 *                                (json.dumps, ensure_ascii=False: UTF-8, ", " / ": ");
 *   scores.jsonl                 {sample, rank, step, tokens, ce, ppl, selected, weight};
 *   metrics.jsonl                one line per update step;
 *   summary.json                 the end-of-run summary (written atomically). */
#include "worker/loop/ttl_out.h"


#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/base/atomic_file.h"

static const char *const k_names[TTL_OUT_N_FILES] = {
    [TTL_OUT_PREDICTIONS] = "generated_predictions.jsonl",
    [TTL_OUT_SCORES] = "scores.jsonl",
    [TTL_OUT_METRICS] = "metrics.jsonl",
    [TTL_OUT_SUMMARY] = "summary.json",
};

const char *ttl_out_name(TtlOutFile f) {
    return (unsigned)f < TTL_OUT_N_FILES ? k_names[f] : "?";
}

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

static FILE *open_file(const TtlOut *o, TtlOutFile f, Err *err) {
    char path[JOB_PATH_BYTES + 64];
    snprintf(path, sizeof path, "%s/%s", o->dir, k_names[f]);
    FILE *fp = fopen(path, "w");
    if (fp == NULL)
        err_set(err, "cannot write %s: %s", path, strerror(errno));
    return fp;
}

int ttl_out_open(TtlOut *o, const char *dir, Err *err) {
    memset(o, 0, sizeof *o);
    snprintf(o->dir, sizeof o->dir, "%s", dir);
    if (make_dirs(dir, err) != 0)
        return -1;
    for (int f = 0; f < TTL_OUT_SUMMARY; f++)
        if ((o->jsonl[f] = open_file(o, (TtlOutFile)f, err)) == NULL) {
            ttl_out_close(o);
            return -1;
        }
    return 0;
}

/* Cuts dir/name back to its first n_lines lines (the bytes after them are the run's
 * work after the checkpoint), then opens it for appending. */
static FILE *cut_and_open(const char *dir, const char *name, int64_t n_lines, Err *err) {
    char path[JOB_PATH_BYTES + 64];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (f == NULL && !(errno == ENOENT && n_lines == 0)) {
        err_set(err, "resume: cannot read %s: %s", path, strerror(errno));
        return NULL;
    }
    int64_t lines = 0, off = 0, pos = 0;
    char buf[65536];
    size_t got;
    while (f != NULL && lines < n_lines && (got = fread(buf, 1, sizeof buf, f)) > 0) {
        for (size_t i = 0; i < got && lines < n_lines; i++)
            if (buf[i] == '\n' && ++lines == n_lines)
                off = pos + (int64_t)i + 1;
        pos += (int64_t)got;
    }
    if (f != NULL)
        fclose(f);
    if (lines < n_lines) {
        err_set(err, "resume: %s has %lld complete lines, the checkpoint counts %lld: "
                "outputs were lost or belong to another run", path, (long long)lines,
                (long long)n_lines);
        return NULL;
    }
    if (f != NULL && truncate(path, (off_t)off) != 0) {
        err_set(err, "resume: cannot cut %s back to %lld lines: %s", path,
                (long long)n_lines, strerror(errno));
        return NULL;
    }
    if ((f = fopen(path, "a")) == NULL)
        err_set(err, "resume: cannot append to %s: %s", path, strerror(errno));
    return f;
}

int ttl_out_reopen(TtlOut *o, const char *dir, const int64_t n_lines[TTL_OUT_SUMMARY],
                   Err *err) {
    memset(o, 0, sizeof *o);
    snprintf(o->dir, sizeof o->dir, "%s", dir);
    for (int f = 0; f < TTL_OUT_SUMMARY; f++)
        if ((o->jsonl[f] = cut_and_open(o->dir, k_names[f], n_lines[f], err)) == NULL) {
            ttl_out_close(o);
            return -1;
        }
    return 0;
}

void ttl_out_close(TtlOut *o) {
    for (int f = 0; f < TTL_OUT_SUMMARY; f++)
        if (o->jsonl[f] != NULL) {
            fclose(o->jsonl[f]);
            o->jsonl[f] = NULL;
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

int ttl_out_batch(TtlOut *o, const TtlBatch *b, const Tokenizer *tok, int32_t from,
                  int32_t to, int pred, int scores, Err *err) {
    for (int32_t i = from; i < to; i++) {
        const int64_t sample = b->first + i;
        if (pred) {
            char *text = NULL;
            if (tok_decode(tok, b->gen + (int64_t)i * b->gen_stride, b->gen_lens[i], 1, &text,
                           err) != 0)
                return err_prefix(err, "decoding the answer of sample %lld: ",
                                  (long long)sample);
            json_t *j = json_pack("{s:s, s:s, s:s}", "prompt", b->prompt[i], "label",
                                  b->label[i], "predict", text);
            free(text);
            if (put_line(o->jsonl[TTL_OUT_PREDICTIONS], j) != 0)
                return err_set(err, "writing %s/%s (sample %lld) failed: %s", o->dir,
                               k_names[TTL_OUT_PREDICTIONS], (long long)sample,
                               strerror(errno));
        }
        if (scores) {
            const TtlScore *s = &b->scores[i];
            json_t *j = json_pack("{s:I, s:i, s:I, s:i, s:f, s:f, s:b, s:f}", "sample",
                                  (json_int_t)sample, "rank", s->rank, "step",
                                  (json_int_t)s->step, "tokens", s->tokens, "ce", (double)s->ce,
                                  "ppl", exp((double)s->ce), "selected", s->selected != 0,
                                  "weight", (double)s->weight);
            /* ce over the sample's own text and over every input token: one of them is
             * the score (method.loss_tokens), the other the same forward seen the other
             * way; null for a sample without such tokens */
            if (j != NULL)
                json_object_set_new(j, "ce_all", s->ce_all >= 0 ? json_real(s->ce_all)
                                                               : json_null());
            if (j != NULL)
                json_object_set_new(j, "ce_content", s->ce_content >= 0
                                                         ? json_real(s->ce_content)
                                                         : json_null());
            if (put_line(o->jsonl[TTL_OUT_SCORES], j) != 0)
                return err_set(err, "writing %s/%s (sample %lld) failed: %s", o->dir,
                               k_names[TTL_OUT_SCORES], (long long)sample, strerror(errno));
        }
    }
    if (o->failed)
        return err_set(err, "%s", o->io_err.msg);
    for (int f = 0; f < TTL_OUT_SUMMARY; f++)
        if (sync_file(o->jsonl[f]) != 0)
            return err_set(err, "flushing the outputs in %s failed: %s", o->dir,
                           strerror(errno));
    return 0;
}

void ttl_out_metrics(TtlOut *o, const TtlStepStats *st, double tokens_per_s) {
    json_t *j = json_pack("{s:I, s:f, s:f, s:I, s:I, s:I, s:f, s:f, s:f}", "step",
                          (json_int_t)st->step, "loss", st->loss, "mean_ce", st->mean_ce,
                          "selected", (json_int_t)st->selected, "samples",
                          (json_int_t)st->samples, "tokens", (json_int_t)st->tokens, "lr",
                          st->lr, "grad_norm", st->grad_norm, "tokens_per_s", tokens_per_s);
    if (put_line(o->jsonl[TTL_OUT_METRICS], j) != 0 && !o->failed) {
        o->failed = 1;
        err_set(&o->io_err, "writing %s/%s (step %lld) failed: %s", o->dir,
                k_names[TTL_OUT_METRICS], (long long)st->step, strerror(errno));
    }
}

int ttl_out_summary(const TtlOut *o, const TtlSummary *s, const JobSpec *job,
                    const char *backend, Err *err) {
    json_t *j = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:f, s:I, s:I, s:I, s:I, s:f, s:f, s:I, s:I,"
        " s:{s:f, s:f, s:f, s:f}, s:b}",
        "model", job->model.path, "data", job->data.path, "method",
        job_method_name(job->method.name), "setting", job_setting_name(job->method.setting),
        "backend", backend, "samples", (json_int_t)s->samples, "selected",
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
        return err_set(err, "out of memory writing %s", k_names[TTL_OUT_SUMMARY]);
    char path[JOB_PATH_BYTES + 64];
    snprintf(path, sizeof path, "%s/%s", o->dir, k_names[TTL_OUT_SUMMARY]);
    AtomicFile *af = af_open(path, err);
    int rc = af == NULL ? -1 : af_write(af, text, strlen(text), err);
    if (rc == 0)
        rc = af_write(af, "\n", 1, err);
    rc = rc == 0 ? af_commit(af, err) : (af_abort(af), -1);
    free(text);
    return rc;
}
