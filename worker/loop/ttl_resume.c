/* worker/loop/ttl_resume.c -- `tlm run --resume auto|PATH` (DESIGN §5): finds and validates
 * the checkpoint, restores the adapter, AdamW moments, counters and score table, puts the
 * stream where the checkpoint left it, and cuts the output files back to the
 * checkpoint's line counts before appending, so no sample is predicted twice or lost and
 * the final adapter equals an uninterrupted run's on the same rank layout.
 * Refused: another model (config hash), a job that differs in a key that changes results
 * (every key except output.*, parallel.tp, model.path — the hash stands for the model —
 * and, online, data.max_samples may change as long as it keeps the samples done).
 * Rank layout: tp may change (the adapter is stored gathered); dp may change too, since
 * every checkpoint sits at a stream-batch boundary where every dp rank's position is the
 * same (re-sharding is the i mod dp rule on the next batch); the run then equals an
 * uninterrupted run on the new layout only up to reduction order (DESIGN §4), and says so. */
#include "worker/loop/ttl_impl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/ckpt/ckpt.h"
#include "io/base/log.h"
#include "io/model/model_config.h"

static int check_model(const Ttl *t, const char *path, const CkptState *st, Err *err) {
    const uint64_t h = cfg_hash(model_config(t->m));
    if (h != st->model_hash)
        return err_set(err, "checkpoint %s was written for model dir %s (config hash "
                       "%016llx), this job uses %s (config hash %016llx): a different model",
                       path, st->model_dir, (unsigned long long)st->model_hash,
                       t->job->model.path, (unsigned long long)h);
    if (strcmp(st->model_dir, t->job->model.path) != 0)
        log_info("resume: checkpoint %s names model dir %s; this job's %s has the same "
                 "config hash", path, st->model_dir, t->job->model.path);
    return 0;
}

/* job_diff over the result-relevant keys: the checkpoint's job with the free keys taken
 * from this job. */
static int check_job(const Ttl *t, const char *path, const CkptState *st, Err *err) {
    const JobSpec *job = t->job;
    JobSpec *old = malloc(sizeof *old);
    if (old == NULL)
        return err_set(err, "out of memory");
    if (job_load_string(st->job_yaml, path, old, err) != 0) {
        free(old);
        return err_prefix(err, "checkpoint %s: its /job does not load: ", path);
    }
    memcpy(&old->output, &job->output, sizeof old->output);
    memcpy(&old->parallel, &job->parallel, sizeof old->parallel);
    memcpy(old->model.path, job->model.path, sizeof old->model.path);
    const int online = old->method.setting == JOB_ONLINE;
    const int64_t ms = job->data.max_samples;
    if (online && (ms < 0 || ms >= st->samples_done))
        old->data.max_samples = ms;
    char diff[JOB_PATH_BYTES * 2 + 128];
    const int d = job_diff(old, job, diff, sizeof diff);
    free(old);
    if (d != 0)
        return err_set(err, "checkpoint %s was written for a different job: %s (checkpoint "
                       "vs this job); only output.*, parallel.tp and, online, a "
                       "data.max_samples that keeps the %lld samples done may change",
                       path, diff, (long long)st->samples_done);
    if (st->dp_size != t->core.dp_size)
        log_warn("resume: checkpoint %s was written with dp = %d, this run has dp = %d: the "
                 "stream is re-sharded at the checkpoint's batch boundary; results equal an "
                 "uninterrupted dp = %d run up to reduction order", path, st->dp_size,
                 t->core.dp_size, t->core.dp_size);
    return 0;
}

/* The checkpoint's tensors into this adapter (every tp rank keeps its slice). */
static int restore_adapter(Ttl *t, const char *path, const CkptState *st, Err *err) {
    int n;
    float *full[3];
    const CkptTensor *want = ttl_ckpt_tensors(t, &n, full);
    if (st->n_tensors != n)
        return err_set(err, "checkpoint %s: /adapter holds %d tensors, this adapter has %d",
                       path, st->n_tensors, n);
    for (int i = 0; i < n; i++) {
        const CkptTensor *g = &st->tensors[i], *w = &want[i];
        if (strcmp(g->name, w->name) != 0 || g->n_rows != w->n_rows || g->n_cols != w->n_cols)
            return err_set(err, "checkpoint %s: /adapter/%s (%lld, %lld), expected %s "
                           "(%lld, %lld)", path, g->name, (long long)g->n_rows,
                           (long long)g->n_cols, w->name, (long long)w->n_rows,
                           (long long)w->n_cols);
        const size_t nb = (size_t)(w->n_rows * w->n_cols) * sizeof(float);
        memcpy(w->param, g->param, nb);
        memcpy(w->adam_m, g->adam_m, nb);
        memcpy(w->adam_v, g->adam_v, nb);
    }
    lora_scatter(t->core.lora, LORA_PARAMS, full[0]);
    lora_scatter(t->core.lora, LORA_ADAM_M, full[1]);
    lora_scatter(t->core.lora, LORA_ADAM_V, full[2]);
    lora_zero_grads(t->core.lora);
    return 0;
}

/* Cuts dir/name back to its first n_lines lines (the bytes after them are the run's
 * work after the checkpoint), then opens it for appending. Errors: fewer lines than the
 * checkpoint counts (outputs lost or from another run), I/O. */
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

