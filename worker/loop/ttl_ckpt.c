/* worker/loop/ttl_ckpt.c -- checkpoints of a running job (DESIGN §5): when, what, and the
 * collective stop decision. A checkpoint is taken only at a consistent point (see
 * ttl_impl.h): online at the end of a stream batch, after its answers, scores and metrics
 * are fsync'd, so the state is "the first samples_done samples are finished". Mid-batch
 * points would need the batch's generations (made with the batch-start adapter, and read
 * by tent/eata's losses) in the checkpoint; the batch boundary needs nothing extra, at the
 * cost that a stop waits for the batch in flight. What is stored:
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
#include "worker/loop/ttl_impl.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/ckpt/ckpt.h"
#include "io/base/log.h"
#include "io/model/model_config.h"

#define KEY_BYTES 96

typedef struct TtlCkpt TtlCkpt;

struct TtlCkpt {
    CkptScores scores;    /* writer: one row per scored sample, stream order */
    float *full[3];       /* host (n_full) each: params, adam_m, adam_v (PEFT order) */
    CkptTensor *tensors;  /* (n_tensors): views into full[] */
    char *keys;           /* (n_tensors, KEY_BYTES) */
    int n_tensors;
    int64_t last_step;    /* step of the last checkpoint written or resumed; -1 none */
    int64_t last_answered; /* its predictions written */
    int resumed;
    int64_t answered0;    /* predictions written at the resumed checkpoint */
};

/* The tensor list in PEFT order (per layer, per target: A then B), pointing into full[]. */
static int build_tensors(TtlCkpt *ck, const Lora *l, Err *err) {
    int n = 0;
    for (int64_t i = 0; i < l->n_layers * LORA_N_TARGETS; i++)
        n += l->views[i].a != NULL ? 2 : 0;
    ck->tensors = calloc((size_t)n, sizeof *ck->tensors);
    ck->keys = calloc((size_t)n, KEY_BYTES);
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
                char *key = ck->keys + (size_t)k * KEY_BYTES;
                lora_key(key, KEY_BYTES, layer, (LoraTarget)tg, is_b);
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

/* Removes the temp files of checkpoint writes that died (kill -9 inside ckpt_write:
 * "ckpt-<step>.h5.tmp.<pid>"); one writer per output.dir, so none is live now. */
static void remove_stale_temps(const char *dir) {
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    int n = 0;
    const struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        long long step;
        long pid;
        char path[JOB_PATH_BYTES + 300];
        if (sscanf(e->d_name, "ckpt-%lld.h5.tmp.%ld", &step, &pid) != 2)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        n += remove(path) == 0;
    }
    closedir(d);
    if (n > 0)
        log_info("removed %d unfinished checkpoint temp file%s in %s", n, n > 1 ? "s" : "",
                 dir);
}

int ttl_ckpt_open(Ttl *t, Err *err) {
    TtlCkpt *ck = t->ck = calloc(1, sizeof *t->ck);
    if (ck == NULL)
        return err_set(err, "out of memory");
    ck->last_step = -1;
    t->sum.ckpt_step = -1;
    if (t->core.lora != NULL && build_tensors(ck, t->core.lora, err) != 0)
        return -1;
    int fresh = 1;
    if (t->hooks.resume != NULL && t->hooks.resume[0] != '\0' && ttl_resume(t, &fresh, err))
        return -1;
    if (fresh && t->writer && ttl_out_open(&t->out, t->job->output.dir, err) != 0)
        return -1;
    if (t->writer)
        remove_stale_temps(t->job->output.dir);
    return 0;
}

void ttl_ckpt_close(Ttl *t) {
    TtlCkpt *ck = t->ck;
    if (ck == NULL)
        return;
    ckpt_scores_free(&ck->scores);
    for (int p = 0; p < 3; p++)
        free(ck->full[p]);
    free(ck->tensors);
    free(ck->keys);
    free(ck);
    t->ck = NULL;
}

CkptTensor *ttl_ckpt_tensors(Ttl *t, int *n, float **full) {
    *n = t->ck->n_tensors;
    for (int p = 0; p < 3; p++)
        full[p] = t->ck->full[p];
    return t->ck->tensors;
}

void ttl_ckpt_mark_resumed(Ttl *t, int64_t step, int64_t answered, CkptScores *scores) {
    TtlCkpt *ck = t->ck;
    ckpt_scores_free(&ck->scores);
    ck->scores = *scores;
    memset(scores, 0, sizeof *scores);
    ck->last_step = step;
    ck->last_answered = answered;
    ck->resumed = 1;
    ck->answered0 = answered;
    t->sum.ckpt_step = step;
}

int ttl_ckpt_resumed(const Ttl *t, int64_t *answered) {
    if (t->ck == NULL || !t->ck->resumed)
        return 0;
    *answered = t->ck->answered0;
    return 1;
}

