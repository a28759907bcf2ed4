/* worker/methods/method_tlm.c -- the TLM objective (Hu et al., ICML 2025, Eqn. 6), as the
 * reference's CustomSeq2SeqTrainer.compute_loss computes it
 * (Fhujinwu/TLM, src/llamafactory/train/ttl/trainer.py):
 *   ce(x)    mean -log p over the sample's predicted input tokens (cal_ce; its cal_kl
 *            against a one-hot target with reduction batchmean is the same number);
 *   selected ce(x) > threshold;
 *   weight   lamb * exp(ce(x) - threshold), from the detached ce (a constant);
 *   loss     sum_selected(weight * ce) / n_selected, 0 when nothing is selected.
 * Online the selection ce comes from the model being trained (the same forward the loss
 * differentiates); offline from the base model with the adapter disabled
 * (disable_adapter()), and the loss from the adapted model. */
#include "worker/methods/method.h"

#include <math.h>

/* w = lamb * exp(ce - threshold) in double, rounded once, as the golden reference. */
static void select_samples(MethodStep *s) {
    for (int32_t i = 0; i < s->n; i++) {
        const int sel = (double)s->ce[i] > s->p->threshold;
        s->selected[i] = (uint8_t)sel;
        s->weight[i] = sel ? (float)(s->p->lamb * exp((double)s->ce[i] - s->p->threshold))
                           : 0.0f;
    }
}

static int any_selected(const MethodStep *s) {
    for (int32_t i = 0; i < s->n; i++)
        if (s->selected[i])
            return 1;
    return 0;
}

static int tlm_score(MethodStep *s, Err *err) {
    s->loss_sum = 0;
    if (s->n == 0)
        return 0;
    if (!s->p->offline) {
        /* One training forward gives both the selection ce and the loss. */
        if (model_forward_masked(s->m, s->lora, s->tokens, s->lens, s->n, s->loss_mask,
                                 1, s->ce, err) != 0)
            return -1;
        if (method_score_alt(s, err) != 0)
            return -1;
        select_samples(s);
        for (int32_t i = 0; i < s->n; i++)
            if (s->selected[i])
                s->loss_sum += (double)s->weight[i] * s->ce[i];
        return 0;
    }
    /* Offline: select on the base model (adapter off, no gradient)... */
    if (model_forward_masked(s->m, NULL, s->tokens, s->lens, s->n, s->loss_mask,
                             0, s->ce, err) != 0)
        return -1;
    if (method_score_alt(s, err) != 0)
        return -1;
    select_samples(s);
    if (!any_selected(s))
        return 0; /* every dce would be 0: the training pass would change nothing */
    /* ...and differentiate the adapted model's ce (kept in dce until backward). */
    if (model_forward_masked(s->m, s->lora, s->tokens, s->lens, s->n, s->loss_mask,
                             1, s->dce, err) != 0)
        return -1;
    for (int32_t i = 0; i < s->n; i++)
        if (s->selected[i])
            s->loss_sum += (double)s->weight[i] * s->dce[i];
    return 0;
}

/* d loss / d ce_i = weight_i / n_sel for a selected sample, 0 otherwise (the weight is a
 * constant). A rank whose samples are all unselected adds nothing: its zero gradient
 * still enters the dp sum. */
static int tlm_backward(MethodStep *s, int64_t n_sel_global, Err *err) {
    if (s->n == 0 || !any_selected(s))
        return 0;
    for (int32_t i = 0; i < s->n; i++)
        s->dce[i] = s->selected[i] ? s->weight[i] / (float)n_sel_global : 0.0f;
    return model_backward(s->m, s->lora, s->dce, err);
}

const Method method_tlm = {
    .name = "tlm",
    .updates = 1,
    .score = tlm_score,
    .backward = tlm_backward,
};
