/* worker/adapter/optim.h -- the update of the LoRA parameters: global-norm gradient clipping
 * (torch.nn.utils.clip_grad_norm_) then AdamW (torch.optim.AdamW) with a step counter.
 * Works on the whole params | grads | adam_m | adam_v block of a Lora at once through
 * the op table (ops->sumsq, ops->scale, ops->adamw). It does not reduce gradients across
 * ranks (the caller all-reduces lora->grads over dp first); under tp the squared norm
 * sums the sharded parts over the tp group (optim_grad_sumsq_tp), which is why the norm
 * and the update are also separate calls. It
 * does not schedule lr (the caller passes each step's lr). Not thread-safe. */
#ifndef TLM_WORKER_OPTIM_H
#define TLM_WORKER_OPTIM_H

#include <stdint.h>

#include "worker/adapter/lora.h"

/* Plain data. Doubles, as the job file's (and torch's Python) values are: AdamW forms its
 * step factors from them before rounding to fp32. */
typedef struct OptimConfig {
    double beta1, beta2;   /* 0.9, 0.999 */
    double eps;            /* 1e-8 */
    double weight_decay;   /* 0 */
    double max_grad_norm;  /* 1.0; <= 0 disables clipping */
} OptimConfig;

typedef struct Optim {
    OptimConfig cfg;
    int64_t step;         /* AdamW steps taken since the last reset (torch's state step) */
} Optim;

/* The reference's settings: betas (0.9, 0.999), eps 1e-8, weight decay 0, clip 1.0. */
OptimConfig optim_defaults(void);

/* Sets cfg (borrowed, copied; NULL = optim_defaults()) and step 0. */
void optim_init(Optim *o, const OptimConfig *cfg);

/* Sum of squares of every LoRA gradient (accumulated in double); synchronizes. On a
 * tp-sharded adapter (lora->tp > 1) this is optim_grad_sumsq_tp, and a failed collective
 * stops the job (log_fatal); callers that handle errors use optim_grad_sumsq_tp. */
double optim_grad_sumsq(const Lora *lora);

/* The global sum of squares under tp (DESIGN §3): the sharded region of the gradients
 * (B of column-parallel, A of row-parallel targets) summed over the tp group, the
 * replicated region counted once. Equals optim_grad_sumsq of the tp = 1 adapter up to
 * rounding. Collective over tp: every tp rank must call (no communication when
 * lora->tp == 1). Writes *sumsq (host); synchronizes. */
int optim_grad_sumsq_tp(const Lora *lora, double *sumsq, Err *err);

/* Clips with the global norm `norm` (torch: coef = max_norm / (norm + 1e-6), applied
 * when < 1), then one AdamW step at lr; increments the step counter. */
void optim_apply(Optim *o, Lora *lora, double norm, double lr);

/* optim_grad_sumsq + optim_apply; returns the pre-clip global norm. Collective over tp
 * when the adapter is sharded (see optim_grad_sumsq). */
double optim_step(Optim *o, Lora *lora, double lr);

/* Sets the step counter (a resumed run: the moments are restored with the adapter). */
void optim_set_step(Optim *o, int64_t step);

/* Zeroes AdamW's moments and the step counter, as a freshly built torch optimizer (the
 * TLM online setting does this at every stream batch). */
void optim_reset(Optim *o, Lora *lora);

#endif
