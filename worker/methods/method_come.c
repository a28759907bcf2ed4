/* worker/methods/method_come.c -- `come`: conservatively minimised entropy (Zhang et al., ICLR
 * 2025, "COME: Test-time Adaption by Conservatively Minimizing Entropy"), in place of
 * Tent's softmax entropy on the same positions (the first 80 generated tokens, every
 * sample, weight 1; see method_tent.c). COME reads the logits z of a prediction as
 * evidence e = exp(z) of a Dirichlet with alpha = e + 1 over the K classes (here K = V
 * tokens); subjective logic turns it into an opinion of beliefs b_k = e_k / S and an
 * uncertainty mass u = K / S, S = sum e + K, which sum to 1, and COME minimises the
 * entropy of that opinion, -sum b log b - u log u. With log u = log K - log S this is
 * the softmax entropy of z extended by one constant logit log K, which is what the ops
 * compute (entropy_fwd/bwd with extra = log V, in log space: no exp(z) is ever formed,
 * so large logits cannot overflow and no clipping of the evidence is needed).
 * The conservative constraint: COME's code (github.com/BlueWhaleLab/COME, tent_come.py
 * and eata_come.py, dirichlet_entropy) feeds z / |z|_2 * sg(|z|_2): the value is z, the
 * gradient is projected orthogonally to z, so an update cannot grow the logit norm and
 * hence cannot shrink u below the bound the norm sets (the paper's data-adaptive lower
 * bound on the entropy). entropy_bwd's radial flag is that projection.
 * Deviations: the reference adds 1e-7 to every opinion entry before the log (a guard for
 * log 0 that log space does not need; with V = 128K it would add ~0.013 of mass) and
 * hard-codes K = 1000 (ImageNet's classes) in S and u; here K = V. */
#include <math.h>

#include "worker/methods/method_entropy.h"

/* extra = log K, K = V: the uncertainty mass as one more logit; radial: the norm
 * constraint. */
static int come_open(void **state, Model *m, Lora *lora, const MethodParams *p,
                     int32_t max_seqs, int64_t max_len, Err *err) {
    const float log_k = (float)log((double)model_config(m)->vocab_size);
    return ent_state_open(state, m, lora, p, max_seqs, max_len, log_k, 1, err);
}

const Method method_come = {
    .name = "come",
    .updates = 1,
    .score = ent_score_all,
    .backward = ent_step_backward,
    .gen_tokens = ENT_GEN_TOKENS,
    .needs_logits = 1,
    .open = come_open,
    .close = ent_state_close,
};
