/* worker/loop/ttl.h -- the test-time-learning loop (DESIGN §1). ttl_run drives one job: it
 * opens the model, tokenizer, template, dataset and adapter, then, online, for each
 * stream batch generates every answer with the current model, takes one epoch of update
 * steps over the batch and appends the batch's predictions and scores to output.dir;
 * offline it takes the epoch over the whole stream with the base model's ce for
 * selection, then generates with the final model. The update engine under it (TtlCore,
 * usable without a job) is worker/loop/ttl_core.h.
 * Distributed seam: sample i of a stream batch belongs to dp rank i mod dp; the
 * collectives go through comm/comm.h when a Comm is given, none when it is NULL (one
 * process). It checkpoints at stream-batch boundaries and resumes (worker/loop/ttl_ckpt.c,
 * worker/loop/ttl_resume.c) but does not install signal handlers (the launcher passes a stop
 * flag). Not thread-safe: one thread per rank. */
#ifndef TLM_WORKER_TTL_H
#define TLM_WORKER_TTL_H

#include <signal.h>
#include <stdint.h>

#include "comm/comm.h"
#include "io/base/err.h"
#include "jobs/job.h"
#include "worker/loop/ttl_core.h"

/* What a run did: the summary printed at the end and written to summary.json. */
typedef struct TtlSummary {
    int64_t samples, selected, skipped, steps;
    int64_t above_threshold;    /* samples whose ce > method.threshold: what tlm's rule
                                 * selects, reported for a method that selects none */
    int64_t input_tokens, gen_tokens;
    double ppl_first, ppl_last; /* mean input ppl of the first and last 10% of the stream */
    int64_t n_first, n_last;    /* samples in those tenths */
    double t_generate, t_score, t_update, t_total; /* seconds */
    double t_comm_steps, t_comm_generate; /* of those, inside collectives (this rank) */
    int interrupted;            /* stopped early by the stop flag, after a whole batch */
    int64_t ckpt_step;          /* step of the last checkpoint written or resumed from,
                                 * -1 when none (output.dir/ckpt-<step>.h5) */
} TtlSummary;

/* How the launcher runs the loop. */
typedef struct TtlHooks {
    Comm *comm;                        /* borrowed; NULL: one process. Its tp group (size
                                        * parallel.tp) shards the model and adapter, its dp
                                        * group splits the stream */
    int device;                        /* this rank's GPU on its node (the grid's local
                                        * rank) for the CUDA backend */
    volatile sig_atomic_t *stop;       /* borrowed, or NULL: when it becomes nonzero the
                                        * loop finishes the current batch's outputs and
                                        * returns 0 with summary->interrupted set */
    int progress;                      /* 1: progress on stderr (bar on a TTY) */
    const char *resume;                /* borrowed, or NULL: "auto" (the newest valid
                                        * checkpoint of output.dir; none: fresh, unless
                                        * the dir holds a finished run) or a checkpoint
                                        * path (--resume) */
    int overwrite;                     /* 1: an earlier run's results in output.dir move
                                        * to output.dir/previous-<time>/ (--overwrite);
                                        * 0: they are refused unless resuming
                                        * (worker/loop/ttl_ledger.h) */
} TtlHooks;

/* Runs the job (borrowed; validated by job_load) to the end of its stream, writing
 * generated_predictions.jsonl, scores.jsonl, metrics.jsonl and summary.json under
 * output.dir (created). hooks may be NULL. Fills *summary (may be NULL). Errors name the
 * file:line of a bad record, the sample, or the model/tokenizer file; outputs of earlier
 * batches stay intact (each batch is appended and fsync'd). */
int ttl_run(const JobSpec *job, const TtlHooks *hooks, TtlSummary *summary, Err *err);

#endif
