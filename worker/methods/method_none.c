/* worker/methods/method_none.c -- `none`: the original model (the paper's baseline row). It
 * generates and scores every sample like the other methods, so its scores.jsonl is the
 * base model's input ce of each sample, but it never selects, never computes a gradient
 * and never steps the optimizer (the loop sees updates == 0 and skips the update). The
 * scoring forward is an inference pass (no activations kept) with the adapter off. */
#include "worker/methods/method.h"

static int none_score(MethodStep *s, Err *err) {
    s->loss_sum = 0;
    if (s->n == 0)
        return 0;
    if (model_forward_masked(s->m, NULL, s->tokens, s->lens, s->n, s->loss_mask,
                             0, s->ce, err) != 0)
        return -1;
    if (method_score_alt(s, err) != 0)
        return -1;
    for (int32_t i = 0; i < s->n; i++) {
        s->selected[i] = 0;
        s->weight[i] = 0.0f;
    }
    return 0;
}

const Method method_none = {
    .name = "none",
    .updates = 0,
    .score = none_score,
    .backward = NULL,
};
