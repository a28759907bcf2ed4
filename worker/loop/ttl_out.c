/* worker/loop/ttl_out.c -- the files of output.dir (see ttl_out.h):
 *   generated_predictions.jsonl  {"prompt","label","predict"} per sample, stream order,
 *                                as LLaMA-Factory's save_predictions writes them
 *                                (json.dumps, ensure_ascii=False: UTF-8, ", " / ": ");
 *   scores.jsonl                 {sample, rank, step, tokens, ce, ppl, selected, weight};
 *   metrics.jsonl                one line per update step;
 *   summary.json                 the end-of-run summary (written atomically).
 * Plain file descriptors, no stdio buffer: a batch's bytes are in `pending` until
 * ttl_out_batch writes them, so a failed write can be undone exactly (ftruncate to
 * `good`) with nothing left in a buffer to reappear later. */
#include "worker/loop/ttl_out.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/base/atomic_file.h"
#include "io/base/log.h"
#include "io/base/strbuf.h"

static const char *const k_names[TTL_OUT_N_FILES] = {
    [TTL_OUT_PREDICTIONS] = "generated_predictions.jsonl",
    [TTL_OUT_SCORES] = "scores.jsonl",
    [TTL_OUT_METRICS] = "metrics.jsonl",
    [TTL_OUT_SUMMARY] = "summary.json",
};

const char *ttl_out_name(TtlOutFile f) {
    return (unsigned)f < TTL_OUT_N_FILES ? k_names[f] : "?";
}

int ttl_out_make_dir(const char *dir, Err *err) {
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

static void file_path(const char *dir, TtlOutFile f, char *path, size_t n) {
    snprintf(path, n, "%s/%s", dir, k_names[f]);
}

/* Opens file f for appending (flags: O_TRUNC to empty it) and records its size. */
static int open_file(TtlOut *o, TtlOutFile f, int flags, Err *err) {
    char path[JOB_PATH_BYTES + 64];
    file_path(o->dir, f, path, sizeof path);
    const int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | flags, 0644);
    if (fd < 0)
        return err_set(err, "cannot write %s: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        const int e = errno;
        close(fd);
        return err_set(err, "cannot stat %s: %s", path, strerror(e));
    }
    o->fd[f] = fd;
    o->is_open[f] = 1;
    o->good[f] = (int64_t)sb.st_size;
    return 0;
}

/* A summary.json says "this run is finished"; once the outputs change, it is not. */
static int unfinish(const TtlOut *o, Err *err) {
    char path[JOB_PATH_BYTES + 64];
    file_path(o->dir, TTL_OUT_SUMMARY, path, sizeof path);
    if (unlink(path) != 0 && errno != ENOENT)
        return err_set(err, "cannot remove the earlier %s: %s", path, strerror(errno));
    return 0;
}

int ttl_out_open(TtlOut *o, const char *dir, Err *err) {
    memset(o, 0, sizeof *o);
    snprintf(o->dir, sizeof o->dir, "%s", dir);
    if (ttl_out_make_dir(dir, err) != 0 || unfinish(o, err) != 0)
        return -1;
    for (int f = 0; f < TTL_OUT_SUMMARY; f++)
        if (open_file(o, (TtlOutFile)f, O_TRUNC, err) != 0) {
            ttl_out_close(o);
            return -1;
        }
    return 0;
}

/* The byte offset just after the first n_lines lines of path (a missing file holds 0). */
static int line_offset(const char *path, int64_t n_lines, int64_t *off, Err *err) {
    *off = 0;
    FILE *f = fopen(path, "rb");
    if (f == NULL && !(errno == ENOENT && n_lines == 0))
        return err_set(err, "resume: cannot read %s: %s", path, strerror(errno));
    int64_t lines = 0, pos = 0;
    char buf[65536];
    size_t got;
    while (f != NULL && lines < n_lines && (got = fread(buf, 1, sizeof buf, f)) > 0) {
        for (size_t i = 0; i < got && lines < n_lines; i++)
            if (buf[i] == '\n' && ++lines == n_lines)
                *off = pos + (int64_t)i + 1;
        pos += (int64_t)got;
    }
    if (f != NULL)
        fclose(f);
    if (lines < n_lines)
        return err_set(err, "resume: %s has %lld complete lines, the checkpoint counts %lld: "
                       "outputs were lost or belong to another run", path, (long long)lines,
                       (long long)n_lines);
    return 0;
}

int ttl_out_reopen(TtlOut *o, const char *dir, const int64_t n_lines[TTL_OUT_SUMMARY],
                   Err *err) {
    memset(o, 0, sizeof *o);
    snprintf(o->dir, sizeof o->dir, "%s", dir);
    if (unfinish(o, err) != 0)
        return -1;
    for (int f = 0; f < TTL_OUT_SUMMARY; f++) {
        char path[JOB_PATH_BYTES + 64];
        file_path(dir, (TtlOutFile)f, path, sizeof path);
        int64_t off;
        if (line_offset(path, n_lines[f], &off, err) != 0 ||
            open_file(o, (TtlOutFile)f, 0, err) != 0) {
            ttl_out_close(o);
            return -1;
        }
        /* the bytes after those lines are the run's work after the checkpoint */
        if (ftruncate(o->fd[f], (off_t)off) != 0) {
            err_set(err, "resume: cannot cut %s back to %lld lines: %s", path,
                    (long long)n_lines[f], strerror(errno));
            ttl_out_close(o);
            return -1;
        }
        o->good[f] = off;
    }
    return 0;
}

