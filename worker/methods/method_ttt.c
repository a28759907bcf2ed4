/* worker/methods/method_ttt.c -- the objective of per-task test-time training (Akyurek et
 * al. 2024, "The Surprising Effectiveness of Test-Time Training for Few-Shot Learning"):
 * the plain causal-LM loss of a task's training examples, each averaged over its loss
 * mask (the target output's tokens with ttt.loss_on: output, every token with all), the
 * step's loss their mean. Every example is selected with weight 1. The task loop
 * (worker/loop/ttt.c) hands it the examples; the adapter's lifetime is the task. */
#include "worker/methods/method.h"

static int ttt_score(MethodStep *s, Err *err) {
    s->loss_sum = 0;
    if (s->n == 0)
        return 0;
    if (model_forward_masked(s->m, s->lora, s->tokens, s->lens, s->n, s->loss_mask, 1, s->ce,
                             err) != 0)
        return -1;
    if (method_score_alt(s, err) != 0)
        return -1;
    for (int32_t i = 0; i < s->n; i++) {
        s->selected[i] = 1;
        s->weight[i] = 1.0f;
        s->loss_sum += s->ce[i];
    }
    return 0;
}

/* d loss / d ce_i = 1 / n: the mean over the step's examples. */
static int ttt_backward(MethodStep *s, int64_t n_sel_global, Err *err) {
    if (s->n == 0)
        return 0;
    for (int32_t i = 0; i < s->n; i++)
        s->dce[i] = 1.0f / (float)n_sel_global;
    return model_backward(s->m, s->lora, s->dce, err);
}

const Method method_ttt = {
    .name = "ttt",
    .updates = 1,
    .score = ttt_score,
    .backward = ttt_backward,
};
