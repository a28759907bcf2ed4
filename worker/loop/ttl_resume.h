/* worker/loop/ttl_resume.h -- `tlm run --resume auto|PATH` (DESIGN §5): which checkpoint to
 * continue from, and whether it may be continued here (the same model, a job that differs
 * only in keys that do not change results); restoring its state is ttl_ckpt_restore.
 * Call once, after the run's parts are open and before the first batch; all ranks call
 * (the restore scatters the adapter on every tp rank). Not thread-safe. */
#ifndef TLM_WORKER_TTL_RESUME_H
#define TLM_WORKER_TTL_RESUME_H

#include "io/base/err.h"

struct Ttl;

/* Restores the run from t->hooks.resume ("auto": the newest valid checkpoint of
 * output.dir; else a checkpoint path). Sets *fresh = 1 when "auto" finds no checkpoint
 * (nothing restored, the outputs not opened), else 0. Errors: no valid checkpoint where
 * some exist, another model or job (naming the difference), a checkpoint that does not
 * fit this run (ttl_ckpt_restore). */
int ttl_resume(struct Ttl *t, int *fresh, Err *err);

#endif
