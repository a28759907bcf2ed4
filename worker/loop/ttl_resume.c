/* worker/loop/ttl_resume.c -- `tlm run --resume auto|PATH` (DESIGN §5): finds and validates
 * the checkpoint; ttl_ckpt_restore (worker/loop/ttl_ckpt.c) then restores the adapter,
 * AdamW moments, counters and score table, puts the stream where the checkpoint left it
 * and cuts the output files back to the checkpoint's line counts before appending, so no
 * sample is predicted twice or lost and the final adapter equals an uninterrupted run's
 * on the same rank layout.
 * Refused: another model (config hash), a job that differs in a key that changes results
 * (every key except output.*, parallel.tp, optim.gradient_checkpointing — the same
 * numbers either way —, model.path — the hash stands for the model — and, online,
 * data.max_samples may change as long as it keeps the samples done).
 * Rank layout: tp may change (the adapter is stored gathered); dp may change too, since
 * every checkpoint sits at a stream-batch boundary where every dp rank's position is the
 * same (re-sharding is the i mod dp rule on the next batch); the run then equals an
 * uninterrupted run on the new layout only up to reduction order (DESIGN §4), and says so. */
#include "worker/loop/ttl_resume.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "io/base/log.h"
#include "io/ckpt/ckpt.h"
#include "io/model/model_config.h"
#include "worker/loop/ttl_impl.h"

static int check_model(const Ttl *t, const char *path, const CkptState *st, Err *err) {
    const uint64_t h = cfg_hash(model_config(t->m));
    if (h != st->model_hash)
        return err_set(err, "checkpoint %s was written for model dir %s (config hash "
                       "%016llx), this job uses %s (config hash %016llx): a different model",
                       path, st->model_dir, (unsigned long long)st->model_hash,
                       t->job->model.path, (unsigned long long)h);
    char abs_dir[PATH_MAX];
    const char *here = realpath(t->job->model.path, abs_dir) ? abs_dir : t->job->model.path;
    if (strcmp(st->model_dir, here) != 0)
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
    old->optim.gradient_checkpointing = job->optim.gradient_checkpointing; /* bit-identical */
    const int online = old->method.setting == JOB_ONLINE;
    const int64_t ms = job->data.max_samples;
    if (online && (ms < 0 || ms >= st->samples_done))
        old->data.max_samples = ms;
    char diff[JOB_PATH_BYTES * 2 + 128];
    const int d = job_diff(old, job, diff, sizeof diff);
    free(old);
    if (d != 0)
        return err_set(err, "checkpoint %s was written for a different job: %s (checkpoint "
                       "vs this job); only output.*, parallel.tp, "
                       "optim.gradient_checkpointing and, online, a "
                       "data.max_samples that keeps the %lld samples done may change",
                       path, diff, (long long)st->samples_done);
    if (st->dp_size != t->core.dp_size)
        log_warn("resume: checkpoint %s was written with dp = %d, this run has dp = %d: the "
                 "stream is re-sharded at the checkpoint's batch boundary; results equal an "
                 "uninterrupted dp = %d run up to reduction order", path, st->dp_size,
                 t->core.dp_size, t->core.dp_size);
    return 0;
}

static int restore(Ttl *t, const char *path, CkptState *st, Err *err) {
    if (t->core.lora == NULL)
        return err_set(err, "method %s trains no adapter and writes no checkpoints",
                       t->core.method->name);
    if (check_model(t, path, st, err) != 0 || check_job(t, path, st, err) != 0 ||
        ttl_ckpt_restore(t, path, st, err) != 0)
        return -1;
    int64_t answered = 0;
    ttl_ckpt_resumed(t->ck, &answered);
    log_info("resumed from %s: step %lld, %lld samples done, %lld answered", path,
             (long long)st->step, (long long)st->samples_done, (long long)answered);
    return 0;
}

/* --resume auto without a checkpoint: a finished run's results are refused (restarting
 * would replace them); an unfinished run's outputs (it died before its first checkpoint)
 * move to previous-<time>/ and the run starts from the beginning. */
static int no_checkpoint(Ttl *t, int *fresh, Err *err) {
    const char *dir = t->job->output.dir;
    char what[512];
    if (t->writer && t->ledger.was_finished && ttl_ledger_results(dir, what, sizeof what))
        return err_set(err, "--resume auto: %s holds no checkpoint to resume from, but the "
                       "results of a finished run (%s); starting over would replace them: "
                       "use --overwrite to move them aside, or another output.dir", dir, what);
    if (t->writer && ttl_ledger_results(dir, what, sizeof what)) {
        log_warn("--resume auto: no checkpoint in %s, only the outputs of a run that ended "
                 "before its first one (%s): moving them aside and starting from the "
                 "beginning", dir, what);
        if (ttl_ledger_move_results(dir, err) != 0)
            return -1;
    } else {
        log_info("--resume auto: no checkpoint in %s; starting from the beginning", dir);
    }
    *fresh = 1;
    return 0;
}

/* --resume PATH of a checkpoint outside output.dir: the outputs it continues are not the
 * ones in output.dir, so results there (another run's) are refused rather than cut back
 * to the checkpoint's counts. */
static int foreign_results(const Ttl *t, const char *path, Err *err) {
    const char *dir = t->job->output.dir;
    char ck_dir[PATH_MAX], out_dir[PATH_MAX], copy[CKPT_PATH_BYTES], what[512];
    snprintf(copy, sizeof copy, "%s", path);
    char *slash = strrchr(copy, '/');
    if (slash != NULL)
        *slash = '\0';
    const char *parent = slash != NULL ? (copy[0] != '\0' ? copy : "/") : ".";
    if (!t->writer || realpath(parent, ck_dir) == NULL || realpath(dir, out_dir) == NULL ||
        strcmp(ck_dir, out_dir) == 0 || !ttl_ledger_results(dir, what, sizeof what))
        return 0;
    return err_set(err, "--resume %s: output.dir %s holds other results (%s), not the "
                   "outputs this checkpoint continues: resume with output.dir set to the "
                   "checkpoint's own directory, where they are", path, dir, what);
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
        if (rc == 0)
            return no_checkpoint(t, fresh, err);
    } else {
        snprintf(path, sizeof path, "%s", spec);
    }
    CkptState st;
    int rc = ckpt_read(path, &st, err);
    if (rc == 0 && strcmp(spec, "auto") != 0)
        rc = foreign_results(t, path, err);
    if (rc == 0)
        rc = restore(t, path, &st, err);
    ckpt_free(&st);
    return rc;
}
