/* worker/loop/ttl_core.h -- the update engine under the TTL loop (DESIGN §1, §3): one epoch
 * over a batch of samples in steps of batch_size (select -> backward -> dp all-reduce ->
 * clip + AdamW at the scheduled lr), usable without a job (the golden test drives it
 * directly). It owns its counters (update step, AdamW step, schedule position); a
 * checkpoint reads and a resume restores them only through ttl_core_get_state /
 * ttl_core_set_state. Sample i of a batch belongs to dp rank i mod dp. Allocates only in
 * ttl_core_init. Not thread-safe: one thread per rank. */
#ifndef TLM_WORKER_TTL_CORE_H
#define TLM_WORKER_TTL_CORE_H

#include <stdint.h>

#include "comm/comm.h"
#include "io/base/err.h"
#include "worker/adapter/optim.h"
#include "worker/methods/method.h"

/* One scored sample: a row of scores.jsonl (DESIGN §6). */
typedef struct TtlScore {
    int64_t step;     /* the update step (1-based, global) whose forward scored it */
    float ce;         /* mean input ce; ppl = exp(ce) */
    /* the same forward's mean over every input token and over the sample's own text
     * only; one of them is ce (method.loss_tokens); -1 when there are no such tokens */
    float ce_all, ce_content;
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
    /* packed like tokens: 1 on the sample's own text (NULL: not known, every token) */
    const uint8_t *mask;
    int content_loss;        /* 1: the ce averages the masked tokens (loss_tokens: content) */
    const int32_t *gen;      /* (n, gen_stride) generated ids, or NULL (offline) */
    const int32_t *gen_lens; /* (n) or NULL */
    int32_t gen_stride;
    int64_t first;           /* the stream index of sample 0 (for messages) */
    int32_t test_nan;        /* test hook (TLM_TEST_NAN_SAMPLE, ttl.c): 1 + the sample
                              * whose ce is made NaN after scoring; 0 (zeroed): none */
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

/* The update engine. Plain struct: ttl_core_init fills it, ttl_core_free releases it;
 * callers read its fields, only worker/loop/ttl_core.c writes them (on_step / hook_ctx
 * are the caller's to set after init). */
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
    float *ce_alt; /* (batch_size) the step's other-view ce */
    uint8_t *mask; /* (batch_size * max_len) the step's loss mask, when the batch has one */
    int32_t *idx;                      /* (batch_size) batch index of each local sample */
    int nonfinite;                     /* 1: the last epoch stopped at a step whose ce,
                                        * loss or gradient norm was not finite; the
                                        * adapter, moments and counters are those before
                                        * it (the last good state) */
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

/* Sets the current schedule's length to n_steps and keeps its position: a resumed run's
 * one schedule over the whole stream (its position comes from ttl_core_set_state). */
void ttl_core_schedule(TtlCore *c, int64_t n_steps);

/* The lr of the next step of the current schedule. */
double ttl_core_lr(const TtlCore *c);

/* The lr at position pos (0-based) of a schedule of n_steps steps under cfg (borrowed):
 * what ttl_core_lr gives at that position. For loops that keep one schedule per adapter
 * (worker/loop/ttt_pass.c). */
double ttl_core_lr_at(const TtlCoreConfig *cfg, int64_t pos, int64_t n_steps);

/* One epoch over b (borrowed) in stream order: steps of batch_size samples; on each,
 * this rank scores its samples (i mod dp == dp_rank), and when the method updates, the
 * gradients of the global loss are summed over dp and applied. Writes scores[i] (host,
 * b->n) for this rank's samples only (others are left as they were). Allocates nothing. */
int ttl_core_epoch(TtlCore *c, const TtlSamples *b, TtlScore *scores, Err *err);

/* Asked before each update step of ttl_core_epoch_part; nonzero ends the epoch there.
 * Collective when the answer must agree across ranks (the caller's to make it so). */
typedef int (*TtlStopFn)(void *ctx);

/* ttl_core_epoch from batch position `from` (a multiple of batch_size: where an epoch
 * interrupted before left off) on, asking stop(ctx) (NULL: never) before every step:
 * *next = the first position not taken, b->n when the epoch ran to its end. A step whose
 * ce, loss or gradient norm is not finite (the same verdict on every rank: they are
 * summed) is an error naming it, taken back before it touches the adapter: c->nonfinite
 * set, *next = that step's first position. A stopped
 * epoch resumes bit-identically from *next once the engine's counters, adapter and
 * moments are what they were (a checkpoint). Allocates nothing. */
int ttl_core_epoch_part(TtlCore *c, const TtlSamples *b, TtlScore *scores, int32_t from,
                        TtlStopFn stop, void *ctx, int32_t *next, Err *err);

/* The engine's resumable counters: what a checkpoint stores of it (worker/loop/ttl_ckpt.c). */
typedef struct TtlCoreState {
    int64_t step;       /* update steps taken in the run */
    int64_t optim_step; /* AdamW's step counter (since its last reset) */
    int64_t sched_pos;  /* position in the current lr schedule */
    double last_lr;     /* the lr of the schedule's previous step, 0 before the first
                         * (ttl_core_get_state only: recorded for readers, not restored) */
} TtlCoreState;

/* The counters of c now. */
void ttl_core_get_state(const TtlCore *c, TtlCoreState *st);
/* Puts c's counters where st says (a resumed run); the lr schedule's length is the
 * caller's (ttl_core_schedule). The adapter and its moments are restored separately. */
void ttl_core_set_state(TtlCore *c, const TtlCoreState *st);

#endif
