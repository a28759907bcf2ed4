/* worker/methods/method.h -- the test-time objectives (DESIGN §1) behind one small
 * interface, one file per objective (worker/methods/method_<name>.c), each a row of the
 * registry in jobs/job_methods.h (worker/methods/README.md: adding one).
 * A method sees one update step's samples on this rank: `score` runs the forward that
 * gives each sample its score (ce, ppl, selected, weight) and the step's local loss;
 * `backward` turns the step's loss into LoRA gradients once the loop knows the global
 * selected count. The loop (worker/loop/ttl_core.c) owns everything else: the order of
 * samples, the dp all-reduces, clipping, AdamW, the lr schedule and the output files.
 * Methods allocate only in `open` (once per run: workspaces, EATA's Fisher), never talk
 * to other ranks and never touch the optimizer.
 * Not thread-safe (they drive the Model, which is single-threaded). */
#ifndef TLM_WORKER_METHOD_H
#define TLM_WORKER_METHOD_H

#include <stdint.h>

#include "io/base/err.h"
#include "jobs/job_methods.h"
#include "worker/adapter/lora.h"
#include "worker/model/model.h"

/* Plain data: the method's hyper-parameters, from the job's `method` section. */
typedef struct MethodParams {
    double threshold; /* ln P0: selected when ce > threshold (TLM Eqn. 6) */
    double lamb;      /* weight scale: w = lamb * exp(ce - threshold) */
    int offline;      /* 1: select on the base model's ce (adapter off), DESIGN §1 */
    /* Every method's own parameters (method.<name>.<param>), by JobMethodParam: borrowed
     * (the job's method.params, which must outlive the run), or NULL for the registry's
     * defaults. Read them with method_param. */
    const double *params;
} MethodParams;

/* Parameter id of p: p->params[id], or its registry default without params. Inline: the
 * objectives call it, and the registry's table (method.c) refers to them. */
static inline double method_param(const MethodParams *p, JobMethodParam id) {
    return p->params != NULL ? p->params[id] : job_method_param_default(id);
}

/* One update step's samples on this rank; the loop fills the inputs, the method the
 * outputs. Every pointer is host memory borrowed from the loop's buffers (sized once for
 * the job's maxima) unless said otherwise. n may be 0 (a dp rank without a sample in
 * this step): score and backward must then do nothing and leave the outputs zero. */
typedef struct MethodStep {
    Model *m;                /* borrowed */
    Lora *lora;              /* borrowed; the adapter being trained */
    const MethodParams *p;   /* borrowed */
    int32_t n;               /* samples of this step on this rank */
    const int32_t *tokens;   /* (sum lens) the samples' input ids, packed */
    const int32_t *lens;     /* (n) */
    /* packed like tokens: the tokens each sample's ce averages over as targets
     * (model_forward_masked; method.loss_tokens: content), or NULL for every token */
    const uint8_t *loss_mask;
    /* The other view of the same scoring forward, for the scores file: alt_mask (packed
     * like tokens; NULL = every token) and ce_alt (n, output): right after the forward
     * that fills ce, the method calls method_score_alt (model_last_ce). */
    const uint8_t *alt_mask;
    float *ce_alt;
    /* The samples' generated tokens, for objectives over the answer (tent/eata: entropy
     * of the first 80 generated tokens): row i is gen[i * gen_stride ..], gen_lens[i]
     * long. Online they are generated before the update epoch; offline generation comes
     * after it, so gen is NULL there. */
    const int32_t *gen;
    const int32_t *gen_lens;
    int32_t gen_stride;
    /* outputs of score (n each) */
    float *ce;         /* the sample's score: mean input ce of the model it is scored by */
    uint8_t *selected; /* 1: the sample contributes to the loss */
    float *weight;     /* its loss weight (0 when not selected) */
    double loss_sum;   /* sum over selected of weight * loss term (divided later) */
    /* workspace (n): d loss / d ce for model_backward */
    float *dce;
    void *state;     /* the method's own state (Method.open), NULL without one */
    int32_t dp_rank; /* this rank in the dp group: a step-level term (EATA's regulariser)
                      * is added on dp rank 0 only, so the dp sum counts it once */
} MethodStep;

/* Fills s->ce_alt (when not NULL) from the forward the method has just run to fill s->ce:
 * the same per-token losses averaged over s->alt_mask. 0 or -1. Inline, as method_param:
 * the objectives call it and the registry's table (method.c) refers to them. */
static inline int method_score_alt(MethodStep *s, Err *err) {
    if (s->ce_alt == NULL || s->n == 0)
        return 0;
    return model_last_ce(s->m, s->alt_mask, s->ce_alt, err);
}

typedef struct Method {
    const char *name; /* the job's method.name */
    int updates;      /* 0: never trains (no backward, no optimizer step, no adapter) */
    /* Forward over the step's samples: fills ce, selected, weight, loss_sum. When the
     * method updates, the forward it leaves last must be the training pass backward
     * differentiates. */
    int (*score)(MethodStep *s, Err *err);
    /* Adds d(loss)/d(LoRA) to lora->grads (zeroed by the loop), where loss = (this rank's
     * loss_sum) / n_sel_global; n_sel_global >= 1 (the loop skips backward at 0). */
    int (*backward)(MethodStep *s, int64_t n_sel_global, Err *err);
    /* Generated tokens per sample the objective trains on (tent/eata/come: 80, the TLM
     * paper's setting; 0 for tlm/none): the train pass must hold batch_size samples of
     * cutoff_len + gen_tokens tokens (worker/loop/ttl.c sizes max_train_tokens with it). */
    int32_t gen_tokens;
    /* 1: the objective reads the whole logits of its passes (model_logits, model_dlogits:
     * the entropy methods), so the loop opens the model with ModelOptions.full_logits;
     * 0: the cross-entropy only, and the model runs its lm_head in row chunks. */
    int needs_logits;
    /* Optional (NULL: stateless). Allocates the method's per-run state for steps of up to
     * max_seqs samples of up to max_len input tokens, so score and backward allocate
     * nothing; m and lora borrowed (must outlive the state); *state owned, released by
     * close (which accepts NULL). Called once by ttl_core_init. */
    int (*open)(void **state, Model *m, Lora *lora, const MethodParams *p, int32_t max_seqs,
                int64_t max_len, Err *err);
    void (*close)(void *state);
} Method;

/* The method named name (a registry row, jobs/job_methods.h), or NULL (borrowed, static). */
const Method *method_find(const char *name);
/* The implementation of registry row m, or NULL when m is not a row (borrowed, static). */
const Method *method_of(JobMethod m);

/* The objectives, one file each: `const Method method_<name>` in method_<name>.c for
 * every row of JOB_METHOD_LIST. */
#define METHOD_EXTERN_(ID, name, needs, what) extern const Method method_##name;
JOB_METHOD_LIST(METHOD_EXTERN_)
#undef METHOD_EXTERN_

#endif
