/* worker/loop/ttl_ckpt.c -- the loop's state in and out of checkpoints (see ttl_ckpt.h). A
 * checkpoint is taken only at a consistent point: online at the end of a stream batch,
 * after its answers, scores and metrics are fsync'd, so the state is "the first
 * samples_done samples are finished". Mid-batch points would need the batch's
 * generations (made with the batch-start adapter, and read by tent/eata's losses) in the
 * checkpoint; the batch boundary needs nothing extra, at the cost that a stop waits for
 * the batch in flight. What is stored (io/ckpt/ckpt.h has the layout):
 *   /adapter, /optim/{m,v}   the full (tp-gathered, PEFT order) A/B and AdamW moments
 *   /state step              update steps taken (= metrics.jsonl lines)
 *   /state optim_step        AdamW's step counter; schedule_pos: position in the schedule
 *   /state samples_done      samples scored (= scores.jsonl lines = score table rows)
 *   /state lr                lr of the last step; rng: zeros (no RNG is drawn after
 *                            lora_init, which draws from the job's seed)
 *   /stream/position[d]      samples whose predictions are written, for every dp rank d:
 *                            online = samples_done (the stream is cut at batch
 *                            boundaries, so every dp rank's position is the same);
 *                            offline it lags samples_done during generation
 *   /job, /model             job_to_yaml, cfg_hash + model dir; /scores the table so far. */
#include "worker/loop/ttl_ckpt.h"

#include <math.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/base/log.h"
#include "io/model/model_config.h"
#include "worker/loop/ttl_impl.h"

/* Score rows converted per call on the way in and out of the score table (a stack array). */
#define ROWS_PER_CALL 64

struct TtlCkpt {
    int writer;           /* this rank writes the files and keeps the score table */
    CkptScores scores;    /* writer: one row per scored sample, stream order */
    float *full[3];       /* host (n_full) each: params, adam_m, adam_v (PEFT order) */
    CkptTensor *tensors;  /* (n_tensors): views into full[] */
    char *keys;           /* (n_tensors, LORA_KEY_BYTES) */
    int n_tensors;
    int64_t pos[TTL_MAX_DP]; /* the stream positions of a capture */
    int64_t last_step;    /* step of the last checkpoint written or restored; -1 none */
    int64_t last_answered; /* its predictions written */
    int resumed;
    int64_t answered0;    /* predictions written at the restored checkpoint */
    /* ttl_ckpt_hold's state: its tensors are full[] as captured then (a later capture
     * replaces both), its score table the first held.samples_done rows of `scores` */
    CkptState held;
    int64_t held_answered;
    int hold;             /* HOLD_*: what ttl_ckpt_hold did last */
};

/* What the last ttl_ckpt_hold found (ttl_ckpt_write_held acts on it). */
enum { HOLD_NONE = 0, HOLD_KEPT = 1, HOLD_ON_DISK = 2 };

/* The parts of the adapter a checkpoint holds, in full[] order. */
static const LoraPart k_parts[3] = {LORA_PARAMS, LORA_ADAM_M, LORA_ADAM_V};

/* The tensor list in PEFT order (per layer, per target: A then B), pointing into full[]. */
static int build_tensors(TtlCkpt *ck, const Lora *l, Err *err) {
    int n = 0;
    for (int64_t i = 0; i < l->n_layers * LORA_N_TARGETS; i++)
        n += l->views[i].a != NULL ? 2 : 0;
    ck->tensors = calloc((size_t)n, sizeof *ck->tensors);
    ck->keys = calloc((size_t)n, LORA_KEY_BYTES);
    for (int p = 0; p < 3; p++)
        ck->full[p] = malloc((size_t)l->n_full * sizeof(float));
    if (!ck->tensors || !ck->keys || !ck->full[0] || !ck->full[1] || !ck->full[2])
        return err_set(err, "out of memory for a checkpoint of %lld adapter floats",
                       (long long)l->n_full);
    int k = 0;
    for (int64_t layer = 0; layer < l->n_layers; layer++)
        for (int tg = 0; tg < LORA_N_TARGETS; tg++) {
            const LoraView *v = lora_view(l, layer, (LoraTarget)tg);
            if (v == NULL)
                continue;
            for (int is_b = 0; is_b < 2; is_b++, k++) {
                CkptTensor *ct = &ck->tensors[k];
                char *key = ck->keys + (size_t)k * LORA_KEY_BYTES;
                lora_key(key, LORA_KEY_BYTES, layer, (LoraTarget)tg, is_b);
                const int64_t off = v->full_off + (is_b ? l->cfg.rank * v->n_in_full : 0);
                ct->name = key;
                ct->n_rows = is_b ? v->n_out_full : l->cfg.rank;
                ct->n_cols = is_b ? l->cfg.rank : v->n_in_full;
                ct->param = ck->full[0] + off;
                ct->adam_m = ck->full[1] + off;
                ct->adam_v = ck->full[2] + off;
            }
        }
    ck->n_tensors = n;
    return 0;
}

