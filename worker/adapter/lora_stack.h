/* worker/adapter/lora_stack.h -- n independent adapters trained in one batched pass
 * (issue 17 part 3, the idea of multi-LoRA serving): each adapter is a plain Lora with its
 * own params, grads, AdamW moments and step count (so it is initialised, clipped, stepped,
 * saved and used for generation exactly as a single-task adapter), and one stacked Lora
 * (lora_alloc_stack) mirrors their params and receives their grads in the layout the
 * per-row kernels take (kernels/ops_list.h lora_rows_*). Before a batched forward
 * lora_stack_pack copies every adapter's params into the stack; after the backward
 * lora_stack_unpack_grads hands adapter i its own rows' gradients, so the norm one
 * adapter is clipped with never sees another's gradients. The copies are backend to
 * backend and small next to a pass (2 x n x the adapter per step).
 * Not thread-safe; one stack belongs to one worker thread. */
#ifndef TLM_WORKER_LORA_STACK_H
#define TLM_WORKER_LORA_STACK_H

#include <stdint.h>

#include "worker/adapter/lora.h"
#include "worker/adapter/optim.h"

typedef struct LoraStack {
    int32_t n;   /* adapters */
    Lora *one;   /* (n) owned: adapter i alone (params, grads, moments), as lora_alloc_tp */
    Optim *opt;  /* (n) owned: adapter i's AdamW (its step count) */
    Lora rows;   /* the n adapters stacked per view (params, grads): what the model's
                  * per-row pass reads and writes */
} LoraStack;

/* n adapters of lc's shape for cfg's model on ops' backend (comm: the tp group, borrowed,
 * or NULL; as lora_alloc_tp), each with an Optim of oc (borrowed, copied; NULL: the
 * defaults). All zero until lora_stack_init. Errors: n < 1, as lora_alloc_tp. Returns
 * 0/-1; *s owned (lora_stack_free). */
int lora_stack_alloc(LoraStack *s, int32_t n, const LoraConfig *lc, const ModelConfig *cfg,
                     const Ops *ops, Comm *comm, const OptimConfig *oc, Err *err);
void lora_stack_free(LoraStack *s); /* accepts a zeroed struct; safe twice */

/* Adapter i fresh: lora_init(one[i], seed) (the single-task adapter of that seed, grads
 * and moments zero) and its AdamW step count 0. */
void lora_stack_init(LoraStack *s, int32_t i, uint64_t seed);

/* Every adapter's params into the stack (rows.params) and the stack's grads zeroed: what
 * a batched train forward needs first. */
void lora_stack_pack(LoraStack *s);

/* Adapter i's slice of the stack's grads into one[i].grads (overwriting them): after the
 * batched backward, before adapter i's clipping and step. */
void lora_stack_unpack_grads(LoraStack *s, int32_t i);

#endif
