/* worker/loop/ttl_ckpt.h -- checkpoints of a running job (DESIGN §5): the loop's state
 * captured into one checkpoint file (ttl_ckpt_capture) and restored from one
 * (ttl_ckpt_restore), when to write one (ttl_ckpt_maybe), and the bookkeeping both need
 * (the host copies of the full adapter, the score table so far, the last checkpoint).
 * Consistent points: online, the end of a stream batch (its answers, scores and metrics
 * are written and fsync'd, the adapter has taken the batch's whole epoch); offline, the
 * end of the update epoch and the end of each generation chunk. All ranks call capture
 * and maybe (the adapter gather is collective over tp); world rank 0 writes. Finding and
 * validating the checkpoint to resume from is worker/loop/ttl_resume.c. Not thread-safe. */
#ifndef TLM_WORKER_TTL_CKPT_H
#define TLM_WORKER_TTL_CKPT_H

#include <stdint.h>

#include "io/ckpt/ckpt.h"
#include "worker/adapter/lora.h"
#include "worker/loop/ttl_batch.h"

typedef struct TtlCkpt TtlCkpt;
struct Ttl;

/* The checkpoint state of a run whose adapter is lora (borrowed; NULL for a method that
 * trains none: nothing is ever written or restored); writer: this rank writes the files
 * (it alone keeps the score table). *out owned (ttl_ckpt_close). Errors: out of memory. */
int ttl_ckpt_open(TtlCkpt **out, const Lora *lora, int writer, Err *err);
void ttl_ckpt_close(TtlCkpt **ck); /* accepts NULL and *ck == NULL; safe twice */

/* Appends the scores of samples [from, to) of b to the score table (writer only; a no-op
 * on the others). Errors: out of memory. */
int ttl_ckpt_scores(TtlCkpt *ck, const TtlBatch *b, int32_t from, int32_t to, Err *err);

/* The loop's state at a consistent point where `answered` samples have their predictions
 * written, as one checkpoint holds it: the full adapter and AdamW moments (gathered over
 * tp: collective, every rank calls), the engine's counters (ttl_core_get_state), samples
 * scored, every dp rank's stream position, the score table, the resolved job and the
 * model's hash. *st borrows from t until the next step of the loop, except st->job_yaml
 * (owned: free()); zeroed first. Errors: the gather, dp above TTL_MAX_DP, out of memory. */
int ttl_ckpt_capture(struct Ttl *t, int64_t answered, CkptState *st, Err *err);

/* The inverse of ttl_ckpt_capture on a checkpoint read from path (its model and job
 * already validated, worker/loop/ttl_resume.c): the adapter and moments (every tp rank
 * keeps its slice), the engine's counters, the run's totals rebuilt from the score
 * table, the stream moved past the samples done (online), the output files cut back to
 * the checkpoint's counts (writer), and this state's bookkeeping, which takes over
 * st->scores (zeroed on return). Errors name path and what does not fit: tensor names or
 * shapes, a score table that is not the samples done in order, stream positions that
 * are not one batch boundary, a data file shorter than the samples done. */
int ttl_ckpt_restore(struct Ttl *t, const char *path, CkptState *st, Err *err);

/* At a consistent point where `answered` samples have their predictions written: writes
 * output.dir/ckpt-<step>.h5 when `force` (stop, end of run) or checkpoint_every update
 * steps have passed since the last checkpoint; then keeps the newest output.keep.
 * Nothing when output.checkpoint_every is 0 or the method trains no adapter. */
int ttl_ckpt_maybe(struct Ttl *t, int force, int64_t answered, Err *err);

/* Online, before a stream batch's update epoch (a consistent point: `answered` samples
 * finished): keeps the state in memory as ttl_ckpt_capture takes it (collective: every
 * rank calls), so that it can still be written when a step of the batch turns out
 * non-finite after the batch's first steps have moved the adapter. Nothing when that
 * state is on disk already or no checkpoint would be written (checkpoint_every 0, no
 * adapter, nothing done yet). Costs one gather of the adapter and moments per batch
 * (into the host buffers checkpoints use). Errors: the capture's. */
int ttl_ckpt_hold(struct Ttl *t, int64_t answered, Err *err);

/* Writes the state the last ttl_ckpt_hold kept (world rank 0; the others only record
 * it, no collective) and sets *step to the step of the checkpoint that holds it (also
 * when it was on disk already), or *step = -1 when none does (checkpoints off, nothing
 * done yet). Call before any ttl_ckpt_maybe after the hold. Errors: the write's. */
int ttl_ckpt_write_held(struct Ttl *t, int64_t *step, Err *err);

/* After ttl_ckpt_restore: 1 and the samples answered at the checkpoint, else 0. */
int ttl_ckpt_resumed(const TtlCkpt *ck, int64_t *answered);
/* The step of the last checkpoint written or restored, -1 when none (or ck NULL). */
int64_t ttl_ckpt_last_step(const TtlCkpt *ck);

#endif