int ttl_ckpt_open(TtlCkpt **out, const Lora *lora, int writer, Err *err) {
    TtlCkpt *ck = *out = calloc(1, sizeof **out);
    if (ck == NULL)
        return err_set(err, "out of memory");
    ck->writer = writer;
    ck->last_step = -1;
    if (lora != NULL && build_tensors(ck, lora, err) != 0)
        return -1;
    return 0;
}

void ttl_ckpt_close(TtlCkpt **pck) {
    TtlCkpt *ck = pck != NULL ? *pck : NULL;
    if (ck == NULL)
        return;
    ckpt_scores_free(&ck->scores);
    free(ck->held.job_yaml);
    for (int p = 0; p < 3; p++)
        free(ck->full[p]);
    free(ck->tensors);
    free(ck->keys);
    free(ck);
    *pck = NULL;
}

int ttl_ckpt_scores(TtlCkpt *ck, const TtlBatch *b, int32_t from, int32_t to, Err *err) {
    if (!ck->writer || to <= from)
        return 0;
    CkptScoreRow rows[ROWS_PER_CALL];
    for (int32_t i = from; i < to;) {
        int n = 0;
        for (; i < to && n < ROWS_PER_CALL; i++, n++) {
            const TtlScore *s = &b->scores[i];
            rows[n] = (CkptScoreRow){.sample = b->first + i, .rank = s->rank,
                                     .step = s->step, .tokens = s->tokens, .ce = s->ce,
                                     .ppl = expf(s->ce), .selected = s->selected,
                                     .weight = s->weight};
        }
        if (ckpt_scores_append(&ck->scores, rows, n, err) != 0)
            return err_prefix(err, "checkpoint score table: ");
    }
    return 0;
}

int ttl_ckpt_capture(Ttl *t, int64_t answered, CkptState *st, Err *err) {
    TtlCkpt *ck = t->ck;
    const JobSpec *job = t->job;
    Lora *l = t->core.lora;
    memset(st, 0, sizeof *st);
    for (int p = 0; p < 3; p++) /* every rank takes part (collective over tp) */
        if (lora_gather(l, k_parts[p], ck->full[p], err) != 0)
            return -1;
    if (t->core.dp_size > TTL_MAX_DP)
        return err_set(err, "dp = %d: at most %d data-parallel ranks", t->core.dp_size,
                       TTL_MAX_DP);
    TtlCoreState cs;
    ttl_core_get_state(&t->core, &cs);
    *st = (CkptState){.lora_rank = l->cfg.rank, .lora_alpha = job->lora.alpha,
                      .n_targets = job->lora.n_targets, .n_tensors = ck->n_tensors,
                      .tensors = ck->tensors, .step = cs.step, .optim_step = cs.optim_step,
                      .schedule_pos = cs.sched_pos, .samples_done = t->tot.samples,
                      .lr = cs.last_lr, .dp_size = t->core.dp_size, .stream_pos = ck->pos,
                      .model_hash = cfg_hash(model_config(t->m)), .scores = ck->scores};
    for (int d = 0; d < t->core.dp_size; d++)
        ck->pos[d] = answered;
    for (int i = 0; i < job->lora.n_targets && i < CKPT_MAX_TARGETS; i++)
        snprintf(st->targets[i], CKPT_TARGET_BYTES, "%s", job->lora.targets[i]);
    /* absolute, so that tlm export finds the base model from any folder */
    char abs_dir[PATH_MAX];
    const char *dir = realpath(job->model.path, abs_dir) != NULL &&
                              strlen(abs_dir) < sizeof st->model_dir ? abs_dir : job->model.path;
    memcpy(st->model_dir, dir, strlen(dir) + 1); /* both fit: job paths are shorter */
    if ((st->job_yaml = job_to_yaml(job)) == NULL)
        return err_set(err, "out of memory writing the job into a checkpoint");
    return 0;
}

