/* worker/loop/ttl_impl.h -- internals shared by the ttl_*.c files (not a public API): the run
 * state, the stream batch, the output writers, and the dp seam. The seam functions are
 * the only places the loop talks to other ranks; with comm == NULL (one process) they
 * are no-ops, so the distributed issue fills them in without touching the loop.
 * Single-threaded, like the rest of the loop. */
#ifndef TLM_WORKER_TTL_IMPL_H
#define TLM_WORKER_TTL_IMPL_H

#include <stdio.h>

#include "io/text/chat_template.h"
#include "io/ckpt/ckpt.h"
#include "io/data/dataset.h"
#include "io/text/tokenizer.h"
#include "worker/model/generate.h"
#include "worker/loop/progress.h"
#include "worker/loop/ttl.h"

#define TTL_MAX_STOP 16
#define TTL_GEN_SLOTS 16 /* sequences decoded together per generation wave */

/* The samples of one stream batch (offline: of the whole stream), host memory owned by
 * the run; arrays grow while a batch is loaded, never inside the step loop. */
typedef struct TtlBatch {
    int32_t n, cap;          /* samples loaded / capacity */
    int64_t first;           /* stream index of sample 0 */
    int32_t *tokens;         /* packed input ids */
    int64_t n_tok, cap_tok;
    int64_t *off;            /* (cap) */
    int32_t *lens;           /* (cap) */
    char **prompt, **label;  /* (cap) owned strings: decoded input, decoded label */
    int32_t *gen, *gen_lens; /* (cap, gen_stride), (cap) */
    int32_t gen_stride;      /* max_new_tokens */
    TtlScore *scores;        /* (cap) */
} TtlBatch;

typedef struct TtlOut {
    char dir[JOB_PATH_BYTES];
    FILE *pred, *scores, *metrics;
    Err io_err;              /* first metrics write error (reported at the batch end) */
    int failed;
} TtlOut;

/* The whole run's state (ttl_run), one per rank. */
typedef struct Ttl {
    const JobSpec *job;      /* borrowed */
    TtlHooks hooks;
    const Ops *ops;          /* static */
    Model *m;
    Tokenizer *tok;
    const ChatTemplate *tmpl; /* static */
    Dataset *ds;
    Generator *gen;
    Lora lora;
    TtlCore core;
    TtlBatch b;
    TtlOut out;
    Progress prog;
    int32_t stop_ids[TTL_MAX_STOP];
    int n_stop;
    int writer;              /* world rank 0 writes the files and prints */
    int32_t *gen_tok, *gen_lens, *gen_out, *gen_out_lens; /* this rank's generation staging */
    int64_t cap_gen_tok;
    int32_t cap_gen;
    float *all_ce;           /* (cap_all) input ce of every sample so far, stream order */
    int64_t n_all, cap_all;
    int64_t expected;        /* records the stream will deliver (ds_total) */
    TtlSummary sum;
    struct TtlCkpt *ck;      /* owned: checkpoint/resume state (worker/loop/ttl_ckpt.c) */
} Ttl;

/* ---- worker/loop/ttl_batch.c: loading and generating one stream batch */
/* Reads up to max_n samples (until the stream ends) into t->b, tokenized with the
 * template and cut to cutoff_len; the decoded input and label are kept for the
 * predictions file. Sets *n_read. Errors name the data file:line and the sample. */
int ttl_batch_load(Ttl *t, int32_t max_n, int32_t *n_read, Err *err);
/* Greedy answers for samples [from, to) of t->b that belong to this dp rank, with the
 * current adapter (NULL for a method that never updates), into t->b.gen / gen_lens. */
int ttl_batch_generate(Ttl *t, int32_t from, int32_t to, Err *err);
void ttl_batch_free(TtlBatch *b);
void ttl_batch_clear(TtlBatch *b); /* frees the strings, keeps the arrays */

/* ---- worker/loop/ttl_out.c: the output files (world rank 0 only) */
int ttl_out_open(TtlOut *o, const char *dir, Err *err);
/* Appends predictions of samples [from, to) (when pred) and their scores (when scores),
 * then fsyncs every file written since the last call, metrics included. */
