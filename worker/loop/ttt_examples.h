/* worker/loop/ttt_examples.h -- what per-task test-time training (method.name: ttt) feeds
 * the model for one task of a task file (io/data/taskfile.h), as Akyurek et al. 2024 build
 * it: a prompt is some of the task's demonstrations in some order, then a query; the
 * training examples are leave-one-out (each demonstration in turn is the query and the
 * target, the others the in-context examples) or, without it, each demonstration alone;
 * every example and every test query comes in ttt.permutations demonstration orders (the
 * first the file's, the others seeded by the task's own seed, so a task's examples do not
 * depend on which tasks a rank ran before it); a prompt holds at most ttt.max_demos
 * demonstrations.
 * Text: the demonstrations as `input join output`, joined by the separator, then the
 * separator and `query join`; that text is the user turn of the chat template, and a
 * target output is the assistant turn (with the template's end of turn). The loss mask
 * marks the target's tokens (ttt.loss_on: output) or every token (all). A prompt longer
 * than data.cutoff_len drops demonstrations from its end until it fits.
 * Not thread-safe (plain functions over caller buffers). */
#ifndef TLM_WORKER_TTT_EXAMPLES_H
#define TLM_WORKER_TTT_EXAMPLES_H

#include <stdint.h>

#include "io/base/err.h"
#include "io/base/strbuf.h"
#include "io/data/taskfile.h"
#include "io/text/chat_template.h"
#include "io/text/tokenizer.h"
#include "jobs/job.h"

/* The shape of the prompts: the job's ttt section, read once. */
typedef struct TttShape {
    int leave_one_out;
    int32_t permutations;  /* >= 1 */
    int32_t max_demos;     /* >= 1 */
    int loss_all;          /* 1: the loss covers every token (ttt.loss_on: all) */
    const char *separator; /* borrowed */
    const char *join;      /* borrowed */
    int64_t cutoff_len;    /* tokens of one example */
} TttShape;

/* The job's shape (its strings borrowed from job). */
TttShape ttt_shape(const JobSpec *job);

/* One planned prompt: demonstrations ctx[0..n_ctx) of the task's train list, in that
 * order, then the query (a train index for a training example, a test index for a test
 * query). */
typedef struct TttPrompt {
    int32_t query;
    int32_t perm; /* 0: the file's order */
    int32_t n_ctx;
    const int32_t *ctx; /* borrowed from the plan's pool */
} TttPrompt;

/* The prompts of one task. Zeroed = empty; ttt_plan_free releases. */
typedef struct TttPlan {
    TttPrompt *p;
    int32_t n;
    int32_t *pool; /* owned: every prompt's ctx */
} TttPlan;

/* The task's seed: the job's seed and the task id (borrowed), hashed (FNV-1a, then
 * splitmix64), so a task gets the same adapter init and orders wherever it runs. */
uint64_t ttt_task_seed(uint64_t job_seed, const char *task_id);

/* The training examples (train != 0) or the test queries of task t into *out, in a fixed
 * order: by query, then by permutation. Errors: out of memory. */
int ttt_plan(const TfTask *t, const TttShape *sh, uint64_t seed, int train, TttPlan *out,
             Err *err);
void ttt_plan_free(TttPlan *pl); /* accepts a zeroed plan; safe twice */

/* The user-turn text of prompt p with its first n_ctx demonstrations (<= p->n_ctx), into
 * out (emptied first). q is the query (t->train[p->query] or t->test[p->query]). */
int ttt_render(const TfTask *t, const TttPrompt *p, int32_t n_ctx, const TfPair *q,
               const TttShape *sh, StrBuf *out, Err *err);

/* A prompt encoded through the template: *ids (owned-after-return) and, when target is
 * not NULL, the target's assistant turn after it and *mask (owned-after-return, *n_ids
 * bytes: 1 on the tokens the loss covers); without a target *mask is NULL. Demonstrations
 * are dropped from the end until the whole fits cutoff_len; *n_ctx_used says how many
 * stayed. Errors: even with no demonstration it is too long (naming task id, its line in
 * the task file and the token count), tokenizer errors. */
int ttt_encode(const TfTask *t, const TttPrompt *p, const TfPair *q, const char *target,
               const TttShape *sh, const ChatTemplate *tmpl, const Tokenizer *tok,
               const char *task_file, int32_t **ids, int64_t *n_ids, uint8_t **mask,
               int32_t *n_ctx_used, Err *err);

#endif
