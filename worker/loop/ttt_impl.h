/* worker/loop/ttt_impl.h -- the state of one ttt_run (not a public API) and its parts:
 *   ttt.c       opens and closes the resources, runs the rounds of tasks
 *   ttt_task.c  one task on this rank: fresh adapter, training, answers, its output lines
 *   ttt_pass.c  ttt.tasks_per_pass > 1: several tasks of this rank trained in one batched
 *               pass (a stack of their adapters), then answered one by one
 *   ttt_out.c   the files of output.dir, the gather of a round's lines over dp, the
 *               progress record a resume continues from
 * A part writes only its own fields. Single-threaded. */
#ifndef TLM_WORKER_TTT_IMPL_H
#define TLM_WORKER_TTT_IMPL_H

#include <stdio.h>

#include "io/base/strbuf.h"
#include "io/data/taskfile.h"
#include "io/text/chat_template.h"
#include "io/text/tokenizer.h"
#include "worker/adapter/lora_stack.h"
#include "worker/loop/ttl_core.h"
#include "worker/loop/ttl_ledger.h"
#include "worker/loop/ttt.h"
#include "worker/loop/ttt_examples.h"
#include "worker/model/generate.h"

#define TTT_MAX_STOP 16 /* stop ids: the template's and generation_config.json's */

/* The run's totals, summed over dp after every round (the writer keeps them). */
typedef enum TttTotal {
    TTT_TASKS = 0, TTT_QUERIES, TTT_LABELED, TTT_CORRECT, TTT_STEPS, TTT_CE_SUM,
    TTT_CE_BASE_SUM, TTT_T_TRAIN, TTT_T_PREDICT, TTT_GEN_TOKENS, TTT_N_TOTALS
} TttTotal;

/* The step losses of the task in training (ttt_task.c's step hook). */
typedef struct TttStepLog {
    int64_t steps_per_epoch; /* set before training */
    int64_t steps, epoch_steps;
    double first_loss, epoch_loss; /* the first step's, the running epoch's sum */
} TttStepLog;

/* Prompts packed back to back, as the engine takes them (host, owned arrays). */
typedef struct TttPacked {
    int32_t *tok;
    uint8_t *mask;  /* packed like tok: the loss mask of a training example */
    int64_t n_tok, cap_tok, n_mask, cap_mask;
    int64_t *off;   /* (n) start of prompt i in tok */
    int32_t *lens;  /* (n) */
    int64_t n, cap;
} TttPacked;

/* One batched pass's host staging (ttt_pass.c), sized once for tasks_per_pass tasks of
 * batch_size examples of cutoff_len tokens. */
typedef struct TttPassBuf {
    int32_t *tok, *rows;  /* (P * bs * L) packed ids, each token's adapter */
    uint8_t *mask;        /* (P * bs * L) */
    int32_t *lens;        /* (P * bs) */
    float *ce, *dce;      /* (P * bs) */
} TttPassBuf;

/* The output files (ttt_out.c). */
typedef struct TttOut {
    char dir[JOB_PATH_BYTES];
    FILE *pred, *tasks;        /* generated_predictions.jsonl, ttt_tasks.jsonl */
    int64_t pred_lines, task_lines;
} TttOut;

typedef struct Ttt {
    const JobSpec *job; /* borrowed */
    TtlHooks hooks;
    const Ops *ops;     /* static */
    Model *m;
    Tokenizer *tok;
    const ChatTemplate *tmpl; /* static */
    TaskFile *tf;
    Generator *gen;
    Lora lora;
    LoraStack stack;    /* tasks_per_pass > 1: one adapter per task of a pass (ttt_pass.c) */
    TttPassBuf pass;
    TtlCore core;       /* method ttt, comm NULL: a task's adapter is this rank's alone */
    TttShape sh;
    int32_t stop_ids[TTT_MAX_STOP];
    int n_stop;
    int writer, dp_rank, dp_size;
    int64_t tasks_done; /* tasks whose lines are on disk (a resume starts here) */
    TttStepLog log;
    StrBuf pred_lines, task_lines; /* this rank's lines of the round */
    double round[TTT_N_TOTALS];    /* this rank's totals of the round */
    double totals[TTT_N_TOTALS];   /* the run's, on the writer */
    TttOut out;
    TtlLedger ledger;   /* output.dir held (the writer) */
    int interrupted;
} Ttt;

/* ttt_task.c: trains a fresh adapter on task t (borrowed), answers its queries and
 * appends their lines and the task's line to t->pred_lines / t->task_lines, its numbers
 * to t->round. */
int ttt_task_run(Ttt *t, const TfTask *task, Err *err);
/* The step hook that fills t->log (installed by ttt.c). */
void ttt_task_on_step(void *ctx, const TtlStepStats *st);
/* One update step's loss into log (what the hook does). */
void ttt_log_step(TttStepLog *log, double loss);
/* The training examples of task (borrowed), seeded by seed, encoded (the target output
 * as the assistant turn, with its loss mask) into pk (zeroed first by the caller; owned
 * arrays, ttt_packed_free). */
int ttt_pack_examples(Ttt *t, const TfTask *task, uint64_t seed, TttPacked *pk, Err *err);
void ttt_packed_free(TttPacked *p); /* accepts a zeroed struct; safe twice */
/* The rest of a task once its adapter lora (borrowed) is trained: kept as a file with
 * ttt.save_adapters, its queries answered with it, their lines and the task's line (lg:
 * its training losses; train_s: the seconds its training took) appended, its numbers
 * added to t->round. */
int ttt_task_finish(Ttt *t, const TfTask *task, uint64_t seed, Lora *lora,
                    const TttStepLog *lg, double train_s, Err *err);

/* ttt_pass.c: the stack of tasks_per_pass adapters and the pass staging (ttt.c calls it
 * when tasks_per_pass > 1, after the model is open). */
int ttt_pass_open(Ttt *t, Err *err);
void ttt_pass_close(Ttt *t); /* accepts a zeroed state */
/* Tasks tasks[0..n) (borrowed, n <= tasks_per_pass) of this rank: each one's fresh
 * adapter (its own seed, AdamW and lr schedule, as ttt_task_run's) trained in batched
 * passes -- step s packs step s's examples of every task that still has steps, each row
 * through its own task's adapter; per task the loss is the mean over its examples, the
 * gradient norm its own, one clip + AdamW step each -- then each task finished
 * (ttt_task_finish) in order. Equals ttt_task_run one task at a time up to fp32 sums in
 * another order. */
int ttt_pass_run(Ttt *t, const TfTask *tasks, int32_t n, Err *err);

/* ttt_out.c: fresh files (truncated), or a resume from hooks.resume ("auto": the
 * progress file of output.dir when there is one); sets t->tasks_done and, on the
 * writer, t->totals. Collective over the world (every rank learns tasks_done). */
int ttt_out_open(Ttt *t, Err *err);
/* The round's lines of every dp rank to the writer, appended in task order and fsync'd,
 * the totals summed, then the progress record rewritten (tasks_done += n_tasks). Empties
 * the round's buffers. Collective over dp. */
int ttt_out_round(Ttt *t, int64_t n_tasks, Err *err);
/* summary.json (the writer). */
int ttt_out_summary(const Ttt *t, double seconds, Err *err);
void ttt_out_close(TttOut *o); /* accepts a zeroed struct */

#endif
