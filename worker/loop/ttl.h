/* worker/loop/ttl.h -- the test-time-learning loop (DESIGN §1) and the update engine under it.
 * ttl_run drives one job: it opens the model, tokenizer, template, dataset and adapter,
 * then, online, for each stream batch generates every answer with the current model,
 * takes one epoch of update steps over the batch and appends the batch's predictions and
 * scores to output.dir; offline it takes the epoch over the whole stream with the base
 * model's ce for selection, then generates with the final model. TtlCore is the update
 * epoch alone (select -> backward -> dp all-reduce -> clip + AdamW at the scheduled lr),
 * usable without a job (the golden test drives it directly).
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
#include "worker/methods/method.h"
#include "worker/adapter/optim.h"

/* One scored sample: a row of scores.jsonl (DESIGN §6). */
typedef struct TtlScore {
    int64_t step;     /* the update step (1-based, global) whose forward scored it */
    float ce;         /* mean input ce; ppl = exp(ce) */
    float weight;     /* loss weight, 0 when not selected */
    int32_t tokens;   /* input tokens */
    int32_t rank;     /* the dp rank that scored it */
    uint8_t selected;
} TtlScore;

/* One update step's numbers: a row of metrics.jsonl. */
typedef struct TtlStepStats {
    int64_t step;      /* 1-based, global over the run */
    double loss;       /* sum_sel w * ce / n_sel (0 when nothing is selected) */
    double mean_ce;    /* over the step's samples */
    int64_t selected;  /* samples selected in the step, all ranks */
    int64_t samples;   /* samples in the step, all ranks */
    int64_t tokens;    /* input tokens in the step, all ranks */
    double lr;         /* the lr of this step */
    double grad_norm;  /* global norm before clipping */
    double seconds;    /* wall time of the step (forward, backward, update) */
    int updated;       /* 0: a scoring-only step (a method that never updates) */
} TtlStepStats;

/* A stream batch's samples as the engine sees them (host, borrowed views). */
typedef struct TtlSamples {
    int32_t n;               /* samples in the batch */
    const int32_t *tokens;   /* packed input ids */
    const int64_t *off;      /* (n) start of sample i in tokens */
    const int32_t *lens;     /* (n) */
    const int32_t *gen;      /* (n, gen_stride) generated ids, or NULL (offline) */
    const int32_t *gen_lens; /* (n) or NULL */
    int32_t gen_stride;
} TtlSamples;

typedef struct TtlCoreConfig {
    int64_t batch_size;   /* samples per update step (optim.batch_size) */
    int64_t max_len;      /* longest sample, tokens (the job's cutoff_len) */
    double lr;            /* peak lr */
    int cosine;           /* 0 constant, 1 cosine (HF get_cosine_schedule_with_warmup) */
    double warmup_ratio;  /* warmup steps = ceil(ratio * schedule steps), as HF */
    OptimConfig optim;
} TtlCoreConfig;

typedef void (*TtlStepHook)(void *ctx, const TtlStepStats *st);

/* The update engine. Plain struct: ttl_core_init fills it, ttl_core_free releases it. */
typedef struct TtlCore {
    Model *m;             /* borrowed */
    Lora *lora;           /* borrowed; NULL for a method that never updates */
    const Method *method; /* borrowed, static */
    MethodParams mp;
    TtlCoreConfig cfg;
    Optim opt;
    Comm *comm;           /* borrowed; NULL: one process */
    int dp_rank, dp_size;
    int64_t step;                      /* update steps taken in the run */
    int64_t sched_step, sched_steps;   /* position in / length of the current schedule */
    TtlStepHook on_step;               /* called after every step, or NULL */
    void *hook_ctx;
    double t_score, t_update;          /* seconds spent in forwards / backward+update */
    double t_comm;                     /* of which inside collectives (dp and tp) */
    /* host buffers sized at init for batch_size samples of max_len tokens */
    int32_t *tok, *lens;
    float *ce, *weight, *dce;
    uint8_t *sel;
    int32_t *idx;                      /* (batch_size) batch index of each local sample */
    void *method_state;                /* owned: method->open's state, or NULL */
} TtlCore;

/* Sets up the engine for m and lora (both borrowed, must outlive it; lora may be NULL
 * when method->updates == 0), the method and its params (copied), and comm (borrowed,
 * NULL for one process). Allocates the per-step buffers once. Errors: a batch size or
 * length below 1, allocation failure. */
int ttl_core_init(TtlCore *c, Model *m, Lora *lora, const Method *method,
                  const MethodParams *mp, const TtlCoreConfig *cfg, Comm *comm, Err *err);
void ttl_core_free(TtlCore *c); /* accepts a zeroed struct; safe twice */

/* Starts a new lr schedule of n_steps update steps (HF builds one per trainer); with
 * reset_moments, AdamW's moments and step counter restart too (optim.reset_per_batch). */
void ttl_core_begin(TtlCore *c, int64_t n_steps, int reset_moments);

/* The lr of the next step of the current schedule. */
double ttl_core_lr(const TtlCore *c);

/* One epoch over b (borrowed) in stream order: steps of batch_size samples; on each,
 * this rank scores its samples (i mod dp == dp_rank), and when the method updates, the
 * gradients of the global loss are summed over dp and applied. Writes scores[i] (host,
 * b->n) for this rank's samples only (others are left as they were). Allocates nothing. */
int ttl_core_epoch(TtlCore *c, const TtlSamples *b, TtlScore *scores, Err *err);

/* What a run did: the summary printed at the end and written to summary.json. */
typedef struct TtlSummary {
    int64_t samples, selected, skipped, steps;
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
                                        * checkpoint of output.dir, fresh when none) or a
                                        * checkpoint path (--resume) */
} TtlHooks;

/* Runs the job (borrowed; validated by job_load) to the end of its stream, writing
 * generated_predictions.jsonl, scores.jsonl, metrics.jsonl and summary.json under
 * output.dir (created). hooks may be NULL. Fills *summary (may be NULL). Errors name the
 * file:line of a bad record, the sample, or the model/tokenizer file; outputs of earlier
 * batches stay intact (each batch is appended and fsync'd). */
int ttl_run(const JobSpec *job, const TtlHooks *hooks, TtlSummary *summary, Err *err);

#endif