static int reopen_outputs(Ttl *t, const CkptState *st, int64_t answered, Err *err) {
    TtlOut *o = &t->out;
    memset(o, 0, sizeof *o);
    snprintf(o->dir, sizeof o->dir, "%s", t->job->output.dir);
    const int64_t n_metrics = t->core.method->updates ? st->step : 0;
    if ((o->pred = cut_and_open(o->dir, "generated_predictions.jsonl", answered, err)) ==
            NULL ||
        (o->scores = cut_and_open(o->dir, "scores.jsonl", st->samples_done, err)) == NULL ||
        (o->metrics = cut_and_open(o->dir, "metrics.jsonl", n_metrics, err)) == NULL) {
        ttl_out_close(o);
        return -1;
    }
    return 0;
}

/* The run's totals from the score table (what account() would have summed). */
static int restore_totals(Ttl *t, const CkptState *st, Err *err) {
    const CkptScores *s = &st->scores;
    if (s->n_rows != st->samples_done)
        return err_set(err, "/scores holds %lld rows, /state/samples_done is %lld",
                       (long long)s->n_rows, (long long)st->samples_done);
    t->all_ce = malloc((size_t)(s->n_rows > 0 ? s->n_rows : 1) * sizeof *t->all_ce);
    if (t->all_ce == NULL)
        return err_set(err, "out of memory for %lld scores", (long long)s->n_rows);
    t->cap_all = s->n_rows > 0 ? s->n_rows : 1;
    for (int64_t i = 0; i < s->n_rows; i++) {
        if (s->rows[i].sample != i)
            return err_set(err, "/scores row %lld is sample %lld, expected %lld",
                           (long long)i, (long long)s->rows[i].sample, (long long)i);
        t->all_ce[i] = s->rows[i].ce;
        t->sum.selected += s->rows[i].selected;
        t->sum.input_tokens += s->rows[i].tokens;
    }
    t->n_all = s->n_rows;
    t->sum.samples = s->n_rows;
    t->sum.steps = t->core.method->updates ? st->step : 0;
    return 0;
}

/* Online: reads past the samples done (ds_next skips bad records as the first run did). */
static int skip_stream(Ttl *t, int64_t n, Err *err) {
    for (int64_t i = 0; i < n; i++) {
        DsSample s = {0};
        const int rc = ds_next(t->ds, &s, err);
        ds_sample_free(&s);
        if (rc < 0)
            return -1;
        if (rc == 0)
            return err_set(err, "%s ends after %lld samples; the checkpoint has %lld done",
                           t->job->data.path, (long long)i, (long long)n);
    }
    return 0;
}

static int restore(Ttl *t, const char *path, CkptState *st, Err *err) {
    const JobSpec *job = t->job;
    if (t->core.lora == NULL)
        return err_set(err, "method %s trains no adapter and writes no checkpoints",
                       t->core.method->name);
    if (check_model(t, path, st, err) != 0 || check_job(t, path, st, err) != 0 ||
        restore_adapter(t, path, st, err) != 0)
        return -1;
    const int online = job->method.setting == JOB_ONLINE;
    const int64_t answered = st->stream_pos[0];
    for (int d = 1; d < st->dp_size; d++)
        if (st->stream_pos[d] != answered)
            return err_set(err, "checkpoint %s: /stream/position differs across dp ranks "
                           "(%lld vs %lld): not a batch boundary", path,
                           (long long)answered, (long long)st->stream_pos[d]);
    if (answered > st->samples_done || (online && answered != st->samples_done))
        return err_set(err, "checkpoint %s: %lld samples answered, %lld scored", path,
                       (long long)answered, (long long)st->samples_done);
    t->core.step = st->step;
    t->core.opt.step = st->optim_step;
    t->core.sched_step = st->schedule_pos;
    if (online && !job->optim.reset_per_batch) {
        const int64_t bs = job->optim.batch_size;
        t->core.sched_steps = (t->expected + bs - 1) / bs; /* as run_online begins it */
    }
    if (restore_totals(t, st, err) != 0)
        return err_prefix(err, "checkpoint %s: ", path);
    if (online && skip_stream(t, st->samples_done, err) != 0)
        return err_prefix(err, "resume from %s: ", path);
    if (t->writer && reopen_outputs(t, st, answered, err) != 0)
        return -1;
    ttl_ckpt_mark_resumed(t, st->step, answered, &st->scores);
    prog_scored(&t->prog, st->samples_done, t->sum.selected, t->sum.input_tokens, 0.0);
    log_info("resumed from %s: step %lld, %lld samples done, %lld answered", path,
             (long long)st->step, (long long)st->samples_done, (long long)answered);
    return 0;
}

int ttl_resume(Ttl *t, int *fresh, Err *err) {
    const char *spec = t->hooks.resume;
    const char *dir = t->job->output.dir;
    char path[CKPT_PATH_BYTES];
    *fresh = 0;
    if (strcmp(spec, "auto") == 0) {
        const int rc = ckpt_latest_valid(dir, path, sizeof path, NULL, err);
        if (rc < 0)
            return err_prefix(err, "--resume auto in %s: ", dir);
        if (rc == 0) {
            log_info("--resume auto: no checkpoint in %s; starting from the beginning", dir);
            *fresh = 1;
            return 0;
        }
    } else {
        snprintf(path, sizeof path, "%s", spec);
    }
    CkptState st;
    int rc = ckpt_read(path, &st, err);
    if (rc == 0)
        rc = restore(t, path, &st, err);
    ckpt_free(&st);
    return rc;
}
