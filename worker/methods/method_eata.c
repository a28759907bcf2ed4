/* worker/methods/method_eata.c -- `eata`: efficient anti-forgetting test-time adaptation (Niu et
 * al., ICML 2022, "Efficient Test-Time Model Adaptation without Forgetting"), on the
 * TLM paper's entropy positions (the first 80 generated tokens; method_entropy.c):
 *   reliable  a sample is used only when its mean entropy H_i < E0 = 0.4 ln V (Eqn. 3;
 *             EATA's e_margin = 0.4 ln C, C = V classes here);
 *   weight    w_i = 1 / exp(H_i - E0), from the detached H_i (Eqn. 6);
 *   loss      sum_sel w_i H_i / n_sel  +  lambda sum_k F_k (theta_k - theta0_k)^2  (Eqn. 8, 9)
 * with theta the LoRA parameters, theta0 their values when the run opened (the adapter
 * before any update), and F the diagonal Fisher estimated before the first update.
 * Fisher data: EATA uses ~2000 in-distribution samples labelled by the model's own
 * argmax; an LLM's test stream has no in-distribution set, so here F is the mean over
 * the samples of the first update step (dp rank 0's, before the adapter moves) of the
 * squared LoRA gradient of each sample's input ce (its prompt's next-token loss, the
 * quantity every method scores). With PEFT's init (B = 0) the gradients of every A are
 * 0 at theta0, so F constrains the B matrices only.
 * E0's fraction of ln V and lambda are the job's method.eata.e_margin_frac (0.4) and
 * method.eata.fisher_alpha (2000, EATA's ImageNet default; no LLM value exists), rows of
 * jobs/job_methods.h.
 * Omitted: EATA's redundancy filter (Eqn. 5: cosine similarity of a sample's class
 * probabilities to a moving average of past ones). An LLM sample is a sequence of
 * next-token distributions over a 128K vocabulary, not one class-probability vector,
 * so the filter has no defined counterpart; the TLM paper describes EATA by its
 * entropy selection and its regulariser only.
 * The regulariser is added on dp rank 0 only (its gradient must enter the dp sum once)
 * and only in steps that select something (EATA skips the update otherwise). It is not
 * part of loss_sum (which the loop divides by n_sel). Under tensor parallelism the
 * Fisher would need the tp-reduced A gradients: not supported yet.
 * The TLM authors' repository (github.com/Fhujinwu/TLM) has no EATA code. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "worker/methods/method_entropy.h"

typedef struct EataState {
    EntState ent;
    double e0;          /* E0 = e_margin_frac * ln V */
    double lambda;      /* the regulariser's weight (fisher_alpha) */
    int64_t n_params;
    float *theta0;      /* host (n_params) the adapter when the run opened */
    float *fisher;      /* host (n_params) */
    float *params;      /* host (n_params) staging */
    float *grads;       /* host (n_params) staging */
    int fisher_ready;
} EataState;

static void eata_close(void *state) {
    EataState *st = state;
    if (st == NULL)
        return;
    ent_close(&st->ent);
    free(st->theta0);
    free(st->fisher);
    free(st->params);
    free(st->grads);
    free(st);
}

static int eata_open(void **state, Model *m, Lora *lora, const MethodParams *p,
                     int32_t max_seqs, int64_t max_len, Err *err) {
    EataState *st = calloc(1, sizeof *st);
    if (st == NULL)
        return err_set(err, "out of memory");
    if (ent_open(&st->ent, m, lora, p, max_seqs, max_len, -INFINITY, 0, err) != 0) {
        free(st);
        return -1;
    }
    st->e0 = method_param(p, JOB_MP_EATA_E_MARGIN_FRAC) *
             log((double)model_config(m)->vocab_size);
    st->lambda = method_param(p, JOB_MP_EATA_FISHER_ALPHA);
    st->n_params = lora->n_params;
    const size_t n = (size_t)lora->n_params;
    st->theta0 = malloc(n * sizeof(float));
    st->fisher = calloc(n, sizeof(float));
    st->params = malloc(n * sizeof(float));
    st->grads = malloc(n * sizeof(float));
    if (!st->theta0 || !st->fisher || !st->params || !st->grads) {
        eata_close(st);
        return err_set(err, "out of memory for the Fisher of %lld parameters",
                       (long long)lora->n_params);
    }
    lora->ops->download_raw(st->theta0, lora->params, n * sizeof(float));
    *state = st;
    return 0;
}