int ttl_ckpt_stop(Ttl *t) {
    int32_t flag = t->hooks.stop != NULL && *t->hooks.stop ? 1 : 0;
    Comm *c = t->hooks.comm;
    if (c != NULL && comm_size(c, COMM_WORLD) > 1) {
        Err e = {{0}};
        if (comm_all_reduce(c, COMM_WORLD, &flag, 1, COMM_I32, COMM_MAX, &e) != 0)
            log_fatal("agreeing on the stop flag over %d ranks: %s", comm_size(c, COMM_WORLD),
                      e.msg);
    }
    return flag != 0;
}

int ttl_ckpt_scores(Ttl *t, int32_t from, int32_t to, Err *err) {
    if (!t->writer || to <= from)
        return 0;
    CkptScoreRow rows[64];
    for (int32_t i = from; i < to;) {
        int n = 0;
        for (; i < to && n < 64; i++, n++) {
            const TtlScore *s = &t->b.scores[i];
            rows[n] = (CkptScoreRow){.sample = t->b.first + i, .rank = s->rank,
                                     .step = s->step, .tokens = s->tokens, .ce = s->ce,
                                     .ppl = expf(s->ce), .selected = s->selected,
                                     .weight = s->weight};
        }
        if (ckpt_scores_append(&t->ck->scores, rows, n, err) != 0)
            return err_prefix(err, "checkpoint score table: ");
    }
    return 0;
}

/* The lr of the step before the schedule's current position (0 before the first). */
static double last_lr(const TtlCore *c) {
    if (c->sched_step == 0)
        return 0.0;
    TtlCore prev = *c;
    prev.sched_step--;
    return ttl_core_lr(&prev);
}

/* Fills st (borrowing from t) and writes it; world rank 0 only. */
static int write_ckpt(Ttl *t, int64_t answered, Err *err) {
    TtlCkpt *ck = t->ck;
    const JobSpec *job = t->job;
    const Lora *l = t->core.lora;
    int64_t pos[64];
    CkptState st = {.lora_rank = l->cfg.rank, .lora_alpha = job->lora.alpha,
                    .n_targets = job->lora.n_targets, .n_tensors = ck->n_tensors,
                    .tensors = ck->tensors, .step = t->core.step,
                    .optim_step = t->core.opt.step, .schedule_pos = t->core.sched_step,
                    .samples_done = t->sum.samples, .lr = last_lr(&t->core),
                    .dp_size = t->core.dp_size, .stream_pos = pos,
                    .model_hash = cfg_hash(model_config(t->m)), .scores = ck->scores};
    if (t->core.dp_size > 64)
        return err_set(err, "dp = %d: at most 64 data-parallel ranks", t->core.dp_size);
    for (int d = 0; d < t->core.dp_size; d++)
        pos[d] = answered;
    for (int i = 0; i < job->lora.n_targets && i < CKPT_MAX_TARGETS; i++)
        snprintf(st.targets[i], CKPT_TARGET_BYTES, "%s", job->lora.targets[i]);
    snprintf(st.model_dir, sizeof st.model_dir, "%s", job->model.path);
    char path[CKPT_PATH_BYTES];
    if ((st.job_yaml = job_to_yaml(job)) == NULL)
        return err_set(err, "out of memory writing the job into a checkpoint");
    int rc = ckpt_path(job->output.dir, t->core.step, path, sizeof path, err);
    if (rc == 0)
        rc = ckpt_write(path, &st, err);
    free(st.job_yaml);
    if (rc == 0 && ckpt_prune(job->output.dir, (int)job->output.keep, err) != 0)
        rc = err_prefix(err, "output.keep = %lld: ", (long long)job->output.keep);
    if (rc == 0)
        log_info("checkpoint %s: step %lld, %lld samples scored, %lld answered", path,
                 (long long)t->core.step, (long long)t->sum.samples, (long long)answered);
    return rc;
}

int ttl_ckpt_maybe(Ttl *t, int force, int64_t answered, Err *err) {
    TtlCkpt *ck = t->ck;
    const int64_t every = t->job->output.checkpoint_every;
    if (ck == NULL || every <= 0 || t->core.lora == NULL || t->sum.samples == 0)
        return 0;
    if (ck->last_step == t->core.step && (!force || ck->last_answered == answered))
        return 0; /* that state is on disk already */
    if (!force && t->core.step - (ck->last_step > 0 ? ck->last_step : 0) < every)
        return 0;
    /* Every rank takes part in the gathers (collective over tp); rank 0 writes. */
    Lora *l = t->core.lora;
    const LoraPart parts[3] = {LORA_PARAMS, LORA_ADAM_M, LORA_ADAM_V};
    for (int p = 0; p < 3; p++)
        if (lora_gather(l, parts[p], ck->full[p], err) != 0)
            return err_prefix(err, "checkpoint at step %lld: ", (long long)t->core.step);
    if (t->writer && write_ckpt(t, answered, err) != 0)
        return err_prefix(err, "checkpoint at step %lld: ", (long long)t->core.step);
    ck->last_step = t->core.step;
    ck->last_answered = answered;
    t->sum.ckpt_step = t->core.step;
    return 0;
}
