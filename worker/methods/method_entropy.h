/* worker/methods/method_entropy.h -- what the entropy objectives (method_tent.c, method_eata.c,
 * method_come.c) share; private to those files. Per update step: score every sample by
 * its input ce (an inference pass over the prompts, as every method scores), then one
 * train pass over each prompt followed by its first ENT_GEN_TOKENS generated tokens, the
 * entropy of the next-token distribution at each of those generation steps (ops
 * entropy_fwd on the logits rows that produced gen[0..G-1]), and the sample's mean
 * entropy. The method turns the means into selection and weights; the backward writes
 * d loss / d logits with ops entropy_bwd and hands them to model_backward_logits.
 * All buffers are allocated by ent_open (host staging + backend rows); nothing in the
 * step allocates. Not thread-safe (drives the Model). */
#ifndef TLM_WORKER_METHOD_ENTROPY_H
#define TLM_WORKER_METHOD_ENTROPY_H

#include "worker/methods/method.h"

/* The TLM paper's setting for its entropy baselines: the entropy of the next-token
 * distributions over the first 80 generated tokens of each sample. */
#define ENT_GEN_TOKENS 80

typedef struct EntState {
    Model *m;                /* borrowed */
    Lora *lora;              /* borrowed */
    const Ops *ops;          /* borrowed */
    int64_t V;
    float extra;             /* entropy_fwd's extra logit: -INFINITY, or log V (COME) */
    int radial;              /* entropy_bwd's norm constraint (COME) */
    int32_t max_seqs;
    int64_t max_tok;         /* T of a train pass: max_seqs * (max_len + ENT_GEN_TOKENS) */
    /* host (max_tok) / (max_seqs) */
    int32_t *tok;            /* prompt + gen[0..G-2] per sample, packed */
    int32_t *lens;           /* (max_seqs) */
    int32_t *row0, *n_rows;  /* (max_seqs) first scored row of sample i, rows scored (G) */
    float *mean_ent;         /* (max_seqs) mean entropy over the sample's scored rows */
    int32_t *mask;           /* (max_tok) 1 on scored rows */
    float *ent, *dent;       /* (max_tok) */
    int64_t n_tok;           /* T of the last train pass */
    /* backend (max_tok) */
    int32_t *d_mask;
    float *d_ent, *d_lse, *d_dent;
} EntState;

/* Allocates st's buffers for steps of max_seqs samples of max_len input tokens. Errors:
 * the model's train pass is smaller than max_seqs * (max_len + ENT_GEN_TOKENS), the
 * offline setting (answers are generated after its update epoch, so there are none to
 * take the entropy of), allocation failure. */
int ent_open(EntState *st, Model *m, Lora *lora, const MethodParams *p, int32_t max_seqs,
             int64_t max_len, float extra, int radial, Err *err);
void ent_close(EntState *st); /* accepts a zeroed struct */

/* s->ce = input ce of the current model (inference pass); then the train pass over
 * prompt + generated tokens and st->mean_ent / n_rows per sample. Leaves the train pass
 * as the model's last forward. Errors: no generated tokens in the step. */
int ent_forward(EntState *st, MethodStep *s, Err *err);

/* Backward of loss = sum_i w_i mean_ent_i / n_sel_global with w_i = s->weight[i]
 * (0 for an unselected sample): adds into the LoRA gradients. */
int ent_backward(EntState *st, MethodStep *s, int64_t n_sel_global, Err *err);

/* ---- the Method entries of the objectives that use every sample with weight 1
 * (tent, come): state = one EntState. */
/* Method.open with entropy_fwd's extra logit and entropy_bwd's radial flag. */
int ent_state_open(void **state, Model *m, Lora *lora, const MethodParams *p,
                   int32_t max_seqs, int64_t max_len, float extra, int radial, Err *err);
void ent_state_close(void *state); /* Method.close; accepts NULL */
/* Method.score: ent_forward; every sample with an answer is selected with weight 1 and
 * adds its mean entropy to loss_sum (one without an answer has nothing to minimise). */
int ent_score_all(MethodStep *s, Err *err);
/* Method.backward: ent_backward (nothing when n == 0). */
int ent_step_backward(MethodStep *s, int64_t n_sel_global, Err *err);

#endif
