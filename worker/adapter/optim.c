/* worker/adapter/optim.c -- clip by global norm (summed over tp for a sharded adapter, DESIGN
 * §3), then AdamW, on the whole LoRA block. */
#include "worker/adapter/optim.h"

#include <math.h>

#include "io/base/log.h"

OptimConfig optim_defaults(void) {
    return (OptimConfig){.beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .weight_decay = 0.0,
                         .max_grad_norm = 1.0};
}

void optim_init(Optim *o, const OptimConfig *cfg) {
    o->cfg = cfg != NULL ? *cfg : optim_defaults();
    o->step = 0;
}

int optim_grad_sumsq_tp(const Lora *lora, double *sumsq, Err *err) {
    const Ops *ops = lora->ops;
    if (lora->tp == 1) {
        ops->sumsq(sumsq, lora->grads, lora->n_params);
        return 0;
    }
    /* Replicated gradients are identical on every tp rank (dA of column-parallel targets
     * was summed over tp by the backward), so they count once; the shards add up. */
    double rep = 0.0, shard = 0.0;
    ops->sumsq(&rep, lora->grads, lora->n_replicated);
    ops->sumsq(&shard, lora->grads + lora->n_replicated, lora->n_params - lora->n_replicated);
    ops->upload_raw(lora->sumsq_dev, &shard, sizeof shard);
    if (comm_all_reduce(lora->comm, COMM_TP, lora->sumsq_dev, 1, COMM_F64, COMM_SUM, err) != 0)
        return err_prefix(err, "LoRA gradient norm over tp: ");
    ops->download_raw(&shard, lora->sumsq_dev, sizeof shard);
    *sumsq = rep + shard;
    return 0;
}

double optim_grad_sumsq(const Lora *lora) {
    double s = 0.0;
    Err err = {{0}};
    if (optim_grad_sumsq_tp(lora, &s, &err) != 0)
        log_fatal("%s", err.msg);
    return s;
}

void optim_apply(Optim *o, Lora *lora, double norm, double lr) {
    const Ops *ops = lora->ops;
    if (o->cfg.max_grad_norm > 0.0) {
        /* torch.nn.utils.clip_grad_norm_: the norm is an fp32 tensor, so is the coef;
         * clamp(max=1) then multiply -- a multiply by 1 changes nothing, so skip it. */
        const float coef = (float)o->cfg.max_grad_norm / ((float)norm + 1e-6f);
        if (coef < 1.0f)
            ops->scale(lora->grads, coef, lora->n_params);
    }
    o->step++;
    ops->adamw(lora->params, lora->grads, lora->adam_m, lora->adam_v, lora->n_params, lr,
               o->cfg.beta1, o->cfg.beta2, o->cfg.eps, o->cfg.weight_decay, o->step);
}

double optim_step(Optim *o, Lora *lora, double lr) {
    const double norm = sqrt(optim_grad_sumsq(lora));
    optim_apply(o, lora, norm, lr);
    return norm;
}

void optim_reset(Optim *o, Lora *lora) {
    lora_reset_moments(lora);
    o->step = 0;
}

void optim_set_step(Optim *o, int64_t step) { o->step = step; }