/* The checkpoint's tensors into this adapter (every tp rank keeps its slice). */
static int restore_adapter(Ttl *t, const char *path, const CkptState *st, Err *err) {
    const TtlCkpt *ck = t->ck;
    if (st->n_tensors != ck->n_tensors)
        return err_set(err, "checkpoint %s: /adapter holds %d tensors, this adapter has %d",
                       path, st->n_tensors, ck->n_tensors);
    for (int i = 0; i < ck->n_tensors; i++) {
        const CkptTensor *g = &st->tensors[i], *w = &ck->tensors[i];
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
    for (int p = 0; p < 3; p++)
        lora_scatter(t->core.lora, k_parts[p], ck->full[p]);
    lora_zero_grads(t->core.lora);
    return 0;
}

/* The run's totals from the score table, through the same ttl_totals_add the run uses. */
static int restore_totals(Ttl *t, const CkptState *st, Err *err) {
    const CkptScores *s = &st->scores;
    if (s->n_rows != st->samples_done)
        return err_set(err, "/scores holds %lld rows, /state/samples_done is %lld",
                       (long long)s->n_rows, (long long)st->samples_done);
    TtlScore part[ROWS_PER_CALL];
    for (int64_t i = 0; i < s->n_rows;) {
        int n = 0;
        for (; i < s->n_rows && n < ROWS_PER_CALL; i++, n++) {
            const CkptScoreRow *r = &s->rows[i];
            if (r->sample != i)
                return err_set(err, "/scores row %lld is sample %lld, expected %lld",
                               (long long)i, (long long)r->sample, (long long)i);
            part[n] = (TtlScore){.step = r->step, .ce = r->ce, .weight = r->weight,
                                 .tokens = r->tokens, .rank = r->rank,
                                 .selected = r->selected};
        }
        if (ttl_totals_add(&t->tot, part, n, err) != 0)
            return -1;
    }
    ttl_totals_updated(&t->tot, st->step); /* a restored run trains: every step updated */
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

/* Stream positions: the same on every dp rank (a batch boundary), all samples scored are
 * answered online, and never more answered than scored. Sets *answered. */
static int check_positions(const Ttl *t, const char *path, const CkptState *st,
                           int64_t *answered, Err *err) {
    const int online = t->job->method.setting == JOB_ONLINE;
    *answered = st->stream_pos[0];
    for (int d = 1; d < st->dp_size; d++)
        if (st->stream_pos[d] != *answered)
            return err_set(err, "checkpoint %s: /stream/position differs across dp ranks "
                           "(%lld vs %lld): not a batch boundary", path,
                           (long long)*answered, (long long)st->stream_pos[d]);
    if (*answered > st->samples_done || (online && *answered != st->samples_done))
        return err_set(err, "checkpoint %s: %lld samples answered, %lld scored", path,
                       (long long)*answered, (long long)st->samples_done);
    return 0;
}

int ttl_ckpt_restore(Ttl *t, const char *path, CkptState *st, Err *err) {
    TtlCkpt *ck = t->ck;
    if (ck == NULL || t->core.lora == NULL)
        return err_set(err, "checkpoint %s: this run trains no adapter to restore", path);
    int64_t answered;
    if (restore_adapter(t, path, st, err) != 0 ||
        check_positions(t, path, st, &answered, err) != 0)
        return -1;
    const TtlCoreState cs = {.step = st->step, .optim_step = st->optim_step,
                             .sched_pos = st->schedule_pos};
    ttl_core_set_state(&t->core, &cs);
    if (restore_totals(t, st, err) != 0)
        return err_prefix(err, "checkpoint %s: ", path);
    if (t->job->method.setting == JOB_ONLINE && skip_stream(t, st->samples_done, err) != 0)
        return err_prefix(err, "resume from %s: ", path);
    const int64_t lines[TTL_OUT_SUMMARY] = {[TTL_OUT_PREDICTIONS] = answered,
                                            [TTL_OUT_SCORES] = st->samples_done,
                                            [TTL_OUT_METRICS] = st->step};
    if (t->writer && ttl_out_reopen(&t->out, t->job->output.dir, lines, err) != 0)
        return -1;
    ckpt_scores_free(&ck->scores);
    ck->scores = st->scores;
    memset(&st->scores, 0, sizeof st->scores);
    ck->last_step = st->step;
    ck->last_answered = answered;
    ck->resumed = 1;
    ck->answered0 = answered;
    return 0;
}

/* Writes a captured state (world rank 0 only) and prunes to output.keep. */
static int write_state(const JobSpec *job, const CkptState *st, int64_t answered,
                       Err *err) {
    char path[CKPT_PATH_BYTES];
    int rc = ckpt_path(job->output.dir, st->step, path, sizeof path, err);
    if (rc == 0)
        rc = ckpt_write(path, st, err);
    if (rc == 0 && ckpt_prune(job->output.dir, (int)job->output.keep, err) != 0)
        rc = err_prefix(err, "output.keep = %lld: ", (long long)job->output.keep);
    if (rc == 0)
        log_info("checkpoint %s: step %lld, %lld samples scored, %lld answered", path,
                 (long long)st->step, (long long)st->samples_done, (long long)answered);
    return rc;
}

/* 1 when checkpoints are written at all and there is a state beyond the fresh start. */
static int ckpt_on(const Ttl *t) {
    return t->ck != NULL && t->job->output.checkpoint_every > 0 && t->core.lora != NULL &&
           t->tot.samples > 0;
}

int ttl_ckpt_maybe(Ttl *t, int force, int64_t answered, Err *err) {
    TtlCkpt *ck = t->ck;
    const int64_t every = t->job->output.checkpoint_every, step = t->core.step;
    if (!ckpt_on(t))
        return 0;
    if (ck->last_step == step && (!force || ck->last_answered == answered))
        return 0; /* that state is on disk already */
    if (!force && step - (ck->last_step > 0 ? ck->last_step : 0) < every)
        return 0;
    CkptState st;
    ck->hold = HOLD_NONE; /* the capture below overwrites the held tensors */
    int rc = ttl_ckpt_capture(t, answered, &st, err);
    if (rc == 0 && ck->writer)
        rc = write_state(t->job, &st, answered, err);
    free(st.job_yaml);
    if (rc != 0)
        return err_prefix(err, "checkpoint at step %lld: ", (long long)step);
    ck->last_step = step;
    ck->last_answered = answered;
    return 0;
}

int ttl_ckpt_resumed(const TtlCkpt *ck, int64_t *answered) {
    if (ck == NULL || !ck->resumed)
        return 0;
    *answered = ck->answered0;
    return 1;
}

int64_t ttl_ckpt_last_step(const TtlCkpt *ck) { return ck != NULL ? ck->last_step : -1; }

int ttl_ckpt_hold(Ttl *t, int64_t answered, Err *err) {
    TtlCkpt *ck = t->ck;
    if (ck == NULL)
        return 0;
    ck->hold = HOLD_NONE;
    if (!ckpt_on(t))
        return 0; /* no checkpoints, or nothing done beyond the fresh start */
    if (ck->last_step == t->core.step && ck->last_answered == answered) {
        ck->hold = HOLD_ON_DISK;
        return 0;
    }
    free(ck->held.job_yaml); /* capture zeroes held and writes the job anew */
    ck->held.job_yaml = NULL;
    if (ttl_ckpt_capture(t, answered, &ck->held, err) != 0)
        return err_prefix(err, "keeping the state at step %lld: ", (long long)t->core.step);
    ck->held_answered = answered;
    ck->hold = HOLD_KEPT;
    return 0;
}

int ttl_ckpt_write_held(Ttl *t, int64_t *step, Err *err) {
    TtlCkpt *ck = t->ck;
    *step = -1;
    if (ck == NULL || ck->hold == HOLD_NONE)
        return 0;
    if (ck->hold == HOLD_ON_DISK) {
        *step = ck->last_step;
        return 0;
    }
    CkptState st = ck->held;
    st.scores = ck->scores; /* rows are only appended: the held table is a prefix */
    if (st.scores.n_rows > st.samples_done)
        st.scores.n_rows = st.samples_done;
    if (ck->writer && write_state(t->job, &st, ck->held_answered, err) != 0)
        return err_prefix(err, "checkpoint at step %lld: ", (long long)st.step);
    ck->hold = HOLD_ON_DISK;
    ck->last_step = *step = st.step;
    ck->last_answered = ck->held_answered;
    return 0;
}
