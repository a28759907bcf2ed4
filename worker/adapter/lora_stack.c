/* worker/adapter/lora_stack.c -- n adapters and their stacked mirror (see lora_stack.h):
 * allocation, fresh init of one adapter, and the per-view copies between an adapter's
 * own block and its slot of the stack. */
#include "worker/adapter/lora_stack.h"

#include <stdlib.h>

int lora_stack_alloc(LoraStack *s, int32_t n, const LoraConfig *lc, const ModelConfig *cfg,
                     const Ops *ops, Comm *comm, const OptimConfig *oc, Err *err) {
    *s = (LoraStack){0};
    if (n < 1)
        return err_set(err, "a stack of %d LoRA adapters: need at least 1", n);
    s->one = calloc((size_t)n, sizeof *s->one);
    s->opt = calloc((size_t)n, sizeof *s->opt);
    if (s->one == NULL || s->opt == NULL) {
        lora_stack_free(s);
        return err_set(err, "out of host memory for a stack of %d adapters", n);
    }
    s->n = n;
    for (int32_t i = 0; i < n; i++) {
        optim_init(&s->opt[i], oc);
        if (lora_alloc_tp(&s->one[i], lc, cfg, ops, comm, err) != 0) {
            lora_stack_free(s);
            return err_prefix(err, "adapter %d of a stack of %d: ", i, n);
        }
    }
    if (lora_alloc_stack(&s->rows, lc, cfg, ops, comm, n, err) != 0) {
        lora_stack_free(s);
        return err_prefix(err, "the stack of %d adapters: ", n);
    }
    return 0;
}

void lora_stack_free(LoraStack *s) {
    if (s == NULL)
        return;
    for (int32_t i = 0; s->one != NULL && i < s->n; i++)
        lora_free(&s->one[i]);
    lora_free(&s->rows);
    free(s->one);
    free(s->opt);
    *s = (LoraStack){0};
}

void lora_stack_init(LoraStack *s, int32_t i, uint64_t seed) {
    lora_init(&s->one[i], seed);
    optim_reset(&s->opt[i], &s->one[i]);
}

/* Copies adapter i's A and B of every view (grads != 0: dA and dB) between its own block
 * and its slot of the stack; to_stack selects the direction. Views of this rank's slice:
 * both sides have the same per-view shapes. */
static void move(LoraStack *s, int32_t i, int grads, int to_stack) {
    const Lora *one = &s->one[i];
    const Ops *o = one->ops;
    const int64_t R = one->cfg.rank;
    for (int64_t l = 0; l < one->n_layers; l++)
        for (int t = 0; t < LORA_N_TARGETS; t++) {
            const LoraView *v = lora_view(one, l, (LoraTarget)t);
            if (v == NULL)
                continue;
            const LoraView *w = lora_view(&s->rows, l, (LoraTarget)t);
            const int64_t na = R * v->n_in, nb = v->n_out * R;
            float *a = grads ? v->da : v->a, *b = grads ? v->db : v->b;
            float *sa = (grads ? w->da : w->a) + i * na, *sb = (grads ? w->db : w->b) + i * nb;
            o->copy(to_stack ? sa : a, to_stack ? a : sa, (size_t)na * sizeof(float));
            o->copy(to_stack ? sb : b, to_stack ? b : sb, (size_t)nb * sizeof(float));
        }
}

void lora_stack_pack(LoraStack *s) {
    for (int32_t i = 0; i < s->n; i++)
        move(s, i, 0, 1);
    lora_zero_grads(&s->rows);
}

void lora_stack_unpack_grads(LoraStack *s, int32_t i) { move(s, i, 1, 0); }