/* F = mean over the step's samples of (d ce_i / d theta)^2, one train pass per sample
 * (the step's own samples, before anything has been updated). Leaves grads dirty: the
 * loop zeroes them before the step's backward. */
static int estimate_fisher(EataState *st, MethodStep *s, Err *err) {
    const Ops *o = s->lora->ops;
    const size_t n_bytes = (size_t)st->n_params * sizeof(float);
    const float one = 1.0f;
    int64_t off = 0;
    for (int32_t i = 0; i < s->n; i++) {
        float ce;
        const uint8_t *mask = s->loss_mask != NULL ? s->loss_mask + off : NULL;
        if (model_forward_masked(s->m, s->lora, s->tokens + off, &s->lens[i], 1, mask, 1, &ce,
                                 err) != 0)
            return err_prefix(err, "EATA Fisher, sample %d: ", i);
        lora_zero_grads(s->lora);
        if (model_backward(s->m, s->lora, &one, err) != 0)
            return err_prefix(err, "EATA Fisher, sample %d: ", i);
        o->download_raw(st->grads, s->lora->grads, n_bytes);
        for (int64_t k = 0; k < st->n_params; k++)
            st->fisher[k] += st->grads[k] * st->grads[k] / (float)s->n;
        off += s->lens[i];
    }
    st->fisher_ready = 1;
    return 0;
}

static int eata_score(MethodStep *s, Err *err) {
    s->loss_sum = 0;
    if (s->n == 0)
        return 0;
    EataState *st = s->state;
    if (!st->fisher_ready && s->dp_rank == 0 && estimate_fisher(st, s, err) != 0)
        return -1;
    if (ent_forward(&st->ent, s, err) != 0)
        return -1;
    for (int32_t i = 0; i < s->n; i++) {
        const double h = st->ent.mean_ent[i];
        const int sel = st->ent.n_rows[i] > 0 && h < st->e0;
        s->selected[i] = (uint8_t)sel;
        s->weight[i] = sel ? (float)(1.0 / exp(h - st->e0)) : 0.0f;
        if (sel)
            s->loss_sum += s->weight[i] * h;
    }
    return 0;
}

/* grads += d/dtheta lambda sum F (theta - theta0)^2 = 2 lambda F (theta - theta0), on the
 * host: three transfers of the adapter per step (q/v rank 8 on an 8B model: 3.4M floats,
 * ~40 MB), small against the step's forwards, and no fp32 axpy op is needed. */
static void add_regulariser(EataState *st, Lora *lora) {
    const Ops *o = lora->ops;
    const size_t n_bytes = (size_t)st->n_params * sizeof(float);
    o->download_raw(st->params, lora->params, n_bytes);
    o->download_raw(st->grads, lora->grads, n_bytes);
    for (int64_t k = 0; k < st->n_params; k++)
        st->grads[k] += (float)(2.0 * st->lambda * st->fisher[k] *
                                ((double)st->params[k] - st->theta0[k]));
    o->upload_raw(lora->grads, st->grads, n_bytes);
}

static int eata_backward(MethodStep *s, int64_t n_sel_global, Err *err) {
    EataState *st = s->state;
    if (s->n > 0 && ent_backward(&st->ent, s, n_sel_global, err) != 0)
        return -1;
    if (s->dp_rank == 0 && st->fisher_ready)
        add_regulariser(st, s->lora);
    return 0;
}

const Method method_eata = {
    .name = "eata",
    .updates = 1,
    .score = eata_score,
    .backward = eata_backward,
    .gen_tokens = ENT_GEN_TOKENS,
    .needs_logits = 1,
    .open = eata_open,
    .close = eata_close,
};
