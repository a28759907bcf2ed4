/* worker/methods/method_tent.c -- `tent`: entropy minimisation (Wang et al., ICLR 2021, "Tent:
 * Fully Test-Time Adaptation by Entropy Minimization", Eqn. 2: H(y) = -sum p log p of the
 * model's prediction), as the TLM paper (Hu et al., ICML 2025, §5 baselines) adapts it
 * to LLMs: the entropy of the next-token distributions over the first 80 generated
 * tokens of each sample, averaged per sample, every sample used with weight 1 and no
 * selection, minimised through the same LoRA adapter and optimizer as TLM:
 *   loss = (1 / n) sum_i (1 / G_i) sum_{j < G_i} H(p(. | x_i, y_i,<j)).
 * The TLM authors' repository (github.com/Fhujinwu/TLM, src/llamafactory/train/ttl/) has
 * no Tent code, so the positions follow the paper's wording (see method_entropy.c).
 * A sample whose answer is empty has no distribution to take and is not selected.
 * The scores (ce) are the input ce of the current model, as every method reports. */
#include <math.h>

#include "worker/methods/method_entropy.h"

static int tent_open(void **state, Model *m, Lora *lora, const MethodParams *p,
                     int32_t max_seqs, int64_t max_len, Err *err) {
    return ent_state_open(state, m, lora, p, max_seqs, max_len, -INFINITY, 0, err);
}

const Method method_tent = {
    .name = "tent",
    .updates = 1,
    .score = ent_score_all,
    .backward = ent_step_backward,
    .gen_tokens = ENT_GEN_TOKENS,
    .needs_logits = 1,
    .open = tent_open,
    .close = ent_state_close,
};
