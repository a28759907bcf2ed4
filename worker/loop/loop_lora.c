/* worker/loop/loop_lora.c -- see loop_lora.h. */
#include "worker/loop/loop_lora.h"

uint32_t loop_lora_targets(const JobSpec *job) {
    uint32_t bits = 0;
    for (int i = 0; i < job->lora.n_targets; i++) {
        const int tg = lora_target_parse(job->lora.targets[i]);
        bits |= tg >= 0 ? LORA_BIT(tg) : 0;
    }
    return bits;
}

int loop_lora_open(Lora *lora, const JobSpec *job, const Model *m, const Ops *ops, Comm *tp,
                   Err *err) {
    LoraConfig lc = {.rank = (int32_t)job->lora.rank, .alpha = (float)job->lora.alpha,
                     .targets = loop_lora_targets(job)};
    for (int i = 0; i < job->lora.n_targets; i++)
        if (lora_target_parse(job->lora.targets[i]) < 0)
            return err_set(err, "lora.targets: unknown projection \"%s\"", job->lora.targets[i]);
    if (lora_alloc_tp(lora, &lc, model_config(m), ops, tp, err) != 0)
        return err_prefix(err, "lora: ");
    return 0;
}