int ttl_out_batch(TtlOut *o, const Ttl *t, int32_t from, int32_t to, int pred, int scores,
                  Err *err);
void ttl_out_metrics(TtlOut *o, const TtlStepStats *st, double tokens_per_s);
int ttl_out_summary(const TtlOut *o, const Ttl *t, Err *err);
void ttl_out_close(TtlOut *o);

/* ---- worker/loop/ttl_comm.c: the dp seam (comm == NULL: one process, no-ops) */
void ttl_comm_grid(Comm *c, int *dp_rank, int *dp_size, int *writer);
/* v (host, n) becomes its sum over the dp group. */
int ttl_comm_sum(Comm *c, double *v, int n, Err *err);
/* lora->grads (backend, n_params) becomes their sum over the dp group. */
int ttl_comm_sum_grads(Comm *c, Lora *lora, Err *err);
/* The global squared gradient norm (sums shards' squares across tp when sharded). */
int ttl_comm_grad_sumsq(Comm *c, const Lora *lora, double *sumsq, Err *err);
/* After an epoch: every rank (rank 0 needs them to write) gets the generated tokens and
 * scores of samples [from, to) of b that other dp ranks produced. */
int ttl_comm_gather(Comm *c, TtlBatch *b, int32_t from, int32_t to, int gen, int scores,
                    Err *err);

/* ---- worker/loop/ttl_ckpt.c, worker/loop/ttl_resume.c: checkpoints and exact resume (DESIGN §5)
 * Consistent points: online, the end of a stream batch (its answers, scores and metrics
 * are written and fsync'd, the adapter has taken the batch's whole epoch); offline, the
 * end of the update epoch and the end of each generation chunk. All ranks call these
 * (the adapter gather is collective over tp); world rank 0 writes. */
/* Sets up the checkpoint state and the output files: fresh (ttl_out_open truncates) or,
 * with hooks.resume, restored from a checkpoint (ttl_resume). Call after the adapter,
 * dataset and core are open. */
int ttl_ckpt_open(Ttl *t, Err *err);
void ttl_ckpt_close(Ttl *t); /* accepts t->ck == NULL; safe twice */
/* The stop decision, the same on every rank: the max of every rank's flag over the world
 * (one all-reduce when a Comm exists). Call at the same point on all ranks. */
int ttl_ckpt_stop(Ttl *t);
/* Appends the scores of batch samples [from, to) to the checkpoint's score table. */
int ttl_ckpt_scores(Ttl *t, int32_t from, int32_t to, Err *err);
/* At a consistent point where `answered` samples have their predictions written: writes
 * output.dir/ckpt-<step>.h5 when `force` (stop, end of run) or checkpoint_every update
 * steps have passed since the last checkpoint; then keeps the newest output.keep.
 * Nothing when output.checkpoint_every is 0 or the method trains no adapter. */
int ttl_ckpt_maybe(Ttl *t, int force, int64_t answered, Err *err);
/* After a resume: 1 and the samples answered at the checkpoint, else 0. */
int ttl_ckpt_resumed(const Ttl *t, int64_t *answered);
/* worker/loop/ttl_resume.c: restores the run from hooks.resume ("auto" or a path); sets
 * *fresh = 1 when "auto" finds no checkpoint (nothing restored, outputs not opened). */
int ttl_resume(Ttl *t, int *fresh, Err *err);
/* For ttl_resume: the checkpoint's tensor list in PEFT order (*n of them), pointing into
 * the three host full-layout buffers full[0..2] (params, adam_m, adam_v) that
 * ttl_ckpt_open allocated; and the restored state's bookkeeping, which takes over
 * *scores (zeroed on return). */
CkptTensor *ttl_ckpt_tensors(Ttl *t, int *n, float **full);
void ttl_ckpt_mark_resumed(Ttl *t, int64_t step, int64_t answered,
                           CkptScores *scores);

#endif