void ttl_out_close(TtlOut *o) {
    for (int f = 0; f < TTL_OUT_SUMMARY; f++) {
        if (o->is_open[f])
            close(o->fd[f]);
        o->is_open[f] = 0;
        strbuf_free(&o->pending[f]);
    }
}

/* One JSON line into file f's pending bytes; the object is consumed. Errors: a value
 * JSON cannot hold (json_pack gives NULL for a NaN), out of memory. */
static int keep_line(TtlOut *o, TtlOutFile f, json_t *obj, Err *err) {
    char *s = obj != NULL ? json_dumps(obj, JSON_PRESERVE_ORDER) : NULL;
    json_decref(obj);
    if (s == NULL)
        return err_set(err, "a line of %s/%s could not be encoded as JSON (a non-finite "
                       "number, or out of memory)", o->dir, k_names[f]);
    int rc = strbuf_append(&o->pending[f], s, strlen(s), err);
    if (rc == 0)
        rc = strbuf_append(&o->pending[f], "\n", 1, err);
    free(s);
    return rc;
}

/* Writes all of buf to fd; 0, or the errno of the failing write (ENOSPC for a write
 * that stopped short on a full disk). */
static int write_all(int fd, const char *buf, size_t n) {
    while (n > 0) {
        const ssize_t w = write(fd, buf, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return errno;
        if (w == 0)
            return ENOSPC;
        buf += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Every file back to its size at the last batch all of them hold; pending dropped. */
static void cut_back(TtlOut *o) {
    for (int f = 0; f < TTL_OUT_SUMMARY; f++) {
        if (o->is_open[f] && ftruncate(o->fd[f], (off_t)o->good[f]) == 0)
            (void)fsync(o->fd[f]);
        o->pending[f].n_bytes = 0;
    }
}

/* The pending bytes of every file appended and fsync'd, or all of them undone. */
static int flush_pending(TtlOut *o, Err *err) {
    for (int f = 0; f < TTL_OUT_SUMMARY; f++) {
        const StrBuf *p = &o->pending[f];
        int e = p->n_bytes > 0 ? write_all(o->fd[f], p->data, p->n_bytes) : 0;
        const char *what = "writing";
        if (e == 0 && fsync(o->fd[f]) != 0) {
            e = errno;
            what = "syncing";
        }
        if (e != 0) {
            cut_back(o);
            return err_set(err, "%s %s/%s failed: %s; the three JSONL files are cut back to "
                           "the last batch they all hold", what, o->dir, k_names[f],
                           strerror(e));
        }
    }
    for (int f = 0; f < TTL_OUT_SUMMARY; f++) {
        o->good[f] += (int64_t)o->pending[f].n_bytes;
        o->pending[f].n_bytes = 0;
    }
    return 0;
}

static json_t *prediction_json(const TtlBatch *b, int32_t i, const char *text) {
    return json_pack("{s:s, s:s, s:s}", "prompt", b->prompt[i], "label", b->label[i],
                     "predict", text);
}

static json_t *score_json(const TtlBatch *b, int32_t i) {
    const TtlScore *s = &b->scores[i];
    json_t *j = json_pack("{s:I, s:i, s:I, s:i, s:f, s:f, s:b, s:f}", "sample",
                          (json_int_t)(b->first + i), "rank", s->rank, "step",
                          (json_int_t)s->step, "tokens", s->tokens, "ce", (double)s->ce,
                          "ppl", exp((double)s->ce), "selected", s->selected != 0, "weight",
                          (double)s->weight);
    /* ce over the sample's own text and over every input token: one of them is the
     * score (method.loss_tokens), the other the same forward seen the other way; null
     * for a sample without such tokens */
    if (j != NULL)
        json_object_set_new(j, "ce_all", s->ce_all >= 0 ? json_real(s->ce_all) : json_null());
    if (j != NULL)
        json_object_set_new(j, "ce_content",
                            s->ce_content >= 0 ? json_real(s->ce_content) : json_null());
    return j;
}

/* The batch's lines into pending. */
static int keep_batch(TtlOut *o, const TtlBatch *b, const Tokenizer *tok, int32_t from,
                      int32_t to, int pred, int scores, Err *err) {
    for (int32_t i = from; i < to; i++) {
        const int64_t sample = b->first + i;
        if (pred) {
            char *text = NULL;
            if (tok_decode(tok, b->gen + (int64_t)i * b->gen_stride, b->gen_lens[i], 1, &text,
                           err) != 0)
                return err_prefix(err, "decoding the answer of sample %lld: ",
                                  (long long)sample);
            const int rc = keep_line(o, TTL_OUT_PREDICTIONS, prediction_json(b, i, text), err);
            free(text);
            if (rc != 0)
                return err_prefix(err, "sample %lld: ", (long long)sample);
        }
        if (scores && keep_line(o, TTL_OUT_SCORES, score_json(b, i), err) != 0)
            return err_prefix(err, "sample %lld: ", (long long)sample);
    }
    return 0;
}

int ttl_out_batch(TtlOut *o, const TtlBatch *b, const Tokenizer *tok, int32_t from,
                  int32_t to, int pred, int scores, Err *err) {
    if (o->failed || keep_batch(o, b, tok, from, to, pred, scores, err) != 0) {
        if (o->failed)
            err_set(err, "%s", o->io_err.msg);
        cut_back(o);
        return -1;
    }
    return flush_pending(o, err);
}

void ttl_out_metrics(TtlOut *o, const TtlStepStats *st, double tokens_per_s) {
    json_t *j = json_pack("{s:I, s:f, s:f, s:I, s:I, s:I, s:f, s:f, s:f}", "step",
                          (json_int_t)st->step, "loss", st->loss, "mean_ce", st->mean_ce,
                          "selected", (json_int_t)st->selected, "samples",
                          (json_int_t)st->samples, "tokens", (json_int_t)st->tokens, "lr",
                          st->lr, "grad_norm", st->grad_norm, "tokens_per_s", tokens_per_s);
    Err e = {{0}};
    if (!o->failed && keep_line(o, TTL_OUT_METRICS, j, &e) != 0) {
        o->failed = 1;
        err_set(&o->io_err, "step %lld: %s", (long long)st->step, e.msg);
    } else if (o->failed) {
        json_decref(j);
    }
}

int ttl_out_summary(const TtlOut *o, const TtlSummary *s, const JobSpec *job,
                    const char *backend, Err *err) {
    char data_src[JOB_MAX_DATASETS * JOB_NAME_BYTES + JOB_PATH_BYTES + 16];
    job_data_source(job, data_src, sizeof data_src);
    json_t *j = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:f, s:I, s:I, s:I, s:I, s:f, s:f, s:I, s:I,"
        " s:{s:f, s:f, s:f, s:f}, s:b, s:I}",
        "model", job->model.path, "data", data_src, "method",
        job_method_name(job->method.name), "setting", job_setting_name(job->method.setting),
        "backend", backend, "samples", (json_int_t)s->samples, "selected",
        (json_int_t)s->selected, "selected_pct",
        s->samples > 0 ? 100.0 * (double)s->selected / (double)s->samples : 0.0,
        "skipped_records", (json_int_t)s->skipped, "update_steps", (json_int_t)s->steps,
        "input_tokens", (json_int_t)s->input_tokens, "generated_tokens",
        (json_int_t)s->gen_tokens, "ppl_first_10pct", s->ppl_first, "ppl_last_10pct",
        s->ppl_last, "n_first_10pct", (json_int_t)s->n_first, "n_last_10pct",
        (json_int_t)s->n_last, "seconds", "generate", s->t_generate, "score", s->t_score,
        "update", s->t_update, "total", s->t_total, "interrupted", s->interrupted,
        "above_threshold", (json_int_t)s->above_threshold);
    char *text = j != NULL ? json_dumps(j, JSON_PRESERVE_ORDER | JSON_INDENT(1)) : NULL;
    json_decref(j);
    if (text == NULL)
        return err_set(err, "%s/%s could not be encoded as JSON (a non-finite number, or "
                       "out of memory)", o->dir, k_names[TTL_OUT_SUMMARY]);
    char path[JOB_PATH_BYTES + 64];
    file_path(o->dir, TTL_OUT_SUMMARY, path, sizeof path);
    AtomicFile *af = af_open(path, err);
    int rc = af == NULL ? -1 : af_write(af, text, strlen(text), err);
    if (rc == 0)
        rc = af_write(af, "\n", 1, err);
    rc = rc == 0 ? af_commit(af, err) : (af != NULL ? (af_abort(af), -1) : -1);
    free(text);
    return rc;
}

int ttl_out_reference_layout(const JobSpec *job, Err *err) {
    char src[JOB_PATH_BYTES + 64], dir[JOB_PATH_BYTES + 96], dst[JOB_PATH_BYTES + 160];
    snprintf(src, sizeof src, "%s/generated_predictions.jsonl", job->output.dir);
    snprintf(dir, sizeof dir, "%s/predict-temperature_0.0-max_new_tokens_%lld",
             job->output.dir, (long long)job->generate.max_new_tokens);
    snprintf(dst, sizeof dst, "%s/generated_predictions.jsonl", dir);
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return err_set(err, "output.reference_layout: cannot create %s: %s", dir, strerror(errno));
    FILE *f = fopen(src, "rb");
    if (f == NULL)
        return err_set(err, "output.reference_layout: cannot open %s: %s", src, strerror(errno));
    StrBuf text = {0};
    int rc = strbuf_read_stream(&text, f, err);
    fclose(f);
    if (rc == 0)
        rc = af_write_file(dst, text.data, text.n_bytes, err);
    strbuf_free(&text);
    if (rc == 0)
        log_info("tlm run: predictions also in %s (the reference's layout)", dst);
    return rc;
}
